//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, `Credentials`, `Assign`, ...): a key ending in
//! `.$` holds a path or a valid intrinsic call; a key is not given both with and without `.$`. Warnings, as AWS
//! gives them: NO_DOLLAR for a value that looks like a path under a plain key, PASS_RESULT_IS_STATIC for `.$`
//! keys in a Pass state's `Result`.

use serde_json::{Map, Value};

use crate::asl::intrinsic::{self, Call};
use crate::asl::path::Path;
use crate::asl::pointer_push;
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "payload-templates";

/// Payload templates.
pub struct Templates;

fn check_template(value: &Value, location: &str, out: &mut Vec<Diagnostic>) {
    match value {
        Value::Object(map) => check_object(map, location, out),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_template(item, &pointer_push(location, &i.to_string()), out);
            }
        }
        _ => {}
    }
}

fn check_object(map: &Map<String, Value>, location: &str, out: &mut Vec<Diagnostic>) {
    for (key, value) in map {
        let at = pointer_push(location, key);
        if let Some(plain) = key.strip_suffix(".$") {
            if map.contains_key(plain) {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    at.clone(),
                    format!("{plain:?} is given both as a value and as a path ({key:?}); keep one"),
                ));
            }
            let Value::String(text) = value else {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    at,
                    format!("{key:?} ends in .$, so its value must be a path or an intrinsic function call"),
                ));
                continue;
            };
            if intrinsic::looks_like_call(text) {
                if let Err(e) = Call::parse(text) {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        at,
                        format!("{key:?}: invalid intrinsic function call {text:?}: {e}"),
                    ));
                }
            } else if let Err(e) = Path::parse(text) {
                out.push(Diagnostic::error(SCHEMA, RULE, at, format!("{key:?}: {text:?} is not a valid path: {e}")));
            }
        } else {
            if let Value::String(text) = value
                && (text.starts_with("$.")
                    || text.starts_with("$$.")
                    || (intrinsic::looks_like_call(text) && Call::parse(text).is_ok()))
            {
                out.push(Diagnostic::warning(
                    "NO_DOLLAR",
                    RULE,
                    at.clone(),
                    format!("{key:?} holds {text:?}, which looks like a path or intrinsic call but is sent as text; name the key {key}.$ to evaluate it"),
                ));
            }
            check_template(value, &at, out);
        }
    }
}

fn has_dollar_keys(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.iter().any(|(k, v)| k.ends_with(".$") || has_dollar_keys(v)),
        Value::Array(items) => items.iter().any(has_dollar_keys),
        _ => false,
    }
}

impl Rule for Templates {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| !s.is_jsonata()) {
            for key in ["Parameters", "ResultSelector", "ItemSelector", "Credentials", "Assign"] {
                if let Some(v) = state.field(key) {
                    check_template(v, &state.at(&[key]), &mut out);
                }
            }
            for (outer, inner) in
                [("ItemReader", "Parameters"), ("ResultWriter", "Parameters"), ("ItemBatcher", "BatchInput")]
            {
                if let Some(v) = state.field(outer).and_then(|o| o.get(inner)) {
                    check_template(v, &state.at(&[outer, inner]), &mut out);
                }
            }
            for list in ["Catch", "Choices"] {
                if let Some(Value::Array(items)) = state.field(list) {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(v) = item.get("Assign") {
                            check_template(v, &state.at(&[list, &i.to_string(), "Assign"]), &mut out);
                        }
                    }
                }
            }
            if state.ty() == Some("Pass")
                && let Some(result) = state.field("Result")
                && has_dollar_keys(result)
            {
                out.push(Diagnostic::warning(
                    "PASS_RESULT_IS_STATIC",
                    RULE,
                    state.at(&["Result"]),
                    "Result is used as written: its .$ keys are not evaluated; use Parameters to evaluate paths",
                ));
            }
        }
        out
    }
}
