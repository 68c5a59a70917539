//! The record of one stage call, a line of a local run's `tasks.jsonl`: which state started which stage with what
//! parameters, and what came back. `amali rerun` reruns a stage with the parameters it had, `amali redrive` replays
//! the results of the stages that succeeded, and the end-of-run report lists them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stage::Stage;
use crate::summary::RunSummary;

/// One stage call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The Task state's name.
    pub state: String,
    /// The stage it started.
    pub stage: Stage,
    /// The Task's `Resource`.
    pub resource: String,
    /// The Task's evaluated `Parameters`.
    pub parameters: Value,
    /// The state's attempt: 0, then 1 for the first retry, ...
    pub attempt: u32,
    /// The result was replayed from an earlier call of the run (a redrive), not produced by running the stage.
    #[serde(default)]
    pub replayed: bool,
    /// What came back.
    #[serde(flatten)]
    pub outcome: TaskOutcome,
}

/// What a stage call gave the state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskOutcome {
    /// The integration's result (a Lambda response, a Glue job run, an ECS task).
    Succeeded {
        /// The result.
        result: Value,
    },
    /// The error the state saw.
    Failed {
        /// Its name.
        error: String,
        /// Its cause.
        cause: String,
    },
}

impl TaskRecord {
    /// The stage's run summary, when the integration carried it (a Lambda response's `Payload`).
    pub fn summary(&self) -> Option<RunSummary> {
        match &self.outcome {
            TaskOutcome::Succeeded { result } => summary_of(result),
            TaskOutcome::Failed { .. } => None,
        }
    }

    /// Reads a `tasks.jsonl` text; lines that are not records (a line cut short by a crash) are skipped.
    pub fn parse_lines(text: &str) -> Vec<TaskRecord> {
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// The run summary a task result carries: a Lambda response's `Payload`, or the summary itself.
pub fn summary_of(result: &Value) -> Option<RunSummary> {
    let payload = result.get("Payload").unwrap_or(result);
    serde_json::from_value(payload.clone()).ok()
}

/// The message of a failure's cause: a Lambda error's `errorMessage`, else the cause as it is.
pub fn cause_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| c.get("errorMessage").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::summary::{Layer, TableSummary};

    #[test]
    fn records_read_back_with_their_summary() {
        let summary =
            RunSummary::new(Stage::Rds, "r1", "2024-03-01", 1.0, vec![TableSummary::new("users", Layer::Silver)], None);
        let ok = TaskRecord {
            state: "Load silver to internal RDS".into(),
            stage: Stage::Rds,
            resource: "arn:aws:states:::lambda:invoke".into(),
            parameters: json!({"FunctionName": "rds"}),
            attempt: 0,
            replayed: false,
            outcome: TaskOutcome::Succeeded { result: json!({"Payload": summary, "StatusCode": 200}) },
        };
        let failed = TaskRecord {
            attempt: 1,
            outcome: TaskOutcome::Failed {
                error: "Amali.DataError".into(),
                cause: json!({"errorMessage": "users broke a rule", "errorType": "Amali.DataError"}).to_string(),
            },
            ..ok.clone()
        };
        let text = format!(
            "{}\n{{\"state\": \"cut sh\n{}\n",
            serde_json::to_string(&ok).unwrap(),
            serde_json::to_string(&failed).unwrap()
        );
        let records = TaskRecord::parse_lines(&text);
        assert_eq!(records, [ok.clone(), failed.clone()]);
        assert_eq!(records[0].summary(), Some(summary));
        assert_eq!(records[1].summary(), None);
        let TaskOutcome::Failed { cause, .. } = &records[1].outcome else { panic!() };
        assert_eq!(cause_message(cause), "users broke a rule");
        assert_eq!(cause_message("plain"), "plain");
    }
}
