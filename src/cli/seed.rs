//! `amali seed`: load the sample data into an app database.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::{ExitStatus, GlobalArgs, tools};
use crate::config::Config;

/// Arguments of `amali seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The database to load: sqlite://PATH, mysql://USER@HOST:PORT/DB or postgres://USER@HOST:PORT/DB
    /// (created tables, replaced rows)
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// The environment variable holding the database's password (passwords are never arguments)
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// The directory of CSV files [default: jobs/sample-data beside amali.toml]
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

/// The sample data shipped with the project.
pub fn default_sample_dir(config: &Config) -> PathBuf {
    let base = std::path::Path::new(&config.origin).parent().filter(|p| !p.as_os_str().is_empty()).map(PathBuf::from);
    base.unwrap_or_else(|| PathBuf::from(".")).join("jobs/sample-data")
}

/// Runs `amali seed`.
pub fn run(global: &GlobalArgs, args: SeedArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    let from = args.from.unwrap_or_else(|| default_sample_dir(&config));
    if !from.is_dir() {
        anyhow::bail!("{} is not a directory of CSV files; give one with --from", from.display());
    }
    let binary = tools::find_binary("amali_data")?;
    let mut command = Command::new(&binary);
    command.args(["seed", "--target", &args.target, "--from"]).arg(&from);
    if let Some(var) = &args.password_env {
        command.args(["--password-env", var]);
    }
    let out = command.output().with_context(|| format!("cannot run {}", binary.display()))?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        // 78 (EX_CONFIG) is a target or directory the loader cannot use: the command could not run.
        return Ok(if out.status.code() == Some(78) { ExitStatus::Error } else { ExitStatus::Failure });
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("amali_data printed no report")?;
    let files = report["files"].as_array().cloned().unwrap_or_default();
    let (mut loaded, mut rejected) = (0, 0);
    for f in &files {
        let (l, r) = (f["loaded"].as_u64().unwrap_or(0), f["rejected"].as_u64().unwrap_or(0));
        loaded += l;
        rejected += r;
        if global.quiet {
            continue;
        }
        println!(
            "{:<28} -> {:<24} {l:>6} loaded {r:>6} rejected",
            f["file"].as_str().unwrap_or("?"),
            f["table"].as_str().unwrap_or("?")
        );
        for (reason, n) in f["reasons"].as_object().into_iter().flatten() {
            println!("    {n} rejected: {}", reason);
        }
        for (column, how) in f["filled"].as_object().into_iter().flatten() {
            println!("    {column}: {}", how.as_str().unwrap_or("?"));
        }
    }
    println!("{loaded} rows loaded into {}, {rejected} rejected (reasons above)", args.target);
    Ok(ExitStatus::Success)
}
