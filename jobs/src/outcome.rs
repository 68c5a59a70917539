//! A stage's work per table: its [`Outcome`] (every table's summary and failure, a stage going on with the other
//! tables after one fails), and running tables a few at a time, each in its own `table` span, in dependency order.

use tracing::Instrument;

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
        log_table(&summary, &result, what);
        self.record(summary, result);
    }

    /// Records one table's result: its summary, and on failure its error.
    pub fn record(&mut self, mut summary: TableSummary, result: Result<(), StageError>) {
        if let Err(e) = result {
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
        let (_, first) = self.failures.first()?;
        Some(StageError::new(first.kind, self.message()?))
    }

    /// The tables' summaries and the stage's error (as [`Outcome::error`] gives it), keeping the first failure's
    /// source.
    pub fn into_parts(mut self) -> (Vec<TableSummary>, Option<StageError>) {
        let Some(message) = self.message() else { return (self.tables, None) };
        let (_, mut first) = self.failures.remove(0);
        first.message = message;
        (self.tables, Some(first))
    }

    /// The failure message: the one failure's, or every failed table's with its error.
    fn message(&self) -> Option<String> {
        let (first_table, first) = self.failures.first()?;
        let name = |t: &str, e: &StageError| if t.is_empty() { e.message.clone() } else { format!("table {t}: {e}") };
        Some(if self.failures.len() == 1 {
            name(first_table, first)
        } else {
            format!(
                "{} tables failed: {}",
                self.failures.len(),
                self.failures.iter().map(|(t, e)| name(t, e)).collect::<Vec<_>>().join("; ")
            )
        })
    }
}

/// The event that ends a table's work (in its `table` span, when there is one): `what` happened, with its rows,
/// quarantined rows, Delta version and seconds; or why it failed.
fn log_table(summary: &TableSummary, result: &Result<(), StageError>, what: &str) {
    match result {
        Ok(()) => tracing::info!(
            table = %summary.table,
            rows = summary.rows_written,
            quarantined = summary.rows_quarantined,
            version = summary.delta_version.unwrap_or(-1),
            seconds = format!("{:.2}", summary.seconds),
            note = summary.note.as_deref().unwrap_or(""),
            "{what}"
        ),
        Err(e) => tracing::error!(table = %summary.table, error = %e, error_name = %e.error_name(), "table failed"),
    }
}

/// The span a table's work runs in: its events carry the table's name (and the stage's span around it).
pub fn table_span(table: &str) -> tracing::Span {
    tracing::info_span!("table", table = %table)
}

/// How many tables a stage works on at once: two cores, and a table's work waits on the store (Delta logs, file
/// listings) often enough that a third keeps them busy; more would only add memory.
pub const TABLES_AT_ONCE: usize = 3;

/// Runs `work` on each job's input, up to [`TABLES_AT_ONCE`] at a time, each on the runtime's threads, and records
/// every table's summary (its time its own) in the jobs' order. `what` says what happened to a table that succeeded
/// (see [`Outcome::finish`]).
pub async fn each_table<T, F, Fut>(jobs: Vec<(TableSummary, T)>, what: &str, work: F) -> Outcome
where
    T: Send + 'static,
    F: Fn(T, TableSummary) -> Fut,
    Fut: std::future::Future<Output = (TableSummary, Result<(), StageError>)> + Send + 'static,
{
    let jobs = jobs.into_iter().map(|(summary, input)| (summary, input, Vec::new())).collect();
    each_table_after(jobs, what, work).await
}

/// [`each_table`] for jobs that wait for others: a job starts once every job it names (by its index in `jobs`) has
/// finished, failed or not. A table that finishes frees its turn at once, and a turn goes to the ready job with the
/// longest chain of jobs waiting on it (then the first in `jobs`), so the chain that ends the stage starts early
/// instead of behind every table that nothing waits for.
pub async fn each_table_after<T, F, Fut>(jobs: Vec<(TableSummary, T, Vec<usize>)>, what: &str, work: F) -> Outcome
where
    T: Send + 'static,
    F: Fn(T, TableSummary) -> Fut,
    Fut: std::future::Future<Output = (TableSummary, Result<(), StageError>)> + Send + 'static,
{
    use futures::StreamExt;
    let n = jobs.len();
    let after: Vec<Vec<usize>> = jobs.iter().map(|(_, _, a)| a.iter().copied().filter(|p| *p < n).collect()).collect();
    let height = chain_heights(&after);
    let mut waiting: Vec<Option<(TableSummary, T)>> = jobs.into_iter().map(|(s, t, _)| Some((s, t))).collect();
    let mut finished = vec![false; n];
    let mut results: Vec<Option<Finished>> = (0..n).map(|_| None).collect();
    let mut running = futures::stream::FuturesUnordered::new();
    loop {
        while running.len() < TABLES_AT_ONCE {
            let ready = (0..n)
                .filter(|i| waiting[*i].is_some() && after[*i].iter().all(|p| finished[*p] || *p == *i))
                .max_by_key(|i| (height[*i], std::cmp::Reverse(*i)));
            // Nothing ready while nothing runs would be a cycle: start the first job left rather than stop.
            let next = ready.or_else(|| running.is_empty().then(|| (0..n).find(|i| waiting[*i].is_some())).flatten());
            let Some(at) = next else { break };
            let Some((summary, input)) = waiting[at].take() else { break };
            let table = summary.clone();
            let span = table_span(&table.table);
            let task = work(input, summary);
            let what = what.to_string();
            running.push(async move {
                let clock = std::time::Instant::now();
                let handle = tokio::spawn(
                    async move {
                        let (mut summary, result) = task.await;
                        summary.seconds = clock.elapsed().as_secs_f64();
                        log_table(&summary, &result, &what);
                        (summary, result, clock.elapsed())
                    }
                    .instrument(span),
                );
                let done = handle.await.unwrap_or_else(|e| {
                    (table, Err(StageError::internal(format!("the table's task stopped: {e}"))), clock.elapsed())
                });
                (at, done)
            });
        }
        let Some((at, done)) = running.next().await else { break };
        finished[at] = true;
        results[at] = Some(done);
    }
    let mut outcome = Outcome::default();
    for (mut summary, result, took) in results.into_iter().flatten() {
        summary.seconds = took.as_secs_f64();
        outcome.record(summary, result);
    }
    outcome
}

/// A table's summary, how its work ended and how long it took.
type Finished = (TableSummary, Result<(), StageError>, std::time::Duration);

/// For each job, the longest chain of jobs that wait on it, directly or not (`after[i]`: the jobs job `i` waits
/// for). A cycle counts once.
fn chain_heights(after: &[Vec<usize>]) -> Vec<usize> {
    let n = after.len();
    let mut height = vec![0usize; n];
    // A chain is at most n long: n rounds of relaxation settle every height (and stop a cycle from growing).
    for _ in 0..n {
        let mut changed = false;
        for (child, parents) in after.iter().enumerate() {
            for p in parents.iter().filter(|p| **p != child) {
                if height[*p] < height[child] + 1 && height[child] < n {
                    height[*p] = height[child] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    height
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Layer;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_chain_counts_the_jobs_that_wait_on_it() {
        // 0 <- 1 <- 2, 3 alone, 4 waits on 0.
        let after = vec![vec![], vec![0], vec![1], vec![], vec![0]];
        assert_eq!(chain_heights(&after), vec![2, 1, 0, 0, 0]);
        let cycle = vec![vec![1], vec![0]];
        assert!(chain_heights(&cycle).iter().all(|h| *h <= 2), "a cycle stops growing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_start_after_the_jobs_they_wait_for_and_the_longest_chain_first() {
        // Five tables nothing waits for, then a chain a <- b <- c: a starts first, b as soon as a finished (before
        // the tables still waiting for a turn), c after b; every summary comes back in the jobs' order.
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut jobs: Vec<(TableSummary, usize, Vec<usize>)> =
            (0..5).map(|i| (TableSummary::new(format!("leaf{i}"), Layer::Silver), i, vec![])).collect();
        jobs.push((TableSummary::new("a", Layer::Silver), 5, vec![]));
        jobs.push((TableSummary::new("b", Layer::Silver), 6, vec![5]));
        jobs.push((TableSummary::new("c", Layer::Silver), 7, vec![6]));
        let log = events.clone();
        let outcome = each_table_after(jobs, "done", move |i, summary| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(format!("start {i}"));
                tokio::time::sleep(std::time::Duration::from_millis(if i < 5 { 60 } else { 10 })).await;
                log.lock().unwrap().push(format!("end {i}"));
                (summary, Ok(()))
            }
        })
        .await;
        let events = events.lock().unwrap().clone();
        let at = |e: &str| events.iter().position(|x| x == e).unwrap_or_else(|| panic!("no {e} in {events:?}"));
        assert!(at("start 5") < 3, "the head of the longest chain is among the first three: {events:?}");
        assert!(at("start 6") > at("end 5") && at("start 7") > at("end 6"), "each waited: {events:?}");
        assert!(at("start 6") < at("start 2"), "b went before the tables nothing waits for: {events:?}");
        assert!(outcome.failures.is_empty());
        let names: Vec<&str> = outcome.tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, ["leaf0", "leaf1", "leaf2", "leaf3", "leaf4", "a", "b", "c"]);
    }
}
