//! Retry values: `IntervalSeconds` and `MaxDelaySeconds` positive integers, `MaxAttempts` a non-negative integer,
//! `BackoffRate` at least 1.0, `JitterStrategy` FULL or NONE.

use serde_json::Value;

use crate::asl::validate::rules::{integer_problem, kind};
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "retry-values";

/// Retrier value ranges.
pub struct RetryValues;

impl Rule for RetryValues {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in &ctx.states {
            let Some(Value::Array(retriers)) = state.field("Retry") else { continue };
            for (i, r) in retriers.iter().enumerate() {
                let index = i.to_string();
                let at = |key: &str| state.at(&["Retry", &index, key]);
                let mut range = |key: &str, min: i64, max: i64| {
                    if let Some(v) = r.get(key)
                        && let Some(message) = integer_problem(v, min, max)
                    {
                        out.push(Diagnostic::error(SCHEMA, RULE, at(key), format!("{key} {message}")));
                    }
                };
                range("IntervalSeconds", 1, 99_999_999);
                range("MaxAttempts", 0, 99_999_999);
                range("MaxDelaySeconds", 1, 31_622_400);
                match r.get("BackoffRate") {
                    None => {}
                    Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 1.0) => {}
                    Some(v) => out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        at("BackoffRate"),
                        format!(
                            "BackoffRate must be a number of at least 1.0, not {}",
                            if v.is_number() { v.to_string() } else { kind(v).to_string() }
                        ),
                    )),
                }
                match r.get("JitterStrategy") {
                    None => {}
                    Some(Value::String(s)) if s == "FULL" || s == "NONE" => {}
                    Some(v) => out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        at("JitterStrategy"),
                        format!("JitterStrategy must be \"FULL\" or \"NONE\", not {v}"),
                    )),
                }
            }
        }
        out
    }
}
