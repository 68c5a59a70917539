//! Environments from `amali.toml`: everything that differs between local, dev and prod.
//!
//! Nothing environment-specific (account ids, ARNs, topic and job names, timeouts, runners) is written in code: the
//! pipeline is rendered from an [`EnvConfig`]. The file is found with `--config`, `AMALI_CONFIG`, or by looking for
//! `amali.toml` in the current directory and its parents; without one, the built-in defaults (the project's own
//! `amali.toml`) are used so that `amali run --local` works anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::stage::Stage;

/// The project's own `amali.toml`, used when no file is found.
pub const BUILTIN: &str = include_str!("../../amali.toml");

/// Why the configuration could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{origin} is not a valid amali configuration: {message}")]
    Invalid {
        /// The file, or "the built-in configuration".
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The requested environment is not defined.
    #[error("no environment {name:?} in {origin}; defined: {known}. Add an [env.{name}] table or pick one of those")]
    UnknownEnv {
        /// The requested name.
        name: String,
        /// The file.
        origin: String,
        /// The defined names.
        known: String,
    },
    /// A command-line or payload argument is unusable (a run id, a logical date, a number).
    #[error("{message}")]
    Argument {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The environment has no `[env.NAME.data]` table, which a run needs.
    #[error("environment {env} has no [env.{env}.data] table in {origin}: add one with the databases and the lake")]
    NoData {
        /// The environment.
        env: String,
        /// The file.
        origin: String,
    },
    /// A value is present but unusable.
    #[error("[env.{env}] in {origin}: {message}")]
    BadValue {
        /// The environment.
        env: String,
        /// The file.
        origin: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A `Result` whose error is a [`ConfigError`].
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// How a stage runs in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    /// An ECS task (Fargate) of the one image holding every stage binary: the default.
    Ecs,
    /// A Lambda function (provided.al2023) per stage, for small stages.
    Lambda,
    /// An existing Glue job: the migration path, one stage at a time.
    Glue,
}

/// The whole `amali.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings shared by every environment.
    pub pipeline: PipelineConfig,
    /// Environments by name (`local`, `dev`, `prod`, ...).
    pub env: BTreeMap<String, EnvConfig>,
    /// Data-quality rules of the silver tables, by source table (`[[quality.TABLE]]`).
    #[serde(default)]
    pub quality: BTreeMap<String, Vec<QualityRule>>,
    /// Where the configuration came from, for messages.
    #[serde(skip)]
    pub origin: String,
}

/// What happens to rows that break a data-quality rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityAction {
    /// Counted and logged; the rows go on.
    Warn,
    /// Set aside in the quarantine table with the rule and the reason; the rest go on.
    Quarantine,
    /// The stage fails before writing the table.
    Fail,
}

/// The check a rule makes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum QualityCheck {
    /// These columns are never NULL.
    NotNull {
        /// The columns.
        columns: Vec<String>,
    },
    /// No two rows share these columns' values.
    Unique {
        /// The columns.
        columns: Vec<String>,
    },
    /// The column holds one of these values (or NULL).
    AcceptedValues {
        /// The column.
        column: String,
        /// The allowed values.
        values: Vec<String>,
    },
    /// The column's value exists in another table's column (or is NULL): a foreign key.
    Relationships {
        /// The column.
        column: String,
        /// `table.column` it refers to.
        to: String,
    },
    /// The column's value is within bounds (inclusive; NULL passes).
    Range {
        /// The column.
        column: String,
        /// Lowest allowed value.
        min: Option<f64>,
        /// Highest allowed value.
        max: Option<f64>,
    },
    /// A SQL predicate every row satisfies (a row where it is false or NULL breaks the rule).
    Sql {
        /// The rule's name.
        name: String,
        /// The predicate, in DataFusion SQL over the table's columns.
        predicate: String,
    },
}

/// One `[[quality.TABLE]]` rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QualityRule {
    /// The check.
    #[serde(flatten)]
    pub check: QualityCheck,
    /// What to do with rows that break it.
    pub action: QualityAction,
}

impl QualityRule {
    /// A stable id: `table.rule.column` (or the SQL rule's name).
    pub fn id(&self, table: &str) -> String {
        match &self.check {
            QualityCheck::NotNull { columns } => format!("{table}.not_null.{}", columns.join("+")),
            QualityCheck::Unique { columns } => format!("{table}.unique.{}", columns.join("+")),
            QualityCheck::AcceptedValues { column, .. } => format!("{table}.accepted_values.{column}"),
            QualityCheck::Relationships { column, .. } => format!("{table}.relationships.{column}"),
            QualityCheck::Range { column, .. } => format!("{table}.range.{column}"),
            QualityCheck::Sql { name, .. } => format!("{table}.sql.{name}"),
        }
    }
}

/// The `[pipeline]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// A short name used in resource names and messages.
    pub name: String,
    /// The state machine's `Comment`.
    pub comment: String,
}

/// One `[env.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// The environment's name (filled in from the table key).
    #[serde(skip)]
    pub name: String,
    /// AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// AWS account id (12 digits).
    pub account: String,
    /// The state machine's name.
    pub state_machine: String,
    /// Seconds before the whole execution times out.
    pub execution_timeout_seconds: u64,
    /// The runner of every stage unless a `[env.NAME.stages.STAGE]` table says otherwise.
    pub runner: Runner,
    /// SNS topic names.
    pub topics: Topics,
    /// The pause Lambda's function name.
    pub pause_function: String,
    /// ECS settings (needed when any stage runs on ECS).
    #[serde(default)]
    pub ecs: Option<EcsConfig>,
    /// Glue settings.
    #[serde(default)]
    pub glue: GlueConfig,
    /// Lambda settings for stages that run as functions.
    #[serde(default)]
    pub lambda: LambdaConfig,
    /// Per-stage overrides.
    #[serde(default)]
    pub stages: BTreeMap<Stage, StageConfig>,
    /// Where the data lives: databases, the lake, and where their passwords come from.
    #[serde(default)]
    pub data: Option<DataConfig>,
    /// What `amali deploy` needs beyond the definition: roles, the stages image, subscriptions.
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
}

/// `[env.NAME.deploy]`: the settings of `amali deploy` for an environment on AWS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// The IAM role the state machine runs as (a name or an ARN); `amali iam-policy --env NAME` prints its policy.
    pub role: String,
    /// The IAM role the Lambda functions (pause_clusters, stages on the lambda runner) run as.
    pub lambda_role: String,
    /// The image holding every stage binary, for stages on ECS (`--image` overrides it; CI passes the image it
    /// pushed).
    #[serde(default)]
    pub image: Option<String>,
    /// The Lambda functions' architecture: `x86_64` or `arm64`.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// Memory of the Lambda functions, in MB.
    #[serde(default = "default_lambda_memory")]
    pub lambda_memory_mb: i32,
    /// Subscriptions of the topics, as `PROTOCOL:ENDPOINT` by topic (`success`, `failure`), e.g.
    /// `{ failure = ["email:oncall@example.com"] }`. Subscriptions not listed are reported and left alone.
    #[serde(default)]
    pub subscriptions: BTreeMap<String, Vec<String>>,
}

fn default_architecture() -> String {
    "x86_64".into()
}

fn default_lambda_memory() -> i32 {
    1024
}

/// `[env.NAME.data]`: the databases and the lake the stages read and write.
///
/// Database URLs are `sqlite://PATH`, `mysql://USER@HOST:PORT/DB` or `postgres://USER@HOST:PORT/DB`, never with a
/// password: passwords come from `passwords`, by database, as `env:VARIABLE` (or a Secrets Manager ARN in AWS).
/// Relative paths (SQLite files, a local lake) are relative to the work directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The work directory of local runs (default `.amali`).
    #[serde(default)]
    pub workdir: Option<String>,
    /// The app database (the source).
    pub app_database: String,
    /// The internal RDS holding the landing tables.
    pub landing_database: String,
    /// The internal RDS receiving the silver tables.
    pub internal_database: String,
    /// The warehouse receiving gold (Redshift in AWS).
    pub warehouse: String,
    /// The Delta lake root: a directory or `s3://bucket/prefix`.
    pub lake: String,
    /// Password references by database name (`app_database`, ...).
    #[serde(default)]
    pub passwords: BTreeMap<String, String>,
    /// Columns that never leave the app database (`table.column`): not copied to landing, never in the lake.
    #[serde(default = "default_sensitive_columns")]
    pub sensitive_columns: Vec<String>,
    /// How `read_from_app_database` copies tables.
    #[serde(default)]
    pub extract: ExtractConfig,
    /// The IAM role Redshift assumes to COPY from the lake (needed when `warehouse` is `redshift://...`).
    #[serde(default)]
    pub redshift_iam_role: Option<String>,
    /// The internal RDS as an instance identifier, for `pause_clusters` on AWS.
    #[serde(default)]
    pub rds_instance: Option<String>,
    /// The internal RDS as an Aurora cluster identifier (instead of `rds_instance`).
    #[serde(default)]
    pub rds_cluster: Option<String>,
    /// The Redshift cluster identifier, for `pause_clusters` on AWS.
    #[serde(default)]
    pub redshift_cluster: Option<String>,
    /// The memory a stage's queries may hold (`"6GiB"`, `"512MiB"`; `GB` and `MB` are powers of ten): past it
    /// DataFusion's sorts and aggregations spill to local disk, and a query that cannot fails the stage with
    /// `Amali.ConfigError` naming this setting. Default: three fifths of the memory of the machine, or of the
    /// container when it has a lower limit (an ECS task's memory).
    #[serde(default)]
    pub memory_limit: Option<bytesize::ByteSize>,
}

fn default_sensitive_columns() -> Vec<String> {
    vec!["users.password".into(), "vendor_applications.password".into()]
}

/// `[env.NAME.data.extract]`: which tables `read_from_app_database` copies and how.
///
/// A table is copied incrementally by its watermark column: `updated_at` when it has one, else its integer
/// primary key `id`; a table with neither is copied in full every run. Each run rereads an overlap window below
/// the last high watermark, so rows committed late (a transaction that began before the last run and committed
/// after it) are not missed; the duplicates this rereads are resolved in silver by key and `updated_at`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractConfig {
    /// The tables to copy (default: every table of the schema).
    #[serde(default)]
    pub tables: Vec<String>,
    /// Overlap for timestamp watermarks, in seconds.
    #[serde(default = "default_overlap_seconds")]
    pub overlap_seconds: u64,
    /// Overlap for id watermarks, in ids.
    #[serde(default = "default_overlap_ids")]
    pub overlap_ids: u64,
    /// Per-table overrides.
    #[serde(default)]
    pub table: BTreeMap<String, TableExtract>,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            tables: Vec::new(),
            overlap_seconds: default_overlap_seconds(),
            overlap_ids: default_overlap_ids(),
            table: BTreeMap::new(),
        }
    }
}

fn default_overlap_seconds() -> u64 {
    900
}

fn default_overlap_ids() -> u64 {
    1000
}

/// `[env.NAME.data.extract.table.TABLE]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableExtract {
    /// The watermark column, instead of the default.
    pub watermark: Option<String>,
    /// Copy the whole table every run.
    #[serde(default)]
    pub full_refresh: bool,
}

/// SNS topic names of an environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topics {
    /// Where the success summary goes.
    pub success: String,
    /// Where failure notices go.
    pub failure: String,
}

/// Where stage containers run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsConfig {
    /// Cluster name.
    pub cluster: String,
    /// Task definition family of the stages image.
    pub task_definition: String,
    /// The container whose command is overridden.
    pub container: String,
    /// Private subnets for the tasks.
    pub subnets: Vec<String>,
    /// Security groups for the tasks.
    pub security_groups: Vec<String>,
    /// The IAM role the stage containers run as (a name or an ARN); the state machine passes it to ECS.
    #[serde(default)]
    pub task_role: Option<String>,
    /// The IAM role ECS pulls the image and writes logs with (a name or an ARN).
    #[serde(default)]
    pub execution_role: Option<String>,
    /// CPU units of a stage task (Fargate: 256 to 16384).
    #[serde(default = "default_ecs_cpu")]
    pub cpu: String,
    /// Memory of a stage task, in MiB.
    #[serde(default = "default_ecs_memory")]
    pub memory: String,
}

fn default_ecs_cpu() -> String {
    "2048".into()
}

fn default_ecs_memory() -> String {
    "8192".into()
}

/// Glue job naming.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlueConfig {
    /// Prefix of every job name (job = prefix + stage name, unless the stage names its job).
    #[serde(default)]
    pub job_prefix: String,
}

/// Lambda function naming for stages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    /// Prefix of every stage function name (function = prefix + stage name).
    #[serde(default)]
    pub function_prefix: String,
}

/// `[env.NAME.stages.STAGE]`: per-stage overrides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Runner for this stage.
    pub runner: Option<Runner>,
    /// `TimeoutSeconds` of the stage's Task.
    pub timeout_seconds: Option<u64>,
    /// Glue: the job's name.
    pub job_name: Option<String>,
    /// Lambda: the function's name.
    pub function_name: Option<String>,
}

impl Config {
    /// Parses a configuration; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Invalid { origin: origin.to_string(), message: e.to_string() })?;
        config.origin = origin.to_string();
        for (name, env) in &mut config.env {
            env.name = name.clone();
        }
        for env in config.env.values() {
            env.check(origin)?;
        }
        Ok(config)
    }

    /// Loads `path`, or the first `amali.toml` found upwards from the current directory, or the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let found = match path {
            Some(p) => Some(p.to_path_buf()),
            None => find_upwards(&std::env::current_dir().unwrap_or_default()),
        };
        match found {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                let config = Config::parse(&text, &path.display().to_string())?;
                tracing::debug!(origin = %config.origin, "configuration loaded");
                Ok(config)
            }
            None => Config::builtin(),
        }
    }

    /// The built-in configuration.
    pub fn builtin() -> Result<Config> {
        Config::parse(BUILTIN, "the built-in configuration")
    }

    /// The environment whose state machine an execution ARN names
    /// (`arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME`); `None` when `arn` is not an execution
    /// ARN, an error when no environment has that state machine.
    pub fn env_of_execution(&self, arn: &str) -> Option<Result<&EnvConfig>> {
        let parts: Vec<&str> = arn.split(':').collect();
        if !(parts.len() == 8 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "execution") {
            return None;
        }
        let (region, account, machine) = (parts[3], parts[4], parts[6]);
        let found =
            self.env.values().find(|e| e.state_machine == machine && e.region == region && e.account == account);
        Some(found.ok_or_else(|| ConfigError::Argument {
            message: format!(
                "no environment of {} has state machine {machine} in {region} (account {account}): check the ARN or \
                 --config",
                self.origin
            ),
        }))
    }

    /// The environment named `name`.
    pub fn env(&self, name: &str) -> Result<&EnvConfig> {
        self.env.get(name).ok_or_else(|| ConfigError::UnknownEnv {
            name: name.to_string(),
            origin: self.origin.clone(),
            known: self.env.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

fn find_upwards(start: &Path) -> Option<PathBuf> {
    start.ancestors().map(|d| d.join("amali.toml")).find(|p| p.is_file())
}

impl EnvConfig {
    fn check(&self, origin: &str) -> Result<()> {
        let bad =
            |message: String| ConfigError::BadValue { env: self.name.clone(), origin: origin.to_string(), message };
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("account {:?} is not a 12-digit AWS account id", self.account)));
        }
        if self.region.is_empty() || !self.region.contains('-') {
            return Err(bad(format!("region {:?} is not an AWS region such as eu-west-1", self.region)));
        }
        let uses_ecs = Stage::ALL.iter().any(|s| *s != Stage::PauseClusters && self.runner_for(*s) == Runner::Ecs);
        if uses_ecs && self.ecs.is_none() {
            return Err(bad(
                "a stage runs on ECS but there is no [env.NAME.ecs] table; add one or change runner".into()
            ));
        }
        if let Some(deploy) = &self.deploy {
            if !["x86_64", "arm64"].contains(&deploy.architecture.as_str()) {
                return Err(bad(format!("deploy.architecture {:?} is not x86_64 or arm64", deploy.architecture)));
            }
            for (topic, endpoints) in &deploy.subscriptions {
                if topic != "success" && topic != "failure" {
                    return Err(bad(format!("deploy.subscriptions has {topic:?}: the topics are success and failure")));
                }
                if let Some(bad_endpoint) = endpoints.iter().find(|e| !e.contains(':')) {
                    return Err(bad(format!(
                        "deploy.subscriptions.{topic} has {bad_endpoint:?}: write PROTOCOL:ENDPOINT, \
                         e.g. email:oncall@example.com"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The data section, which a run needs; `origin` names the configuration in the error.
    pub fn data_config(&self, origin: &str) -> Result<&DataConfig> {
        self.data.as_ref().ok_or_else(|| ConfigError::NoData { env: self.name.clone(), origin: origin.to_string() })
    }

    /// The runner of `stage`.
    pub fn runner_for(&self, stage: Stage) -> Runner {
        self.stages.get(&stage).and_then(|s| s.runner).unwrap_or(self.runner)
    }

    /// `TimeoutSeconds` of `stage`'s Task.
    pub fn timeout_for(&self, stage: Stage) -> u64 {
        self.stages.get(&stage).and_then(|s| s.timeout_seconds).unwrap_or_else(|| stage.default_timeout_seconds())
    }

    /// The Glue job that runs `stage`.
    pub fn glue_job(&self, stage: Stage) -> String {
        self.stages
            .get(&stage)
            .and_then(|s| s.job_name.clone())
            .unwrap_or_else(|| format!("{}{}", self.glue.job_prefix, stage.name()))
    }

    /// The Lambda function that runs `stage`.
    pub fn lambda_function(&self, stage: Stage) -> String {
        self.stages
            .get(&stage)
            .and_then(|s| s.function_name.clone())
            .unwrap_or_else(|| format!("{}{}", self.lambda.function_prefix, stage.name()))
    }

    /// The AWS partition of the environment's region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// The ARN of `resource` of `service` in the environment's region and account.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{resource}", self.partition(), self.region, self.account)
    }

    /// The ARN of the IAM role `role` (a name, or already an ARN) of the environment's account.
    pub fn role_arn(&self, role: &str) -> String {
        role_arn(self.partition(), &self.account, role)
    }

    /// The ARN of the SNS topic named `topic`.
    pub fn topic_arn(&self, topic: &str) -> String {
        self.arn("sns", topic)
    }

    /// The ARN of the environment's state machine.
    pub fn state_machine_arn(&self) -> String {
        self.arn("states", &format!("stateMachine:{}", self.state_machine))
    }
}

/// The AWS partition of `region`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of the IAM role `role` in `account`: a name becomes `arn:PARTITION:iam::ACCOUNT:role/NAME`, an ARN stays.
pub fn role_arn(partition: &str, account: &str, role: &str) -> String {
    if role.starts_with("arn:") { role.to_string() } else { format!("arn:{partition}:iam::{account}:role/{role}") }
}
