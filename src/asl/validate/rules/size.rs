//! A definition may be at most 1 MiB, and should stay well below it.

use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "definition-size";
/// Step Functions refuses definitions larger than this many bytes.
pub const MAX_BYTES: usize = 1_048_576;

/// The definition's size.
pub struct Size;

impl Rule for Size {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        if ctx.size > MAX_BYTES {
            return vec![Diagnostic::error(
                "DEFINITION_TOO_LARGE",
                RULE,
                "",
                format!("the definition is {} bytes; Step Functions accepts at most {MAX_BYTES}", ctx.size),
            )];
        }
        Vec::new()
    }
}
