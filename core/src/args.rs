//! The arguments every stage takes, spelled once.
//!
//! A stage is told its environment, run id and logical date three ways, one per runner: as command-line flags
//! (ECS tasks and local processes), as the keys of a Lambda payload, and as Glue job arguments. The key
//! ([`keys`]) is the one spelling: the flag is `--` and the key with `-` for `_` ([`flag`]), the Glue argument is
//! `--` and the key as it is ([`glue_argument`], the convention of Glue's `getResolvedOptions`), and the state
//! machine, the interpreter and the stages all derive theirs from it.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use crate::config::ConfigError;

/// The argument keys.
pub mod keys {
    /// The stage to run (a Lambda payload key only: a binary is its stage).
    pub const STAGE: &str = "stage";
    /// The environment of `amali.toml`.
    pub const ENV: &str = "env";
    /// The run id: the execution's name.
    pub const RUN_ID: &str = "run_id";
    /// The logical date, `YYYY-MM-DD`.
    pub const LOGICAL_DATE: &str = "logical_date";
    /// Only these tables.
    pub const TABLES: &str = "tables";
}

/// The environment a stage uses when none is given.
pub const DEFAULT_ENV: &str = "local";

/// Rows per Arrow batch when none is given: memory is bounded by this, not by a table's size.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// The command-line flag of an argument key: `run_id` -> `--run-id`.
pub fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// The Glue job argument of an argument key: `run_id` -> `--run_id`.
pub fn glue_argument(key: &str) -> String {
    format!("--{key}")
}

/// A Glue job argument (`--run_id`) or a flag (`--run-id`) as the flag a stage binary takes.
pub fn as_flag(argument: &str) -> String {
    flag(argument.trim_start_matches('-'))
}

/// The arguments every stage takes. The state machine passes `--run-id`, `--logical-date` and `--env`.
#[derive(Debug, Clone, Args)]
pub struct StageArgs {
    /// The environment of amali.toml whose databases and lake to use
    #[arg(long, env = "AMALI_ENV", default_value = DEFAULT_ENV)]
    pub env: String,
    /// The configuration file [default: amali.toml found upwards from the current directory, else built-in]
    #[arg(long, env = "AMALI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The run id (the execution's name): rerunning with the same id writes nothing twice
    #[arg(long, env = "AMALI_RUN_ID", value_name = "ID")]
    pub run_id: String,
    /// The run's logical date, YYYY-MM-DD [default: today, UTC]
    #[arg(long, value_name = "DATE")]
    pub logical_date: Option<String>,
    /// The work directory that relative paths in the configuration start from (local runs)
    #[arg(long, env = "AMALI_WORKDIR", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Only these tables (comma-separated) [default: every configured table]
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    pub tables: Vec<String>,
    /// Rows per Arrow batch: memory is bounded by this, not by the table
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS, value_name = "ROWS")]
    pub batch_rows: usize,
    /// The memory the stage's queries may hold before they spill to disk (e.g. 4GiB), over the environment's
    /// memory_limit [default: memory_limit, else 60% of the machine's or container's memory]
    #[arg(long, env = "AMALI_MEMORY_LIMIT", value_name = "SIZE")]
    pub memory_limit: Option<bytesize::ByteSize>,
}

impl StageArgs {
    /// The arguments of one Lambda invocation: the payload the state machine sends (`run_id`, `logical_date`,
    /// `tables`, and `env` unless `AMALI_ENV` names it); the configuration file and work directory come from the
    /// function's environment (`AMALI_CONFIG`, `AMALI_WORKDIR`), as for a process.
    pub fn from_payload(payload: &Value) -> Result<StageArgs, ConfigError> {
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
        let run_id = text(keys::RUN_ID).ok_or_else(|| ConfigError::Argument {
            message: format!("the Lambda payload has no {}: the state machine passes $.run.run_id", keys::RUN_ID),
        })?;
        let tables = match payload.get(keys::TABLES) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(Value::String(list)) => list.split(',').map(str::to_string).collect(),
            _ => Vec::new(),
        };
        Ok(StageArgs {
            env: std::env::var("AMALI_ENV").ok().or_else(|| text(keys::ENV)).unwrap_or_else(|| DEFAULT_ENV.into()),
            config: std::env::var_os("AMALI_CONFIG").map(Into::into),
            run_id,
            logical_date: text(keys::LOGICAL_DATE),
            workdir: std::env::var_os("AMALI_WORKDIR").map(Into::into),
            tables,
            batch_rows: DEFAULT_BATCH_ROWS,
            memory_limit: std::env::var("AMALI_MEMORY_LIMIT")
                .ok()
                .map(|v| {
                    v.parse().map_err(|e| ConfigError::Argument {
                        message: format!("AMALI_MEMORY_LIMIT={v:?} is not a size like 4GiB: {e}"),
                    })
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use serde_json::json;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: StageArgs,
    }

    #[test]
    fn the_flags_are_the_keys_spelled_for_a_command_line() {
        let command = Cli::command();
        let longs: Vec<&str> = command.get_arguments().filter_map(|a| a.get_long()).collect();
        for key in [keys::ENV, keys::RUN_ID, keys::LOGICAL_DATE, keys::TABLES] {
            let flag = flag(key);
            assert!(longs.contains(&&flag[2..]), "StageArgs has no {flag}; it has {longs:?}");
        }
        assert_eq!(as_flag(&glue_argument(keys::LOGICAL_DATE)), "--logical-date");
        assert_eq!(as_flag("--run-id"), "--run-id");
    }

    #[test]
    fn a_lambda_payload_gives_the_stage_arguments() {
        let args = StageArgs::from_payload(&json!({
            "stage": "rds", "env": "dev", "run_id": "run-2024-03-01", "logical_date": "2024-03-01",
            "tables": ["users", "orders"],
        }))
        .unwrap();
        assert_eq!(args.run_id, "run-2024-03-01");
        assert_eq!(args.logical_date.as_deref(), Some("2024-03-01"));
        assert_eq!(args.tables, ["users", "orders"]);
        assert_eq!(args.batch_rows, DEFAULT_BATCH_ROWS);
        if std::env::var_os("AMALI_ENV").is_none() {
            assert_eq!(args.env, "dev");
        }
        let err = StageArgs::from_payload(&json!({"env": "dev"})).unwrap_err();
        assert!(err.to_string().contains("run_id"), "{err}");
    }
}
