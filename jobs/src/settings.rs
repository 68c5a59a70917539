//! What a stage resolves from its arguments: the run ([`RunContext`], resolved by `amali-core` as the CLI resolves
//! it), the databases with their passwords, the lake.
//!
//! Arguments carry only names and ids, never a secret: passwords are resolved here from the references in the
//! configuration (`env:NAME`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use amali_core::args::StageArgs;
use amali_core::config::{DataConfig, EnvConfig, QualityRule};
use amali_core::context::RunContext;

use deltalake::datafusion::execution::runtime_env::RuntimeEnv;
use deltalake::datafusion::prelude::SessionContext;

use crate::db::Database;
use crate::error::{Result, StageError};
use crate::memory::MemoryLimit;
use crate::secret::Secret;

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
    pub quality: BTreeMap<String, Vec<QualityRule>>,
    /// The DataFusion runtime every query of the stage runs on, its memory pool bounded by `memory_limit`.
    pub runtime: Arc<RuntimeEnv>,
    /// That limit, in bytes.
    pub memory_limit: u64,
}

impl Settings {
    /// Resolves arguments against the configuration (a bad one is `Amali.ConfigError`).
    pub fn resolve(args: &StageArgs) -> Result<Settings> {
        let run = RunContext::resolve(args)?;
        check_lake(&run.data.lake)?;
        let limit = MemoryLimit::resolve(args.memory_limit, run.data.memory_limit, &run.env.name);
        let runtime = limit.runtime()?;
        Ok(Settings {
            env: run.env,
            data: run.data,
            workdir: run.workdir,
            run_id: run.run_id,
            logical_date: run.logical_date,
            tables: args.tables.clone(),
            batch_rows: args.batch_rows,
            quality: run.config.quality,
            runtime,
            memory_limit: limit.bytes,
        })
    }

    /// A DataFusion session (delta-rs's settings) on the stage's runtime: its queries share the memory limit.
    pub fn session(&self) -> SessionContext {
        crate::memory::session(&self.runtime)
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

/// Whether this build can reach the lake: one on S3 needs the `aws` feature (delta-rs's S3 object store).
pub fn check_lake(lake: &str) -> Result<()> {
    if cfg!(not(feature = "aws")) && lake.starts_with("s3://") {
        return Err(StageError::without_aws(&format!("use the lake {lake}")));
    }
    Ok(())
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
    fn a_local_build_refuses_a_lake_on_s3_saying_how_to_build_one_that_can() {
        assert!(check_lake("lake").is_ok());
        let result = check_lake("s3://amalimart-lake/delta");
        if cfg!(feature = "aws") {
            assert!(result.is_ok());
        } else {
            let e = result.unwrap_err();
            assert_eq!(e.error_name(), "Amali.ConfigError");
            assert!(e.message.contains("s3://amalimart-lake/delta") && e.message.contains("--features aws"), "{e}");
        }
    }

    #[test]
    fn lake_roots() {
        assert_eq!(lake_root("s3://b/delta/", Path::new("/w")), "s3://b/delta");
        assert_eq!(lake_root("lake", Path::new("/w")), "/w/lake");
        assert_eq!(lake_root("/data/lake", Path::new("/w")), "/data/lake");
    }
}
