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
    /// One line for a person: what the stage did, in numbers.
    pub headline: String,
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
    /// The headline of a stage's tables: `"<stage> SUCCEEDED in 1.2 s: 36 tables, 45,258 rows written, 3 rows
    /// quarantined"`, naming failed tables.
    pub fn headline(stage: &str, status: &str, seconds: f64, tables: &[TableSummary]) -> String {
        let written: u64 = tables.iter().map(|t| t.rows_written).sum();
        let quarantined: u64 = tables.iter().map(|t| t.rows_quarantined).sum();
        let failed: Vec<&str> = tables.iter().filter(|t| t.error.is_some()).map(|t| t.table.as_str()).collect();
        if stage == "pause_clusters" {
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
            RunSummary::headline("silver_transformation", "FAILED", 1.25, &[t, f]),
            "silver_transformation FAILED in 1.2 s: 2 tables, 45,258 rows written, 3 rows quarantined, failed: orders"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
