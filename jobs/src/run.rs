//! The `main` of every stage binary: resolve settings, run the stage on a Tokio runtime, print the run summary as
//! one JSON object on standard output, and exit with the code of the outcome (0, or the failure kind's code).
//!
//! The same binary is a Lambda function (provided.al2023, the binary zipped as `bootstrap` by `amali deploy`): with
//! `AWS_LAMBDA_RUNTIME_API` set, [`entry`] serves invocations instead, each payload (`run_id`, `logical_date`, `env`)
//! one run, answering the run summary or failing with the stage's error name so the state machine's Retry and Catch
//! match it as they do for a process.

use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use amali::stage::Stage;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::error::StageError;
use crate::settings::{Settings, StageArgs};
use crate::stages::Outcome;
use crate::summary::RunSummary;

/// The entry point of a stage binary: serves Lambda invocations when run by Lambda, else parses the command line
/// (`parse`) and runs once with [`main`].
pub fn entry<P, F, Fut>(stage: Stage, parse: P, body: F) -> ExitCode
where
    P: FnOnce() -> StageArgs,
    F: Fn(Settings) -> Fut,
    Fut: Future<Output = Outcome>,
{
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return serve_lambda(stage, body);
    }
    main(stage, parse(), body)
}

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
            match runtime() {
                Ok(rt) => (rt.block_on(body(settings)), logical_date),
                Err(e) => {
                    (Outcome::failed(StageError::internal(format!("cannot start the runtime: {e}"))), logical_date)
                }
            }
        }
        Err(e) => (Outcome::failed(e), args.logical_date.clone().unwrap_or_default()),
    };
    let (summary, error) = summarize(stage, &args.run_id, logical_date, outcome, clock);
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

/// The Tokio runtime every stage runs on, as a process or as a Lambda function (two worker threads).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

/// The run summary of an outcome, and its error.
fn summarize(
    stage: Stage,
    run_id: &str,
    logical_date: String,
    outcome: Outcome,
    clock: Instant,
) -> (RunSummary, Option<StageError>) {
    let error = outcome.error();
    let status = if error.is_some() { "FAILED" } else { "SUCCEEDED" };
    let seconds = clock.elapsed().as_secs_f64();
    let summary = RunSummary {
        headline: RunSummary::headline(stage.name(), status, seconds, &outcome.tables),
        stage: stage.name().to_string(),
        run_id: run_id.to_string(),
        logical_date,
        status,
        seconds,
        tables: outcome.tables,
        error: error.as_ref().map(StageError::error_name),
        cause: error.as_ref().map(|e| e.message.clone()),
    };
    (summary, error)
}

/// The arguments of one Lambda invocation: the payload the state machine sends (`run_id`, `logical_date`, and
/// `env` unless `AMALI_ENV` names it).
pub fn lambda_args(payload: &Value) -> Result<StageArgs, StageError> {
    let run_id = payload["run_id"]
        .as_str()
        .ok_or_else(|| StageError::config("the Lambda payload has no run_id: the state machine passes $.run.run_id"))?;
    Ok(StageArgs {
        env: std::env::var("AMALI_ENV")
            .ok()
            .or_else(|| payload["env"].as_str().map(String::from))
            .unwrap_or_else(|| "local".into()),
        config: std::env::var_os("AMALI_CONFIG").map(Into::into),
        run_id: run_id.to_string(),
        logical_date: payload["logical_date"].as_str().map(String::from),
        workdir: std::env::var_os("AMALI_WORKDIR").map(Into::into),
        tables: Vec::new(),
        batch_rows: 65_536,
    })
}

fn serve_lambda<F, Fut>(stage: Stage, body: F) -> ExitCode
where
    F: Fn(Settings) -> Fut,
    Fut: Future<Output = Outcome>,
{
    crate::telemetry::init();
    let body = &body;
    let handler = move |event: LambdaEvent<Value>| async move {
        let clock = Instant::now();
        let fail = |e: &StageError| Diagnostic { error_type: e.error_name(), error_message: e.message.clone() };
        let args = lambda_args(&event.payload).map_err(|e| fail(&e))?;
        let settings = Settings::resolve(&args).map_err(|e| fail(&e))?;
        let logical_date = settings.logical_date.clone();
        tracing::info!(stage = stage.name(), run_id = %settings.run_id, env = %settings.env.name, "starting");
        let outcome = body(settings).await;
        let (summary, error) = summarize(stage, &args.run_id, logical_date, outcome, clock);
        match error {
            None => serde_json::to_value(&summary).map_err(|e| fail(&StageError::internal(e.to_string()))),
            Some(e) => Err(fail(&e)),
        }
    };
    serve(handler)
}

/// Serves Lambda invocations with `handler` until the runtime API goes away (exit 70 when it fails).
pub fn serve<H, Fut>(handler: H) -> ExitCode
where
    H: Fn(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Diagnostic>>,
{
    match runtime().map(|rt| rt.block_on(lambda_runtime::run(service_fn(handler)))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: the Lambda runtime stopped: {e}");
            ExitCode::from(70)
        }
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(70)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::lambda_args;

    #[test]
    fn a_lambda_payload_gives_the_stage_arguments() {
        let args = lambda_args(
            &json!({"stage": "rds", "env": "dev", "run_id": "run-2024-03-01", "logical_date": "2024-03-01"}),
        )
        .unwrap();
        assert_eq!(args.run_id, "run-2024-03-01");
        assert_eq!(args.logical_date.as_deref(), Some("2024-03-01"));
        if std::env::var_os("AMALI_ENV").is_none() {
            assert_eq!(args.env, "dev");
        }
        let err = lambda_args(&json!({"env": "dev"})).unwrap_err();
        assert_eq!(err.error_name(), "Amali.ConfigError");
        assert!(err.message.contains("run_id"), "{}", err.message);
    }
}
