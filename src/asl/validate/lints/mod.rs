//! Pipeline lints (`amali validate --lint`): valid ASL that breaks pipelines in practice. They only warn.
//!
//! A "notification" is a Task that publishes to SNS (or whose name says it notifies or alerts); "success" and
//! "failure" notifications are told apart by their names, subjects and messages.

mod failure_notified;
mod history;
mod pause_before_use;
mod swallowed_failure;
mod task_retry;
mod task_timeout;

use std::collections::{HashSet, VecDeque};

use serde_json::Value;

use super::context::transitions;
use super::{Context, Rule, StateView};

/// Every lint.
pub static ALL: &[&dyn Rule] = &[
    &task_timeout::TaskTimeout,
    &task_retry::TaskRetry,
    &failure_notified::FailureNotified,
    &swallowed_failure::SwallowedFailure,
    &pause_before_use::PauseBeforeUse,
    &history::History,
];

/// Lower-case words of a text, splitting camelCase and acronyms (`pauseInternalRDSLambda` -> pause internal rds
/// lambda).
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current).to_lowercase());
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if p.is_lowercase() && c.is_uppercase() => true,
            Some(p) if p.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase) => true,
            Some(p) if p.is_alphabetic() != c.is_alphabetic() => true,
            _ => false,
        };
        if boundary && !current.is_empty() {
            out.push(std::mem::take(&mut current).to_lowercase());
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current.to_lowercase());
    }
    out
}

/// Every string in a JSON value, keys included, joined by spaces.
pub(crate) fn text_of(value: &Value) -> String {
    let mut out = String::new();
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push(' ');
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                out.push_str(k);
                out.push(' ');
                walk(v, out);
            }),
            _ => {}
        }
    }
    walk(value, &mut out);
    out
}

/// What a state says about itself: its name, resource and parameters.
pub(crate) fn describe(state: &StateView<'_>) -> String {
    let mut text = state.name.to_string();
    for key in ["Resource", "Parameters", "Arguments"] {
        if let Some(v) = state.field(key) {
            text.push(' ');
            text.push_str(&text_of(v));
        }
    }
    text
}

/// Whether a notification reports success or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    Success,
    Failure,
    Other,
}

/// If the state is a notification, which kind.
pub(crate) fn notice(state: &StateView<'_>) -> Option<Notice> {
    if state.ty() != Some("Task") {
        return None;
    }
    let resource = state.field("Resource").and_then(Value::as_str).unwrap_or("");
    let name_words = words(state.name);
    let notifies = resource.contains("sns:publish")
        || name_words.iter().any(|w| w.starts_with("notif") || w == "alert" || w == "alarm");
    if !notifies {
        return None;
    }
    let text = describe(state);
    let w = words(&text);
    let failure = w.iter().any(|w| w.starts_with("fail") || w == "error" || w == "errors") || text.contains('❌');
    let success =
        w.iter().any(|w| w.starts_with("succe") || w.starts_with("complet") || w == "done") || text.contains('✅');
    Some(match (failure, success) {
        (true, _) => Notice::Failure,
        (false, true) => Notice::Success,
        _ => Notice::Other,
    })
}

/// Names of the states reachable from `start` in graph `graph` (start included), following every transition.
pub(crate) fn reachable<'a>(ctx: &'a Context<'a>, graph: usize, start: &'a str) -> Vec<&'a StateView<'a>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut queue = VecDeque::from([start]);
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(state) = ctx.state(graph, name) {
            out.push(state);
            queue.extend(transitions(state).into_iter().map(|(_, t)| t));
        }
    }
    out
}

/// The Parallel or Map state a graph belongs to, as (graph index of that state, the state).
pub(crate) fn parent<'a>(ctx: &'a Context<'a>, graph: usize) -> Option<&'a StateView<'a>> {
    let pointer = &ctx.graphs[graph].pointer;
    ctx.states.iter().filter(|s| pointer.starts_with(&format!("{}/", s.pointer))).max_by_key(|s| s.pointer.len())
}
