//! The AWS commands in a build without the `aws` feature (the local build, which leaves the AWS SDKs out): they
//! take the same arguments, so `--help` is the same in every build, and fail before doing anything, saying how to
//! build an amali that has them. Nothing here reads the configuration or the network.

use super::{AwsArgs, AwsRun, DeployArgs, RollbackArgs, StatusArgs};
use crate::aws::unavailable;
use crate::cli::{ExitStatus, GlobalArgs};
use crate::config::{Config, EnvConfig};
use crate::stage::Stage;

/// `amali deploy`: needs AWS.
pub fn deploy(_: &GlobalArgs, _: DeployArgs) -> anyhow::Result<ExitStatus> {
    Err(unavailable("deploy"))
}

/// `amali rollback`: needs AWS.
pub fn rollback(_: &GlobalArgs, _: RollbackArgs) -> anyhow::Result<ExitStatus> {
    Err(unavailable("rollback"))
}

/// `amali status`: needs AWS.
pub fn status(_: &GlobalArgs, _: StatusArgs) -> anyhow::Result<ExitStatus> {
    Err(unavailable("status"))
}

/// `amali run --env ENV`: needs AWS.
pub fn run(_: &EnvConfig, _: &AwsArgs, _: AwsRun, _: bool) -> anyhow::Result<ExitStatus> {
    Err(unavailable("run --env"))
}

/// `amali rerun STAGE --env ENV`: needs AWS.
pub fn rerun(_: &EnvConfig, _: &AwsArgs, _: Stage, _: Option<&str>) -> anyhow::Result<ExitStatus> {
    Err(unavailable("rerun --env"))
}

/// `amali redrive ARN`: needs AWS.
pub fn redrive(_: &EnvConfig, _: &AwsArgs, _: &str, _: bool, _: bool) -> anyhow::Result<ExitStatus> {
    Err(unavailable("redrive"))
}

/// `amali graph --run ARN`: needs AWS.
pub fn execution_for_graph(
    _: &EnvConfig,
    _: &AwsArgs,
    _: &str,
) -> anyhow::Result<(String, Vec<crate::asl::execution::Step>, bool)> {
    Err(unavailable("graph --run"))
}

/// `amali diff deployed:ENV`: needs AWS.
pub fn deployed_definition(_: &Config, _: &str, _: &AwsArgs) -> anyhow::Result<serde_json::Value> {
    Err(unavailable("diff deployed:ENV"))
}
