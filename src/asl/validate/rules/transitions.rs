//! Transitions: a Task, Pass, Wait, Parallel or Map has exactly one of `Next` and `End: true`; Choice, Succeed and
//! Fail have neither; every `StartAt`, `Next`, `Default` and catcher target names a state of the same graph.

use serde_json::Value;

use crate::asl::pointer_push;
use crate::asl::validate::context::transitions;
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "transitions";
const MISSING: &str = "MISSING_TRANSITION_TARGET";

/// Next/End and transition targets.
pub struct Transitions;

impl Rule for Transitions {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (index, graph) in ctx.graphs.iter().enumerate() {
            if let (Some(start), Some(states)) = (graph.start_at(), graph.states())
                && !states.contains_key(start)
            {
                out.push(Diagnostic::error(
                    MISSING,
                    RULE,
                    pointer_push(&graph.pointer, "StartAt"),
                    format!("StartAt names {start:?}, which is not a state of this graph"),
                ));
            }
            for state in ctx.states_of(index) {
                let Some(ty) = state.ty() else { continue };
                let next = state.field("Next");
                let end = state.field("End");
                match ty {
                    "Task" | "Pass" | "Wait" | "Parallel" | "Map" => match (next, end) {
                        (None, None) | (None, Some(Value::Bool(false))) => out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.pointer.clone(),
                            format!("{:?} needs Next, or End: true if it ends its graph", state.name),
                        )),
                        (Some(_), Some(Value::Bool(true))) => out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.at(&["End"]),
                            format!("{:?} has both Next and End: true; keep one", state.name),
                        )),
                        _ => {}
                    },
                    _ => {
                        for key in ["Next", "End"].into_iter().filter(|k| state.field(k).is_some()) {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[key]),
                                format!("a {ty} state has no {key}"),
                            ));
                        }
                    }
                }
                let Some(states) = graph.states() else { continue };
                for (location, target) in transitions(state) {
                    if !states.contains_key(target) {
                        let elsewhere = ctx.states.iter().any(|s| s.name == target);
                        let hint = if elsewhere {
                            " (a state may only move to states of its own graph: a branch or item processor cannot leave it)"
                        } else {
                            ""
                        };
                        out.push(Diagnostic::error(
                            MISSING,
                            RULE,
                            location,
                            format!(
                                "{:?} transitions to {target:?}, which is not a state of this graph{hint}",
                                state.name
                            ),
                        ));
                    }
                }
            }
        }
        out
    }
}
