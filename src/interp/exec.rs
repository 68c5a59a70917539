//! The driver: runs a state machine's graphs, one state at a time, with AWS's input/output processing, retries,
//! catchers, concurrency for Parallel and Map, a clock, and an execution history in AWS's event shape.
//!
//! Each state's own logic (what its input becomes, where it goes next) is in the synchronous functions of
//! [`super::step`]; this module adds what needs time or I/O: task calls, waits, retries and concurrency.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::clock::{self, Clock};
use super::error::{StatesError, matches, names};
use super::handlers::{Handlers, TaskRequest};
use super::jsonpath::Vars;
use super::step::{self, Flow, Lang};
use crate::asl::{self, Catcher, QueryLanguage, Retrier, State, StateMachine, States};

/// The largest payload Step Functions passes between states.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// It reached a Succeed state or an End.
    Succeeded,
    /// A state failed and nothing caught it.
    Failed,
    /// The state machine's TimeoutSeconds passed.
    TimedOut,
    /// It was stopped.
    Aborted,
}

/// The result of an execution: the stable contract `amali exec` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it did not.
    pub error: Option<String>,
    /// The cause, when it did not.
    pub cause: Option<String>,
    /// Every event, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Value>>,
}

/// How to run an execution.
#[derive(Clone)]
pub struct Options {
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Task handlers.
    pub handlers: Handlers,
    /// The execution's name (`$$.Execution.Name`).
    pub execution_name: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// Region and account for the ARNs in the context object.
    pub region: String,
    /// The account id.
    pub account: String,
    /// Whether to record the history.
    pub history: bool,
    /// State transitions after which the execution fails (AWS stops an execution at 25,000 history events;
    /// locally the bound only guards against a definition that loops forever).
    pub max_transitions: u64,
    /// Called with every history event as it happens (live progress); events are recorded when it is set.
    pub observer: Option<Observer>,
}

/// A callback receiving history events as they happen.
pub type Observer = Arc<dyn Fn(&Value) + Send + Sync>;

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Arc::new(clock::VirtualClock::new()),
            handlers: Handlers::new(),
            execution_name: uuid::Uuid::new_v4().to_string(),
            state_machine_name: "StateMachine".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            history: false,
            max_transitions: 10_000_000,
            observer: None,
        }
    }
}

/// A boxed future, for recursion through nested graphs.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Engine<'m> {
    _machine: std::marker::PhantomData<&'m StateMachine>,
    options: Options,
    execution: Value,
    execution_without_input: Value,
    state_machine: Value,
    /// States whose definition reads `$$.Execution.Input` (the input is copied into their context only).
    need_input: HashSet<String>,
    history: Mutex<Vec<Value>>,
    deadline: Option<DateTime<Utc>>,
    transitions: std::sync::atomic::AtomicU64,
}

/// Why a graph stopped without an output.
enum Stop {
    Error(StatesError),
    TimedOut,
}

impl From<StatesError> for Stop {
    fn from(e: StatesError) -> Self {
        Stop::Error(e)
    }
}

fn mentions_execution_input(state: &State) -> bool {
    let text = serde_json::to_string(state).unwrap_or_default();
    text.contains("Execution.Input")
        || text.contains("$states.context")
        || text.contains("\"$$\"")
        || text.contains("$$)")
        || text.contains("$$,")
}

fn collect_need_input(states: &States, out: &mut HashSet<String>) {
    for (name, state) in states {
        if mentions_execution_input(state) {
            out.insert(name.clone());
        }
        for (_, nested) in state.nested_graphs() {
            collect_need_input(nested, out);
        }
    }
}

/// Runs `machine` on `input`.
pub async fn execute(machine: &StateMachine, input: Value, options: Options) -> Outcome {
    let start = options.clock.now();
    let execution_arn = format!(
        "arn:aws:states:{}:{}:execution:{}:{}",
        options.region, options.account, options.state_machine_name, options.execution_name
    );
    let machine_arn =
        format!("arn:aws:states:{}:{}:stateMachine:{}", options.region, options.account, options.state_machine_name);
    let role = format!("arn:aws:iam::{}:role/amali-local", options.account);
    let execution_without_input = json!({
        "Id": execution_arn,
        "Name": options.execution_name,
        "RoleArn": role,
        "StartTime": clock::format(start),
        "RedriveCount": 0,
    });
    let mut execution = execution_without_input.clone();
    execution["Input"] = input.clone();
    let mut need_input = HashSet::new();
    collect_need_input(&machine.states, &mut need_input);
    let deadline =
        machine.timeout_seconds.as_ref().and_then(asl::NumOrExpr::as_f64).map(|s| clock::add_seconds(start, s));
    let state_machine = json!({"Id": machine_arn, "Name": options.state_machine_name});
    let engine: Engine<'_> = Engine {
        _machine: std::marker::PhantomData,
        options,
        execution,
        execution_without_input,
        state_machine,
        need_input,
        history: Mutex::new(Vec::new()),
        deadline,
        transitions: std::sync::atomic::AtomicU64::new(0),
    };
    engine.event(
        "ExecutionStarted",
        Some(("executionStartedEventDetails", json!({"input": input.to_string(), "roleArn": role}))),
    );
    let lang = match machine.query_language {
        Some(QueryLanguage::Jsonata) => Lang::Jsonata,
        _ => Lang::JsonPath,
    };
    let result = engine.run_graph(&machine.start_at, &machine.states, input, Vars::new(), lang).await;
    let (status, output, error, cause) = match result {
        Ok(output) => {
            engine.event(
                "ExecutionSucceeded",
                Some(("executionSucceededEventDetails", json!({"output": output.to_string()}))),
            );
            (Status::Succeeded, Some(output), None, None)
        }
        Err(Stop::Error(e)) => {
            engine.event(
                "ExecutionFailed",
                Some(("executionFailedEventDetails", json!({"error": e.error, "cause": e.cause}))),
            );
            // AWS leaves out an empty error or cause (a Fail state without Cause).
            let nonempty = |s: String| (!s.is_empty()).then_some(s);
            (Status::Failed, None, nonempty(e.error), nonempty(e.cause))
        }
        Err(Stop::TimedOut) => {
            let cause = "The execution ran longer than the state machine's TimeoutSeconds".to_string();
            engine.event(
                "ExecutionTimedOut",
                Some(("executionTimedOutEventDetails", json!({"error": names::TIMEOUT, "cause": cause}))),
            );
            (Status::TimedOut, None, Some(names::TIMEOUT.to_string()), Some(cause))
        }
    };
    let history =
        engine.options.history.then(|| std::mem::take(&mut *engine.history.lock().unwrap_or_else(|e| e.into_inner())));
    Outcome { status, output, error, cause, history }
}

fn check_size(value: &Value, what: &str) -> Result<(), StatesError> {
    let size = serde_json::to_string(value).map_or(0, |s| s.len());
    if size > MAX_PAYLOAD_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!("{what} has {size} bytes, more than the {MAX_PAYLOAD_BYTES} Step Functions allows"),
        ));
    }
    Ok(())
}

/// The delay before retry number `attempt` (0-based) of `retrier`, before jitter.
pub fn backoff(retrier: &Retrier, attempt: u32) -> Duration {
    let mut seconds = retrier.interval_seconds() * retrier.backoff_rate().powi(attempt as i32);
    if let Some(max) = retrier.max_delay_seconds.as_ref().and_then(serde_json::Number::as_f64) {
        seconds = seconds.min(max);
    }
    Duration::from_secs_f64(seconds.clamp(0.0, 1.0e9))
}

impl<'m> Engine<'m> {
    fn event(&self, kind: &str, details: Option<(&str, Value)>) {
        if !self.options.history && self.options.observer.is_none() {
            return;
        }
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let id = history.len() as u64 + 1;
        let mut e = json!({"timestamp": clock::format(self.options.clock.now()), "type": kind, "id": id, "previousEventId": id - 1});
        if let Some((key, value)) = details {
            e[key] = value;
        }
        if let Some(observe) = &self.options.observer {
            observe(&e);
        }
        history.push(e);
    }

    fn context(&self, name: &str, entered: &str, retry_count: u32) -> Value {
        let execution = if self.need_input.contains(name) { &self.execution } else { &self.execution_without_input };
        json!({
            "Execution": execution,
            "State": {"EnteredTime": entered, "Name": name, "RetryCount": retry_count},
            "StateMachine": self.state_machine,
        })
    }

    fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| self.options.clock.now() > d)
    }

    /// Runs one graph from `start` to its end.
    fn run_graph<'a>(
        &'a self,
        start: &'a str,
        states: &'a States,
        input: Value,
        vars: Vars,
        lang: Lang,
    ) -> Boxed<'a, Result<Value, Stop>> {
        Box::pin(async move {
            let mut name = start;
            let mut input = input;
            let mut vars = vars;
            loop {
                if self.timed_out() {
                    return Err(Stop::TimedOut);
                }
                let n = self.transitions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n > self.options.max_transitions {
                    return Err(Stop::Error(StatesError::runtime(format!(
                        "the execution passed {} state transitions; a definition that loops without end?",
                        self.options.max_transitions
                    ))));
                }
                let state = states
                    .get(name)
                    .ok_or_else(|| StatesError::runtime(format!("the state {name:?} does not exist in this graph")))?;
                let lang = step::lang_of(state, lang);
                let kind = state.type_name();
                self.event(
                    &format!("{kind}StateEntered"),
                    Some(("stateEnteredEventDetails", json!({"name": name, "input": input.to_string()}))),
                );
                let flow = self.run_state(name, state, input, &mut vars, lang).await;
                let flow = match flow {
                    Ok(f) => f,
                    Err(stop) => return Err(stop),
                };
                let (next, output) = match flow {
                    Flow::Next(next, output) => (Some(next), output),
                    Flow::End(output) => (None, output),
                };
                check_size(&output, &format!("the output of {name:?}"))?;
                self.event(
                    &format!("{kind}StateExited"),
                    Some(("stateExitedEventDetails", json!({"name": name, "output": output.to_string()}))),
                );
                match next {
                    Some(n) => {
                        name = n;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        })
    }

    async fn run_state(
        &self,
        name: &'m str,
        state: &'m State,
        raw: Value,
        vars: &mut Vars,
        lang: Lang,
    ) -> Result<Flow<'m>, Stop> {
        let entered = clock::format(self.options.clock.now());
        let ctx = self.context(name, &entered, 0);
        match state {
            State::Pass(p) => Ok(step::pass(p, &raw, &ctx, vars, lang)?),
            State::Choice(c) => Ok(step::choice(c, &raw, &ctx, vars, lang)?),
            State::Succeed(s) => Ok(step::succeed(s, &raw, &ctx, vars, lang)?),
            State::Fail(f) => {
                let e = step::fail(f, &raw, &ctx, vars, lang)?;
                self.event("FailStateEntered", None);
                Err(Stop::Error(e))
            }
            State::Wait(w) => {
                let now = self.options.clock.now();
                let until = step::wait_until(w, &raw, &ctx, vars, lang, now)?;
                if let Ok(d) = (until - now).to_std() {
                    // The execution deadline interrupts a wait, as in AWS.
                    let d = match self.deadline {
                        Some(dl) if until > dl => (dl - now).to_std().unwrap_or_default() + Duration::from_millis(1),
                        _ => d,
                    };
                    self.options.clock.sleep(d).await;
                }
                if self.timed_out() {
                    return Err(Stop::TimedOut);
                }
                Ok(step::wait_done(w, &raw, &ctx, vars, lang)?)
            }
            State::Task(t) => {
                let retry = t.retry.as_deref().unwrap_or_default();
                let catch = t.catch.as_deref().unwrap_or_default();
                self.guarded(name, retry, catch, &raw, vars, lang, &entered, |attempt, vars| {
                    let ctx = self.context(name, &entered, attempt);
                    let raw = raw.clone();
                    Box::pin(async move { self.task(name, t, raw, &ctx, vars, lang, attempt).await })
                })
                .await
            }
            State::Parallel(p) => {
                let retry = p.retry.as_deref().unwrap_or_default();
                let catch = p.catch.as_deref().unwrap_or_default();
                self.guarded(name, retry, catch, &raw, vars, lang, &entered, |attempt, vars| {
                    let ctx = self.context(name, &entered, attempt);
                    let raw = raw.clone();
                    Box::pin(async move { self.parallel(p, raw, &ctx, vars, lang).await })
                })
                .await
            }
            State::Map(m) => {
                let retry = m.retry.as_deref().unwrap_or_default();
                let catch = m.catch.as_deref().unwrap_or_default();
                self.guarded(name, retry, catch, &raw, vars, lang, &entered, |attempt, vars| {
                    let ctx = self.context(name, &entered, attempt);
                    let raw = raw.clone();
                    Box::pin(async move { self.map(name, m, raw, &ctx, vars, lang).await })
                })
                .await
            }
        }
    }

    /// Runs `attempt` with the state's Retry policies, then its Catch policies.
    #[allow(clippy::too_many_arguments)]
    async fn guarded<'s, F>(
        &'s self,
        name: &'m str,
        retry: &'m [Retrier],
        catch: &'m [Catcher],
        raw: &Value,
        vars: &mut Vars,
        lang: Lang,
        entered: &str,
        attempt: F,
    ) -> Result<Flow<'m>, Stop>
    where
        F: Fn(u32, Vars) -> Boxed<'s, Result<(Flow<'m>, Vars), Stop>>,
    {
        let mut counters = vec![0u32; retry.len()];
        let mut total = 0u32;
        let error = loop {
            match attempt(total, vars.clone()).await {
                Ok((flow, new_vars)) => {
                    *vars = new_vars;
                    return Ok(flow);
                }
                Err(Stop::TimedOut) => return Err(Stop::TimedOut),
                Err(Stop::Error(e)) => {
                    if e.is_terminal() {
                        return Err(Stop::Error(e));
                    }
                    let Some(i) = retry.iter().position(|r| matches(&r.error_equals, &e)) else { break e };
                    if counters[i] as u64 >= retry[i].max_attempts() {
                        break e;
                    }
                    let mut delay = backoff(&retry[i], counters[i]);
                    if retry[i].jitter_strategy == Some(asl::JitterStrategy::Full) {
                        delay = delay.mul_f64(rand::thread_rng().gen_range(0.0..=1.0));
                    }
                    counters[i] += 1;
                    total += 1;
                    self.options.clock.sleep(delay).await;
                    if self.timed_out() {
                        return Err(Stop::TimedOut);
                    }
                }
            }
        };
        let Some(catcher) = catch.iter().find(|c| matches(&c.error_equals, &error)) else {
            return Err(Stop::Error(error));
        };
        let ctx = self.context(name, entered, total);
        let output = step::catch_output(catcher, raw, &error, &ctx, vars, lang)?;
        Ok(Flow::Next(&catcher.next, output))
    }

    #[allow(clippy::too_many_arguments)]
    async fn task(
        &self,
        name: &'m str,
        t: &'m asl::Task,
        raw: Value,
        ctx: &Value,
        vars: Vars,
        lang: Lang,
        attempt: u32,
    ) -> Result<(Flow<'m>, Vars), Stop> {
        // The task token is in the context object while the Parameters are evaluated (they pass it to the worker).
        let mut ctx = ctx.clone();
        if t.resource.ends_with(".waitForTaskToken") {
            ctx["Task"] = json!({"Token": format!("{}-{}", uuid::Uuid::new_v4(), attempt)});
        }
        let (effective, parameters) = step::task_input(t, &raw, &ctx, &vars, lang)?;
        check_size(&parameters, &format!("the parameters of {name:?}"))?;
        let (resource_type, resource) = resource_parts(&t.resource);
        self.event(
            "TaskScheduled",
            Some(("taskScheduledEventDetails", json!({"resource": resource, "resourceType": resource_type, "region": self.options.region, "parameters": parameters.to_string()}))),
        );
        self.event(
            "TaskStarted",
            Some(("taskStartedEventDetails", json!({"resource": resource, "resourceType": resource_type}))),
        );
        let request = TaskRequest {
            state: name.to_string(),
            resource: t.resource.clone(),
            parameters,
            context: ctx.clone(),
            attempt,
        };
        let timeout = step::task_timeout(t, &effective, &ctx, &vars, lang)?;
        // A local worker never sends a heartbeat: a callback or activity task whose answer takes longer than its
        // HeartbeatSeconds fails with States.HeartbeatTimeout, as it would on AWS without heartbeats.
        let heartbeat = step::task_heartbeat(t, &effective, &ctx, &vars, lang)?;
        let limit = match (timeout, heartbeat) {
            (Some(t), Some(h)) if h < t => Some((h, names::HEARTBEAT_TIMEOUT, "HeartbeatSeconds")),
            (None, Some(h)) => Some((h, names::HEARTBEAT_TIMEOUT, "HeartbeatSeconds")),
            (Some(t), _) => Some((t, names::TIMEOUT, "TimeoutSeconds")),
            (None, None) => None,
        };
        let call = self.options.handlers.call(&request);
        let result = match limit {
            Some((limit, error, field)) => match tokio::time::timeout(limit, call).await {
                Ok(r) => r,
                Err(_) => {
                    self.event(
                        "TaskTimedOut",
                        Some((
                            "taskTimedOutEventDetails",
                            json!({"resource": resource, "resourceType": resource_type, "error": error}),
                        )),
                    );
                    return Err(Stop::Error(StatesError::new(error, format!("{name:?} ran longer than its {field}"))));
                }
            },
            None => call.await,
        };
        match result {
            Ok(result) => {
                self.event(
                    "TaskSucceeded",
                    Some((
                        "taskSucceededEventDetails",
                        json!({"resource": resource, "resourceType": resource_type, "output": result.to_string()}),
                    )),
                );
                let mut vars = vars;
                let flow = step::finish(
                    &t.transition,
                    &t.result_selector,
                    &t.result_path,
                    &t.output_path,
                    &t.output,
                    &t.assign,
                    &raw,
                    result,
                    &ctx,
                    &mut vars,
                    lang,
                )?;
                Ok((flow, vars))
            }
            Err(e) => {
                self.event(
                    "TaskFailed",
                    Some(("taskFailedEventDetails", json!({"resource": resource, "resourceType": resource_type, "error": e.error, "cause": e.cause}))),
                );
                Err(Stop::Error(e))
            }
        }
    }

    async fn parallel(
        &self,
        p: &'m asl::Parallel,
        raw: Value,
        ctx: &Value,
        vars: Vars,
        lang: Lang,
    ) -> Result<(Flow<'m>, Vars), Stop> {
        let (_, branch_input) = step::parallel_input(p, &raw, ctx, &vars, lang)?;
        self.event("ParallelStateStarted", None);
        let runs =
            p.branches.iter().map(|b| self.run_graph(&b.start_at, &b.states, branch_input.clone(), vars.clone(), lang));
        let outputs = match futures::future::try_join_all(runs).await {
            Ok(o) => o,
            Err(stop) => {
                self.event("ParallelStateFailed", None);
                return Err(stop);
            }
        };
        self.event("ParallelStateSucceeded", None);
        let mut vars = vars;
        let flow = step::finish(
            &p.transition,
            &p.result_selector,
            &p.result_path,
            &p.output_path,
            &p.output,
            &p.assign,
            &raw,
            Value::Array(outputs),
            ctx,
            &mut vars,
            lang,
        )?;
        Ok((flow, vars))
    }

    async fn map(
        &self,
        name: &'m str,
        m: &'m asl::Map_,
        raw: Value,
        ctx: &Value,
        vars: Vars,
        lang: Lang,
    ) -> Result<(Flow<'m>, Vars), Stop> {
        let processor =
            m.processor().ok_or_else(|| StatesError::runtime(format!("Map {name:?} has no ItemProcessor")))?;
        if m.item_reader.is_some() {
            return Err(Stop::Error(StatesError::new(
                names::ITEM_READER_FAILED,
                format!(
                    "Map {name:?} reads its items from S3 (ItemReader), which a local run cannot do; mock the Map or give the items in the input"
                ),
            )));
        }
        let (effective, items) = step::map_items(m, &raw, ctx, &vars, lang)?;
        let items = step::batch(m, items, &effective, ctx, &vars, lang)?;
        self.event("MapStateStarted", Some(("mapStateStartedEventDetails", json!({"length": items.len()}))));
        let concurrency = step::max_concurrency(m, &effective, ctx, &vars, lang)?.unwrap_or(0);
        let limit = if concurrency == 0 { items.len().max(1) } else { concurrency };
        let distributed = m.is_distributed();
        let inner_lang = lang;
        let selector = step::ItemSelector::of(m);
        let runs = items.into_iter().enumerate().map(|(index, value)| {
            let vars = vars.clone();
            let effective = &effective;
            let raw_ctx = ctx;
            let selector = &selector;
            async move {
                let mut item_ctx = raw_ctx.clone();
                item_ctx["Map"] = json!({"Item": {"Index": index, "Value": value}});
                let input = match selector.select(effective, &value, &item_ctx, &vars, inner_lang) {
                    Ok(input) => input,
                    Err(e) => return (index, Err(e.into())),
                };
                self.event(
                    "MapIterationStarted",
                    Some(("mapIterationStartedEventDetails", json!({"name": name, "index": index}))),
                );
                let r = self.run_graph(&processor.start_at, &processor.states, input, vars, inner_lang).await;
                let kind = if r.is_ok() { "MapIterationSucceeded" } else { "MapIterationFailed" };
                self.event(kind, Some(("mapIterationSucceededEventDetails", json!({"name": name, "index": index}))));
                (index, r)
            }
        });
        // As Step Functions does, an iteration starts as soon as one of the MaxConcurrency running ends (not when
        // every earlier one has), and the results keep the items' order.
        let in_order = |mut done: Vec<(usize, Value)>| {
            done.sort_by_key(|(index, _)| *index);
            done.into_iter().map(|(_, v)| v).collect::<Vec<Value>>()
        };
        let results: Vec<Value> = if distributed {
            let mut all: Vec<(usize, Result<Value, Stop>)> =
                futures::stream::iter(runs).buffer_unordered(limit).collect().await;
            all.sort_by_key(|(index, _)| *index);
            let all: Vec<Result<Value, Stop>> = all.into_iter().map(|(_, r)| r).collect();
            let total = all.len();
            let mut failed = 0usize;
            let mut out = Vec::with_capacity(total);
            for r in all {
                match r {
                    Ok(v) => out.push(v),
                    Err(Stop::TimedOut) => return Err(Stop::TimedOut),
                    Err(Stop::Error(e)) => {
                        failed += 1;
                        out.push(e.output());
                    }
                }
            }
            let tolerated_count = step::tolerated_count(m, &effective, ctx, &vars, lang)?;
            let tolerated_pct = step::tolerated_percentage(m, &effective, ctx, &vars, lang)?;
            let over_pct = tolerated_pct.is_some_and(|p| total > 0 && (failed as f64 * 100.0 / total as f64) > p);
            let over = match (tolerated_count, tolerated_pct) {
                (None, None) => failed > 0,
                (Some(c), _) => failed as f64 > c || over_pct,
                (None, Some(_)) => over_pct,
            };
            if over {
                self.event("MapStateFailed", None);
                return Err(Stop::Error(StatesError::new(
                    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    format!("{failed} of {total} items failed, more than {name:?} tolerates"),
                )));
            }
            out
        } else {
            // The first iteration to fail fails the Map; the ones still running are stopped.
            let runs = futures::stream::iter(runs).buffer_unordered(limit).map(|(i, r)| r.map(|v| (i, v)));
            match runs.try_collect().await {
                Ok(v) => in_order(v),
                Err(stop) => {
                    self.event("MapStateFailed", None);
                    return Err(stop);
                }
            }
        };
        self.event("MapStateSucceeded", None);
        let mut vars = vars;
        let flow = step::finish(
            &m.transition,
            &m.result_selector,
            &m.result_path,
            &m.output_path,
            &m.output,
            &m.assign,
            &raw,
            Value::Array(results),
            ctx,
            &mut vars,
            lang,
        )?;
        Ok((flow, vars))
    }
}

/// `arn:aws:states:::lambda:invoke.sync` -> (`lambda`, `invoke.sync`), as history events name them.
fn resource_parts(resource: &str) -> (String, String) {
    let tail = resource.strip_prefix("arn:aws:states:::").unwrap_or(resource);
    match tail.split_once(':') {
        Some((service, action)) if !resource.starts_with("arn:aws:lambda") => (service.to_string(), action.to_string()),
        _ => ("lambda".to_string(), resource.to_string()),
    }
}
