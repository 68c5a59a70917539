//! Error names as Step Functions matches them: the language's own `States.*` errors (one table, used by the DSL's
//! Retry/Catch, the validator and the interpreter) and the [`ErrorName`] type that Retry and Catch take.
//!
//! Source: the Amazon States Language specification, "Errors", and the Step Functions developer guide, "Error
//! handling in Step Functions" (`States.QueryEvaluationError` for JSONata).

use std::borrow::Cow;
use std::fmt;

/// The `States.*` error names, as `&str`.
pub mod states {
    /// Matches any error except `States.Runtime` (and `States.DataLimitExceeded` in a Retry).
    pub const ALL: &str = "States.ALL";
    /// The state ran longer than `TimeoutSeconds` or missed a heartbeat.
    pub const TIMEOUT: &str = "States.Timeout";
    /// The state missed its `HeartbeatSeconds`.
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// The task failed during execution (any error but a timeout).
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// The role of the state machine lacks a permission the task needs.
    pub const PERMISSIONS: &str = "States.Permissions";
    /// A Parallel or Map branch failed, or a state's result was too large.
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// No Choice rule matched and there is no `Default`.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// An intrinsic function failed.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// Input or output processing failed (a path matched nothing): never caught, never retried.
    pub const RUNTIME: &str = "States.Runtime";
    /// A payload exceeded 256 KiB: never caught.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// A distributed Map's item reader failed.
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    /// A distributed Map's result writer failed.
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    /// A distributed Map failed more items than it tolerates.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// A JSONata expression failed to evaluate.
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// An error name that a Retry or Catch matches: one of the language's `States.*` errors, an integration's error
/// (`Lambda.ServiceException`), or a stage's own error name (see [`crate::stage::StageErrorKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorName(Cow<'static, str>);

impl ErrorName {
    /// [`states::ALL`].
    pub const ALL: ErrorName = ErrorName::of(states::ALL);
    /// [`states::TIMEOUT`].
    pub const TIMEOUT: ErrorName = ErrorName::of(states::TIMEOUT);
    /// [`states::HEARTBEAT_TIMEOUT`].
    pub const HEARTBEAT_TIMEOUT: ErrorName = ErrorName::of(states::HEARTBEAT_TIMEOUT);
    /// [`states::TASK_FAILED`].
    pub const TASK_FAILED: ErrorName = ErrorName::of(states::TASK_FAILED);
    /// [`states::PERMISSIONS`].
    pub const PERMISSIONS: ErrorName = ErrorName::of(states::PERMISSIONS);
    /// [`states::BRANCH_FAILED`].
    pub const BRANCH_FAILED: ErrorName = ErrorName::of(states::BRANCH_FAILED);
    /// [`states::NO_CHOICE_MATCHED`].
    pub const NO_CHOICE_MATCHED: ErrorName = ErrorName::of(states::NO_CHOICE_MATCHED);
    /// [`states::INTRINSIC_FAILURE`].
    pub const INTRINSIC_FAILURE: ErrorName = ErrorName::of(states::INTRINSIC_FAILURE);
    /// [`states::RUNTIME`].
    pub const RUNTIME: ErrorName = ErrorName::of(states::RUNTIME);
    /// [`states::DATA_LIMIT_EXCEEDED`].
    pub const DATA_LIMIT_EXCEEDED: ErrorName = ErrorName::of(states::DATA_LIMIT_EXCEEDED);
    /// [`states::ITEM_READER_FAILED`].
    pub const ITEM_READER_FAILED: ErrorName = ErrorName::of(states::ITEM_READER_FAILED);
    /// [`states::RESULT_WRITER_FAILED`].
    pub const RESULT_WRITER_FAILED: ErrorName = ErrorName::of(states::RESULT_WRITER_FAILED);
    /// [`states::EXCEED_TOLERATED_FAILURE_THRESHOLD`].
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: ErrorName = ErrorName::of(states::EXCEED_TOLERATED_FAILURE_THRESHOLD);
    /// [`states::QUERY_EVALUATION_ERROR`].
    pub const QUERY_EVALUATION_ERROR: ErrorName = ErrorName::of(states::QUERY_EVALUATION_ERROR);

    /// An error name known at compile time.
    pub const fn of(name: &'static str) -> Self {
        ErrorName(Cow::Borrowed(name))
    }

    /// An error name built at run time (e.g. from configuration).
    pub fn custom(name: impl Into<String>) -> Self {
        ErrorName(Cow::Owned(name.into()))
    }

    /// The name as written in ASL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&ErrorName> for ErrorName {
    fn from(e: &ErrorName) -> Self {
        e.clone()
    }
}

impl PartialEq<str> for ErrorName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
