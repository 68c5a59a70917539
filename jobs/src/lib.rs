//! The library every stage binary shares: the app database's schema, connectors that move Arrow batches,
//! errors with the names Step Functions matches, the run summary, secrets, telemetry and the sample data loader.
//!
//! A stage binary is a few lines: it parses its arguments, calls into this library and exits with the code of its
//! outcome. Nothing here is linked into the `amali` command, which runs stages as processes.

pub mod datagen;
pub mod db;
pub mod error;
pub mod fixtures;
pub mod lake;
pub mod memory;
pub mod models;
pub mod money;
pub mod outcome;
pub mod quality;
pub mod redshift;
pub mod run;
pub mod schema;
pub mod secret;
pub mod settings;
pub mod stages;
pub mod telemetry;

pub use amali_core::summary;

/// Every program linked with this library allocates through mimalloc: Arrow and Parquet allocate and free many
/// buffers of every size, which glibc's malloc served at about a fifth of the transforms' CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
