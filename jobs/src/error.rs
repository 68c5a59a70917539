//! Why a stage failed, with the Step Functions error name the state machine's Retry and Catch match.

use amali_core::stage::StageErrorKind;

use crate::db::error::DbError;

/// A stage failure: its kind (which fixes the error name and exit code), a message for the person on call, and
/// the error it came from (a driver's, DataFusion's, delta-rs's), kept for the log.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// What kind of failure, shared with the state machine's Retry/Catch.
    pub kind: StageErrorKind,
    /// What happened and, where it helps, what to do.
    pub message: String,
    /// The error underneath, when there is one.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// A `Result` whose error is a [`StageError`].
pub type Result<T, E = StageError> = std::result::Result<T, E>;

impl StageError {
    /// A failure of the given kind.
    pub fn new(kind: StageErrorKind, message: impl Into<String>) -> Self {
        StageError { kind, message: message.into(), source: None }
    }

    /// The same failure, keeping `source` as the error underneath.
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
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

    /// What a stage built without the `aws` feature says when the configuration asks it for AWS (`what`: "read a
    /// lake on S3", ...): a configuration error that says how to build the stages that can.
    pub fn without_aws(what: &str) -> Self {
        Self::config(format!(
            "cannot {what}: these stage binaries were built without AWS support (the local build); build them with \
             `cargo build -p amali-jobs --bins --features aws` (the stages image and Lambda packages are)"
        ))
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

impl From<amali_core::config::ConfigError> for StageError {
    fn from(e: amali_core::config::ConfigError) -> Self {
        StageError::config(e.to_string())
    }
}

/// A database error met while doing `context`: its kind from the driver's code (see [`DbError::kind`]), the
/// driver's error kept as the source.
pub fn from_database(context: &str, error: impl Into<DbError>) -> StageError {
    let error = error.into();
    let kind = error.kind();
    let hint = match kind {
        StageErrorKind::Config => ": check the database's URL and its password reference in amali.toml",
        _ => "",
    };
    StageError::new(kind, format!("{context}: {error}{hint}")).caused_by(error)
}

/// The kind of a DataFusion error in a query amali wrote: a query that does not plan is amali's bug; a value that
/// the data cannot give (a failed cast, an overflow) while the query runs is the data's; running out of the memory
/// the configuration allows is a configuration error; an I/O or object store failure may pass.
pub fn df_kind(e: &deltalake::datafusion::error::DataFusionError) -> StageErrorKind {
    use deltalake::datafusion::error::DataFusionError as E;
    match e.find_root() {
        E::ResourcesExhausted(_) => StageErrorKind::Config,
        E::IoError(_) | E::ObjectStore(_) => StageErrorKind::Transient,
        E::ArrowError(..) | E::Execution(_) => StageErrorKind::Data,
        _ => StageErrorKind::Internal,
    }
}

/// Maps a DataFusion error met while doing `context` (kind by [`df_kind`]; the error is kept as the source).
pub fn df_err(context: &str) -> impl Fn(deltalake::datafusion::error::DataFusionError) -> StageError + '_ {
    move |e| match e.find_root() {
        deltalake::datafusion::error::DataFusionError::ResourcesExhausted(_) => crate::memory::exhausted(context, e),
        _ => StageError::new(df_kind(&e), format!("{context}: {e}")).caused_by(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_keep_their_kind_and_source() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = from_database("read users", refused);
        assert_eq!(e.kind, StageErrorKind::Transient);
        assert!(std::error::Error::source(&e).is_some(), "the driver's error is kept");
        assert!(e.message.starts_with("read users: "), "{}", e.message);
        assert_eq!(StageError::transient("x").error_name(), "Amali.TransientError");
        assert_eq!(StageError::config("x").exit_code(), 78);
    }
}
