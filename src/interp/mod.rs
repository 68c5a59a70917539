//! The local interpreter: runs any state machine the model can hold with AWS Step Functions' semantics.
//!
//! [`step`] holds what each state does to its data (synchronous and pure); [`exec`] is the async driver that adds
//! task calls, waits on a [`clock`], retries, catchers and concurrency; [`handlers`] decide what a Task's resource
//! does locally (mocked responses, stage binaries, notifications).

pub mod choice;
pub mod clock;
pub mod error;
pub mod exec;
pub mod handlers;
pub mod intrinsics;
pub mod jsonata;
pub mod jsonpath;
pub mod process;
pub mod step;
pub mod template;

pub use error::StatesError;
pub use exec::{Options, Outcome, Status, execute};
