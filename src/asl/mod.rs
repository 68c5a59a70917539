//! The Amazon States Language: a typed model of the whole language, its parser and its canonical renderer.
//!
//! The model is what every other part of amali works on: the DSL builds it, the validator checks it, the
//! interpreter runs it and the deployer uploads its rendering. Parsing keeps everything (unknown fields, number
//! spellings, payload key order), so `render(parse(x))` equals `x` as JSON, with fields in canonical order.

pub mod choice;
pub mod diff;
pub mod execution;
pub mod graph;
pub mod intrinsic;
pub mod model;
pub mod path;
pub mod substitutions;
pub mod validate;

pub use choice::{ChoiceRule, Comparison, ComparisonOp, OperandKind};
pub use model::*;

use thiserror::Error;

/// Why a document could not be read as a state machine.
#[derive(Debug, Error)]
pub enum ParseError {
    /// The text is not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The JSON does not have the shape of a state machine.
    #[error("not a valid state machine at {path}: {message}")]
    Shape {
        /// Where the problem is, as a dotted path (`States.Load.Retry[0]`).
        path: String,
        /// What is wrong there.
        message: String,
    },
}

/// A `Result` whose error is a [`ParseError`].
pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Parses an ASL document.
pub fn parse(text: &str) -> Result<StateMachine> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(ParseError::Json)?;
    from_value(value)
}

/// Reads a state machine from an already parsed JSON value.
pub fn from_value(value: serde_json::Value) -> Result<StateMachine> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| ParseError::Shape { path: e.path().to_string(), message: e.inner().to_string() })
}

/// Renders a state machine canonically: fields in the specification's order, two-space indent, a final newline.
///
/// The output is deterministic: the same model always gives the same bytes.
pub fn render(machine: &StateMachine) -> String {
    let mut out = serde_json::to_string_pretty(machine).expect("a state machine model always serialises");
    out.push('\n');
    out
}

/// A JSON pointer (RFC 6901) from path segments: `["States", "a/b"]` is `/States/a~1b`.
pub fn pointer(segments: &[&str]) -> String {
    segments.iter().fold(String::new(), |p, s| pointer_push(&p, s))
}

/// Appends one segment to a JSON pointer.
pub fn pointer_push(base: &str, segment: &str) -> String {
    format!("{base}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// The rendered document as a JSON value (what `render` prints, before formatting).
pub fn to_value(machine: &StateMachine) -> serde_json::Value {
    serde_json::to_value(machine).expect("a state machine model always serialises")
}
