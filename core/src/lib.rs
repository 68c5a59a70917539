//! The contract between `amali` (the CLI and its interpreter) and the stage binaries of `amali-jobs`.
//!
//! Everything both sides speak is typed here once and serialised and parsed by both from the same structs, so that
//! a change to the contract breaks the build on both sides instead of a run in production: the configuration
//! ([`config`]) and its one resolve step ([`context`]), the stages and the error names Step Functions matches
//! ([`stage`], [`names`]), the stage arguments ([`args`]), the run summary a stage prints ([`summary`]) and the
//! record of a stage call that `amali rerun` and `amali redrive` read back ([`task`]), and how both log
//! ([`telemetry`]).
//!
//! It links nothing heavy (no AWS SDK, DataFusion or delta-rs): the CLI runs stages as processes and must not build
//! the data stack.

pub mod args;
pub mod config;
pub mod context;
pub mod names;
pub mod stage;
pub mod summary;
pub mod task;
pub mod telemetry;
