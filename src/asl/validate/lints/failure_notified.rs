//! Every Task's failure reaches a failure notification through a Catch (its own, or that of the Parallel or Map
//! around it), so the person on call hears of it. A failure notice itself is exempt: it cannot announce its own
//! failure.

use amali_core::names::states as names;
use serde_json::Value;

use super::{Notice, notice, parent, reachable};
use crate::asl::validate::{Context, Diagnostic, Rule, StateView};

const RULE: &str = "failure-notified";

/// Tasks whose failure nobody hears of.
pub struct FailureNotified;

/// The catch-all catcher target covering `state`: its own, or the nearest enclosing Parallel's or Map's, with the
/// graph the target is in.
fn catch_all<'a>(ctx: &'a Context<'a>, state: &'a StateView<'a>) -> Option<(usize, &'a str)> {
    let mut current = state;
    loop {
        let target = current.field("Catch").and_then(Value::as_array).and_then(|c| {
            c.iter()
                .find(|c| {
                    c.get("ErrorEquals").and_then(Value::as_array).is_some_and(|e| e.iter().any(|e| e == names::ALL))
                })
                .and_then(|c| c.get("Next")?.as_str())
        });
        if let Some(t) = target {
            return Some((current.graph, t));
        }
        current = parent(ctx, current.graph)?;
    }
}

impl Rule for FailureNotified {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Task")) {
            if notice(state) == Some(Notice::Failure) {
                continue;
            }
            match catch_all(ctx, state) {
                None => out.push(Diagnostic::warning(
                    "LINT_UNCAUGHT_TASK",
                    RULE,
                    state.pointer.clone(),
                    format!("nothing catches a failure of {:?} (no States.ALL catcher on it or around it): the run stops and nobody is told", state.name),
                )),
                Some((graph, target)) => {
                    let notified = reachable(ctx, graph, target).iter().any(|s| matches!(notice(s), Some(Notice::Failure | Notice::Other)));
                    if !notified {
                        out.push(Diagnostic::warning(
                            "LINT_FAILURE_NOT_NOTIFIED",
                            RULE,
                            state.pointer.clone(),
                            format!("a failure of {:?} is caught (to {target:?}) but no failure notification follows", state.name),
                        ));
                    }
                }
            }
        }
        out
    }
}
