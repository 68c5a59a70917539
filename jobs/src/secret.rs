//! Secrets (database passwords): read from an environment variable, never from a command-line argument, and never
//! shown: a [`Secret`] prints as `***` in logs, errors and Debug output.

use std::fmt;

use crate::error::{Result, StageError};

/// A secret value that redacts itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Resolves a reference from the configuration: `env:NAME` reads the environment variable `NAME`.
    /// (`arn:aws:secretsmanager:...` references are resolved by the AWS runners; see the deploy issue.)
    pub fn resolve(reference: &str) -> Result<Secret> {
        if let Some(name) = reference.strip_prefix("env:") {
            return std::env::var(name)
                .map(Secret)
                .map_err(|_| StageError::config(format!("the secret {reference} is not set: export {name}")));
        }
        if reference.starts_with("arn:aws:secretsmanager:") {
            return Err(StageError::config(format!(
                "the secret {reference} is in AWS Secrets Manager, which this runner cannot read; pass it as env:NAME"
            )));
        }
        Err(StageError::config(format!(
            "secret references are env:NAME or a Secrets Manager ARN; {:?} is neither (and a password is never written in the configuration)",
            reference.chars().take(4).collect::<String>() + "..."
        )))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
        let err = Secret::resolve("hunter2").unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
