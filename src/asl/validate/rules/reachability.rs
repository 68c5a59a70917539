//! Every state of a graph can be reached from its `StartAt`.

use std::collections::{HashSet, VecDeque};

use crate::asl::validate::context::transitions;
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "unreachable-state";

/// Unreachable states.
pub struct Reachability;

impl Rule for Reachability {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (index, graph) in ctx.graphs.iter().enumerate() {
            let (Some(start), Some(states)) = (graph.start_at(), graph.states()) else { continue };
            if !states.contains_key(start) {
                continue; // reported as a missing target; every state would look unreachable
            }
            let mut reached: HashSet<&str> = HashSet::new();
            let mut queue = VecDeque::from([start]);
            while let Some(name) = queue.pop_front() {
                if !reached.insert(name) {
                    continue;
                }
                if let Some(state) = ctx.state(index, name) {
                    queue.extend(transitions(state).into_iter().map(|(_, t)| t));
                }
            }
            for state in ctx.states_of(index).filter(|s| !reached.contains(s.name)) {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.pointer.clone(),
                    format!("no transition leads to {:?}; connect it or remove it", state.name),
                ));
            }
        }
        out
    }
}
