//! The run summary a stage prints as one JSON object on standard output when it ends: the interpreter uses it as
//! the task's result, the success notification carries it, and the CLI's progress and end-of-run report read it.
//! Stages serialise it and the CLI parses it from these same structs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stage::Stage;

/// The data layer a table belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<i64>,
    /// Seconds spent.
    pub seconds: f64,
    /// Why the table failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What else the person on call should know (e.g. "already copied by run X", the watermark range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// How a stage run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Every table done.
    Succeeded,
    /// The stage failed (see `error` and `cause`).
    Failed,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
        })
    }
}

/// The whole run of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// One line for a person: what the stage did, in numbers.
    pub headline: String,
    /// The stage.
    pub stage: Stage,
    /// The run id (the execution's name).
    pub run_id: String,
    /// The logical date.
    pub logical_date: String,
    /// How it ended.
    pub status: Status,
    /// Seconds the stage ran.
    pub seconds: f64,
    /// Per table.
    pub tables: Vec<TableSummary>,
    /// The error name, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cause, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl RunSummary {
    /// The summary of a stage run that took `seconds` over `tables`, and failed with `error` (its error name and
    /// cause) if one is given.
    pub fn new(
        stage: Stage,
        run_id: &str,
        logical_date: &str,
        seconds: f64,
        tables: Vec<TableSummary>,
        error: Option<(String, String)>,
    ) -> RunSummary {
        let status = if error.is_some() { Status::Failed } else { Status::Succeeded };
        let (error, cause) = error.unzip();
        RunSummary {
            headline: RunSummary::headline(stage, status, seconds, &tables),
            stage,
            run_id: run_id.to_string(),
            logical_date: logical_date.to_string(),
            status,
            seconds,
            tables,
            error,
            cause,
        }
    }

    /// The headline of a stage's tables: `"<stage> SUCCEEDED in 1.2 s: 36 tables, 45,258 rows written, 3 rows
    /// quarantined"`, naming failed tables.
    pub fn headline(stage: Stage, status: Status, seconds: f64, tables: &[TableSummary]) -> String {
        let written: u64 = tables.iter().map(|t| t.rows_written).sum();
        let quarantined: u64 = tables.iter().map(|t| t.rows_quarantined).sum();
        let failed: Vec<&str> = tables.iter().filter(|t| t.error.is_some()).map(|t| t.table.as_str()).collect();
        if stage == Stage::PauseClusters {
            let notes: Vec<String> =
                tables.iter().map(|t| format!("{}: {}", t.table, t.note.as_deref().unwrap_or("-"))).collect();
            return format!("{stage} {status}: {}", notes.join("; "));
        }
        let mut line =
            format!("{stage} {status} in {seconds:.1} s: {} tables, {} rows written", tables.len(), thousands(written));
        if quarantined > 0 {
            line.push_str(&format!(", {} rows quarantined", thousands(quarantined)));
        }
        if !failed.is_empty() {
            line.push_str(&format!(", failed: {}", failed.join(", ")));
        }
        line
    }

    /// Total rows written over every table.
    pub fn rows_written(&self) -> u64 {
        self.tables.iter().map(|t| t.rows_written).sum()
    }
}

/// 45258 -> "45,258".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headlines_read_well() {
        let mut t = TableSummary::new("users", Layer::Silver);
        t.rows_written = 45_258;
        t.rows_quarantined = 3;
        let mut f = TableSummary::new("orders", Layer::Silver);
        f.error = Some("boom".into());
        assert_eq!(
            RunSummary::headline(Stage::SilverTransformation, Status::Failed, 1.25, &[t, f]),
            "silver_transformation FAILED in 1.2 s: 2 tables, 45,258 rows written, 3 rows quarantined, failed: orders"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn a_summary_reads_back_as_it_was_written() {
        let mut t = TableSummary::new("users", Layer::Silver);
        t.rows_written = 7;
        t.delta_version = Some(3);
        let failed = RunSummary::new(
            Stage::Rds,
            "r1",
            "2024-03-01",
            0.5,
            vec![t],
            Some(("Amali.DataError".into(), "users broke a rule".into())),
        );
        let text = serde_json::to_string(&failed).unwrap();
        assert!(text.contains(r#""stage":"rds""#) && text.contains(r#""status":"FAILED""#), "{text}");
        assert_eq!(serde_json::from_str::<RunSummary>(&text).unwrap(), failed);
        assert_eq!(failed.rows_written(), 7);
    }
}
