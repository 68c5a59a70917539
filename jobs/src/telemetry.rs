//! Logging for stages, through `amali_core::telemetry` (the CLI's too): human-readable on a terminal, JSON lines in
//! AWS, always on standard error so that standard output carries only the run summary. A stage's events carry a
//! `stage` span (stage, run id) and, for each table, a `table` span; the event that ends a table has its rows and
//! seconds.

use amali_core::telemetry::Verbosity;
pub use amali_core::telemetry::running_in_aws;

/// The default filter: amali's own events at `info`, libraries' (delta-rs, the drivers) only when they warn
/// (delta-rs's merge warns about a metric it derives on every merge: only its errors are shown; delta-kernel logs an
/// error for every table that does not exist yet, which amali handles: its errors arrive as results instead).
pub const DEFAULT_FILTER: &str = "warn,amali_jobs=info,deltalake_core::operations::merge=error,delta_kernel=off";

/// Installs the subscriber once; `AMALI_LOG` (or `RUST_LOG`) filters, default [`DEFAULT_FILTER`].
pub fn init() {
    amali_core::telemetry::init(DEFAULT_FILTER, Verbosity::Normal);
}

/// Logs (at debug level) how long a table's phase took since `since`, and restarts the clock:
/// `AMALI_LOG=warn,amali_jobs=debug` shows where a slow table's time goes (silver's conformed tables, the models).
pub(crate) fn lap(table: &str, phase: &str, since: &mut std::time::Instant) {
    tracing::debug!(table, phase, ms = since.elapsed().as_millis() as u64, "phase");
    *since = std::time::Instant::now();
}
