//! Why a stage failed, with the Step Functions error name the state machine's Retry and Catch match.

use amali::stage::StageErrorKind;

/// A stage failure: its kind (which fixes the error name and exit code) and a message for the person on call.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// What kind of failure, shared with the state machine's Retry/Catch.
    pub kind: StageErrorKind,
    /// What happened and, where it helps, what to do.
    pub message: String,
}

/// A `Result` whose error is a [`StageError`].
pub type Result<T, E = StageError> = std::result::Result<T, E>;

impl StageError {
    /// A failure of the given kind.
    pub fn new(kind: StageErrorKind, message: impl Into<String>) -> Self {
        StageError { kind, message: message.into() }
    }

    /// A dependency was briefly unavailable: retrying may succeed.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(StageErrorKind::Transient, message)
    }

    /// The configuration or a secret is wrong.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(StageErrorKind::Config, message)
    }

    /// The data broke a rule or could not be read as declared.
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(StageErrorKind::Data, message)
    }

    /// A bug.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StageErrorKind::Internal, message)
    }

    /// The name Step Functions sees (`Amali.TransientError`, ...).
    pub fn error_name(&self) -> String {
        self.kind.error_name().as_str().to_string()
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
}

/// Classifies a database error: connection and lock problems are transient, the rest are not.
pub fn from_database(context: &str, error: impl std::fmt::Display) -> StageError {
    let text = error.to_string();
    let lower = text.to_lowercase();
    let transient = [
        "connection refused",
        "connection reset",
        "broken pipe",
        "timed out",
        "timeout",
        "too many connections",
        "lock wait timeout",
        "deadlock",
        "database is locked",
        "server has gone away",
        "could not connect",
        "the database system is starting up",
    ]
    .iter()
    .any(|needle| lower.contains(needle));
    let kind = if transient { StageErrorKind::Transient } else { StageErrorKind::Data };
    StageError::new(kind, format!("{context}: {text}"))
}

/// Maps a DataFusion error met while doing `context` (a query amali wrote failing is amali's bug).
pub fn df_err(context: &str) -> impl Fn(deltalake::datafusion::error::DataFusionError) -> StageError + '_ {
    move |e| StageError::internal(format!("{context}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_are_classified() {
        assert_eq!(from_database("read users", "Connection refused (os error 111)").kind, StageErrorKind::Transient);
        assert_eq!(from_database("read users", "database is locked").kind, StageErrorKind::Transient);
        assert_eq!(from_database("read users", "no such table: users").kind, StageErrorKind::Data);
        assert_eq!(StageError::transient("x").error_name(), "Amali.TransientError");
        assert_eq!(StageError::config("x").exit_code(), 78);
    }
}
