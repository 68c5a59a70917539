//! Operating the pipeline on AWS: deploy, rollback, run, status, rerun and redrive.
//!
//! Credentials come from the standard chain (environment, profiles, SSO, instance and task roles); the
//! region is the environment's `region` in `amali.toml`. `--endpoint-url` (or `AWS_ENDPOINT_URL`) points
//! every client at an emulator for tests. Every SDK call goes through [`CallLog`], which counts read and mutating
//! calls: a deploy with nothing to change proves it made no mutating call.

//!
//! All of it needs the `aws` feature (`cargo build --features aws`; on in what ships). The local build leaves the
//! AWS SDKs out: these commands then say how to get a build that has them.

#[cfg(feature = "aws")]
mod client;
#[cfg(feature = "aws")]
pub mod deploy;
#[cfg(feature = "aws")]
pub mod operate;
#[cfg(feature = "aws")]
pub mod package;

#[cfg(feature = "aws")]
pub use client::*;

/// What an execution starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOn {
    /// The alias `live`: the deployed version (the default).
    Live,
    /// The state machine's latest revision (the unqualified ARN).
    Latest,
    /// A version.
    Version(u64),
}

/// The error of an AWS command in a build without the `aws` feature: what to build instead.
#[cfg(not(feature = "aws"))]
pub fn unavailable(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`amali {command}` talks to AWS, and this amali was built without AWS support (the local build, which leaves \
         the AWS SDKs out): build it with `cargo build --features aws` (or `cargo run --features aws -- {command} ...`); \
         the binaries CI builds for deployment have it"
    )
}
