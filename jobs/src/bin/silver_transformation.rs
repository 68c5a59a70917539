//! `silver_transformation`: merges bronze into the conformed, quality-checked silver tables.

use std::process::ExitCode;

use amali::stage::Stage;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::silver;
use clap::Parser;

/// Merge the bronze rows ingested since the last run into the silver tables.
///
/// Per table: the latest version of each row (by updated_at, then ingestion time), trimmed strings and lower-cased
/// emails, checked against the [[quality.TABLE]] rules of amali.toml (warn, quarantine to silver/_quarantine, or
/// fail), then MERGEd on the primary key. Parents are processed before the tables that refer to them. Every table
/// reports rows in = rows out + rows quarantined. Prints the run summary as JSON on stdout; logs go to stderr.
#[derive(Parser)]
#[command(name = "silver_transformation", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    amali_jobs::run::main(Stage::SilverTransformation, cli.args, |s| async move { silver::run(&s).await })
}
