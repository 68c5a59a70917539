//! A catch-all handler must end the run in a Fail state. If it ends normally (`End: true` or Succeed), the failure is
//! swallowed: the execution reports success, and inside a Parallel the branch "succeeds", so the Parallel goes on
//! to whatever follows, typically a success notice.

use amali_core::names::states as names;
use serde_json::Value;

use super::{Notice, notice, parent, reachable};
use crate::asl::validate::{Context, Diagnostic, Rule, StateView};

const RULE: &str = "swallowed-failure";

/// Catch-all handlers that end without failing.
pub struct SwallowedFailure;

fn ends_normally(state: &StateView<'_>) -> bool {
    state.ty() == Some("Succeed") || state.field("End") == Some(&Value::Bool(true))
}

impl Rule for SwallowedFailure {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in &ctx.states {
            let Some(Value::Array(catchers)) = state.field("Catch") else { continue };
            for (i, c) in catchers.iter().enumerate() {
                let catches_all = c
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().any(|e| e == names::ALL || e == names::TASK_FAILED));
                let Some(target) = c.get("Next").and_then(Value::as_str) else { continue };
                if !catches_all {
                    continue;
                }
                let handler = reachable(ctx, state.graph, target);
                let Some(end) = handler.iter().find(|s| ends_normally(s)) else { continue };
                let consequence = match parent(ctx, state.graph) {
                    Some(p) if p.ty() == Some("Parallel") => {
                        let after = p
                            .field("Next")
                            .and_then(Value::as_str)
                            .map(|n| reachable(ctx, p.graph, n))
                            .unwrap_or_default();
                        match after.iter().find(|s| notice(s) == Some(Notice::Success)) {
                            Some(success) => format!(
                                "the branch then succeeds, so Parallel {:?} succeeds and the run goes on to the success notice {:?}",
                                p.name, success.name
                            ),
                            None => format!(
                                "the branch then succeeds, so Parallel {:?} succeeds as if nothing failed",
                                p.name
                            ),
                        }
                    }
                    Some(p) => format!("the iteration then succeeds, so {:?} succeeds as if nothing failed", p.name),
                    None => "the execution then reports SUCCEEDED although it failed".to_string(),
                };
                out.push(Diagnostic::warning(
                    "LINT_SWALLOWED_FAILURE",
                    RULE,
                    state.at(&["Catch", &i.to_string()]),
                    format!(
                        "a failure of {:?} is handled by {target:?}, which ends normally at {:?}: {consequence}; end the handler in a Fail state",
                        state.name, end.name
                    ),
                ));
            }
        }
        out
    }
}
