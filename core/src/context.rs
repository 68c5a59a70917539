//! The one resolve step: what a run is (its environment, work directory, run id and logical date) from the
//! configuration and the arguments, checked once, before anything is written.
//!
//! The CLI resolves a local run with it before it creates the run's directory, and every stage binary resolves its
//! arguments with it before it touches a database, so a bad run id or date fails the same way, early, on both
//! sides.

use std::path::{Path, PathBuf};

use crate::args::StageArgs;
use crate::config::{Config, ConfigError, DataConfig, EnvConfig, Result};

/// The work directory of local runs when neither the arguments nor `[env.NAME.data] workdir` name one.
pub const DEFAULT_WORKDIR: &str = ".amali";

/// A resolved run of one environment.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The whole configuration (the quality rules live beside the environments).
    pub config: Config,
    /// The environment.
    pub env: EnvConfig,
    /// Its data section.
    pub data: DataConfig,
    /// The work directory that relative paths in the configuration start from.
    pub workdir: PathBuf,
    /// The run id (the execution's name).
    pub run_id: String,
    /// The logical date, `YYYY-MM-DD`.
    pub logical_date: String,
}

impl RunContext {
    /// Resolves a stage's arguments: loads the configuration, picks the environment, checks the run id and the
    /// logical date (default: today, UTC).
    pub fn resolve(args: &StageArgs) -> Result<RunContext> {
        let config = Config::load(args.config.as_deref())?;
        if args.batch_rows == 0 {
            return Err(ConfigError::Argument { message: "--batch-rows must be at least 1".into() });
        }
        let logical_date = match &args.logical_date {
            Some(d) => check_logical_date(d)?,
            None => today(),
        };
        RunContext::of(config, &args.env, args.workdir.as_deref(), &args.run_id, logical_date)
    }

    /// Resolves a run of `env` in an already loaded configuration.
    pub fn of(
        config: Config,
        env: &str,
        workdir: Option<&Path>,
        run_id: &str,
        logical_date: String,
    ) -> Result<RunContext> {
        let env = config.env(env)?.clone();
        let data = env.data_config(&config.origin)?.clone();
        check_run_id(run_id)?;
        let workdir = workdir_of(&data, workdir);
        Ok(RunContext { config, env, data, workdir, run_id: run_id.to_string(), logical_date })
    }
}

/// The work directory: the one given, else the data section's `workdir`, else [`DEFAULT_WORKDIR`].
pub fn workdir_of(data: &DataConfig, given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(|| data.workdir.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKDIR))
}

/// Checks a run id: an execution name of letters, digits and `- _ . :` (what Step Functions accepts and a
/// directory name can hold).
pub fn check_run_id(id: &str) -> Result<()> {
    let ok =
        !id.trim().is_empty() && id.len() <= 80 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        return Ok(());
    }
    Err(ConfigError::Argument {
        message: format!("run id {id:?}: use up to 80 letters, digits and - _ . : (an execution name)"),
    })
}

/// Checks a logical date, `YYYY-MM-DD`, and returns it.
pub fn check_logical_date(date: &str) -> Result<String> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|_| date.to_string())
        .map_err(|_| ConfigError::Argument { message: format!("logical date {date:?} is not YYYY-MM-DD") })
}

/// Today's date in UTC, the logical date of a run that names none.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(run_id: &str, date: Option<&str>) -> StageArgs {
        StageArgs {
            env: "local".into(),
            config: None,
            run_id: run_id.into(),
            logical_date: date.map(str::to_string),
            workdir: Some(PathBuf::from("/w")),
            tables: Vec::new(),
            batch_rows: 10,
            memory_limit: None,
        }
    }

    #[test]
    fn a_run_is_resolved_once_with_its_checks() {
        let run = RunContext::resolve(&args("run-2024-03-01", Some("2024-03-01"))).unwrap();
        assert_eq!(run.env.name, "local");
        assert_eq!(run.workdir, PathBuf::from("/w"));
        assert_eq!(run.logical_date, "2024-03-01");
        let bad_id = RunContext::resolve(&args("a run/../x", None)).unwrap_err();
        assert!(bad_id.to_string().contains("run id"), "{bad_id}");
        let bad_date = RunContext::resolve(&args("r1", Some("01/03/2024"))).unwrap_err();
        assert!(bad_date.to_string().contains("YYYY-MM-DD"), "{bad_date}");
        let mut no_env = args("r1", None);
        no_env.env = "staging".into();
        assert!(matches!(RunContext::resolve(&no_env), Err(ConfigError::UnknownEnv { .. })));
    }
}
