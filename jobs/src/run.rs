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

use amali_core::stage::Stage;
use amali_core::summary::RunSummary;
#[cfg(feature = "aws")]
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
#[cfg(feature = "aws")]
use serde_json::Value;
use tracing::Instrument;

use crate::error::StageError;
use crate::settings::{Settings, StageArgs};
use crate::stages::Outcome;

/// The entry point of a stage binary: serves Lambda invocations when run by Lambda, else parses the command line
/// (`parse`) and runs once with [`main`].
pub fn entry<P, F, Fut>(stage: Stage, parse: P, body: F) -> ExitCode
where
    P: FnOnce() -> StageArgs,
    F: Fn(Settings) -> Fut,
    Fut: Future<Output = Outcome>,
{
    if under_lambda() {
        #[cfg(feature = "aws")]
        return serve_lambda(stage, body);
        #[cfg(not(feature = "aws"))]
        return cannot_serve_lambda();
    }
    main(stage, parse(), body)
}

/// Whether AWS Lambda runs this process (it sets `AWS_LAMBDA_RUNTIME_API`).
pub fn under_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// What a stage built without the `aws` feature does when Lambda runs it: says why it cannot serve, and exits with
/// the code of a configuration error.
#[cfg(not(feature = "aws"))]
pub fn cannot_serve_lambda() -> ExitCode {
    let e = StageError::without_aws("serve Lambda invocations");
    eprintln!("error: {}: {}", e.error_name(), e.message);
    ExitCode::from(e.exit_code())
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
            let span = stage_span(stage, &settings);
            let _entered = span.enter();
            tracing::info!("starting");
            match runtime() {
                Ok(rt) => (rt.block_on(body(settings).instrument(span.clone())), logical_date),
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
            // The message, then what it came from (a driver's, delta-rs's or DataFusion's error) when that says more.
            eprintln!("error: {}: {}", e.error_name(), e.message);
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !e.message.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                source = cause.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// The span of a stage's run: every event of the run carries its stage, run id and environment.
fn stage_span(stage: Stage, settings: &Settings) -> tracing::Span {
    tracing::info_span!("stage", stage = stage.name(), run_id = %settings.run_id, env = %settings.env.name)
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
    let (tables, error) = outcome.into_parts();
    let named = error.as_ref().map(|e| (e.error_name(), e.message.clone()));
    let summary = RunSummary::new(stage, run_id, &logical_date, clock.elapsed().as_secs_f64(), tables, named);
    (summary, error)
}

/// Runs one Lambda invocation of `stage`: the payload's arguments resolved as a process's are, `body` does the
/// work; the answer is the run summary, or the stage's error name and message.
#[cfg(feature = "aws")]
pub async fn invoke<F, Fut>(stage: Stage, payload: &Value, body: F) -> Result<Value, Diagnostic>
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let clock = Instant::now();
    let fail = |e: &StageError| Diagnostic { error_type: e.error_name(), error_message: e.message.clone() };
    let args = StageArgs::from_payload(payload).map_err(|e| fail(&StageError::from(e)))?;
    let settings = Settings::resolve(&args).map_err(|e| fail(&e))?;
    let logical_date = settings.logical_date.clone();
    let span = stage_span(stage, &settings);
    span.in_scope(|| tracing::info!("starting"));
    let outcome = body(settings).instrument(span).await;
    let (summary, error) = summarize(stage, &args.run_id, logical_date, outcome, clock);
    match error {
        None => serde_json::to_value(&summary).map_err(|e| fail(&StageError::internal(e.to_string()))),
        Some(e) => Err(fail(&e)),
    }
}

#[cfg(feature = "aws")]
fn serve_lambda<F, Fut>(stage: Stage, body: F) -> ExitCode
where
    F: Fn(Settings) -> Fut,
    Fut: Future<Output = Outcome>,
{
    crate::telemetry::init();
    let body = &body;
    serve(move |event: LambdaEvent<Value>| async move { invoke(stage, &event.payload, body).await })
}

/// Serves Lambda invocations with `handler` until the runtime API goes away (exit 70 when it fails).
#[cfg(feature = "aws")]
pub fn serve<H, Fut>(handler: H) -> ExitCode
where
    H: Fn(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Diagnostic>>,
{
    // Keeps the marker `amali deploy` looks for in the binary (see `SERVES_LAMBDA`).
    std::hint::black_box(amali_core::stage::SERVES_LAMBDA);
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
