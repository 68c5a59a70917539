//! The pipeline's stages and the error names they fail with.
//!
//! These names are the contract between three places: the stage binaries (which exit with them), the state machine
//! (whose Retry and Catch match them) and the interpreter (which maps a stage's exit to the error AWS would report).
//! They live here, in the light library, so that renaming one breaks every place that uses it at compile time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::ErrorName;

/// Bytes that every stage binary able to serve Lambda invocations carries (amali-jobs built with its `aws`
/// feature). `amali deploy` refuses to package a binary without them: the local build would fail every invocation.
pub const SERVES_LAMBDA: &str = "amali-stage:serves-lambda:v1";

/// One step of the AmaliMart pipeline, each a binary of the `jobs` crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// App database (MySQL) -> landing tables in the internal RDS.
    ReadFromAppDatabase,
    /// Landing tables -> bronze Delta tables, append-only.
    IngestionFromRds,
    /// Bronze -> silver Delta tables: typed, conformed, deduplicated, quality-checked.
    SilverTransformation,
    /// Silver -> gold KPI tables and the star schema.
    GoldTransformation,
    /// Silver -> internal RDS, atomically per table.
    Rds,
    /// Gold -> Redshift, atomically per table.
    WriteToRdsRs,
    /// Stops the internal RDS and pauses Redshift (a Lambda in AWS).
    PauseClusters,
}

impl Stage {
    /// Every stage in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::ReadFromAppDatabase,
        Stage::IngestionFromRds,
        Stage::SilverTransformation,
        Stage::GoldTransformation,
        Stage::Rds,
        Stage::WriteToRdsRs,
        Stage::PauseClusters,
    ];

    /// The stage's name: its binary, its Glue job's default name and its key in `amali.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::ReadFromAppDatabase => "read_from_app_database",
            Stage::IngestionFromRds => "ingestion_from_rds",
            Stage::SilverTransformation => "silver_transformation",
            Stage::GoldTransformation => "gold_transformation",
            Stage::Rds => "rds",
            Stage::WriteToRdsRs => "write_to_rds_rs",
            Stage::PauseClusters => "pause_clusters",
        }
    }

    /// The name of the stage's Task state in the state machine.
    pub fn state_name(self) -> &'static str {
        match self {
            Stage::ReadFromAppDatabase => "Read from app database",
            Stage::IngestionFromRds => "Ingest to bronze",
            Stage::SilverTransformation => "Silver transformation",
            Stage::GoldTransformation => "Gold transformation",
            Stage::Rds => "Load silver to internal RDS",
            Stage::WriteToRdsRs => "Load gold to Redshift",
            Stage::PauseClusters => "Pause clusters",
        }
    }

    /// What the stage does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Stage::ReadFromAppDatabase => "copy the app database into the landing tables of the internal RDS",
            Stage::IngestionFromRds => "append the landing tables to the bronze Delta tables",
            Stage::SilverTransformation => "merge bronze into the typed, checked silver tables",
            Stage::GoldTransformation => "compute the gold KPI tables and the star schema",
            Stage::Rds => "load the silver tables into the internal RDS",
            Stage::WriteToRdsRs => "load the gold tables into Redshift",
            Stage::PauseClusters => "stop the internal RDS and pause Redshift",
        }
    }

    /// The stage's default `TimeoutSeconds` (configurable per environment).
    pub fn default_timeout_seconds(self) -> u64 {
        match self {
            Stage::SilverTransformation | Stage::GoldTransformation => 2 * 3600,
            Stage::PauseClusters => 300,
            _ => 3600,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL.into_iter().find(|st| st.name() == s).ok_or_else(|| {
            let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
            format!("unknown stage {s:?}; the stages are: {}", names.join(", "))
        })
    }
}

/// Why a stage failed. Its [`error_name`](Self::error_name) is what Step Functions sees (as a Lambda error type,
/// or in the cause of a Glue or ECS failure) and what the state machine's Retry and Catch match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageErrorKind {
    /// A dependency was briefly unavailable (connection reset, throttling, lock timeout): safe to retry.
    Transient,
    /// The configuration or a secret is missing or wrong: fix it, then rerun.
    Config,
    /// The input broke a `fail` data-quality rule or could not be read as declared.
    Data,
    /// A bronze column was removed or retyped.
    SchemaDrift,
    /// One or more tables failed; the others finished (the cause names them).
    TablesFailed,
    /// A bug in amali.
    Internal,
}

impl StageErrorKind {
    /// Every kind, for documentation and exhaustive tests.
    pub const ALL: [StageErrorKind; 6] = [
        StageErrorKind::Transient,
        StageErrorKind::Config,
        StageErrorKind::Data,
        StageErrorKind::SchemaDrift,
        StageErrorKind::TablesFailed,
        StageErrorKind::Internal,
    ];

    /// The error name, as Step Functions matches it.
    pub const fn error_name(self) -> ErrorName {
        ErrorName::of(match self {
            StageErrorKind::Transient => "Amali.TransientError",
            StageErrorKind::Config => "Amali.ConfigError",
            StageErrorKind::Data => "Amali.DataError",
            StageErrorKind::SchemaDrift => "Amali.SchemaDrift",
            StageErrorKind::TablesFailed => "Amali.TablesFailed",
            StageErrorKind::Internal => "Amali.InternalError",
        })
    }

    /// Whether running the stage again, unchanged, may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, StageErrorKind::Transient)
    }

    /// The process exit code a stage binary uses for this kind (0 is success, 1 is reserved for panics).
    pub fn exit_code(self) -> u8 {
        match self {
            StageErrorKind::Transient => 75, // EX_TEMPFAIL
            StageErrorKind::Config => 78,    // EX_CONFIG
            StageErrorKind::Data => 65,      // EX_DATAERR
            StageErrorKind::SchemaDrift => 66,
            StageErrorKind::TablesFailed => 67,
            StageErrorKind::Internal => 70, // EX_SOFTWARE
        }
    }
}

impl From<StageErrorKind> for ErrorName {
    fn from(kind: StageErrorKind) -> Self {
        kind.error_name()
    }
}
