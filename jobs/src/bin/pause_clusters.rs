//! `pause_clusters`: stops the internal RDS and pauses Redshift after the loads (resumes them with --action resume).

use std::process::ExitCode;

use amali::stage::Stage;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::pause::{self, Action, Cluster};
use clap::Parser;

/// Stop the internal RDS and pause Redshift once the loads are done (or start them again).
///
/// Idempotent: a cluster already stopped is a success. It pauses nothing while another execution of the pipeline
/// is running, and says so. Locally (SQLite databases) it says what it would do. Prints the run summary as JSON
/// on stdout; logs go to stderr.
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
    /// The execution asking (its ARN), for the log
    #[arg(long, value_name = "ARN")]
    execution: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(execution) = &cli.execution {
        eprintln!("pause_clusters for {execution}");
    }
    let (action, targets) = (cli.action, cli.targets.clone());
    amali_jobs::run::main(Stage::PauseClusters, cli.args, move |s| async move { pause::run(&s, action, &targets) })
}
