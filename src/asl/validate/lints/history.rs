//! A standard execution's history holds at most 25,000 events; we warn from 20,000 in the worst case (every retry
//! taken, the longest path), or when a loop makes the history unbounded. Inline Map iterations are counted as
//! [`ASSUMED_MAP_ITEMS`] items each, since the item count is only known at run time.

use std::collections::HashMap;

use serde_json::Value;

use crate::asl::validate::context::transitions;
use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "history-events";
/// The events at which we warn.
pub const LIMIT: u64 = 20_000;
/// Items assumed per inline Map when estimating.
pub const ASSUMED_MAP_ITEMS: u64 = 100;

/// Worst-case execution history size.
pub struct History;

enum Estimate {
    Events(u64),
    Loop(String),
}

fn attempts(state: &Value) -> u64 {
    let retries: u64 = state
        .get("Retry")
        .and_then(Value::as_array)
        .map(|r| r.iter().map(|p| p.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3)).sum())
        .unwrap_or(0);
    1 + retries
}

/// Worst-case events of the graph whose object is `graph`, from its StartAt.
fn graph_events(ctx: &Context<'_>, graph: usize, depth: usize) -> Estimate {
    let Some(start) = ctx.graphs[graph].start_at() else { return Estimate::Events(0) };
    let mut memo: HashMap<&str, Option<u64>> = HashMap::new();
    longest(ctx, graph, start, depth, &mut memo)
}

fn longest<'a>(
    ctx: &'a Context<'a>,
    graph: usize,
    name: &'a str,
    depth: usize,
    memo: &mut HashMap<&'a str, Option<u64>>,
) -> Estimate {
    match memo.get(name) {
        Some(Some(n)) => return Estimate::Events(*n),
        Some(None) => return Estimate::Loop(ctx.state(graph, name).map_or_else(String::new, |s| s.pointer.clone())),
        None => {}
    }
    let Some(state) = ctx.state(graph, name) else { return Estimate::Events(0) };
    memo.insert(name, None);
    let own = match state_events(ctx, state.graph, &state.pointer, state.value, depth) {
        Estimate::Events(n) => n,
        l => return l,
    };
    let mut best = 0;
    for (_, next) in transitions(state) {
        match longest(ctx, graph, next, depth, memo) {
            Estimate::Events(n) => best = best.max(n),
            l => return l,
        }
    }
    let total = own.saturating_add(best);
    memo.insert(name, Some(total));
    Estimate::Events(total)
}

fn state_events(ctx: &Context<'_>, _graph: usize, pointer: &str, state: &Value, depth: usize) -> Estimate {
    if depth > 16 {
        return Estimate::Events(0);
    }
    let nested = |suffix: &str| ctx.graphs.iter().position(|g| g.pointer == format!("{pointer}/{suffix}"));
    match state.get("Type").and_then(Value::as_str) {
        Some("Task") => Estimate::Events(2 + 4 * attempts(state)),
        Some("Parallel") => {
            let mut sum = 0u64;
            for i in 0..state.get("Branches").and_then(Value::as_array).map_or(0, Vec::len) {
                match nested(&format!("Branches/{i}")).map(|g| graph_events(ctx, g, depth + 1)) {
                    Some(Estimate::Events(n)) => sum = sum.saturating_add(n),
                    Some(l) => return l,
                    None => {}
                }
            }
            Estimate::Events((4 + sum).saturating_mul(attempts(state)))
        }
        Some("Map") => {
            let distributed = ["ItemProcessor", "Iterator"].iter().any(|k| {
                state.get(k).and_then(|p| p.get("ProcessorConfig")).and_then(|c| c.get("Mode"))
                    == Some(&Value::from("DISTRIBUTED"))
            });
            if distributed {
                return Estimate::Events(6u64.saturating_mul(attempts(state)));
            }
            let per_item =
                match nested("ItemProcessor").or_else(|| nested("Iterator")).map(|g| graph_events(ctx, g, depth + 1)) {
                    Some(Estimate::Events(n)) => n,
                    Some(l) => return l,
                    None => 0,
                };
            Estimate::Events((4 + ASSUMED_MAP_ITEMS * (2 + per_item)).saturating_mul(attempts(state)))
        }
        _ => Estimate::Events(2),
    }
}

impl Rule for History {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        if ctx.graphs.is_empty() {
            return Vec::new();
        }
        match graph_events(ctx, 0, 0) {
            Estimate::Events(n) if n + 2 >= LIMIT => vec![Diagnostic::warning(
                "LINT_HISTORY_LIMIT",
                RULE,
                "",
                format!(
                    "the worst case writes about {} history events (every retry taken, {ASSUMED_MAP_ITEMS} items per inline Map); an execution fails at 25,000: use a distributed Map or a child execution",
                    n + 2
                ),
            )],
            Estimate::Events(_) => Vec::new(),
            Estimate::Loop(at) => vec![Diagnostic::warning(
                "LINT_HISTORY_LIMIT",
                RULE,
                at,
                "this state is part of a loop: each turn adds history events, and an execution fails at 25,000; bound the loop or continue as a new execution",
            )],
        }
    }
}
