//! The run summary a stage prints as one JSON object on standard output when it ends: the interpreter uses it as
//! the task's result, and the success notification carries it.

use serde::Serialize;

/// The data layer a table belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The app database.
    Source,
    /// The landing tables of the internal RDS.
    Landing,
    /// Bronze Delta tables.
    Bronze,
    /// Silver Delta tables.
    Silver,
    /// Gold Delta tables.
    Gold,
    /// The internal RDS copy of silver.
    InternalRds,
    /// The warehouse (Redshift).
    Warehouse,
}

/// What happened to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    /// The table.
    pub table: String,
    /// The layer written.
    pub layer: Layer,
    /// Rows read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Rows set aside in the quarantine table (never silently dropped).
    pub rows_quarantined: u64,
    /// The Delta version written, for lake tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<i64>,
    /// Seconds spent.
    pub seconds: f64,
    /// Why the table failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What else the person on call should know (e.g. "already copied by run X", the watermark range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl TableSummary {
    /// A summary for `table` in `layer`, with nothing counted yet.
    pub fn new(table: impl Into<String>, layer: Layer) -> Self {
        TableSummary {
            table: table.into(),
            layer,
            rows_read: 0,
            rows_written: 0,
            rows_quarantined: 0,
            delta_version: None,
            seconds: 0.0,
            error: None,
            note: None,
        }
    }
}

/// The whole run of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The stage.
    pub stage: String,
    /// The run id (the execution's name).
    pub run_id: String,
    /// The logical date.
    pub logical_date: String,
    /// `SUCCEEDED` or `FAILED`.
    pub status: &'static str,
    /// Seconds the stage ran.
    pub seconds: f64,
    /// Per table.
    pub tables: Vec<TableSummary>,
    /// The error name, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cause, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl RunSummary {
    /// Total rows written over every table.
    pub fn rows_written(&self) -> u64 {
        self.tables.iter().map(|t| t.rows_written).sum()
    }
}
