//! The stages: each a function from settings to an [`Outcome`], run by a binary of `src/bin/` through
//! [`crate::run::main`]. What they share to work per table is in [`crate::outcome`].

pub mod extract;
pub mod gold;
pub mod ingest;
pub mod landing;
pub mod latest;
pub mod load;
pub mod pause;
pub mod silver;

pub use crate::outcome::{Outcome, each_table_after, table_span};
