//! Every Task has a timeout: without one, a stuck job or a lost callback holds the run for up to a year.

use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "task-timeout";

/// Tasks without TimeoutSeconds.
pub struct TaskTimeout;

impl Rule for TaskTimeout {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        ctx.states
            .iter()
            .filter(|s| s.ty() == Some("Task"))
            .filter(|s| s.field("TimeoutSeconds").is_none() && s.field("TimeoutSecondsPath").is_none())
            .map(|s| {
                Diagnostic::warning(
                    "LINT_TASK_WITHOUT_TIMEOUT",
                    RULE,
                    s.pointer.clone(),
                    format!("{:?} has no TimeoutSeconds: if the job hangs, the run waits up to a year", s.name),
                )
            })
            .collect()
    }
}
