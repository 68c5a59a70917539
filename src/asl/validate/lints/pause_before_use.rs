//! A Task that pauses or stops a resource (an RDS instance, a Redshift cluster) must come after every state that
//! still uses it; otherwise the later state finds it stopped.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{describe, notice, parent, reachable, words};
use crate::asl::validate::{Context, Diagnostic, Rule, StateView};

const RULE: &str = "pause-before-use";
const PAUSE_WORDS: &[&str] = &["pause", "stop", "suspend", "hibernate", "shutdown"];
const RESOURCES: &[&str] = &["rds", "redshift", "aurora", "emr", "database", "warehouse", "db"];

/// Pauses of resources that later states use.
pub struct PauseBeforeUse;

/// The resources a state mentions.
fn resources(state: &StateView<'_>) -> BTreeSet<&'static str> {
    let w = words(&describe(state));
    RESOURCES.iter().copied().filter(|r| w.iter().any(|x| x == r)).collect()
}

fn is_pause(state: &StateView<'_>) -> bool {
    state.ty() == Some("Task") && words(&describe(state)).iter().any(|w| PAUSE_WORDS.contains(&w.as_str()))
}

/// Every state that can run after `state`: later in its graph, inside the graphs of those, and after the enclosing
/// Parallel or Map.
fn later<'a>(ctx: &'a Context<'a>, state: &'a StateView<'a>) -> Vec<&'a StateView<'a>> {
    let mut out = Vec::new();
    let mut current = state;
    loop {
        for (_, next) in crate::asl::validate::context::transitions(current) {
            for s in reachable(ctx, current.graph, next) {
                out.push(s);
                out.extend(ctx.states.iter().filter(|n| n.pointer.starts_with(&format!("{}/", s.pointer))));
            }
        }
        match parent(ctx, current.graph) {
            Some(p) => current = p,
            None => break,
        }
    }
    out
}

impl Rule for PauseBeforeUse {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for pause in ctx.states.iter().filter(|s| is_pause(s)) {
            let paused = resources(pause);
            if paused.is_empty() {
                continue;
            }
            let mut users: Vec<&str> = later(ctx, pause)
                .into_iter()
                .filter(|s| s.ty() == Some("Task") && !is_pause(s) && notice(s).is_none())
                .filter(|s| s.field("Resource").and_then(Value::as_str).is_some())
                .filter(|s| !resources(s).is_disjoint(&paused))
                .map(|s| s.name)
                .collect();
            users.sort();
            users.dedup();
            if !users.is_empty() {
                out.push(Diagnostic::warning(
                    "LINT_PAUSE_BEFORE_USE",
                    RULE,
                    pause.pointer.clone(),
                    format!(
                        "{:?} pauses the {} while later states still use it: {}; pause it after them",
                        pause.name,
                        paused.iter().map(|r| r.to_uppercase()).collect::<Vec<_>>().join(" and "),
                        users.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        out
    }
}
