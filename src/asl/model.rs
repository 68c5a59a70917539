//! The typed Amazon States Language model.
//!
//! Every struct mirrors one object of the language and serialises its fields in the canonical order (the order
//! the ASL specification introduces them: `Type`, `Comment`, `QueryLanguage`, the state's own configuration, input
//! processing, timeouts, result processing, `Retry`/`Catch`, then the transition). Fields this model does not know
//! land in `extra` and are rendered back after the known ones, so nothing a user wrote is ever lost.
//!
//! Numbers that the language lets a user write freely (`BackoffRate: 2` vs `2.0`) are kept as
//! [`serde_json::Number`] so that rendering reproduces them exactly; fields that JSONata lets hold an expression
//! (`"TimeoutSeconds": "{% $timeout %}"`) are a [`NumOrExpr`]. Paths that may be `null` (`ResultPath: null` discards
//! the result) are `Option<Option<String>>`: absent, `null`, or a path.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use serde_with::skip_serializing_none;

use super::choice::ChoiceRule;

/// Fields that the model does not know, kept in the order they were written.
pub type Extra = Map<String, Value>;

/// The states of a state machine, branch or item processor, in the order they were written or built.
pub type States = IndexMap<String, State>;

/// A whole state machine: the document `amali render` writes and `amali validate` reads.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    /// Free text for readers of the definition.
    #[serde(default)]
    pub comment: Option<String>,
    /// `JSONPath` (the default) or `JSONata`; states inherit it unless they set their own.
    #[serde(default)]
    pub query_language: Option<QueryLanguage>,
    /// The name of the first state.
    pub start_at: String,
    /// Every top-level state by name.
    pub states: States,
    /// Maximum seconds the execution may run before it fails with `States.Timeout`.
    #[serde(default)]
    pub timeout_seconds: Option<NumOrExpr>,
    /// The ASL version, `"1.0"` when present.
    #[serde(default)]
    pub version: Option<String>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A nested graph of states: one Parallel branch.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Branch {
    /// Free text for readers of the definition.
    #[serde(default)]
    pub comment: Option<String>,
    /// The name of the branch's first state.
    pub start_at: String,
    /// The branch's states by name.
    pub states: States,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The query language of a state machine or state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryLanguage {
    /// Paths (`InputPath`, `Parameters` with `.$` keys, ...): the language's original processing.
    #[serde(rename = "JSONPath")]
    JsonPath,
    /// JSONata expressions in `{% %}` (`Arguments`, `Output`, `Condition`, `Items`, ...).
    #[serde(rename = "JSONata")]
    Jsonata,
}

/// A number, or (in JSONata states) a `{% %}` expression that evaluates to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumOrExpr {
    /// A literal number, kept exactly as written.
    Num(Number),
    /// A JSONata expression string.
    Expr(String),
}

impl NumOrExpr {
    /// The literal value as a float, or `None` for an expression.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            NumOrExpr::Num(n) => n.as_f64(),
            NumOrExpr::Expr(_) => None,
        }
    }
}

impl From<u64> for NumOrExpr {
    fn from(n: u64) -> Self {
        NumOrExpr::Num(n.into())
    }
}

/// One state. The `Type` field selects the variant.
// A Map is larger than the other states, but states are parsed once and then borrowed, never moved in bulk, so
// boxing it would only make every match on it noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    /// Does work through a service integration or an activity.
    Task(Task),
    /// Passes (and may shape) its input to its output.
    Pass(Pass),
    /// Branches on rules over its input.
    Choice(Choice),
    /// Delays for a time or until a timestamp.
    Wait(Wait),
    /// Ends the execution (or branch) successfully.
    Succeed(Succeed),
    /// Ends the execution (or branch) with an error.
    Fail(Fail),
    /// Runs branches concurrently and collects their outputs.
    Parallel(Parallel),
    /// Runs an item processor once per item, inline or distributed.
    Map(Map_),
}

/// How a non-terminal state continues: `Next` names a state, `End: true` ends its graph.
///
/// Kept as the two fields the language has (rather than one enum) so that a document with both, or neither, still
/// round-trips and the validator can say what is wrong with it.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transition {
    /// The state to run next.
    #[serde(default)]
    pub next: Option<String>,
    /// Whether this state ends its graph.
    #[serde(default)]
    pub end: Option<bool>,
}

impl Transition {
    /// Continue with `name`.
    pub fn next(name: impl Into<String>) -> Self {
        Transition { next: Some(name.into()), end: None }
    }

    /// End the graph here.
    pub fn end() -> Self {
        Transition { next: None, end: Some(true) }
    }

    /// True when `End: true` is set and no `Next`.
    pub fn is_end(&self) -> bool {
        self.next.is_none() && self.end == Some(true)
    }
}

/// A `Task` state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// The integration ARN, e.g. `arn:aws:states:::glue:startJobRun.sync`.
    pub resource: String,
    /// A role to assume for the call (`RoleArn` or `RoleArn.$`).
    #[serde(default, deserialize_with = "present")]
    pub credentials: Option<Value>,
    /// JSONPath: selects the part of the input the state sees.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// JSONPath: the payload template sent to the integration.
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Value>,
    /// JSONata: the arguments sent to the integration.
    #[serde(default, deserialize_with = "present")]
    pub arguments: Option<Value>,
    /// Seconds before the task fails with `States.Timeout` (default 60 for activities, 99999999 otherwise).
    pub timeout_seconds: Option<NumOrExpr>,
    /// JSONPath to the timeout in seconds.
    pub timeout_seconds_path: Option<String>,
    /// Seconds between heartbeats before `States.HeartbeatTimeout`.
    pub heartbeat_seconds: Option<NumOrExpr>,
    /// JSONPath to the heartbeat interval in seconds.
    pub heartbeat_seconds_path: Option<String>,
    /// JSONPath: reshapes the integration's result before `ResultPath`.
    #[serde(default, deserialize_with = "present")]
    pub result_selector: Option<Value>,
    /// JSONPath: where the result goes in the input (`null` discards it).
    #[serde(with = "serde_with::rust::double_option")]
    pub result_path: Option<Option<String>>,
    /// JSONPath: selects the part of the combined document passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// Retry policies, tried in order.
    pub retry: Option<Vec<Retrier>>,
    /// Fallback transitions on error, tried in order.
    pub catch: Option<Vec<Catcher>>,
    /// Where to go next.
    #[serde(flatten)]
    pub transition: Transition,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Pass` state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Pass {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: selects the part of the input the state sees.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// JSONPath: a payload template applied to the input.
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Value>,
    /// JSONPath: a fixed result, used instead of the input.
    #[serde(default, deserialize_with = "present")]
    pub result: Option<Value>,
    /// JSONPath: where the result goes in the input (`null` discards it).
    #[serde(with = "serde_with::rust::double_option")]
    pub result_path: Option<Option<String>>,
    /// JSONPath: selects the part of the combined document passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// Where to go next.
    #[serde(flatten)]
    pub transition: Transition,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Choice` state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Choice {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: selects the part of the input the rules see.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// The rules, evaluated in order; the first that matches picks `Next`.
    pub choices: Vec<ChoiceRule>,
    /// The state to go to when no rule matches (else `States.NoChoiceMatched`).
    pub default: Option<String>,
    /// JSONPath: selects the part of the input passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Wait` state: exactly one of the four timing fields should be set.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Wait {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: selects the part of the input the state sees.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// Seconds to wait.
    pub seconds: Option<NumOrExpr>,
    /// RFC 3339 timestamp to wait until.
    pub timestamp: Option<String>,
    /// JSONPath to the seconds to wait.
    pub seconds_path: Option<String>,
    /// JSONPath to the timestamp to wait until.
    pub timestamp_path: Option<String>,
    /// JSONPath: selects the part of the input passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// Where to go next.
    #[serde(flatten)]
    pub transition: Transition,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Succeed` state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Succeed {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: selects the part of the input the state sees.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// JSONPath: selects the part of the input passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Fail` state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Fail {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// The error name the execution fails with.
    pub error: Option<String>,
    /// JSONPath (or intrinsic) giving the error name.
    pub error_path: Option<String>,
    /// A human-readable cause.
    pub cause: Option<String>,
    /// JSONPath (or intrinsic) giving the cause.
    pub cause_path: Option<String>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Parallel` state.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Parallel {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// The branches, run concurrently; the output is the array of their outputs.
    pub branches: Vec<Branch>,
    /// JSONPath: selects the part of the input the branches see.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// JSONPath: a payload template giving each branch's input.
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Value>,
    /// JSONata: each branch's input.
    #[serde(default, deserialize_with = "present")]
    pub arguments: Option<Value>,
    /// JSONPath: reshapes the array of branch outputs.
    #[serde(default, deserialize_with = "present")]
    pub result_selector: Option<Value>,
    /// JSONPath: where the result goes in the input (`null` discards it).
    #[serde(with = "serde_with::rust::double_option")]
    pub result_path: Option<Option<String>>,
    /// JSONPath: selects the part of the combined document passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// Retry policies, tried in order.
    pub retry: Option<Vec<Retrier>>,
    /// Fallback transitions on error, tried in order.
    pub catch: Option<Vec<Catcher>>,
    /// Where to go next.
    #[serde(flatten)]
    pub transition: Transition,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `Map` state, inline or distributed. Named `Map_` because `Map` is the JSON object type.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Map_ {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// Overrides the state machine's query language for this state.
    pub query_language: Option<QueryLanguage>,
    /// The graph run per item, with its processor mode.
    pub item_processor: Option<ItemProcessor>,
    /// The pre-2022 name of `ItemProcessor` (inline mode only).
    pub iterator: Option<ItemProcessor>,
    /// Distributed mode: where the items come from (S3 objects, a CSV, a JSON file, a manifest).
    pub item_reader: Option<ItemReader>,
    /// JSONPath: selects the part of the input the state sees.
    #[serde(with = "serde_with::rust::double_option")]
    pub input_path: Option<Option<String>>,
    /// JSONPath: the array to iterate over (default `$`).
    pub items_path: Option<String>,
    /// JSONata: the array to iterate over.
    #[serde(default, deserialize_with = "present")]
    pub items: Option<Value>,
    /// A template giving each iteration's input (`$$.Map.Item.Value` is the item).
    #[serde(default, deserialize_with = "present")]
    pub item_selector: Option<Value>,
    /// The pre-2022 name of `ItemSelector`.
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Value>,
    /// Distributed mode: groups items into batches.
    pub item_batcher: Option<ItemBatcher>,
    /// Distributed mode: writes the results to S3.
    pub result_writer: Option<ResultWriter>,
    /// Upper bound on concurrent iterations (0 means as many as possible).
    pub max_concurrency: Option<NumOrExpr>,
    /// JSONPath to the maximum concurrency.
    pub max_concurrency_path: Option<String>,
    /// Distributed mode: failed items tolerated before the run fails.
    pub tolerated_failure_count: Option<NumOrExpr>,
    /// JSONPath to the tolerated failure count.
    pub tolerated_failure_count_path: Option<String>,
    /// Distributed mode: percentage of failed items tolerated.
    pub tolerated_failure_percentage: Option<NumOrExpr>,
    /// JSONPath to the tolerated failure percentage.
    pub tolerated_failure_percentage_path: Option<String>,
    /// Distributed mode: a label for child execution names.
    pub label: Option<String>,
    /// JSONPath: reshapes the array of iteration outputs.
    #[serde(default, deserialize_with = "present")]
    pub result_selector: Option<Value>,
    /// JSONPath: where the result goes in the input (`null` discards it).
    #[serde(with = "serde_with::rust::double_option")]
    pub result_path: Option<Option<String>>,
    /// JSONPath: selects the part of the combined document passed on.
    #[serde(with = "serde_with::rust::double_option")]
    pub output_path: Option<Option<String>>,
    /// JSONata: the state's output.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// Retry policies, tried in order.
    pub retry: Option<Vec<Retrier>>,
    /// Fallback transitions on error, tried in order.
    pub catch: Option<Vec<Catcher>>,
    /// Where to go next.
    #[serde(flatten)]
    pub transition: Transition,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Map_ {
    /// The item processor, under its current name or its legacy one (`Iterator`).
    pub fn processor(&self) -> Option<&ItemProcessor> {
        self.item_processor.as_ref().or(self.iterator.as_ref())
    }

    /// True when the processor runs as child workflow executions (distributed mode).
    pub fn is_distributed(&self) -> bool {
        self.processor().and_then(|p| p.processor_config.as_ref()).and_then(|c| c.mode)
            == Some(ProcessorMode::Distributed)
    }
}

/// The graph a Map state runs per item.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemProcessor {
    /// Free text for readers of the definition.
    #[serde(default)]
    pub comment: Option<String>,
    /// Inline or distributed, and the child execution type.
    #[serde(default)]
    pub processor_config: Option<ProcessorConfig>,
    /// The name of the processor's first state.
    pub start_at: String,
    /// The processor's states by name.
    pub states: States,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a Map state runs its processor.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProcessorConfig {
    /// `INLINE` (the default) or `DISTRIBUTED`.
    pub mode: Option<ProcessorMode>,
    /// Distributed mode: `STANDARD` or `EXPRESS` child executions.
    pub execution_type: Option<ExecutionType>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where a Map state runs its iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessorMode {
    /// Within the parent execution, at most 40 concurrent iterations.
    Inline,
    /// As child workflow executions, up to 10,000 concurrent.
    Distributed,
}

/// The workflow type of a distributed Map's child executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionType {
    /// Exactly-once, up to a year.
    Standard,
    /// At-least-once, up to five minutes.
    Express,
}

/// Distributed Map: the source of the items.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ItemReader {
    /// The S3 API to read with, e.g. `arn:aws:states:::s3:listObjectsV2`.
    pub resource: String,
    /// How to read it: `InputType`, `CSVHeaderLocation`, `MaxItems`, ...
    #[serde(default, deserialize_with = "present")]
    pub reader_config: Option<Value>,
    /// JSONPath: the API call's parameters.
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Value>,
    /// JSONata: the API call's arguments.
    #[serde(default, deserialize_with = "present")]
    pub arguments: Option<Value>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Distributed Map: how items are grouped into batches.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ItemBatcher {
    /// Items per batch at most.
    pub max_items_per_batch: Option<NumOrExpr>,
    /// JSONPath to the items per batch.
    pub max_items_per_batch_path: Option<String>,
    /// Bytes per batch at most (up to 256 KiB).
    pub max_input_bytes_per_batch: Option<NumOrExpr>,
    /// JSONPath to the bytes per batch.
    pub max_input_bytes_per_batch_path: Option<String>,
    /// A fixed JSON object added to every batch as `BatchInput`.
    #[serde(default, deserialize_with = "present")]
    pub batch_input: Option<Value>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Distributed Map: where results are written.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResultWriter {
    /// The S3 API to write with, e.g. `arn:aws:states:::s3:putObject`.
    pub resource: Option<String>,
    /// JSONPath: the API call's parameters (`Bucket`, `Prefix`).
    #[serde(default, deserialize_with = "present")]
    pub parameters: Option<Value>,
    /// JSONata: the API call's arguments.
    #[serde(default, deserialize_with = "present")]
    pub arguments: Option<Value>,
    /// Output transformation and format.
    #[serde(default, deserialize_with = "present")]
    pub writer_config: Option<Value>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `Retry` policy.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    /// Free text for readers of the definition.
    #[serde(default)]
    pub comment: Option<String>,
    /// The error names this policy retries.
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (default 1).
    #[serde(default)]
    pub interval_seconds: Option<Number>,
    /// Retries at most (default 3; 0 never retries).
    #[serde(default)]
    pub max_attempts: Option<Number>,
    /// Multiplier of the interval per retry (default 2.0, at least 1.0).
    #[serde(default)]
    pub backoff_rate: Option<Number>,
    /// Upper bound of the interval in seconds.
    #[serde(default)]
    pub max_delay_seconds: Option<Number>,
    /// `FULL` randomises each interval between 0 and its value; `NONE` (default) does not.
    #[serde(default)]
    pub jitter_strategy: Option<JitterStrategy>,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Retrier {
    /// `IntervalSeconds`, or its default of 1.
    pub fn interval_seconds(&self) -> f64 {
        self.interval_seconds.as_ref().and_then(Number::as_f64).unwrap_or(1.0)
    }

    /// `MaxAttempts`, or its default of 3.
    pub fn max_attempts(&self) -> u64 {
        self.max_attempts.as_ref().and_then(Number::as_u64).unwrap_or(3)
    }

    /// `BackoffRate`, or its default of 2.0.
    pub fn backoff_rate(&self) -> f64 {
        self.backoff_rate.as_ref().and_then(Number::as_f64).unwrap_or(2.0)
    }
}

/// How retry intervals are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JitterStrategy {
    /// Each interval is a random value between 0 and the computed interval.
    Full,
    /// Intervals are exactly as computed.
    None,
}

/// One `Catch` fallback.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    /// Free text for readers of the definition.
    #[serde(default)]
    pub comment: Option<String>,
    /// The error names this fallback catches.
    pub error_equals: Vec<String>,
    /// JSONPath: where the error output (`Error`, `Cause`) goes in the state's input (`null` discards it).
    #[serde(default, with = "serde_with::rust::double_option")]
    pub result_path: Option<Option<String>>,
    /// JSONata: the output passed to `Next`.
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default, deserialize_with = "present")]
    pub assign: Option<Value>,
    /// The state to go to.
    pub next: String,
    /// Fields not defined by the language, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Reads a field that is present as `Some`, even when its value is `null` (`"Result": null` is a result).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl State {
    /// The state's `Type` as written in ASL.
    pub fn type_name(&self) -> &'static str {
        match self {
            State::Task(_) => "Task",
            State::Pass(_) => "Pass",
            State::Choice(_) => "Choice",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
            State::Parallel(_) => "Parallel",
            State::Map(_) => "Map",
        }
    }

    /// The state's `Comment`.
    pub fn comment(&self) -> Option<&str> {
        match self {
            State::Task(s) => s.comment.as_deref(),
            State::Pass(s) => s.comment.as_deref(),
            State::Choice(s) => s.comment.as_deref(),
            State::Wait(s) => s.comment.as_deref(),
            State::Succeed(s) => s.comment.as_deref(),
            State::Fail(s) => s.comment.as_deref(),
            State::Parallel(s) => s.comment.as_deref(),
            State::Map(s) => s.comment.as_deref(),
        }
    }

    /// The state's own `QueryLanguage`, if it overrides the machine's.
    pub fn query_language(&self) -> Option<QueryLanguage> {
        match self {
            State::Task(s) => s.query_language,
            State::Pass(s) => s.query_language,
            State::Choice(s) => s.query_language,
            State::Wait(s) => s.query_language,
            State::Succeed(s) => s.query_language,
            State::Fail(s) => s.query_language,
            State::Parallel(s) => s.query_language,
            State::Map(s) => s.query_language,
        }
    }

    /// The `Next`/`End` pair of a state that has one (not Choice, Succeed or Fail).
    pub fn transition(&self) -> Option<&Transition> {
        match self {
            State::Task(s) => Some(&s.transition),
            State::Pass(s) => Some(&s.transition),
            State::Wait(s) => Some(&s.transition),
            State::Parallel(s) => Some(&s.transition),
            State::Map(s) => Some(&s.transition),
            State::Choice(_) | State::Succeed(_) | State::Fail(_) => None,
        }
    }

    /// Mutable access to the `Next`/`End` pair, for builders.
    pub fn transition_mut(&mut self) -> Option<&mut Transition> {
        match self {
            State::Task(s) => Some(&mut s.transition),
            State::Pass(s) => Some(&mut s.transition),
            State::Wait(s) => Some(&mut s.transition),
            State::Parallel(s) => Some(&mut s.transition),
            State::Map(s) => Some(&mut s.transition),
            State::Choice(_) | State::Succeed(_) | State::Fail(_) => None,
        }
    }

    /// The state's retry policies (Task, Parallel, Map).
    pub fn retry(&self) -> &[Retrier] {
        match self {
            State::Task(s) => s.retry.as_deref().unwrap_or_default(),
            State::Parallel(s) => s.retry.as_deref().unwrap_or_default(),
            State::Map(s) => s.retry.as_deref().unwrap_or_default(),
            _ => &[],
        }
    }

    /// The state's catchers (Task, Parallel, Map).
    pub fn catch(&self) -> &[Catcher] {
        match self {
            State::Task(s) => s.catch.as_deref().unwrap_or_default(),
            State::Parallel(s) => s.catch.as_deref().unwrap_or_default(),
            State::Map(s) => s.catch.as_deref().unwrap_or_default(),
            _ => &[],
        }
    }

    /// Every state name this state may transition to: `Next`, `Default`, each Choice rule's and each catcher's.
    pub fn successors(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(next) = self.transition().and_then(|t| t.next.as_deref()) {
            out.push(next);
        }
        if let State::Choice(c) = self {
            out.extend(c.choices.iter().filter_map(|r| r.next.as_deref()));
            out.extend(c.default.as_deref());
        }
        out.extend(self.catch().iter().map(|c| c.next.as_str()));
        out
    }

    /// Whether the state ends its graph: `End: true`, Succeed or Fail.
    pub fn is_terminal(&self) -> bool {
        match self {
            State::Succeed(_) | State::Fail(_) => true,
            State::Choice(_) => false,
            other => other.transition().is_some_and(Transition::is_end),
        }
    }

    /// The nested graphs of this state: a Parallel's branches or a Map's processor, each as (StartAt, States).
    pub fn nested_graphs(&self) -> Vec<(&str, &States)> {
        match self {
            State::Parallel(p) => p.branches.iter().map(|b| (b.start_at.as_str(), &b.states)).collect(),
            State::Map(m) => m.processor().map(|p| (p.start_at.as_str(), &p.states)).into_iter().collect(),
            _ => Vec::new(),
        }
    }
}
