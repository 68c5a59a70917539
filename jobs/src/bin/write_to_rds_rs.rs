//! `write_to_rds_rs`: loads the gold tables into the warehouse, atomically per table.

use std::process::ExitCode;

use amali_core::stage::Stage;
use amali_jobs::models::GOLD_MODELS;
use amali_jobs::settings::StageArgs;
use amali_jobs::stages::load;
use amali_jobs::summary::Layer;
use clap::Parser;

/// Load the gold tables (KPIs and the star schema) into the warehouse.
///
/// Over the PostgreSQL protocol (PostgreSQL, or SQLite locally): each table streams from its Delta snapshot into a
/// staging table by COPY FROM STDIN, then replaces the live table and records an audit row in one transaction.
/// A table whose Delta version is loaded already is skipped. Prints the run summary as JSON on stdout; logs go to
/// stderr.
#[derive(Parser)]
#[command(name = "write_to_rds_rs", version)]
struct Cli {
    #[command(flatten)]
    args: StageArgs,
}

fn main() -> ExitCode {
    amali_jobs::run::entry(
        Stage::WriteToRdsRs,
        || Cli::parse().args,
        |s| async move {
            let tables: Vec<&str> = GOLD_MODELS.iter().map(|m| m.name).collect();
            load::run(&s, "warehouse", "gold", &tables, Layer::Warehouse).await
        },
    )
}
