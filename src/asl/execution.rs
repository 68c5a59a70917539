//! What an execution did to each state, from its history, for `amali graph --run`: the console's execution graph
//! colours each state by its outcome and shows how long it took.
//!
//! The history is AWS's (`GetExecutionHistory`) or a local run's (`history.json`, the same event shapes). Each
//! event names its previous event (`previousEventId`); following that chain back from a task's result reaches the
//! `...StateEntered` event of the state it belongs to, which is how a failure is attributed to its state even when
//! branches of a Parallel or items of a Map interleave.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One history event, reduced to what the overlay needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The event id (1, 2, ...).
    pub id: i64,
    /// The previous event of the same state or branch (0 for the first).
    pub previous: i64,
    /// The event type, e.g. `TaskStateEntered`, `TaskFailed`.
    pub kind: String,
    /// When it happened.
    pub timestamp: Option<DateTime<Utc>>,
    /// The state, for entered and exited events.
    pub state: Option<String>,
}

impl Step {
    /// A step from an event as JSON (AWS's shape: `id`, `previousEventId`, `type`, `timestamp`, and
    /// `stateEnteredEventDetails.name` or `stateExitedEventDetails.name`).
    pub fn from_json(event: &Value) -> Option<Step> {
        let name = event
            .pointer("/stateEnteredEventDetails/name")
            .or_else(|| event.pointer("/stateExitedEventDetails/name"))
            .and_then(Value::as_str);
        Some(Step {
            id: event.get("id")?.as_i64()?,
            previous: event.get("previousEventId").and_then(Value::as_i64).unwrap_or(0),
            kind: event.get("type")?.as_str()?.to_string(),
            timestamp: event.get("timestamp").and_then(Value::as_str).and_then(parse_time),
            state: name.map(str::to_string),
        })
    }
}

/// An RFC 3339 timestamp of a history event.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// How a state ended in an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and its work succeeded (after retries, if any).
    Succeeded,
    /// It failed and a Catch handled the error: the execution went on elsewhere.
    Caught,
    /// It failed (or is a Fail state the execution reached).
    Failed,
    /// It is still running.
    Running,
    /// The execution never reached it.
    NotRun,
}

impl Outcome {
    /// The word shown for the outcome.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Caught => "caught error",
            Outcome::Failed => "failed",
            Outcome::Running => "in progress",
            Outcome::NotRun => "not run",
        }
    }
}

/// A state's part in an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRun {
    /// How it ended.
    pub outcome: Outcome,
    /// Seconds from its first entry to its last exit (or to the last event, while it runs).
    pub seconds: Option<f64>,
    /// Times it was entered (a state in a Map runs once per item).
    pub entered: usize,
}

/// Every reached state of an execution, by name.
pub type Overlay = HashMap<String, StateRun>;

/// The result events of a state's own work: the last one says whether it succeeded (a retry may follow a failure).
fn result_of(kind: &str) -> Option<bool> {
    if kind.starts_with("Execution") {
        None
    } else if kind.ends_with("Failed") || kind.ends_with("TimedOut") || kind.ends_with("Aborted") {
        Some(false)
    } else if kind.ends_with("Succeeded") {
        Some(true)
    } else {
        None
    }
}

/// The overlay of an execution's history; `finished` says whether the execution has ended (a state entered and
/// never exited then failed with it).
pub fn overlay(steps: &[Step], finished: bool) -> Overlay {
    let by_id: HashMap<i64, &Step> = steps.iter().map(|s| (s.id, s)).collect();
    // The state each event belongs to: its own name, else its previous event's state.
    let mut state_of: HashMap<i64, String> = HashMap::new();
    for step in steps {
        let mut state = step.state.clone();
        let mut at = step.previous;
        let mut hops = 0;
        while state.is_none() && at > 0 && hops < 10_000 {
            if let Some(s) = state_of.get(&at) {
                state = Some(s.clone());
                break;
            }
            let Some(prev) = by_id.get(&at) else { break };
            state = prev.state.clone();
            at = prev.previous;
            hops += 1;
        }
        if let Some(s) = state {
            state_of.insert(step.id, s);
        }
    }
    #[derive(Default)]
    struct Seen {
        first: Option<DateTime<Utc>>,
        last_exit: Option<DateTime<Utc>>,
        entered: usize,
        exited: usize,
        failed_state: bool,
        last_result: Option<bool>,
    }
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let last_time = steps.iter().filter_map(|s| s.timestamp).max();
    for step in steps {
        let Some(name) = state_of.get(&step.id) else { continue };
        let entry = seen.entry(name.clone()).or_default();
        if step.kind.ends_with("StateEntered") {
            entry.entered += 1;
            entry.first = entry.first.or(step.timestamp);
            if step.kind == "FailStateEntered" {
                entry.failed_state = true;
            }
        } else if step.kind.ends_with("StateExited") {
            entry.exited += 1;
            entry.last_exit = step.timestamp.or(entry.last_exit);
        } else if let Some(ok) = result_of(&step.kind) {
            entry.last_result = Some(ok);
        }
    }
    seen.into_iter()
        .map(|(name, s)| {
            let done = s.exited >= s.entered && s.entered > 0;
            let outcome = if s.failed_state {
                Outcome::Failed
            } else if s.last_result == Some(false) {
                if done { Outcome::Caught } else { Outcome::Failed }
            } else if done {
                Outcome::Succeeded
            } else if finished {
                Outcome::Failed
            } else {
                Outcome::Running
            };
            let end = if done { s.last_exit } else { last_time };
            let seconds = match (s.first, end) {
                (Some(a), Some(b)) => Some((b - a).num_milliseconds().max(0) as f64 / 1000.0),
                _ => None,
            };
            (name, StateRun { outcome, seconds, entered: s.entered })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn steps(events: Value) -> Vec<Step> {
        events.as_array().unwrap().iter().filter_map(Step::from_json).collect()
    }

    #[test]
    fn states_are_coloured_by_what_happened_to_them() {
        // Shapes from the Step Functions API reference (GetExecutionHistory, HistoryEvent): a retried task that
        // succeeds, a task whose failure is caught, and a Fail state.
        let t = |s: u32| format!("2024-03-01T00:00:{s:02}Z");
        let history = steps(json!([
            {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": t(0)},
            {"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "timestamp": t(0), "stateEnteredEventDetails": {"name": "Load"}},
            {"id": 3, "previousEventId": 2, "type": "TaskScheduled", "timestamp": t(0)},
            {"id": 4, "previousEventId": 3, "type": "TaskFailed", "timestamp": t(1)},
            {"id": 5, "previousEventId": 4, "type": "TaskScheduled", "timestamp": t(2)},
            {"id": 6, "previousEventId": 5, "type": "TaskSucceeded", "timestamp": t(3)},
            {"id": 7, "previousEventId": 6, "type": "TaskStateExited", "timestamp": t(3), "stateExitedEventDetails": {"name": "Load"}},
            {"id": 8, "previousEventId": 7, "type": "TaskStateEntered", "timestamp": t(3), "stateEnteredEventDetails": {"name": "Pause"}},
            {"id": 9, "previousEventId": 8, "type": "TaskScheduled", "timestamp": t(3)},
            {"id": 10, "previousEventId": 9, "type": "TaskFailed", "timestamp": t(5)},
            {"id": 11, "previousEventId": 10, "type": "TaskStateExited", "timestamp": t(5), "stateExitedEventDetails": {"name": "Pause"}},
            {"id": 12, "previousEventId": 11, "type": "FailStateEntered", "timestamp": t(5), "stateEnteredEventDetails": {"name": "Failed"}},
            {"id": 13, "previousEventId": 12, "type": "ExecutionFailed", "timestamp": t(5)},
        ]));
        let o = overlay(&history, true);
        assert_eq!(o["Load"].outcome, Outcome::Succeeded);
        assert_eq!(o["Load"].seconds, Some(3.0));
        assert_eq!(o["Pause"].outcome, Outcome::Caught);
        assert_eq!(o["Pause"].seconds, Some(2.0));
        assert_eq!(o["Failed"].outcome, Outcome::Failed);
        assert!(!o.contains_key("Notify success"));
        let running = overlay(&history[..9], false);
        assert_eq!(running["Pause"].outcome, Outcome::Running);
    }
}
