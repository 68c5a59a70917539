//! What a stage is told (arguments) and what it resolves from them (settings): the environment's configuration
//! from the same `amali.toml` as the CLI, the work directory, the databases with their passwords, the lake.
//!
//! Arguments carry only names and ids, never a secret: passwords are resolved here from the references in the
//! configuration (`env:NAME`).

use std::path::{Path, PathBuf};

use amali::config::{Config, DataConfig, EnvConfig};
use clap::Args;

use crate::db::Database;
use crate::error::{Result, StageError};
use crate::secret::Secret;

/// The arguments every stage takes (the state machine passes `--run-id`, `--logical-date` and `--env`).
#[derive(Debug, Clone, Args)]
pub struct StageArgs {
    /// The environment of amali.toml whose databases and lake to use.
    #[arg(long, env = "AMALI_ENV", default_value = "local")]
    pub env: String,
    /// The configuration file (default: amali.toml found upwards from the current directory, else built-in).
    #[arg(long, env = "AMALI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The run id (the execution's name): rerunning with the same id writes nothing twice.
    #[arg(long = "run-id", alias = "run_id", env = "AMALI_RUN_ID", value_name = "ID")]
    pub run_id: String,
    /// The run's logical date, YYYY-MM-DD (default: today, UTC).
    #[arg(long = "logical-date", alias = "logical_date", value_name = "DATE")]
    pub logical_date: Option<String>,
    /// The work directory that relative paths in the configuration start from (local runs).
    #[arg(long, env = "AMALI_WORKDIR", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Only these tables (comma-separated; default: every configured table).
    #[arg(long = "tables", value_delimiter = ',', value_name = "TABLE,...")]
    pub tables: Vec<String>,
    /// Rows per Arrow batch: memory is bounded by this, not by the table.
    #[arg(long, default_value_t = 65_536, value_name = "ROWS")]
    pub batch_rows: usize,
}

/// Resolved settings of a stage run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The environment.
    pub env: EnvConfig,
    /// Its data section.
    pub data: DataConfig,
    /// The work directory.
    pub workdir: PathBuf,
    /// The run id.
    pub run_id: String,
    /// The logical date, YYYY-MM-DD.
    pub logical_date: String,
    /// Tables requested on the command line (empty: all).
    pub tables: Vec<String>,
    /// Rows per batch.
    pub batch_rows: usize,
    /// Data-quality rules by table (`[[quality.TABLE]]`).
    pub quality: std::collections::BTreeMap<String, Vec<amali::config::QualityRule>>,
}

impl Settings {
    /// Resolves arguments against the configuration.
    pub fn resolve(args: &StageArgs) -> Result<Settings> {
        let config = Config::load(args.config.as_deref()).map_err(|e| StageError::config(e.to_string()))?;
        let env = config.env(&args.env).map_err(|e| StageError::config(e.to_string()))?.clone();
        let data = env.data.clone().ok_or_else(|| {
            StageError::config(format!(
                "environment {} has no [env.{}.data] table: add one with the databases and the lake",
                env.name, env.name
            ))
        })?;
        let workdir = args
            .workdir
            .clone()
            .or_else(|| data.workdir.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".amali"));
        if args.run_id.trim().is_empty()
            || !args.run_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(StageError::config(format!(
                "run id {:?}: use letters, digits and - _ . : (an execution name)",
                args.run_id
            )));
        }
        let logical_date = match &args.logical_date {
            Some(d) => {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| StageError::config(format!("logical date {d:?} is not YYYY-MM-DD")))?;
                d.clone()
            }
            None => chrono::Utc::now().format("%Y-%m-%d").to_string(),
        };
        if args.batch_rows == 0 {
            return Err(StageError::config("--batch-rows must be at least 1"));
        }
        Ok(Settings {
            env,
            data,
            workdir,
            run_id: args.run_id.clone(),
            logical_date,
            tables: args.tables.clone(),
            batch_rows: args.batch_rows,
            quality: config.quality.clone(),
        })
    }

    /// The database named `which` in the data section (`app_database`, `landing_database`, ...), with its
    /// password resolved.
    pub fn database(&self, which: &str) -> Result<Database> {
        let url = match which {
            "app_database" => &self.data.app_database,
            "landing_database" => &self.data.landing_database,
            "internal_database" => &self.data.internal_database,
            "warehouse" => &self.data.warehouse,
            other => return Err(StageError::internal(format!("no database named {other}"))),
        };
        let password = self.data.passwords.get(which).map(|r| Secret::resolve(r)).transpose()?;
        Database::open(url, &self.workdir, password)
    }

    /// The lake root as a URL-like string: `s3://...` as configured, or an absolute local directory.
    pub fn lake_root(&self) -> String {
        lake_root(&self.data.lake, &self.workdir)
    }

    /// Columns of `table` that must never be copied (`sensitive_columns`).
    pub fn sensitive_columns(&self, table: &str) -> Vec<&str> {
        self.data
            .sensitive_columns
            .iter()
            .filter_map(|c| c.split_once('.'))
            .filter(|(t, _)| *t == table)
            .map(|(_, c)| c)
            .collect()
    }
}

/// The lake root: `s3://` and other URLs as they are; a path made absolute against `workdir`.
pub fn lake_root(lake: &str, workdir: &Path) -> String {
    if lake.contains("://") {
        return lake.trim_end_matches('/').to_string();
    }
    let path = Path::new(lake);
    let path = if path.is_absolute() { path.to_path_buf() } else { workdir.join(path) };
    let path = std::path::absolute(&path).unwrap_or(path);
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_roots() {
        assert_eq!(lake_root("s3://b/delta/", Path::new("/w")), "s3://b/delta");
        assert_eq!(lake_root("lake", Path::new("/w")), "/w/lake");
        assert_eq!(lake_root("/data/lake", Path::new("/w")), "/data/lake");
    }
}
