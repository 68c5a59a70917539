//! JSONPath and JSONata do not mix within a state: a JSONata state has no path fields (`InputPath`, `Parameters`,
//! `ResultPath`, ...), a JSONPath state no `Arguments`, `Output` or `Items`; a state cannot go back to JSONPath
//! inside a JSONata state machine; a string that opens `{%` closes with `%}` and holds an expression JSONata can
//! parse.

use serde_json::Value;

use crate::asl::pointer_push;
use crate::asl::validate::{Context, Diagnostic, QueryLang, Rule, SCHEMA};

const RULE: &str = "query-language";

const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "ItemsPath",
    "Iterator",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "ErrorPath",
    "CausePath",
];
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];
/// Fields whose strings JSONata evaluates.
const EVALUATED: &[&str] = &[
    "Arguments",
    "Output",
    "Assign",
    "Items",
    "ItemSelector",
    "Choices",
    "Catch",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Seconds",
    "Timestamp",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "Error",
    "Cause",
    "ItemBatcher",
    "ItemReader",
    "ResultWriter",
    "Credentials",
];

/// Checks every `{% %}` string of an evaluated field: closed, and parseable as JSONata.
fn unclosed(value: &Value, location: &str, out: &mut Vec<Diagnostic>) {
    match value {
        Value::String(s) => {
            // Only a string that starts with `{%` is an expression; one that ends in spaces after `%}` is a literal.
            let t = s.as_str();
            if t.starts_with("{%") && !t.trim_end().ends_with("%}") {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    location.to_string(),
                    format!("the JSONata expression {s:?} does not end with %}}"),
                ));
            } else if let Some(expr) = t.strip_prefix("{%").and_then(|r| r.strip_suffix("%}")) {
                let arena = bumpalo::Bump::new();
                if let Err(e) = jsonata_rs::JsonAta::new(expr.trim(), &arena) {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        location.to_string(),
                        format!("invalid JSONata expression {s:?}: {e}"),
                    ));
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                unclosed(v, &pointer_push(location, &i.to_string()), out);
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                unclosed(v, &pointer_push(location, k), out);
            }
        }
        _ => {}
    }
}

/// Query-language consistency.
pub struct QueryLanguage;

impl Rule for QueryLanguage {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in &ctx.states {
            // AWS: a state machine whose top level is JSONata cannot go back to JSONPath in any state.
            let root_ql = ctx.graphs[0].query_language;
            if root_ql == QueryLang::Jsonata && state.field("QueryLanguage").and_then(Value::as_str) == Some("JSONPath")
            {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.at(&["QueryLanguage"]),
                    "a state cannot use JSONPath in a state machine whose top-level QueryLanguage is JSONata",
                ));
            }
            let (forbidden, language, other) = match state.query_language {
                QueryLang::Jsonata => (JSONPATH_ONLY, "JSONata", "JSONPath"),
                QueryLang::JsonPath => (JSONATA_ONLY, "JSONPath", "JSONata"),
            };
            for key in forbidden.iter().filter(|k| state.field(k).is_some()) {
                // A Map's legacy Parameters is its ItemSelector; both are JSONPath-only in this sense.
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.at(&[key]),
                    format!("{key} is a {other} field, but {:?} uses {language}", state.name),
                ));
            }
            if let Some(Value::Array(catchers)) = state.field("Catch") {
                for (i, c) in catchers.iter().enumerate() {
                    let bad = if state.is_jsonata() { "ResultPath" } else { "Output" };
                    if c.get(bad).is_some() {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.at(&["Catch", &i.to_string(), bad]),
                            format!("{bad} in a catcher is a {other} field, but {:?} uses {language}", state.name),
                        ));
                    }
                }
            }
            if state.is_jsonata()
                && let Some(obj) = state.obj()
            {
                // Only evaluated fields hold expressions; Comment, Type, Next and the like are text.
                for (k, v) in obj.iter().filter(|(k, _)| EVALUATED.contains(&k.as_str())) {
                    unclosed(v, &state.at(&[k]), &mut out);
                }
            }
        }
        out
    }
}
