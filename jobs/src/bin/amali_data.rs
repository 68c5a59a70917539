//! `amali_data`: sample and synthetic data for the app database (`amali seed` and `amali datagen` run it).

use std::path::PathBuf;
use std::process::ExitCode;

use amali_jobs::db::Database;
use amali_jobs::error::Result;
use amali_jobs::secret::Secret;
use clap::{Args, Parser, Subcommand};

/// Loads sample or synthetic data into an app database.
#[derive(Parser)]
#[command(name = "amali_data", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The database to write.
#[derive(Args)]
struct TargetArgs {
    /// The database: sqlite://PATH, mysql://USER@HOST:PORT/DB or postgres://USER@HOST:PORT/DB
    #[arg(long, value_name = "URL")]
    target: String,
    /// The environment variable holding the database's password (never pass a password as an argument)
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Load the fixture CSVs into a database (tables created if needed, their rows replaced) and print the report
    /// as JSON.
    Seed {
        #[command(flatten)]
        target: TargetArgs,
        /// The directory of CSV files
        #[arg(long)]
        from: PathBuf,
    },
    /// Generate the app schema at scale (or, with --changes, apply a change batch) and print a report as JSON.
    Datagen {
        #[command(flatten)]
        target: TargetArgs,
        /// 1 = about 100k users, 1M orders, 3M order items
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// The random seed: the same seed gives the same data
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Instead of generating, change this percentage of an existing database's rows
        #[arg(long, value_name = "PCT")]
        changes: Option<f64>,
    },
}

fn open(target: &TargetArgs) -> Result<Database> {
    let password = target.password_env.as_ref().map(|v| Secret::resolve(&format!("env:{v}"))).transpose()?;
    Database::open(&target.target, &std::env::current_dir().unwrap_or_default(), password)
}

fn main() -> ExitCode {
    amali_jobs::telemetry::init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(70);
        }
    };
    let result: Result<serde_json::Value> = runtime.block_on(async {
        match cli.command {
            Command::Seed { target, from } => {
                let report = amali_jobs::fixtures::seed(&from, &open(&target)?).await?;
                Ok(serde_json::to_value(report).unwrap_or_default())
            }
            Command::Datagen { target, scale, seed, changes } => {
                let db = open(&target)?;
                let report = match changes {
                    Some(pct) => amali_jobs::datagen::changes(&db, pct, seed).await?,
                    None => amali_jobs::datagen::generate(&db, scale, seed).await?,
                };
                Ok(serde_json::json!({ "tables": report }))
            }
        }
    });
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
