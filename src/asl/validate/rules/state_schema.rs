//! Each state: an object with a known `Type`, its required fields, only the fields its type allows, each of the
//! right JSON type, and no two fields that exclude each other.

use serde_json::Value;

use crate::asl::validate::rules::kind;
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "state-schema";

/// The state types of the language.
pub const TYPES: &[&str] = &["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"];

/// Fields each type allows besides `Type`, `Comment` and `QueryLanguage`.
pub fn allowed(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &["InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "Output", "Assign", "Next", "End"],
        "Task" => &[
            "Resource",
            "Credentials",
            "InputPath",
            "OutputPath",
            "Parameters",
            "Arguments",
            "ResultSelector",
            "ResultPath",
            "Output",
            "Assign",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        "Choice" => &["Choices", "Default", "InputPath", "OutputPath", "Output", "Assign"],
        "Wait" => &[
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
            "InputPath",
            "OutputPath",
            "Output",
            "Assign",
            "Next",
            "End",
        ],
        "Succeed" => &["InputPath", "OutputPath", "Output"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Branches",
            "InputPath",
            "OutputPath",
            "Parameters",
            "Arguments",
            "ResultSelector",
            "ResultPath",
            "Output",
            "Assign",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        "Map" => &[
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "Items",
            "ItemSelector",
            "Parameters",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Label",
            "InputPath",
            "OutputPath",
            "ResultSelector",
            "ResultPath",
            "Output",
            "Assign",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        _ => &[],
    }
}

/// Pairs of fields of which a state may have at most one.
const EXCLUSIVE: &[(&str, &str)] = &[
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("ItemProcessor", "Iterator"),
    ("ItemSelector", "Parameters"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ("Items", "ItemsPath"),
    ("Parameters", "Arguments"),
];

#[derive(Clone, Copy)]
enum Expect {
    String,
    NullableString,
    Bool,
    Object,
    ObjectOrExpr,
    Array,
}

fn expected(key: &str) -> Option<Expect> {
    Some(match key {
        "Comment"
        | "Resource"
        | "Next"
        | "Default"
        | "Timestamp"
        | "Error"
        | "Cause"
        | "Label"
        | "ItemsPath"
        | "TimeoutSecondsPath"
        | "HeartbeatSecondsPath"
        | "SecondsPath"
        | "TimestampPath"
        | "ErrorPath"
        | "CausePath"
        | "MaxConcurrencyPath"
        | "ToleratedFailureCountPath"
        | "ToleratedFailurePercentagePath" => Expect::String,
        "InputPath" | "OutputPath" | "ResultPath" => Expect::NullableString,
        "End" => Expect::Bool,
        "Credentials" | "ItemReader" | "ItemBatcher" | "ResultWriter" | "ItemProcessor" | "Iterator"
        | "ResultSelector" => Expect::Object,
        "Assign" | "Arguments" | "ItemSelector" => Expect::ObjectOrExpr,
        "Choices" | "Branches" | "Retry" | "Catch" => Expect::Array,
        _ => return None,
    })
}

fn matches(expect: Expect, value: &Value) -> bool {
    match expect {
        Expect::String => value.is_string(),
        Expect::NullableString => value.is_string() || value.is_null(),
        Expect::Bool => value.is_boolean(),
        Expect::Object => value.is_object(),
        Expect::ObjectOrExpr => value.is_object() || super::is_jsonata(value),
        Expect::Array => value.is_array(),
    }
}

fn describe(expect: Expect) -> &'static str {
    match expect {
        Expect::String => "a string",
        Expect::NullableString => "a string or null",
        Expect::Bool => "a boolean",
        Expect::Object => "an object",
        Expect::ObjectOrExpr => "an object (or a JSONata expression)",
        Expect::Array => "an array",
    }
}

/// The per-state schema.
pub struct StateSchema;

impl Rule for StateSchema {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in &ctx.states {
            let Some(obj) = state.obj() else {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.pointer.clone(),
                    format!("state {:?} must be an object", state.name),
                ));
                continue;
            };
            let ty = match obj.get("Type") {
                None => {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.pointer.clone(),
                        format!("state {:?} has no Type", state.name),
                    ));
                    continue;
                }
                Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.as_str(),
                Some(v) => {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["Type"]),
                        format!("Type must be one of {}, not {v}", TYPES.join(", ")),
                    ));
                    continue;
                }
            };
            let allowed = allowed(ty);
            for (key, value) in obj {
                if matches!(key.as_str(), "Type" | "Comment" | "QueryLanguage") {
                    if key == "QueryLanguage" && !matches!(value.as_str(), Some("JSONPath" | "JSONata")) {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.at(&[key]),
                            "QueryLanguage must be \"JSONPath\" or \"JSONata\"",
                        ));
                    }
                    if key == "Comment" && !value.is_string() {
                        out.push(Diagnostic::error(SCHEMA, RULE, state.at(&[key]), "Comment must be a string"));
                    }
                    continue;
                }
                if !allowed.contains(&key.as_str()) {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&[key]),
                        format!("the field {key:?} is not supported by a {ty} state"),
                    ));
                    continue;
                }
                if let Some(expect) = expected(key)
                    && !matches(expect, value)
                {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&[key]),
                        format!("{key} must be {}, not {}", describe(expect), kind(value)),
                    ));
                }
            }
            let required: &[&str] = match ty {
                "Task" => &["Resource"],
                "Choice" => &["Choices"],
                "Parallel" => &["Branches"],
                _ => &[],
            };
            for key in required.iter().filter(|k| !obj.contains_key(**k)) {
                out.push(Diagnostic::error(SCHEMA, RULE, state.pointer.clone(), format!("a {ty} state needs {key}")));
            }
            if ty == "Map" && !obj.contains_key("ItemProcessor") && !obj.contains_key("Iterator") {
                out.push(Diagnostic::error(SCHEMA, RULE, state.pointer.clone(), "a Map state needs ItemProcessor"));
            }
            if ty == "Parallel" && obj.get("Branches").and_then(Value::as_array).is_some_and(Vec::is_empty) {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.at(&["Branches"]),
                    "a Parallel state needs at least one branch",
                ));
            }
            for (a, b) in EXCLUSIVE {
                if obj.contains_key(*a) && obj.contains_key(*b) {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&[b]),
                        format!("{a} and {b} cannot both be set"),
                    ));
                }
            }
        }
        out
    }
}
