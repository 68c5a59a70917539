//! Errors as Step Functions raises them, and the rules by which Retry and Catch match them.
//!
//! From the Step Functions developer guide ("Error handling"): `States.ALL` matches every error except
//! `States.Runtime` and `States.DataLimitExceeded`, which always fail the execution; `States.TaskFailed` matches every
//! error except `States.Timeout` (and `States.HeartbeatTimeout`); `States.Timeout` also matches a heartbeat timeout.

use serde_json::{Value, json};

/// An error with its name and cause, as carried by `{"Error": ..., "Cause": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatesError {
    /// The error name, e.g. `States.TaskFailed` or `Lambda.ServiceException`.
    pub error: String,
    /// A human-readable cause (often JSON text from the service).
    pub cause: String,
}

/// Error names the interpreter raises itself: the one table of `States.*` names.
pub use amali_core::names::states as names;

impl StatesError {
    /// An error with the given name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError { error: error.into(), cause: cause.into() }
    }

    /// `States.Runtime`.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// `States.IntrinsicFailure`.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// `States.QueryEvaluationError`.
    pub fn query(cause: impl Into<String>) -> Self {
        Self::new(names::QUERY_EVALUATION_ERROR, cause)
    }

    /// The error output a Catch passes on: `{"Error": ..., "Cause": ...}`.
    pub fn output(&self) -> Value {
        json!({"Error": self.error, "Cause": self.cause})
    }

    /// True for the errors that always fail the execution.
    pub fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME || self.error == names::DATA_LIMIT_EXCEEDED
    }
}

impl std::fmt::Display for StatesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for StatesError {}

/// Whether a Retry or Catch whose `ErrorEquals` is `patterns` matches `error`.
pub fn matches(patterns: &[String], error: &StatesError) -> bool {
    if error.is_terminal() {
        return false;
    }
    let name = error.error.as_str();
    let timeout = name == names::TIMEOUT || name == names::HEARTBEAT_TIMEOUT;
    patterns.iter().any(|p| match p.as_str() {
        "States.ALL" => true,
        "States.TaskFailed" => !timeout,
        "States.Timeout" => timeout,
        p => p == name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str) -> StatesError {
        StatesError::new(name, "")
    }

    #[test]
    fn aws_matching_rules() {
        let all = ["States.ALL".to_string()];
        let task_failed = ["States.TaskFailed".to_string()];
        let timeout = ["States.Timeout".to_string()];
        assert!(matches(&all, &e("Custom")));
        assert!(!matches(&all, &e(names::RUNTIME)));
        assert!(!matches(&all, &e(names::DATA_LIMIT_EXCEEDED)));
        assert!(matches(&task_failed, &e("Lambda.ServiceException")));
        assert!(!matches(&task_failed, &e(names::TIMEOUT)));
        assert!(matches(&timeout, &e(names::HEARTBEAT_TIMEOUT)));
        assert!(!matches(&["Other".to_string()], &e("Custom")));
    }
}
