//! Path fields hold valid paths: `InputPath`/`OutputPath` any path; `ResultPath` and the `*Path` timing and
//! concurrency fields a reference path (names and indexes only); `ErrorPath`/`CausePath` a path or an intrinsic.

use serde_json::Value;

use crate::asl::intrinsic::{self, Call};
use crate::asl::path::{Path, Root};
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA, StateView};

const RULE: &str = "paths";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Any path.
    Any,
    /// A reference path.
    Reference,
    /// A reference path into the state's input (ResultPath: not the context, not a variable).
    Result,
    /// A path or an intrinsic function.
    PathOrIntrinsic,
}

const FIELDS: &[(&str, Kind)] = &[
    ("InputPath", Kind::Any),
    ("OutputPath", Kind::Any),
    ("ResultPath", Kind::Result),
    ("ItemsPath", Kind::Reference),
    ("TimeoutSecondsPath", Kind::Reference),
    ("HeartbeatSecondsPath", Kind::Reference),
    ("SecondsPath", Kind::Reference),
    ("TimestampPath", Kind::Reference),
    ("MaxConcurrencyPath", Kind::Reference),
    ("ToleratedFailureCountPath", Kind::Reference),
    ("ToleratedFailurePercentagePath", Kind::Reference),
    ("ErrorPath", Kind::PathOrIntrinsic),
    ("CausePath", Kind::PathOrIntrinsic),
];

/// Why `text` is not a path of `kind`, if it is not.
fn problem(text: &str, kind: Kind) -> Option<String> {
    if kind == Kind::PathOrIntrinsic && intrinsic::looks_like_call(text) {
        return Call::parse(text).err().map(|e| format!("is not a valid intrinsic function call: {e}"));
    }
    let path = match Path::parse(text) {
        Ok(p) => p,
        Err(e) => return Some(format!("is not a valid path: {e}")),
    };
    match kind {
        Kind::Reference | Kind::Result if !path.is_reference() => {
            Some("must be a reference path (names and indexes only: no *, .., slices, unions or filters)".into())
        }
        Kind::Result if path.root != Root::Input => Some("must start with $ (the state's input)".into()),
        _ => None,
    }
}

fn check(state: &StateView<'_>, location: String, key: &str, value: &Value, kind: Kind, out: &mut Vec<Diagnostic>) {
    if let Value::String(text) = value
        && let Some(message) = problem(text, kind)
    {
        out.push(Diagnostic::error(SCHEMA, RULE, location, format!("{key} {text:?} {message}")));
    }
    let _ = state;
}

/// Path-valued fields.
pub struct Paths;

impl Rule for Paths {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| !s.is_jsonata()) {
            for (key, kind) in FIELDS {
                if let Some(value) = state.field(key) {
                    check(state, state.at(&[key]), key, value, *kind, &mut out);
                }
            }
            if let Some(Value::Array(catchers)) = state.field("Catch") {
                for (i, c) in catchers.iter().enumerate() {
                    if let Some(v) = c.get("ResultPath") {
                        check(
                            state,
                            state.at(&["Catch", &i.to_string(), "ResultPath"]),
                            "ResultPath",
                            v,
                            Kind::Result,
                            &mut out,
                        );
                    }
                }
            }
            if let Some(batcher) = state.field("ItemBatcher") {
                for key in ["MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"] {
                    if let Some(v) = batcher.get(key) {
                        check(state, state.at(&["ItemBatcher", key]), key, v, Kind::Reference, &mut out);
                    }
                }
            }
            if let Some(v) =
                state.field("ItemReader").and_then(|r| r.get("ReaderConfig")).and_then(|c| c.get("MaxItemsPath"))
            {
                check(
                    state,
                    state.at(&["ItemReader", "ReaderConfig", "MaxItemsPath"]),
                    "MaxItemsPath",
                    v,
                    Kind::Reference,
                    &mut out,
                );
            }
        }
        out
    }
}
