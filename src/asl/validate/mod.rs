//! `amali validate`: every problem of any ASL document, each with a stable code and a JSON-pointer location.
//!
//! Rules work on the raw JSON rather than the typed model, so that a document too broken to parse still gets every
//! one of its problems reported, and so that no input can make validation fail. Each rule lives in its own file
//! under `rules/` and returns all it finds; codes are AWS's `ValidateStateMachineDefinition` codes where AWS has
//! one (`SCHEMA_VALIDATION_FAILED`, `MISSING_TRANSITION_TARGET`, ...), and each diagnostic also names its rule, a
//! stable kebab-case id. Pipeline lints (`--lint`) live under `lints/` and only ever warn.

mod context;
pub mod lints;
pub mod rules;

pub use context::{Context, GraphView, QueryLang, StateView};
pub use rules::is_timestamp;

use serde::Serialize;
use serde_json::Value;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// The definition is invalid: AWS would refuse it.
    Error,
    /// Valid, but probably not what was meant.
    Warning,
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// AWS's diagnostic code where one exists, else amali's (upper snake case).
    pub code: &'static str,
    /// The rule or lint that found it (kebab case, stable).
    pub rule: &'static str,
    /// A JSON pointer (RFC 6901) to the offending value.
    pub location: String,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(
        code: &'static str,
        rule: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic { severity: Severity::Error, code, rule, location: location.into(), message: message.into() }
    }

    /// A warning.
    pub fn warning(
        code: &'static str,
        rule: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic { severity: Severity::Warning, code, rule, location: location.into(), message: message.into() }
    }
}

/// AWS's code for a definition that does not match the language's schema.
pub const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";

/// A rule: one kind of problem.
pub trait Rule: Sync {
    /// The rule's stable id.
    fn id(&self) -> &'static str;
    /// Every instance of the problem in the document.
    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic>;
}

/// The outcome of validating one document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `OK` when there is no error (warnings allowed), else `FAIL`, as AWS says it.
    pub result: &'static str,
    /// Every diagnostic, errors first, then by location.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by(|a, b| (a.severity, &a.location, a.code).cmp(&(b.severity, &b.location, b.code)));
        diagnostics.dedup();
        let ok = diagnostics.iter().all(|d| d.severity != Severity::Error);
        Report { result: if ok { "OK" } else { "FAIL" }, diagnostics }
    }

    /// True when there is no error.
    pub fn is_valid(&self) -> bool {
        self.result == "OK"
    }
}

/// Validates a document given as text. With `lint`, the pipeline lints run too.
pub fn validate(text: &str, lint: bool) -> Report {
    if text.trim().is_empty() {
        return Report::new(vec![Diagnostic::error("MISSING_DESCRIPTION", "json", "", "the definition is empty")]);
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Report::new(vec![Diagnostic::error(
                "INVALID_JSON_DESCRIPTION",
                "json",
                "",
                format!("not valid JSON: {e}"),
            )]);
        }
    };
    validate_value(&value, text.len(), lint)
}

/// Validates an already parsed document; `size` is its length in bytes as written.
pub fn validate_value(value: &Value, size: usize, lint: bool) -> Report {
    let ctx = Context::new(value, size);
    let mut diagnostics: Vec<Diagnostic> = rules::ALL.iter().flat_map(|r| r.check(&ctx)).collect();
    if lint {
        diagnostics.extend(lints::ALL.iter().flat_map(|l| l.check(&ctx)));
    }
    Report::new(diagnostics)
}
