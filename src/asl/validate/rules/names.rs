//! State names: unique in the whole state machine (branches included), 1 to 80 characters; distributed Map
//! labels: unique, at most 40 characters, none of the characters Step Functions reserves.

use std::collections::HashMap;

use serde_json::Value;

use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "names";

/// Name and label rules.
pub struct Names;

impl Rule for Names {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut first: HashMap<&str, &str> = HashMap::new();
        for state in &ctx.states {
            if let Some(other) = first.get(state.name) {
                out.push(Diagnostic::error(
                    "DUPLICATE_STATE_NAME",
                    RULE,
                    state.pointer.clone(),
                    format!(
                        "{:?} is also the name of the state at {other}; names are unique in the whole machine",
                        state.name
                    ),
                ));
            } else {
                first.insert(state.name, &state.pointer);
            }
            let chars = state.name.chars().count();
            if chars == 0 || chars > 80 {
                out.push(Diagnostic::error(
                    "INVALID_STATE_NAME",
                    RULE,
                    state.pointer.clone(),
                    format!("a state name has 1 to 80 characters; this one has {chars}"),
                ));
            }
            if state.name.chars().any(char::is_control) {
                out.push(Diagnostic::error(
                    "INVALID_STATE_NAME",
                    RULE,
                    state.pointer.clone(),
                    "a state name cannot contain control characters",
                ));
            }
        }
        let mut labels: HashMap<&str, &str> = HashMap::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Map")) {
            let Some(label) = state.field("Label").and_then(Value::as_str) else { continue };
            let at = state.at(&["Label"]);
            if let Some(other) = labels.get(label) {
                out.push(Diagnostic::error(
                    "DUPLICATE_LABEL_NAME",
                    RULE,
                    at.clone(),
                    format!("label {label:?} is also used at {other}"),
                ));
            } else {
                labels.insert(label, &state.pointer);
            }
            let bad =
                label.chars().any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c));
            if label.chars().count() > 40 || bad {
                out.push(Diagnostic::error(
                    "INVALID_LABEL_NAME",
                    RULE,
                    at,
                    format!("label {label:?} must have at most 40 characters and no whitespace or <>{{}}[]?*\"#%\\^|~`$&,;:/"),
                ));
            }
        }
        out
    }
}
