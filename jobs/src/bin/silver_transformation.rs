//! `silver_transformation`: merges bronze into the conformed, quality-checked silver tables.

use std::process::ExitCode;

use amali_core::stage::Stage;
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
    /// Print the SQL of a full rebuild instead of running: one JSON object per table, in order
    /// ({"table", "sql"}; conformed tables read `bronze_<table>`). bench/transform_vs_peers.sh gives it to DuckDB
    /// and PySpark so that they do the same work.
    #[arg(long)]
    print_sql: bool,
}

fn main() -> ExitCode {
    amali_jobs::run::entry(Stage::SilverTransformation, parse, |s| async move { silver::run(&s).await })
}

/// The command line's stage arguments; `--print-sql` prints and exits here.
fn parse() -> StageArgs {
    let cli = Cli::parse();
    if !cli.print_sql {
        return cli.args;
    }
    let printed = amali_jobs::settings::Settings::resolve(&cli.args).and_then(|s| silver::print_sql(&s));
    let code = match printed {
        Ok(list) => {
            for (table, sql) in list {
                println!("{}", serde_json::json!({ "table": table, "sql": sql }));
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            i32::from(e.exit_code())
        }
    };
    std::process::exit(code)
}
