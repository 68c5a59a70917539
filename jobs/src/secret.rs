//! Secrets (database passwords): read from an environment variable or AWS Secrets Manager, never from a
//! command-line argument, and never shown: a [`Secret`] prints as `***` in logs, errors and Debug output.

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

    /// Resolves a reference from the configuration: `env:NAME` reads the environment variable `NAME`;
    /// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME` reads the secret with the default AWS credentials (its
    /// `password` field when the secret is JSON, as RDS-managed secrets are; else the whole string).
    pub fn resolve(reference: &str) -> Result<Secret> {
        if let Some(name) = reference.strip_prefix("env:") {
            return std::env::var(name)
                .map(Secret)
                .map_err(|_| StageError::config(format!("the secret {reference} is not set: export {name}")));
        }
        if reference.starts_with("arn:aws:secretsmanager:") {
            return from_secrets_manager(reference);
        }
        Err(StageError::config(format!(
            "secret references are env:NAME or a Secrets Manager ARN; {:?} is neither (and a password is never written in the configuration)",
            reference.chars().take(4).collect::<String>() + "..."
        )))
    }
}

/// Without the `aws` feature there is no Secrets Manager client: a configuration error that says so.
#[cfg(not(feature = "aws"))]
fn from_secrets_manager(_arn: &str) -> Result<Secret> {
    Err(StageError::without_aws("read a password from AWS Secrets Manager"))
}

/// Reads a secret from AWS Secrets Manager. Stages resolve secrets while they prepare, sometimes inside the async
/// runtime, so the call runs on a thread of its own with its own small runtime.
#[cfg(feature = "aws")]
fn from_secrets_manager(arn: &str) -> Result<Secret> {
    let region = arn.split(':').nth(3).unwrap_or_default().to_string();
    let id = arn.to_string();
    let fetch = move || -> Result<Secret> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StageError::internal(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(async {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region))
                .load()
                .await;
            let client = aws_sdk_secretsmanager::Client::new(&config);
            let out = client.get_secret_value().secret_id(&id).send().await.map_err(|e| {
                let text = format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e));
                let message = format!("cannot read the secret {id}: {text}");
                if text.contains("ResourceNotFound") || text.contains("AccessDenied") {
                    StageError::config(message)
                } else {
                    StageError::transient(message)
                }
            })?;
            let value = out
                .secret_string()
                .ok_or_else(|| StageError::config(format!("the secret {id} has no string value")))?;
            Ok(Secret(password_field(value)))
        })
    };
    std::thread::spawn(fetch).join().map_err(|_| StageError::internal("the secret lookup panicked"))?
}

/// The password in a secret's value: the `password` field of a JSON object, else the value itself.
#[cfg(any(feature = "aws", test))]
fn password_field(value: &str) -> String {
    serde_json::from_str::<serde_json::Value>(value)
        .ok()
        .and_then(|v| v.get("password").and_then(|p| p.as_str()).map(str::to_string))
        .unwrap_or_else(|| value.to_string())
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

    #[cfg(not(feature = "aws"))]
    #[test]
    fn a_local_build_cannot_read_secrets_manager_and_says_which_build_can() {
        let e = Secret::resolve("arn:aws:secretsmanager:us-east-1:123456789012:secret:db").unwrap_err();
        assert_eq!(e.error_name(), "Amali.ConfigError");
        assert!(e.message.contains("Secrets Manager") && e.message.contains("--features aws"), "{e}");
    }

    #[test]
    fn rds_managed_secrets_give_their_password_field() {
        assert_eq!(password_field(r#"{"username": "etl", "password": "s3cret"}"#), "s3cret");
        assert_eq!(password_field("plain"), "plain");
    }
}
