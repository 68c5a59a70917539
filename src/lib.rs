//! amali: a typed Step Functions toolkit for the AmaliMart data platform.
//!
//! The library holds everything the `amali` command does, so that tests and other tools can call it directly:
//! [`asl`] (the language model), [`dsl`] (the builder), [`pipeline`] (the AmaliMart state machine), [`config`]
//! (environments from `amali.toml`, shared with the stages through `amali-core`) and [`cli`] (one module per subcommand).

pub mod asl;
pub mod aws;
pub mod cli;
pub mod dsl;
pub mod iam;
pub mod interp;
pub mod pipeline;

pub use amali_core::{config, stage};
