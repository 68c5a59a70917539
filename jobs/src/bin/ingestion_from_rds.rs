//! `ingestion_from_rds`: appends the landing tables to the bronze Delta tables, exactly once per extraction.

use std::process::ExitCode;

use amali_core::stage::Stage;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::ingest;
use clap::Parser;

/// Append the landing tables to the bronze Delta tables, then drain them.
///
/// One Delta commit per table, carrying a transaction id, so a rerun after a crash never appends twice; the
/// landing rows are deleted only after the commit and its audit row are durable. Sensitive columns never reach
/// the lake. Prints the run summary as JSON on stdout; logs go to stderr.
#[derive(Parser)]
#[command(name = "ingestion_from_rds", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
}

fn main() -> ExitCode {
    amali_jobs::run::entry(Stage::IngestionFromRds, || Cli::parse().args, |s| async move { ingest::run(&s).await })
}
