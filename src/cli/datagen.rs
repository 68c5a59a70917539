//! `amali datagen`: a synthetic app database at scale, or a change batch applied to one.

use std::process::Command;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::{ExitStatus, GlobalArgs, tools};

/// Arguments of `amali datagen`.
#[derive(Debug, Args)]
pub struct DatagenArgs {
    /// The database to fill: sqlite://PATH, mysql://USER@HOST:PORT/DB or postgres://USER@HOST:PORT/DB
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Size: 1 = about 100k users, 1M orders, 3M order items (fractions allowed)
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub scale: f64,
    /// Random seed: the same seed and scale give the same rows
    #[arg(long, default_value_t = 42, value_name = "S")]
    pub seed: u64,
    /// Apply a change batch to an existing database instead: update PCT % of the rows, insert PCT % new ones,
    /// and some late rows (for incremental runs)
    #[arg(long, value_name = "PCT")]
    pub changes: Option<f64>,
    /// The environment variable holding the database's password (passwords are never arguments)
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

/// Runs `amali datagen`.
pub fn run(global: &GlobalArgs, args: DatagenArgs) -> anyhow::Result<ExitStatus> {
    let binary = tools::find_binary("amali_data")?;
    let mut command = Command::new(&binary);
    command.args(["datagen", "--target", &args.target, "--scale", &args.scale.to_string(), "--seed"]);
    command.arg(args.seed.to_string());
    if let Some(pct) = args.changes {
        command.args(["--changes", &pct.to_string()]);
    }
    if let Some(var) = &args.password_env {
        command.args(["--password-env", var]);
    }
    if global.quiet {
        command.env("AMALI_LOG", "warn");
    }
    // Progress (one line per table) goes straight to the terminal; the report comes back on stdout.
    let out = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !out.status.success() {
        return Ok(if out.status.code() == Some(78) { ExitStatus::Error } else { ExitStatus::Failure });
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("amali_data printed no report")?;
    let tables = report["tables"].as_array().cloned().unwrap_or_default();
    let (mut inserted, mut updated) = (0, 0);
    for t in &tables {
        let (i, u) = (t["inserted"].as_u64().unwrap_or(0), t["updated"].as_u64().unwrap_or(0));
        inserted += i;
        updated += u;
        if !global.quiet {
            println!("{:<28} {i:>9} inserted {u:>9} updated", t["table"].as_str().unwrap_or("?"));
        }
    }
    println!("{inserted} rows inserted, {updated} updated in {}", args.target);
    Ok(ExitStatus::Success)
}
