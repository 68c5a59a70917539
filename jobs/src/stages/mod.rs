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
        summary: TableSummary,
        started: std::time::Instant,
        result: Result<(), StageError>,
        what: &str,
    ) {
        self.finish_took(summary, started.elapsed(), result, what);
    }

    /// [`Outcome::finish`] for a table that took `took`.
    pub fn finish_took(
        &mut self,
        mut summary: TableSummary,
        took: std::time::Duration,
        result: Result<(), StageError>,
        what: &str,
    ) {
        summary.seconds = took.as_secs_f64();
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

/// How many tables a stage works on at once: two cores, and a table's work waits on the store (Delta logs, file
/// listings) often enough that a third keeps them busy; more would only add memory.
pub const TABLES_AT_ONCE: usize = 3;

/// Runs `work` on each job's input, up to [`TABLES_AT_ONCE`] at a time, each on the runtime's threads, and records
/// every table's summary (its time its own) in the jobs' order. `what` says what happened to a table that
/// succeeded (see [`Outcome::finish`]).
pub async fn each_table<T, F, Fut>(jobs: Vec<(TableSummary, T)>, what: &str, work: F) -> Outcome
where
    T: Send + 'static,
    F: Fn(T, TableSummary) -> Fut,
    Fut: std::future::Future<Output = (TableSummary, Result<(), StageError>)> + Send + 'static,
{
    use futures::StreamExt;
    let tasks = jobs.into_iter().map(|(summary, input)| {
        let table = summary.clone();
        let task = work(input, summary);
        async move {
            let clock = std::time::Instant::now();
            let handle = tokio::spawn(async move {
                let (summary, result) = task.await;
                (summary, result, clock.elapsed())
            });
            handle.await.unwrap_or_else(|e| {
                (table, Err(StageError::internal(format!("the table's task stopped: {e}"))), clock.elapsed())
            })
        }
    });
    let done: Vec<_> = futures::stream::iter(tasks).buffered(TABLES_AT_ONCE).collect().await;
    let mut outcome = Outcome::default();
    for (summary, result, took) in done {
        outcome.finish_took(summary, took, result, what);
    }
    outcome
}
