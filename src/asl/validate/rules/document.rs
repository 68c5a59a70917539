//! The top level: a JSON object with `StartAt`, a non-empty `States`, and only the fields the language defines.

use serde_json::Value;

use crate::asl::validate::rules::{integer_problem, kind};
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "document";
const FIELDS: &[&str] = &["Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"];

/// The document's own fields.
pub struct Document;

impl Rule for Document {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let Some(obj) = ctx.root.as_object() else {
            return vec![Diagnostic::error(
                SCHEMA,
                RULE,
                "",
                format!("a state machine is a JSON object, not {}", kind(ctx.root)),
            )];
        };
        match obj.get("StartAt") {
            None => out.push(Diagnostic::error(SCHEMA, RULE, "", "the required field StartAt is missing")),
            Some(Value::String(_)) => {}
            Some(v) => out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                "/StartAt",
                format!("StartAt must be a string, not {}", kind(v)),
            )),
        }
        match obj.get("States") {
            None => out.push(Diagnostic::error(SCHEMA, RULE, "", "the required field States is missing")),
            Some(Value::Object(m)) if m.is_empty() => {
                out.push(Diagnostic::error(SCHEMA, RULE, "/States", "States must have at least one state"))
            }
            Some(Value::Object(_)) => {}
            Some(v) => out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                "/States",
                format!("States must be an object, not {}", kind(v)),
            )),
        }
        if let Some(v) = obj.get("Comment").filter(|v| !v.is_string()) {
            out.push(Diagnostic::error(SCHEMA, RULE, "/Comment", format!("Comment must be a string, not {}", kind(v))));
        }
        match obj.get("Version") {
            None | Some(Value::String(_)) => {}
            Some(v) => out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                "/Version",
                format!("Version must be a string, not {}", kind(v)),
            )),
        }
        if let Some(v) = obj.get("TimeoutSeconds")
            && let Some(message) = integer_problem(v, 1, 99_999_999)
        {
            out.push(Diagnostic::error(SCHEMA, RULE, "/TimeoutSeconds", format!("TimeoutSeconds {message}")));
        }
        match obj.get("QueryLanguage") {
            None => {}
            Some(Value::String(s)) if s == "JSONPath" || s == "JSONata" => {}
            Some(v) => out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                "/QueryLanguage",
                format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", not {v}"),
            )),
        }
        for key in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            out.push(Diagnostic::error(
                SCHEMA,
                RULE,
                crate::asl::pointer(&[key]),
                format!("the field {key:?} is not supported at the top level of a state machine"),
            ));
        }
        // Branches and item processors are graphs too: StartAt and a non-empty States each.
        for graph in ctx.graphs.iter().skip(1) {
            let Some(g) = graph.obj else {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    graph.pointer.clone(),
                    "a branch or item processor must be an object",
                ));
                continue;
            };
            if !g.get("StartAt").is_some_and(Value::is_string) {
                out.push(Diagnostic::error(SCHEMA, RULE, graph.pointer.clone(), "StartAt is missing or not a string"));
            }
            match g.get("States") {
                Some(Value::Object(m)) if !m.is_empty() => {}
                _ => out.push(Diagnostic::error(SCHEMA, RULE, graph.pointer.clone(), "States is missing or empty")),
            }
            let allowed: &[&str] = match graph.kind {
                crate::asl::validate::context::GraphKind::Processor { .. } => {
                    &["Comment", "StartAt", "States", "ProcessorConfig"]
                }
                _ => &["Comment", "StartAt", "States"],
            };
            for key in g.keys().filter(|k| !allowed.contains(&k.as_str())) {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    crate::asl::pointer_push(&graph.pointer, key),
                    format!("the field {key:?} is not supported here"),
                ));
            }
        }
        out
    }
}
