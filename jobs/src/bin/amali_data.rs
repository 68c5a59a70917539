//! `amali_data`: sample data for the app database (`amali seed` runs it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Loads sample data into an app database.
#[derive(Parser)]
#[command(name = "amali_data", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the fixture CSVs into a database (created if needed) and print the report as JSON.
    Seed {
        /// The database: sqlite://PATH
        #[arg(long)]
        target: String,
        /// The directory of CSV files
        #[arg(long)]
        from: PathBuf,
    },
}

fn main() -> ExitCode {
    amali_jobs::telemetry::init();
    let Cli { command: Command::Seed { target, from } } = Cli::parse();
    let Some(path) = target.strip_prefix("sqlite://") else {
        eprintln!("error: {target}: this version seeds SQLite databases (sqlite://PATH)");
        return ExitCode::from(78);
    };
    match amali_jobs::fixtures::seed_sqlite(&from, &PathBuf::from(path)) {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
