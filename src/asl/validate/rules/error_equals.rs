//! Retry and Catch: arrays of objects, each with a non-empty `ErrorEquals` of strings; `States.ALL` alone in its
//! policy and that policy last; catchers have a `Next`; only the fields the language defines.

use amali_core::names::states as names;
use serde_json::Value;

use crate::asl::validate::rules::kind;
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "error-equals";
const RETRIER_FIELDS: &[&str] =
    &["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"];
const CATCHER_FIELDS: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"];

/// Error matching in Retry and Catch.
pub struct ErrorEquals;

impl Rule for ErrorEquals {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in &ctx.states {
            for (field, allowed) in [("Retry", RETRIER_FIELDS), ("Catch", CATCHER_FIELDS)] {
                let Some(Value::Array(policies)) = state.field(field) else { continue };
                for (i, policy) in policies.iter().enumerate() {
                    let index = i.to_string();
                    let at = state.at(&[field, &index]);
                    let Some(obj) = policy.as_object() else {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            at,
                            format!("each {field} policy is an object, not {}", kind(policy)),
                        ));
                        continue;
                    };
                    for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.at(&[field, &index, key]),
                            format!("the field {key:?} is not supported in {field}"),
                        ));
                    }
                    if field == "Catch" && !obj.get("Next").is_some_and(Value::is_string) {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            at.clone(),
                            "a catcher needs Next, the state to go to",
                        ));
                    }
                    let errors = match obj.get("ErrorEquals") {
                        Some(Value::Array(errors)) if !errors.is_empty() => errors,
                        Some(Value::Array(_)) => {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[field, &index, "ErrorEquals"]),
                                "ErrorEquals cannot be empty",
                            ));
                            continue;
                        }
                        Some(v) => {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[field, &index, "ErrorEquals"]),
                                format!("ErrorEquals must be an array of error names, not {}", kind(v)),
                            ));
                            continue;
                        }
                        None => {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                at,
                                format!("a {field} policy needs ErrorEquals"),
                            ));
                            continue;
                        }
                    };
                    for (j, e) in errors.iter().enumerate() {
                        if !e.is_string() {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[field, &index, "ErrorEquals", &j.to_string()]),
                                "an error name is a string",
                            ));
                        }
                    }
                    if errors.iter().any(|e| e == names::ALL) {
                        if errors.len() > 1 {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[field, &index, "ErrorEquals"]),
                                "States.ALL must be the only error name in its ErrorEquals",
                            ));
                        }
                        if i + 1 != policies.len() {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[field, &index]),
                                format!("the {field} policy with States.ALL must come last"),
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}
