//! Every graph has a state that ends it (`End: true`, Succeed or Fail).

use serde_json::Value;

use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "missing-end-state";

/// Graphs that never end.
pub struct Terminal;

impl Rule for Terminal {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (index, graph) in ctx.graphs.iter().enumerate() {
            if graph.states().is_none_or(|s| s.is_empty()) {
                continue;
            }
            let ends = ctx
                .states_of(index)
                .any(|s| matches!(s.ty(), Some("Succeed" | "Fail")) || s.field("End") == Some(&Value::Bool(true)));
            if !ends {
                out.push(Diagnostic::error(
                    "MISSING_END_STATE",
                    RULE,
                    graph.pointer.clone(),
                    "no state ends this graph: give one End: true, or add a Succeed or Fail state",
                ));
            }
        }
        out
    }
}
