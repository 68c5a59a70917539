//! The builder DSL: write a state machine as Rust, get a valid [`asl::StateMachine`] or every problem at once.
//!
//! The design follows AWS CDK's `aws-stepfunctions`: states are values; [`Chain::start`] and [`Chain::next`] wire
//! them in order; a Task's `catch` takes the handler chain itself; a [`Choice`] is closed by `otherwise` and
//! continued with `afterwards`. Unlike CDK, misuse is a compile error where Rust can say so: a chain that ends in a
//! [`Succeed`] or [`Fail`] (or a closed [`Choice`]) is a `Chain<Closed>`, which has no `next`.
//!
//! States are identified by name. A state reached from two places (one failure handler caught by every task) is
//! written once; two *different* states with one name are a [`BuildProblem`]. Problems are collected while building
//! and reported together by [`StateMachineBuilder::build`].
//!
//! ```
//! use amali::dsl::*;
//! let chain = Chain::start(Pass::new("Hello")).next(Succeed::new("Done"));
//! let machine = StateMachineBuilder::new(chain).comment("hello").build().unwrap();
//! assert_eq!(machine.start_at, "Hello");
//! ```

mod build;
mod condition;
mod policy;
mod states;
mod task;

pub use build::{BuildErrors, BuildProblem, StateMachineBuilder};
pub use condition::Condition;
pub use policy::{Catch, ErrorName, Retry};
pub use states::{Choice, Fail, Map, Parallel, Pass, RawState, Succeed, Wait};
pub use task::{Ecs, Glue, Integration, Lambda, Resource, Sns, Task};

use std::marker::PhantomData;

use crate::asl::{self, State};

/// Marker: the chain has open exits and can be continued with [`Chain::next`].
#[derive(Debug, Clone, Copy)]
pub struct Open;

/// Marker: every path of the chain has ended; it cannot be continued.
#[derive(Debug, Clone, Copy)]
pub struct Closed;

/// An exit of a graph that the next state in the chain will fill in.
#[derive(Debug, Clone, PartialEq)]
enum Exit {
    /// The `Next` of a Task, Pass, Wait, Parallel or Map.
    Next(String),
    /// The `Default` of a Choice that has no `otherwise`.
    ChoiceDefault(String),
}

/// A graph under construction: states in build order, the open exits, and the problems seen so far.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    start: String,
    states: Vec<(String, State)>,
    exits: Vec<Exit>,
    problems: Vec<BuildProblem>,
}

impl Graph {
    /// A graph of one state whose only exit is the state itself (if it has one).
    fn single(name: String, state: State, open: bool) -> Self {
        let exits = if open { vec![Exit::Next(name.clone())] } else { Vec::new() };
        Graph { start: name.clone(), states: vec![(name, state)], exits, problems: Vec::new() }
    }

    /// Adds `other`'s states and problems (not its exits), writing a state reached twice only once.
    fn absorb(&mut self, other: Graph) {
        self.problems.extend(other.problems);
        for (name, state) in other.states {
            match self.states.iter().find(|(n, _)| *n == name) {
                Some((_, existing)) if *existing == state => {}
                Some(_) => self.problems.push(BuildProblem::duplicate(&name)),
                None => self.states.push((name, state)),
            }
        }
    }

    /// Points every open exit at `target`.
    fn connect(&mut self, target: &str) {
        for exit in std::mem::take(&mut self.exits) {
            let (Exit::Next(name) | Exit::ChoiceDefault(name)) = &exit;
            let Some((_, state)) = self.states.iter_mut().find(|(n, _)| n == name) else { continue };
            match (&exit, state) {
                (Exit::ChoiceDefault(_), State::Choice(c)) => c.default = Some(target.to_string()),
                (_, state) => {
                    if let Some(t) = state.transition_mut() {
                        *t = asl::Transition::next(target);
                    }
                }
            }
        }
    }

    /// Closes the graph: open exits end it (`End: true`; a Choice without `Default` keeps none).
    fn finish(mut self) -> (String, asl::States, Vec<BuildProblem>) {
        for exit in std::mem::take(&mut self.exits) {
            if let Exit::Next(name) = exit
                && let Some((_, state)) = self.states.iter_mut().find(|(n, _)| *n == name)
                && let Some(t) = state.transition_mut()
                && t.next.is_none()
            {
                *t = asl::Transition::end();
            }
        }
        let order = reading_order(&self.start, &self.states);
        let mut states: Vec<Option<(String, State)>> = self.states.into_iter().map(Some).collect();
        let ordered = order.into_iter().filter_map(|i| states[i].take()).collect();
        (self.start, ordered, self.problems)
    }
}

/// The order a reader wants: the main path first (Next and Choice branches, breadth first), then the error
/// handlers (Catch targets) in the order they are first reached, then anything unreachable as it was built.
fn reading_order(start: &str, states: &[(String, State)]) -> Vec<usize> {
    use std::collections::VecDeque;
    let index = |name: &str| states.iter().position(|(n, _)| n == name);
    let mut seen = vec![false; states.len()];
    let mut order = Vec::with_capacity(states.len());
    let mut main: VecDeque<usize> = index(start).into_iter().collect();
    let mut handlers: VecDeque<usize> = VecDeque::new();
    while let Some(i) = main.pop_front().or_else(|| handlers.pop_front()) {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        let state = &states[i].1;
        let catch_targets: Vec<&str> = state.catch().iter().map(|c| c.next.as_str()).collect();
        for target in state.successors() {
            let Some(j) = index(target) else { continue };
            if catch_targets.contains(&target) { handlers.push_back(j) } else { main.push_back(j) }
        }
    }
    order.extend((0..states.len()).filter(|i| !seen[*i]));
    order
}

/// Anything that can stand in a chain: a state, or a chain of states. `Kind` is [`Open`] or [`Closed`].
pub trait IntoChain {
    /// Whether the resulting chain can be continued.
    type Kind;
    /// Turns the value into a chain.
    fn into_chain(self) -> Chain<Self::Kind>;
}

/// A sequence of states with one start. `Chain<Open>` can be continued; `Chain<Closed>` cannot.
#[derive(Debug, Clone)]
pub struct Chain<K = Open> {
    graph: Graph,
    kind: PhantomData<K>,
}

impl<K> Chain<K> {
    pub(crate) fn from_graph(graph: Graph) -> Self {
        Chain { graph, kind: PhantomData }
    }

    pub(crate) fn into_graph(self) -> Graph {
        self.graph
    }

    /// The name of the chain's first state.
    pub fn start_name(&self) -> &str {
        &self.graph.start
    }
}

impl Chain<Open> {
    /// Starts a chain with `first`.
    pub fn start<C: IntoChain>(first: C) -> Chain<C::Kind> {
        first.into_chain()
    }

    /// Continues every open exit of this chain with `then`. Continuing with a terminal state closes the chain, and
    /// a closed chain has no `next`:
    ///
    /// ```
    /// use amali::dsl::*;
    /// let closed: Chain<Closed> = Chain::start(Pass::new("A")).next(Succeed::new("Done"));
    /// ```
    ///
    /// ```compile_fail
    /// use amali::dsl::*;
    /// let closed = Chain::start(Pass::new("A")).next(Succeed::new("Done")).next(Pass::new("After"));
    /// ```
    pub fn next<C: IntoChain>(mut self, then: C) -> Chain<C::Kind> {
        let then = then.into_chain().graph;
        self.graph.connect(&then.start);
        let exits = then.exits.clone();
        self.graph.absorb(then);
        self.graph.exits = exits;
        Chain::from_graph(self.graph)
    }
}

impl<K> IntoChain for Chain<K> {
    type Kind = K;
    fn into_chain(self) -> Chain<K> {
        self
    }
}
