//! The stages: each a function from settings to an [`Outcome`], run by a binary of `src/bin/` through
//! [`crate::run::main`].

pub mod extract;
pub mod gold;
pub mod ingest;
pub mod landing;
pub mod latest;
pub mod load;
pub mod pause;
pub mod silver;

use crate::error::StageError;
use crate::summary::TableSummary;

/// What a stage did: every table's summary, and what failed. A stage goes on with the other tables after one
/// fails (they are independent), then fails naming every failed table.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Per table, in the order processed.
    pub tables: Vec<TableSummary>,
    /// Failures: a table's name (or "" for the stage itself) and its error.
    pub failures: Vec<(String, StageError)>,
}

impl Outcome {
    /// An outcome that failed before any table was processed.
    pub fn failed(error: StageError) -> Self {
        Outcome { tables: Vec::new(), failures: vec![(String::new(), error)] }
    }

    /// Records a table processed since `started`: its time, a log line saying `what` happened (rows, quarantined,
    /// Delta version, note) when it succeeded, and its result.
    pub fn finish(
        &mut self,
        mut summary: TableSummary,
        started: std::time::Instant,
        result: Result<(), StageError>,
        what: &str,
    ) {
        summary.seconds = started.elapsed().as_secs_f64();
        if result.is_ok() {
            tracing::info!(
                table = %summary.table,
                rows = summary.rows_written,
                quarantined = summary.rows_quarantined,
                version = summary.delta_version.unwrap_or(-1),
                seconds = format!("{:.2}", summary.seconds),
                note = summary.note.as_deref().unwrap_or(""),
                "{what}"
            );
        }
        self.record(summary, result);
    }

    /// Records one table's result: its summary, and on failure its error.
    pub fn record(&mut self, mut summary: TableSummary, result: Result<(), StageError>) {
        if let Err(e) = result {
            tracing::error!(table = %summary.table, error = %e, "table failed");
            summary.error = Some(e.message.clone());
            self.failures.push((summary.table.clone(), e));
        }
        self.tables.push(summary);
    }

    /// Adds another part's tables and failures.
    pub fn extend(&mut self, other: Outcome) {
        self.tables.extend(other.tables);
        self.failures.extend(other.failures);
    }

    /// The stage's error: the first failure's kind, with every failed table named in the message.
    pub fn error(&self) -> Option<StageError> {
        let (first_table, first) = self.failures.first()?;
        let name = |t: &str, e: &StageError| if t.is_empty() { e.message.clone() } else { format!("table {t}: {e}") };
        let message = if self.failures.len() == 1 {
            name(first_table, first)
        } else {
            format!(
                "{} tables failed: {}",
                self.failures.len(),
                self.failures.iter().map(|(t, e)| name(t, e)).collect::<Vec<_>>().join("; ")
            )
        };
        Some(StageError::new(first.kind, message))
    }
}
