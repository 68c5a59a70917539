//! Tasks retry transient errors (throttling, a dropped connection, a busy service) with a backoff, instead of failing
//! the run at the first hiccup. Callback tasks (`.waitForTaskToken`) are left alone: they are not safe to resend.

use serde_json::Value;

use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "task-retry";

/// Tasks without a working Retry.
pub struct TaskRetry;

impl Rule for TaskRetry {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for s in ctx.states.iter().filter(|s| s.ty() == Some("Task")) {
            let resource = s.field("Resource").and_then(Value::as_str).unwrap_or("");
            if resource.ends_with(".waitForTaskToken") {
                continue;
            }
            let retries = s
                .field("Retry")
                .and_then(Value::as_array)
                .map(|r| r.iter().any(|p| p.get("MaxAttempts").and_then(Value::as_u64).is_none_or(|n| n > 0)));
            if retries != Some(true) {
                out.push(Diagnostic::warning(
                    "LINT_NO_RETRY",
                    RULE,
                    s.pointer.clone(),
                    format!("{:?} has no Retry: one transient error (throttling, a dropped connection) fails the run; retry with backoff and jitter", s.name),
                ));
            }
        }
        out
    }
}
