//! The `main` of every stage binary: resolve settings, run the stage on a Tokio runtime, print the run summary as
//! one JSON object on standard output, and exit with the code of the outcome (0, or the failure kind's code).

use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use amali::stage::Stage;

use crate::error::StageError;
use crate::settings::{Settings, StageArgs};
use crate::stages::Outcome;
use crate::summary::RunSummary;

/// Runs `stage` with `args`: `body` does the work.
pub fn main<F, Fut>(stage: Stage, args: StageArgs, body: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = Outcome>,
{
    crate::telemetry::init();
    let clock = Instant::now();
    let (outcome, logical_date) = match Settings::resolve(&args) {
        Ok(settings) => {
            let logical_date = settings.logical_date.clone();
            tracing::info!(stage = stage.name(), run_id = %settings.run_id, env = %settings.env.name, "starting");
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
            match runtime {
                Ok(rt) => (rt.block_on(body(settings)), logical_date),
                Err(e) => {
                    (Outcome::failed(StageError::internal(format!("cannot start the runtime: {e}"))), logical_date)
                }
            }
        }
        Err(e) => (Outcome::failed(e), args.logical_date.clone().unwrap_or_default()),
    };
    let error = outcome.error();
    let status = if error.is_some() { "FAILED" } else { "SUCCEEDED" };
    let seconds = clock.elapsed().as_secs_f64();
    let summary = RunSummary {
        headline: RunSummary::headline(stage.name(), status, seconds, &outcome.tables),
        stage: stage.name().to_string(),
        run_id: args.run_id.clone(),
        logical_date,
        status,
        seconds,
        tables: outcome.tables,
        error: error.as_ref().map(StageError::error_name),
        cause: error.as_ref().map(|e| e.message.clone()),
    };
    println!("{}", serde_json::to_string(&summary).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")));
    match error {
        None => {
            tracing::info!("{}", summary.headline);
            ExitCode::SUCCESS
        }
        Some(e) => {
            eprintln!("error: {}: {}", e.error_name(), e.message);
            ExitCode::from(e.exit_code())
        }
    }
}
