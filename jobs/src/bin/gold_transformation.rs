//! `gold_transformation`: builds the gold KPI tables and the star schema from silver.

use std::process::ExitCode;

use amali_core::stage::Stage;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::gold;
use clap::Parser;

/// Build the gold tables (the original's twelve KPI tables and a star schema) from the silver tables.
///
/// One SQL model per table (jobs/models/gold/*.sql, definition in its header), run on DataFusion; each table is
/// replaced in one Delta commit, so readers see the old or the new version. "Year to date" is relative to
/// --logical-date, never the wall clock. A model whose inputs did not change is not rebuilt. Prints the run
/// summary as JSON on stdout; logs go to stderr.
#[derive(Parser)]
#[command(name = "gold_transformation", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
}

fn main() -> ExitCode {
    amali_jobs::run::entry(Stage::GoldTransformation, || Cli::parse().args, |s| async move { gold::run(&s).await })
}
