//! `read_from_app_database`: copies the app database's tables into the landing tables of the internal RDS,
//! incrementally by watermark, one transaction per table, idempotent per run id.

use std::process::ExitCode;

use amali_core::stage::Stage;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::extract;
use clap::Parser;

/// Copy the app database into the landing tables of the internal RDS.
///
/// Each table is read since its last high watermark (updated_at, or an id) minus an overlap window, and loaded in
/// bulk with its ledger row in one transaction. Rerunning a run id skips the tables it already copied.
/// Prints the run summary as JSON on stdout; logs go to stderr.
#[derive(Parser)]
#[command(name = "read_from_app_database", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
}

fn main() -> ExitCode {
    amali_jobs::run::entry(Stage::ReadFromAppDatabase, || Cli::parse().args, |s| async move { extract::run(&s).await })
}
