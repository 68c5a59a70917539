//! The AWS commands: `amali deploy`, `amali rollback`, `amali status`, and the `--env` forms of run, rerun, redrive
//! and `diff deployed:ENV`.

use std::path::PathBuf;

use clap::Args;

use super::validate::Format;
pub use crate::aws::StartOn;

#[cfg(feature = "aws")]
mod commands;
#[cfg(feature = "aws")]
pub use commands::*;
#[cfg(not(feature = "aws"))]
mod offline;
#[cfg(not(feature = "aws"))]
pub use offline::*;

/// How to reach AWS.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Send every AWS call to this endpoint instead of AWS's (an emulator such as moto_server)
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Arguments of `amali deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment of amali.toml to deploy
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Show the plan and stop: nothing is changed
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking (CI); without it the plan is shown and confirmed at a prompt
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Where the stage binaries to package for Lambda are (pause_clusters, ...) [default: beside amali]
    #[arg(long, env = "AMALI_ARTIFACTS", value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// The stages image for ECS (overrides [env.ENV.deploy] image); CI passes the image it pushed
    #[arg(long, env = "AMALI_IMAGE", value_name = "URI")]
    pub image: Option<String>,
    /// Output format: text for people, json for tools (the plan, what was applied, the calls made)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Arguments of `amali rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment of amali.toml
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// The version to move the alias to [default: the version before the live one]
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u64>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Arguments of `amali status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The environment of amali.toml [default: every environment with a [env.NAME.deploy] table]
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// How many recent executions to show
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub limit: i32,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// What `amali run --env ENV` was asked.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct AwsRun {
    /// The logical date [default: today, UTC].
    pub logical_date: Option<String>,
    /// Extra input (JSON object).
    pub input: Option<String>,
    /// Follow the execution until it ends.
    pub follow: bool,
    /// Start another execution for a date that has one.
    pub force: bool,
    /// What to start: the alias, the latest revision or a version.
    pub on: StartOn,
}
