//! Retry and Catch policies with typed error names.

use serde_json::Number;

pub use amali_core::names::ErrorName;

use crate::asl::{self, JitterStrategy};

fn names<E: Into<ErrorName>>(errors: impl IntoIterator<Item = E>) -> Vec<String> {
    errors.into_iter().map(|e| e.into().as_str().to_string()).collect()
}

/// A retry policy: `Retry::on([ErrorName::TIMEOUT]).interval(5).max_attempts(3).backoff(2.0)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry(pub(crate) asl::Retrier);

impl Retry {
    /// Retries the given errors with the language's defaults (1 s, 3 attempts, backoff 2.0).
    pub fn on<E: Into<ErrorName>>(errors: impl IntoIterator<Item = E>) -> Self {
        Retry(asl::Retrier {
            comment: None,
            error_equals: names(errors),
            interval_seconds: None,
            max_attempts: None,
            backoff_rate: None,
            max_delay_seconds: None,
            jitter_strategy: None,
            extra: Default::default(),
        })
    }

    /// Seconds before the first retry.
    pub fn interval(mut self, seconds: u64) -> Self {
        self.0.interval_seconds = Some(seconds.into());
        self
    }

    /// Retries at most (0 disables the policy).
    pub fn max_attempts(mut self, attempts: u64) -> Self {
        self.0.max_attempts = Some(attempts.into());
        self
    }

    /// Multiplier of the interval per attempt (at least 1.0).
    pub fn backoff(mut self, rate: f64) -> Self {
        self.0.backoff_rate = Number::from_f64(rate);
        self
    }

    /// Upper bound on the interval in seconds.
    pub fn max_delay(mut self, seconds: u64) -> Self {
        self.0.max_delay_seconds = Some(seconds.into());
        self
    }

    /// Randomises each interval between zero and its computed value, so retries of many executions spread out.
    pub fn full_jitter(mut self) -> Self {
        self.0.jitter_strategy = Some(JitterStrategy::Full);
        self
    }

    /// Free text for readers of the definition.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.0.comment = Some(text.into());
        self
    }
}

/// A catch policy; the handler chain is given to the state's `catch` method.
#[derive(Debug, Clone, PartialEq)]
pub struct Catch {
    pub(crate) error_equals: Vec<String>,
    pub(crate) result_path: Option<Option<String>>,
    pub(crate) comment: Option<String>,
}

impl Catch {
    /// Catches the given errors.
    pub fn on<E: Into<ErrorName>>(errors: impl IntoIterator<Item = E>) -> Self {
        Catch { error_equals: names(errors), result_path: None, comment: None }
    }

    /// Catches every error `States.ALL` matches.
    pub fn all() -> Self {
        Catch::on([ErrorName::ALL])
    }

    /// Where the error output (`Error`, `Cause`) is put in the state's input; without it, it replaces the input.
    pub fn result_path(mut self, path: impl Into<String>) -> Self {
        self.result_path = Some(Some(path.into()));
        self
    }

    /// Discards the error output: the handler gets the state's input unchanged.
    pub fn discard_result(mut self) -> Self {
        self.result_path = Some(None);
        self
    }

    /// Free text for readers of the definition.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    pub(crate) fn into_catcher(self, next: String) -> asl::Catcher {
        asl::Catcher {
            comment: self.comment,
            error_equals: self.error_equals,
            result_path: self.result_path,
            output: None,
            assign: None,
            next,
            extra: Default::default(),
        }
    }
}

/// Orders policies so that the one matching `States.ALL` comes last, as the language requires; others keep order.
pub(crate) fn sort_all_last<T>(items: &mut [T], errors: impl Fn(&T) -> &[String]) {
    items.sort_by_key(|item| errors(item).iter().any(|e| e == ErrorName::ALL.as_str()));
}
