//! Logging for stages: human-readable on a terminal, JSON lines in AWS (where CloudWatch collects them), always on
//! standard error so that standard output carries only the run summary.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Where the stage runs, which decides the log format.
pub fn running_in_aws() -> bool {
    ["AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4", "AWS_LAMBDA_FUNCTION_NAME", "GLUE_VERSION"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// The default filter: amali's own events at `info`, libraries' (delta-rs, the drivers) only when they warn
/// (delta-rs's merge warns about a metric it derives on every merge: only its errors are shown; delta-kernel logs an
/// error for every table that does not exist yet, which amali handles: its errors arrive as results instead).
pub const DEFAULT_FILTER: &str = "warn,amali_jobs=info,deltalake_core::operations::merge=error,delta_kernel=off";

/// Installs the subscriber once; `AMALI_LOG` (or `RUST_LOG`) filters, default [`DEFAULT_FILTER`].
pub fn init() {
    let filter = EnvFilter::try_from_env("AMALI_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if running_in_aws() {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).with_target(false).try_init()
    };
}
