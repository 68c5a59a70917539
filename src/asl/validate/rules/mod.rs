//! The validation rules, one per file. Each returns every instance of its problem.

mod choice_rules;
mod document;
mod error_equals;
mod map;
mod names;
mod paths;
mod query_language;
mod reachability;
mod resource;
mod retry_values;
mod size;
mod state_schema;
mod templates;
mod terminal;
mod timeouts;
mod transitions;
mod wait;

pub use wait::is_timestamp;

use serde_json::Value;

use super::{Diagnostic, Rule, SCHEMA, StateView};

/// Every rule, in the order their findings are most useful to read.
pub static ALL: &[&dyn Rule] = &[
    &document::Document,
    &size::Size,
    &state_schema::StateSchema,
    &transitions::Transitions,
    &reachability::Reachability,
    &terminal::Terminal,
    &names::Names,
    &resource::ResourceArn,
    &error_equals::ErrorEquals,
    &retry_values::RetryValues,
    &timeouts::Timeouts,
    &wait::WaitFields,
    &choice_rules::ChoiceRules,
    &map::MapState,
    &paths::Paths,
    &templates::Templates,
    &query_language::QueryLanguage,
];

/// True for a JSONata expression string: `{% ... %}`, the delimiters first and last (with a space before `{%` or
/// after `%}` the string is a literal, as Step Functions reads it).
pub(crate) fn is_jsonata(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with("{%") && s.ends_with("%}") && s.len() >= 4)
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks that a state's integer field (or, in a JSONata state, an expression) lies in `min..=max`.
pub(crate) fn integer_field(
    state: &StateView<'_>,
    key: &str,
    min: i64,
    max: i64,
    rule: &'static str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(value) = state.field(key) else { return };
    if state.is_jsonata() && is_jsonata(value) {
        return;
    }
    if let Some(message) = integer_problem(value, min, max) {
        out.push(Diagnostic::error(SCHEMA, rule, state.at(&[key]), format!("{key} {message}")));
    }
}

/// Why `value` is not an integer in `min..=max`, if it is not.
pub(crate) fn integer_problem(value: &Value, min: i64, max: i64) -> Option<String> {
    let n = match value {
        Value::Number(n) => n,
        other => return Some(format!("must be an integer, not {}", kind(other))),
    };
    let integral = n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64));
    match integral {
        None => Some(format!("must be an integer, not {n}")),
        Some(i) if i < min || i > max => Some(format!("must be between {min} and {max}, not {i}")),
        Some(_) => None,
    }
}
