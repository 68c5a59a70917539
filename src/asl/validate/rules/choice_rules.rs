//! Choice rules: a non-empty `Choices`; every top-level rule has `Next` and nested ones do not; a JSONPath rule is
//! exactly one comparison (with `Variable`), `And`, `Or` or `Not`, its operand of the operator's type; a JSONata rule
//! is a `Condition`.

use serde_json::{Map, Value};

use crate::asl::choice::{ComparisonOp, OperandKind};
use crate::asl::path::Path;
use crate::asl::validate::rules::{is_jsonata, kind, wait::is_timestamp};
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA, StateView};

const RULE: &str = "choice-rules";

/// Choice states.
pub struct ChoiceRules;

impl Rule for ChoiceRules {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Choice")) {
            let Some(Value::Array(rules)) = state.field("Choices") else { continue };
            if rules.is_empty() {
                out.push(Diagnostic::error(SCHEMA, RULE, state.at(&["Choices"]), "Choices needs at least one rule"));
            }
            for (i, rule) in rules.iter().enumerate() {
                let segments = vec!["Choices".to_string(), i.to_string()];
                check_rule(state, rule, &segments, true, &mut out);
            }
        }
        out
    }
}

fn check_rule(state: &StateView<'_>, rule: &Value, segments: &[String], top: bool, out: &mut Vec<Diagnostic>) {
    let at = |extra: &[&str]| {
        let mut s: Vec<&str> = segments.iter().map(String::as_str).collect();
        s.extend_from_slice(extra);
        state.at(&s)
    };
    let Some(obj) = rule.as_object() else {
        out.push(Diagnostic::error(SCHEMA, RULE, at(&[]), format!("a Choice rule is an object, not {}", kind(rule))));
        return;
    };
    match (top, obj.get("Next")) {
        (true, None) => out.push(Diagnostic::error(SCHEMA, RULE, at(&[]), "a top-level Choice rule needs Next")),
        (true, Some(v)) if !v.is_string() => {
            out.push(Diagnostic::error(SCHEMA, RULE, at(&["Next"]), "Next must be a string"))
        }
        (false, Some(_)) => {
            out.push(Diagnostic::error(SCHEMA, RULE, at(&["Next"]), "a rule nested in And, Or or Not has no Next"))
        }
        _ => {}
    }
    for key in ["Assign", "Output"] {
        if !top && obj.contains_key(key) {
            out.push(Diagnostic::error(SCHEMA, RULE, at(&[key]), format!("a nested rule has no {key}")));
        }
    }
    if state.is_jsonata() {
        check_jsonata_rule(obj, &at, out);
    } else {
        check_jsonpath_rule(state, obj, segments, &at, out);
    }
}

fn check_jsonata_rule(obj: &Map<String, Value>, at: &dyn Fn(&[&str]) -> String, out: &mut Vec<Diagnostic>) {
    match obj.get("Condition") {
        None => out.push(Diagnostic::error(SCHEMA, RULE, at(&[]), "a JSONata Choice rule needs Condition")),
        Some(v) if is_jsonata(v) || v.is_boolean() => {}
        Some(v) => out.push(Diagnostic::error(
            SCHEMA,
            RULE,
            at(&["Condition"]),
            format!("Condition must be a JSONata expression in {{% %}}, not {v}"),
        )),
    }
    for key in obj.keys() {
        if !matches!(key.as_str(), "Condition" | "Next" | "Comment" | "Assign" | "Output") {
            out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                at(&[key]),
                format!("the field {key:?} is not supported in a JSONata Choice rule (use Condition)"),
            ));
        }
    }
}

fn check_jsonpath_rule(
    state: &StateView<'_>,
    obj: &Map<String, Value>,
    segments: &[String],
    at: &dyn Fn(&[&str]) -> String,
    out: &mut Vec<Diagnostic>,
) {
    let ops: Vec<(&String, ComparisonOp)> =
        obj.keys().filter_map(|k| ComparisonOp::from_name(k).map(|op| (k, op))).collect();
    let combinators: Vec<&str> = ["And", "Or", "Not"].into_iter().filter(|k| obj.contains_key(*k)).collect();
    for key in obj.keys() {
        let known = matches!(key.as_str(), "Variable" | "And" | "Or" | "Not" | "Next" | "Comment" | "Assign")
            || ComparisonOp::from_name(key).is_some();
        if !known {
            let hint = if key == "Condition" || key == "Output" { " (it belongs to JSONata rules)" } else { "" };
            out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                at(&[key]),
                format!("the field {key:?} is not supported in a Choice rule{hint}"),
            ));
        }
    }
    if ops.len() + combinators.len() != 1 {
        out.push(Diagnostic::error(
            SCHEMA,
            RULE,
            at(&[]),
            format!(
                "a Choice rule has exactly one comparison operator, And, Or or Not; this one has {}",
                if ops.is_empty() && combinators.is_empty() {
                    "none".to_string()
                } else {
                    ops.iter()
                        .map(|(k, _)| k.as_str())
                        .chain(combinators.iter().copied())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    match (obj.get("Variable"), ops.is_empty()) {
        (None, false) => {
            out.push(Diagnostic::error(SCHEMA, RULE, at(&[]), "a comparison needs Variable, the path it tests"))
        }
        (Some(_), true) if !combinators.is_empty() => {
            out.push(Diagnostic::error(SCHEMA, RULE, at(&["Variable"]), "And, Or and Not rules have no Variable"))
        }
        (Some(Value::String(p)), _) => {
            if let Err(e) = Path::parse(p) {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    at(&["Variable"]),
                    format!("Variable {p:?} is not a valid path: {e}"),
                ));
            }
        }
        (Some(v), _) => out.push(Diagnostic::error(
            SCHEMA,
            RULE,
            at(&["Variable"]),
            format!("Variable must be a path, not {}", kind(v)),
        )),
        _ => {}
    }
    for (key, op) in ops {
        if let Some(message) = operand_problem(op, &obj[key.as_str()]) {
            out.push(Diagnostic::error(SCHEMA, RULE, at(&[key]), format!("{key} {message}")));
        }
    }
    for key in ["And", "Or"] {
        match obj.get(key) {
            None => {}
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let mut nested = segments.to_vec();
                    nested.extend([key.to_string(), i.to_string()]);
                    check_rule(state, item, &nested, false, out);
                }
            }
            Some(_) => out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                at(&[key]),
                format!("{key} must be a non-empty array of rules"),
            )),
        }
    }
    if let Some(not) = obj.get("Not") {
        let mut nested = segments.to_vec();
        nested.push("Not".to_string());
        check_rule(state, not, &nested, false, out);
    }
}

/// Why `value` is not a valid operand of `op`, if it is not.
pub fn operand_problem(op: ComparisonOp, value: &Value) -> Option<String> {
    if op.is_path() {
        return match value {
            Value::String(p) => Path::parse(p).err().map(|e| format!("must be a valid path: {e}")),
            v => Some(format!("must be a path, not {}", kind(v))),
        };
    }
    match (op.kind(), value) {
        (OperandKind::String | OperandKind::Pattern, Value::String(_)) => None,
        (OperandKind::Numeric, Value::Number(_)) => None,
        (OperandKind::Boolean | OperandKind::TypeTest, Value::Bool(_)) => None,
        (OperandKind::Timestamp, Value::String(s)) if is_timestamp(s) => None,
        (OperandKind::Timestamp, Value::String(s)) => Some(format!("must be an RFC 3339 timestamp, not {s:?}")),
        (OperandKind::String | OperandKind::Pattern, v) => Some(format!("must be a string, not {}", kind(v))),
        (OperandKind::Numeric, v) => Some(format!("must be a number, not {}", kind(v))),
        (OperandKind::Boolean | OperandKind::TypeTest, v) => Some(format!("must be true or false, not {}", kind(v))),
        (OperandKind::Timestamp, v) => Some(format!("must be a timestamp string, not {}", kind(v))),
    }
}
