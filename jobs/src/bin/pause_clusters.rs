//! `pause_clusters`: stops the internal RDS and pauses Redshift after the loads (resumes them with --action resume).
//! The same binary is the AWS Lambda (provided.al2023): with `AWS_LAMBDA_RUNTIME_API` set it serves Lambda events
//! (`{"action", "targets", "run_id", "execution"}`) instead of reading its command line.

use std::process::ExitCode;

use amali_core::stage::Stage;
#[cfg(feature = "aws")]
use amali_core::stage::StageErrorKind;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::pause::{self, Action, Cluster};
use clap::Parser;
#[cfg(feature = "aws")]
use clap::ValueEnum;
#[cfg(feature = "aws")]
use lambda_runtime::{Diagnostic, LambdaEvent};
#[cfg(feature = "aws")]
use serde_json::{Value, json};

/// Stop the internal RDS and pause Redshift once the loads are done (or start them again).
///
/// Idempotent: a cluster already stopped is a success. It pauses nothing while another execution of the pipeline
/// is running, and says so. Locally (SQLite databases) it says what it would do; with servers it calls the RDS and
/// Redshift APIs (rds_instance or rds_cluster, redshift_cluster in amali.toml). Prints the run summary as JSON on
/// stdout; logs go to stderr.
#[derive(Parser)]
#[command(name = "pause_clusters", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
    /// pause or resume
    #[arg(long, value_enum, default_value = "pause")]
    action: Action,
    /// The clusters (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "internal_rds,redshift")]
    targets: Vec<Cluster>,
    /// The execution asking (its ARN): it does not count as another running execution
    #[arg(long, value_name = "ARN")]
    execution: Option<String>,
}

/// One Lambda invocation: the payload the state machine sends. The answer is the run summary, as for every stage.
#[cfg(feature = "aws")]
async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let p = event.payload;
    let fail = |message: String| Diagnostic {
        error_type: StageErrorKind::Config.error_name().to_string(),
        error_message: message,
    };
    let action = match p["action"].as_str().unwrap_or("pause") {
        "resume" => Action::Resume,
        "pause" => Action::Pause,
        other => return Err(fail(format!("action {other:?} is neither pause nor resume"))),
    };
    let mut targets = Vec::new();
    for t in p["targets"].as_array().cloned().unwrap_or_else(|| vec![json!("internal_rds"), json!("redshift")]) {
        let name = t.as_str().unwrap_or_default();
        targets.push(Cluster::from_str(name, true).map_err(|_| fail(format!("unknown target {name:?}")))?);
    }
    let execution = p["execution"].as_str().map(str::to_string);
    amali_jobs::run::invoke(Stage::PauseClusters, &p, move |s| async move {
        pause::run(&s, action, &targets, execution.as_deref()).await
    })
    .await
}

fn main() -> ExitCode {
    if amali_jobs::run::under_lambda() {
        #[cfg(feature = "aws")]
        {
            amali_jobs::telemetry::init();
            return amali_jobs::run::serve(handle);
        }
        #[cfg(not(feature = "aws"))]
        return amali_jobs::run::cannot_serve_lambda();
    }
    let cli = Cli::parse();
    let (action, targets, execution) = (cli.action, cli.targets.clone(), cli.execution.clone());
    amali_jobs::run::main(Stage::PauseClusters, cli.args, move |s| async move {
        pause::run(&s, action, &targets, execution.as_deref()).await
    })
}
