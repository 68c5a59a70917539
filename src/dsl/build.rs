//! Turning a chain into a state machine, with every problem reported at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use super::{Chain, IntoChain};
use crate::asl::{self, NumOrExpr, StateMachine, States, pointer};

/// One reason a graph cannot be built, with a stable code and a JSON-pointer location in the rendered document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BuildProblem {
    /// A stable code (AWS's `ValidateStateMachineDefinition` code where one exists).
    pub code: &'static str,
    /// Where the problem is, as a JSON pointer into the rendered definition (or the state's name while building).
    pub location: String,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl BuildProblem {
    fn new(code: &'static str, location: impl Into<String>, message: impl Into<String>) -> Self {
        BuildProblem { code, location: location.into(), message: message.into() }
    }

    pub(crate) fn duplicate(name: &str) -> Self {
        Self::new(
            "DUPLICATE_STATE_NAME",
            pointer(&["States", name]),
            format!("two different states are named {name:?}; give one of them another name"),
        )
    }

    pub(crate) fn catch_all_not_alone(name: &str, field: &str) -> Self {
        Self::new(
            "SCHEMA_VALIDATION_FAILED",
            pointer(&["States", name, field]),
            format!("States.ALL must be the only error name in its {field} policy; split it into its own policy"),
        )
    }

    pub(crate) fn choice_without_rules(name: &str) -> Self {
        Self::new(
            "SCHEMA_VALIDATION_FAILED",
            pointer(&["States", name, "Choices"]),
            format!("Choice {name:?} has no rules; add one with .when(...)"),
        )
    }

    pub(crate) fn parallel_without_branches(name: &str) -> Self {
        Self::new(
            "SCHEMA_VALIDATION_FAILED",
            pointer(&["States", name, "Branches"]),
            format!("Parallel {name:?} has no branches; add one with .branch(...)"),
        )
    }

    pub(crate) fn map_without_processor(name: &str) -> Self {
        Self::new(
            "SCHEMA_VALIDATION_FAILED",
            pointer(&["States", name, "ItemProcessor"]),
            format!("Map {name:?} has no item processor; give it one with .item_processor(...)"),
        )
    }

    pub(crate) fn raw_state(name: &str, error: &str) -> Self {
        Self::new(
            "SCHEMA_VALIDATION_FAILED",
            pointer(&["States", name]),
            format!("raw state {name:?} is not a valid state: {error}"),
        )
    }
}

impl fmt::Display for BuildProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.code, self.location, self.message)
    }
}

/// Every problem found while building a state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildErrors(pub Vec<BuildProblem>);

impl fmt::Display for BuildErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the state machine has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildErrors {}

/// Builds a [`StateMachine`] from a chain and the machine-level fields.
#[derive(Debug, Clone)]
pub struct StateMachineBuilder<K> {
    chain: Chain<K>,
    comment: Option<String>,
    timeout_seconds: Option<u64>,
}

impl<K> StateMachineBuilder<K> {
    /// A builder for the state machine that starts with `chain`.
    pub fn new<C: IntoChain<Kind = K>>(chain: C) -> Self {
        StateMachineBuilder { chain: chain.into_chain(), comment: None, timeout_seconds: None }
    }

    /// The machine's `Comment`.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Fails the whole execution with `States.Timeout` after `seconds`.
    pub fn timeout_seconds(mut self, seconds: u64) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// The state machine, or every problem in it: duplicate names (across branches too), transitions to states that
    /// do not exist, unreachable states, Choices without rules, and misplaced `States.ALL`.
    pub fn build(self) -> Result<StateMachine, BuildErrors> {
        let (start_at, states, mut problems) = self.chain.into_graph().finish();
        let machine = StateMachine {
            comment: self.comment,
            query_language: None,
            start_at,
            states,
            timeout_seconds: self.timeout_seconds.map(NumOrExpr::from),
            version: None,
            extra: Default::default(),
        };
        let mut seen = HashMap::new();
        check_graph(&machine.start_at, &machine.states, &[], &mut seen, &mut problems);
        if problems.is_empty() { Ok(machine) } else { Err(BuildErrors(dedup(problems))) }
    }
}

fn dedup(problems: Vec<BuildProblem>) -> Vec<BuildProblem> {
    let mut seen = HashSet::new();
    problems.into_iter().filter(|p| seen.insert(p.clone())).collect()
}

/// Checks one graph and, recursively, the graphs nested in its states.
fn check_graph(
    start: &str,
    states: &States,
    prefix: &[String],
    seen: &mut HashMap<String, String>,
    problems: &mut Vec<BuildProblem>,
) {
    let at = |rest: &[&str]| {
        let mut segs: Vec<&str> = prefix.iter().map(String::as_str).collect();
        segs.extend_from_slice(rest);
        pointer(&segs)
    };
    if !states.contains_key(start) {
        problems.push(BuildProblem::new(
            "MISSING_TRANSITION_TARGET",
            at(&["StartAt"]),
            format!("StartAt names {start:?}, which is not a state of this graph"),
        ));
    }
    for (name, state) in states {
        let here = at(&["States", name]);
        if let Some(first) = seen.insert(name.clone(), here.clone())
            && first != here
        {
            problems.push(BuildProblem::new(
                "DUPLICATE_STATE_NAME",
                here.clone(),
                format!("{name:?} is also the name of the state at {first}; names must be unique in the whole machine"),
            ));
        }
        for target in state.successors() {
            if !states.contains_key(target) {
                problems.push(BuildProblem::new(
                    "MISSING_TRANSITION_TARGET",
                    here.clone(),
                    format!("{name:?} transitions to {target:?}, which is not a state of this graph"),
                ));
            }
        }
        match state {
            asl::State::Parallel(p) => {
                for (i, b) in p.branches.iter().enumerate() {
                    let mut nested = prefix.to_vec();
                    nested.extend(["States".into(), name.clone(), "Branches".into(), i.to_string()]);
                    check_graph(&b.start_at, &b.states, &nested, seen, problems);
                }
            }
            asl::State::Map(m) => {
                if let Some(p) = m.processor() {
                    let mut nested = prefix.to_vec();
                    nested.extend(["States".into(), name.clone(), "ItemProcessor".into()]);
                    check_graph(&p.start_at, &p.states, &nested, seen, problems);
                }
            }
            _ => {}
        }
    }
    for name in unreachable(start, states) {
        problems.push(BuildProblem::new(
            "UNREACHABLE_STATE",
            at(&["States", name]),
            format!("no transition leads to {name:?}; connect it or remove it"),
        ));
    }
}

/// States of a graph that cannot be reached from its start.
pub(crate) fn unreachable<'a>(start: &str, states: &'a States) -> Vec<&'a str> {
    let mut reached = HashSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(name) = queue.pop_front() {
        if !reached.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            queue.extend(state.successors());
        }
    }
    states.keys().map(String::as_str).filter(|n| !reached.contains(n)).collect()
}
