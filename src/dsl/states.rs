//! The flow states: Pass, Wait, Succeed, Fail, Choice, Parallel, Map, and the raw-ASL escape hatch.

use amali_core::names::states as names;
use serde_json::Value;

use super::policy::{Catch, Retry, sort_all_last};
use super::{BuildProblem, Chain, Closed, Condition, Exit, Graph, IntoChain, Open};
use crate::asl::{self, ExecutionType, ProcessorConfig, ProcessorMode, State};

/// Retry and Catch policies of a Task, Parallel or Map, with the handler chains the catchers lead to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policies {
    retry: Vec<asl::Retrier>,
    catch: Vec<(Catch, Graph)>,
}

impl Policies {
    pub(crate) fn retry(&mut self, retry: Retry) {
        self.retry.push(retry.0);
    }

    pub(crate) fn catch<C: IntoChain>(&mut self, catch: Catch, handler: C) {
        self.catch.push((catch, handler.into_chain().into_graph()));
    }

    /// Writes the policies into the state (`States.ALL` last) and returns the graph of the state and its handlers.
    pub(crate) fn into_graph(
        self,
        name: String,
        mut state: State,
        retry: impl FnOnce(&mut State) -> &mut Option<Vec<asl::Retrier>>,
        catch: impl FnOnce(&mut State) -> &mut Option<Vec<asl::Catcher>>,
    ) -> Graph {
        let mut retriers = self.retry;
        let mut problems = Vec::new();
        for r in &retriers {
            if r.error_equals.iter().any(|e| e == names::ALL) && r.error_equals.len() > 1 {
                problems.push(BuildProblem::catch_all_not_alone(&name, "Retry"));
            }
        }
        sort_all_last(&mut retriers, |r| &r.error_equals);
        if !retriers.is_empty() {
            *retry(&mut state) = Some(retriers);
        }
        let mut handlers = Vec::new();
        let mut catchers = Vec::new();
        for (policy, handler) in self.catch {
            if policy.error_equals.iter().any(|e| e == names::ALL) && policy.error_equals.len() > 1 {
                problems.push(BuildProblem::catch_all_not_alone(&name, "Catch"));
            }
            catchers.push(policy.into_catcher(handler.start.clone()));
            handlers.push(handler);
        }
        sort_all_last(&mut catchers, |c| &c.error_equals);
        if !catchers.is_empty() {
            *catch(&mut state) = Some(catchers);
        }
        let mut graph = Graph::single(name, state, true);
        graph.problems.extend(problems);
        for handler in handlers {
            graph.absorb(handler);
        }
        graph
    }
}

/// Setters shared by the states that have JSONPath input and output processing.
macro_rules! io_setters {
    () => {
        /// Free text for readers of the definition.
        pub fn comment(mut self, text: impl Into<String>) -> Self {
            self.state.comment = Some(text.into());
            self
        }

        /// JSONPath selecting the part of the input the state sees.
        pub fn input_path(mut self, path: impl Into<String>) -> Self {
            self.state.input_path = Some(Some(path.into()));
            self
        }

        /// Where the state's result is put in its input (`$` replaces the input).
        pub fn result_path(mut self, path: impl Into<String>) -> Self {
            self.state.result_path = Some(Some(path.into()));
            self
        }

        /// Discards the state's result: its output is its input (`ResultPath: null`).
        pub fn discard_result(mut self) -> Self {
            self.state.result_path = Some(None);
            self
        }

        /// JSONPath selecting the part of the combined document passed on.
        pub fn output_path(mut self, path: impl Into<String>) -> Self {
            self.state.output_path = Some(Some(path.into()));
            self
        }

        /// Variables to assign after the state succeeds.
        pub fn assign(mut self, variables: Value) -> Self {
            self.state.assign = Some(variables);
            self
        }
    };
}

/// Retry/Catch and result-selector setters shared by Task, Parallel and Map.
macro_rules! policy_setters {
    () => {
        /// Adds a retry policy; policies matching `States.ALL` are moved last, as the language requires.
        pub fn retry(mut self, retry: $crate::dsl::Retry) -> Self {
            self.policies.retry(retry);
            self
        }

        /// Adds a catch policy leading to `handler`, a state or chain written once however many states catch into it.
        pub fn catch<C: $crate::dsl::IntoChain>(mut self, catch: $crate::dsl::Catch, handler: C) -> Self {
            self.policies.catch(catch, handler);
            self
        }

        /// A JSONPath template reshaping the result before `ResultPath` places it.
        pub fn result_selector(mut self, template: Value) -> Self {
            self.state.result_selector = Some(template);
            self
        }
    };
}
pub(crate) use {io_setters, policy_setters};

/// A `Pass` state: passes its input on, optionally shaped by a template or replaced by a fixed result.
#[derive(Debug, Clone)]
pub struct Pass {
    name: String,
    state: asl::Pass,
}

impl Pass {
    /// A Pass state named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Pass { name: name.into(), state: asl::Pass::default() }
    }

    io_setters!();

    /// A fixed result used instead of the input.
    pub fn result(mut self, result: Value) -> Self {
        self.state.result = Some(result);
        self
    }

    /// A payload template applied to the input (keys ending in `.$` are paths or intrinsic functions).
    pub fn parameters(mut self, template: Value) -> Self {
        self.state.parameters = Some(template);
        self
    }
}

impl IntoChain for Pass {
    type Kind = Open;
    fn into_chain(self) -> Chain<Open> {
        Chain::from_graph(Graph::single(self.name, State::Pass(self.state), true))
    }
}

/// A `Wait` state.
#[derive(Debug, Clone)]
pub struct Wait {
    name: String,
    state: asl::Wait,
}

impl Wait {
    /// Waits a fixed number of seconds.
    pub fn seconds(name: impl Into<String>, seconds: u64) -> Self {
        Wait { name: name.into(), state: asl::Wait { seconds: Some(seconds.into()), ..Default::default() } }
    }

    /// Waits the number of seconds found at `path`.
    pub fn seconds_path(name: impl Into<String>, path: impl Into<String>) -> Self {
        Wait { name: name.into(), state: asl::Wait { seconds_path: Some(path.into()), ..Default::default() } }
    }

    /// Waits until a fixed RFC 3339 timestamp.
    pub fn until(name: impl Into<String>, timestamp: impl Into<String>) -> Self {
        Wait { name: name.into(), state: asl::Wait { timestamp: Some(timestamp.into()), ..Default::default() } }
    }

    /// Waits until the timestamp found at `path`.
    pub fn until_path(name: impl Into<String>, path: impl Into<String>) -> Self {
        Wait { name: name.into(), state: asl::Wait { timestamp_path: Some(path.into()), ..Default::default() } }
    }

    /// Free text for readers of the definition.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.state.comment = Some(text.into());
        self
    }
}

impl IntoChain for Wait {
    type Kind = Open;
    fn into_chain(self) -> Chain<Open> {
        Chain::from_graph(Graph::single(self.name, State::Wait(self.state), true))
    }
}

/// A `Succeed` state: ends its graph successfully. It closes a chain.
#[derive(Debug, Clone)]
pub struct Succeed {
    name: String,
    state: asl::Succeed,
}

impl Succeed {
    /// A Succeed state named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Succeed { name: name.into(), state: asl::Succeed::default() }
    }

    /// Free text for readers of the definition.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.state.comment = Some(text.into());
        self
    }
}

impl IntoChain for Succeed {
    type Kind = Closed;
    fn into_chain(self) -> Chain<Closed> {
        Chain::from_graph(Graph::single(self.name, State::Succeed(self.state), false))
    }
}

/// A `Fail` state: ends the execution with an error. It closes a chain.
#[derive(Debug, Clone)]
pub struct Fail {
    name: String,
    state: asl::Fail,
}

impl Fail {
    /// A Fail state named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Fail { name: name.into(), state: asl::Fail::default() }
    }

    /// The error name the execution fails with.
    pub fn error(mut self, error: impl Into<String>) -> Self {
        self.state.error = Some(error.into());
        self
    }

    /// A path to the error name in the state's input (e.g. the `Error` a Catch recorded).
    pub fn error_path(mut self, path: impl Into<String>) -> Self {
        self.state.error_path = Some(path.into());
        self
    }

    /// A human-readable cause.
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.state.cause = Some(cause.into());
        self
    }

    /// A path to the cause in the state's input.
    pub fn cause_path(mut self, path: impl Into<String>) -> Self {
        self.state.cause_path = Some(path.into());
        self
    }

    /// Free text for readers of the definition.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.state.comment = Some(text.into());
        self
    }
}

impl IntoChain for Fail {
    type Kind = Closed;
    fn into_chain(self) -> Chain<Closed> {
        Chain::from_graph(Graph::single(self.name, State::Fail(self.state), false))
    }
}

/// A `Choice` state: `Choice::new("x").when(cond, a).otherwise(b)`, then `.afterwards()` to continue after it.
#[derive(Debug, Clone)]
pub struct Choice {
    name: String,
    state: asl::Choice,
    branches: Vec<Graph>,
    has_default: bool,
}

impl Choice {
    /// A Choice state named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Choice { name: name.into(), state: asl::Choice::default(), branches: Vec::new(), has_default: false }
    }

    /// Free text for readers of the definition.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.state.comment = Some(text.into());
        self
    }

    /// When `condition` holds (rules are tried in the order given), continue with `then`.
    pub fn when<C: IntoChain>(mut self, condition: Condition, then: C) -> Self {
        let then = then.into_chain().into_graph();
        let mut rule = condition.0;
        rule.next = Some(then.start.clone());
        self.state.choices.push(rule);
        self.branches.push(then);
        self
    }

    /// When no rule holds, continue with `then` (without it, no match fails with `States.NoChoiceMatched`).
    pub fn otherwise<C: IntoChain>(mut self, then: C) -> Self {
        let then = then.into_chain().into_graph();
        self.state.default = Some(then.start.clone());
        self.branches.push(then);
        self.has_default = true;
        self
    }

    fn graph(self) -> Graph {
        let mut problems = Vec::new();
        if self.state.choices.is_empty() {
            problems.push(BuildProblem::choice_without_rules(&self.name));
        }
        let has_default = self.has_default;
        let name = self.name.clone();
        let mut graph = Graph::single(self.name, State::Choice(self.state), false);
        graph.problems = problems;
        let mut exits = Vec::new();
        for branch in self.branches {
            exits.extend(branch.exits.iter().cloned());
            graph.absorb(branch);
        }
        if !has_default {
            exits.push(Exit::ChoiceDefault(name));
        }
        graph.exits = exits;
        graph
    }

    /// Continues after the Choice: the open ends of every branch (and `Default`, if no `otherwise` was given) lead
    /// to whatever the chain does next.
    pub fn afterwards(self) -> Chain<Open> {
        Chain::from_graph(self.graph())
    }
}

impl IntoChain for Choice {
    type Kind = Closed;
    fn into_chain(self) -> Chain<Closed> {
        let mut graph = self.graph();
        graph.exits.retain(|e| matches!(e, Exit::Next(_)));
        Chain::from_graph(graph)
    }
}

/// Builds a nested graph (branch or item processor) and lifts its problems.
fn nested(graph: Graph, problems: &mut Vec<BuildProblem>) -> (String, asl::States) {
    let (start, states, nested_problems) = graph.finish();
    problems.extend(nested_problems);
    (start, states)
}

/// A `Parallel` state: runs every branch on the same input; fails as soon as one branch fails.
#[derive(Debug, Clone)]
pub struct Parallel {
    name: String,
    state: asl::Parallel,
    branches: Vec<Graph>,
    policies: Policies,
}

impl Parallel {
    /// A Parallel state named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Parallel {
            name: name.into(),
            state: asl::Parallel::default(),
            branches: Vec::new(),
            policies: Policies::default(),
        }
    }

    /// Adds a branch; branches run concurrently and the output is the array of their outputs, in order.
    pub fn branch<C: IntoChain>(mut self, branch: C) -> Self {
        self.branches.push(branch.into_chain().into_graph());
        self
    }

    /// A payload template giving each branch's input.
    pub fn parameters(mut self, template: Value) -> Self {
        self.state.parameters = Some(template);
        self
    }

    io_setters!();
    policy_setters!();
}

impl IntoChain for Parallel {
    type Kind = Open;
    fn into_chain(mut self) -> Chain<Open> {
        let mut problems = Vec::new();
        if self.branches.is_empty() {
            problems.push(BuildProblem::parallel_without_branches(&self.name));
        }
        for branch in self.branches {
            let (start_at, states) = nested(branch, &mut problems);
            self.state.branches.push(asl::Branch { comment: None, start_at, states, extra: Default::default() });
        }
        let mut graph = self.policies.into_graph(
            self.name,
            State::Parallel(self.state),
            |s| match s {
                State::Parallel(p) => &mut p.retry,
                _ => unreachable!("built as a Parallel"),
            },
            |s| match s {
                State::Parallel(p) => &mut p.catch,
                _ => unreachable!("built as a Parallel"),
            },
        );
        graph.problems.extend(problems);
        Chain::from_graph(graph)
    }
}

/// A `Map` state: runs its item processor once per item of an array (inline), or as child executions over S3 data
/// (distributed).
#[derive(Debug, Clone)]
pub struct Map {
    name: String,
    state: asl::Map_,
    processor: Option<Graph>,
    config: Option<ProcessorConfig>,
    policies: Policies,
}

impl Map {
    /// An inline Map state named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Map {
            name: name.into(),
            state: asl::Map_::default(),
            processor: None,
            config: None,
            policies: Policies::default(),
        }
    }

    /// The chain run for each item.
    pub fn item_processor<C: IntoChain>(mut self, processor: C) -> Self {
        self.processor = Some(processor.into_chain().into_graph());
        self
    }

    /// JSONPath to the array of items (default `$`).
    pub fn items_path(mut self, path: impl Into<String>) -> Self {
        self.state.items_path = Some(path.into());
        self
    }

    /// A template giving each iteration's input; `$$.Map.Item.Value` is the item, `$$.Map.Item.Index` its index.
    pub fn item_selector(mut self, template: Value) -> Self {
        self.state.item_selector = Some(template);
        self
    }

    /// Upper bound on concurrent iterations (0: as many as possible).
    pub fn max_concurrency(mut self, n: u64) -> Self {
        self.state.max_concurrency = Some(n.into());
        self
    }

    /// Runs iterations as child workflow executions of the given type (distributed mode).
    pub fn distributed(mut self, execution_type: ExecutionType) -> Self {
        self.config = Some(ProcessorConfig {
            mode: Some(ProcessorMode::Distributed),
            execution_type: Some(execution_type),
            extra: Default::default(),
        });
        self
    }

    /// Distributed mode: where the items come from.
    pub fn item_reader(mut self, reader: asl::ItemReader) -> Self {
        self.state.item_reader = Some(reader);
        self
    }

    /// Distributed mode: how items are batched.
    pub fn item_batcher(mut self, batcher: asl::ItemBatcher) -> Self {
        self.state.item_batcher = Some(batcher);
        self
    }

    /// Distributed mode: where results are written.
    pub fn result_writer(mut self, writer: asl::ResultWriter) -> Self {
        self.state.result_writer = Some(writer);
        self
    }

    /// Distributed mode: how many failed items are tolerated.
    pub fn tolerated_failure_count(mut self, n: u64) -> Self {
        self.state.tolerated_failure_count = Some(n.into());
        self
    }

    /// Distributed mode: what percentage of failed items is tolerated.
    pub fn tolerated_failure_percentage(mut self, pct: u64) -> Self {
        self.state.tolerated_failure_percentage = Some(pct.into());
        self
    }

    /// Distributed mode: a label for child execution names.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.state.label = Some(label.into());
        self
    }

    io_setters!();
    policy_setters!();
}

impl IntoChain for Map {
    type Kind = Open;
    fn into_chain(mut self) -> Chain<Open> {
        let mut problems = Vec::new();
        match self.processor {
            Some(processor) => {
                let (start_at, states) = nested(processor, &mut problems);
                self.state.item_processor = Some(asl::ItemProcessor {
                    comment: None,
                    processor_config: Some(self.config.unwrap_or_else(|| ProcessorConfig {
                        mode: Some(ProcessorMode::Inline),
                        ..Default::default()
                    })),
                    start_at,
                    states,
                    extra: Default::default(),
                });
            }
            None => problems.push(BuildProblem::map_without_processor(&self.name)),
        }
        let mut graph = self.policies.into_graph(
            self.name,
            State::Map(self.state),
            |s| match s {
                State::Map(m) => &mut m.retry,
                _ => unreachable!("built as a Map"),
            },
            |s| match s {
                State::Map(m) => &mut m.catch,
                _ => unreachable!("built as a Map"),
            },
        );
        graph.problems.extend(problems);
        Chain::from_graph(graph)
    }
}

/// The escape hatch: a state written as raw ASL JSON, for anything the typed builders do not cover.
///
/// Its transitions are kept as written; if it has `Next` unset and `End` unset, the chain fills in `Next`.
#[derive(Debug, Clone)]
pub struct RawState {
    name: String,
    json: Value,
}

impl RawState {
    /// A state named `name` whose definition is `json` (an object with `Type`).
    pub fn new(name: impl Into<String>, json: Value) -> Self {
        RawState { name: name.into(), json }
    }
}

impl IntoChain for RawState {
    type Kind = Open;
    fn into_chain(self) -> Chain<Open> {
        match serde_json::from_value::<State>(self.json) {
            Ok(state) => {
                let open = state.transition().is_some_and(|t| t.next.is_none() && t.end.is_none());
                Chain::from_graph(Graph::single(self.name, state, open))
            }
            Err(e) => {
                let mut graph = Graph::single(self.name.clone(), State::Pass(asl::Pass::default()), false);
                graph.problems.push(BuildProblem::raw_state(&self.name, &e.to_string()));
                Chain::from_graph(graph)
            }
        }
    }
}
