//! `rds`: loads the silver tables into the internal RDS, atomically per table.

use std::process::ExitCode;

use amali_core::stage::Stage;
use amali_jobs::models::SILVER_MODELS;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::load;
use amali_jobs::summary::Layer;
use clap::Parser;

/// Load the silver tables (users_data, orders_data, ...) into the internal RDS.
///
/// Each table streams from its Delta snapshot into a staging table by the engine's bulk path (LOAD DATA LOCAL
/// INFILE, COPY FROM STDIN, SQLite transactions), then replaces the live table atomically: readers see the old or
/// the new table, never a missing or half-loaded one. An audit row goes to _amali_loads; a table whose Delta version
/// is loaded already is skipped. Prints the run summary as JSON on stdout; logs go to stderr.
#[derive(Parser)]
#[command(name = "rds", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
}

fn main() -> ExitCode {
    amali_jobs::run::entry(
        Stage::Rds,
        || Cli::parse().args,
        |s| async move {
            let tables: Vec<&str> = SILVER_MODELS.iter().map(|m| m.name).collect();
            load::run(&s, "internal_database", "silver", &tables, Layer::InternalRds).await
        },
    )
}
