//! Task timeouts: `TimeoutSeconds` and `HeartbeatSeconds` positive integers, the heartbeat shorter than the timeout.

use serde_json::Value;

use crate::asl::validate::rules::integer_field;
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "timeouts";

/// Task timeouts.
pub struct Timeouts;

impl Rule for Timeouts {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Task")) {
            integer_field(state, "TimeoutSeconds", 1, 99_999_999, RULE, &mut out);
            integer_field(state, "HeartbeatSeconds", 1, 99_999_999, RULE, &mut out);
            if let (Some(t), Some(h)) = (
                state.field("TimeoutSeconds").and_then(Value::as_i64),
                state.field("HeartbeatSeconds").and_then(Value::as_i64),
            ) && h >= t
            {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.at(&["HeartbeatSeconds"]),
                    format!("HeartbeatSeconds ({h}) must be less than TimeoutSeconds ({t})"),
                ));
            }
        }
        out
    }
}
