//! Task handlers: what a Task state's resource does when run locally.
//!
//! Handlers are tried in order; the first that accepts a request answers it. [`MockHandler`] answers from a mock
//! configuration in AWS Step Functions Local's `MockConfigFile` format, so that any state machine can be tested
//! without AWS; [`Unhandled`] is the last resort and says what to do.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

use super::error::{StatesError, names};

/// A boxed future answering a task.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, StatesError>> + Send + 'a>>;

/// One call of a Task state.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The state's name.
    pub state: String,
    /// Its `Resource`.
    pub resource: String,
    /// The evaluated `Parameters` (or `Arguments`).
    pub parameters: Value,
    /// The context object (`$$`) at the call.
    pub context: Value,
    /// The state's own attempt number: 0, then 1 for the first retry, ...
    pub attempt: u32,
}

/// Something that can run Task states.
pub trait TaskHandler: Send + Sync {
    /// Answers the request, or returns `None` to let the next handler try.
    fn call<'a>(&'a self, request: &'a TaskRequest) -> Option<TaskFuture<'a>>;
}

/// Handlers tried in order.
#[derive(Clone, Default)]
pub struct Handlers(Vec<Arc<dyn TaskHandler>>);

impl Handlers {
    /// An empty chain.
    pub fn new() -> Self {
        Handlers(Vec::new())
    }

    /// Appends a handler, tried after the ones already there.
    pub fn with(mut self, handler: Arc<dyn TaskHandler>) -> Self {
        self.0.push(handler);
        self
    }

    /// Runs the request through the first handler that accepts it.
    pub async fn call(&self, request: &TaskRequest) -> Result<Value, StatesError> {
        for h in &self.0 {
            if let Some(f) = h.call(request) {
                return f.await;
            }
        }
        Unhandled.call(request).expect("Unhandled answers everything").await
    }
}

/// The lines a person reads first in a pipeline notice: status, each stage's headline, what failed and how to rerun.
fn gist(message: &Value) -> Vec<String> {
    let mut lines = vec![format!("status: {}", message["status"].as_str().unwrap_or("?"))];
    if let Some(stages) = message.get("stages").and_then(Value::as_object) {
        for (name, stage) in stages {
            match stage.get("headline").and_then(Value::as_str) {
                Some(h) => lines.push(h.to_string()),
                None => {
                    // A Parallel keeps its branches' results under one key.
                    for (_, branch) in stage.as_object().into_iter().flatten() {
                        if let Some(h) = branch.get("headline").and_then(Value::as_str) {
                            lines.push(h.to_string());
                        }
                    }
                    if stage.get("headline").is_none() && !stage.is_object() {
                        lines.push(format!("{name}: {stage}"));
                    }
                }
            }
        }
    }
    for key in ["failed_state", "error", "cause", "rerun", "redrive"] {
        if let Some(v) = message.get(key).and_then(Value::as_str) {
            lines.push(format!("{key}: {}", v.chars().take(400).collect::<String>()));
        }
    }
    lines
}

/// The last resort: a task nothing else handles fails with a cause that says how to run it.
pub struct Unhandled;

impl TaskHandler for Unhandled {
    fn call<'a>(&'a self, request: &'a TaskRequest) -> Option<TaskFuture<'a>> {
        let cause = format!(
            "amali has no local handler for resource {:?} (state {:?}): give a mocked response with --mock-config and --test-case, or run it on AWS",
            request.resource, request.state
        );
        Some(Box::pin(async move { Err(StatesError::new(names::TASK_FAILED, cause)) }))
    }
}

/// A mocked response: a result, or an error.
#[derive(Debug, Clone, Deserialize)]
pub enum MockedResponse {
    /// The task returns this value.
    Return(Value),
    /// The task fails with this error.
    Throw {
        /// The error name.
        #[serde(rename = "Error")]
        error: String,
        /// The cause.
        #[serde(rename = "Cause", default)]
        cause: String,
    },
}

/// The whole mock file: `{"StateMachines": {NAME: {"TestCases": {CASE: {STATE: RESPONSE}}}}, "MockedResponses": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MockConfig {
    /// Test cases by state machine.
    pub state_machines: HashMap<String, MockMachine>,
    /// Responses by name; each maps invocation numbers (`"0"`, `"1-2"`) to a response.
    pub mocked_responses: HashMap<String, HashMap<String, MockedResponse>>,
}

/// The test cases of one state machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MockMachine {
    /// State name -> response name, by test case.
    pub test_cases: HashMap<String, HashMap<String, String>>,
}

/// Answers the states of one test case from a mock file; other states go to the next handler.
pub struct MockHandler {
    responses: HashMap<String, Vec<(u32, u32, MockedResponse)>>,
    calls: Mutex<HashMap<String, u32>>,
}

impl MockHandler {
    /// The handler for `test_case` of `machine` (if `machine` is `None`, the only machine that has the test case).
    pub fn new(config: &MockConfig, machine: Option<&str>, test_case: &str) -> Result<Self, String> {
        let candidates: Vec<(&String, &MockMachine)> = config
            .state_machines
            .iter()
            .filter(|(name, m)| machine.is_none_or(|want| want == *name) && m.test_cases.contains_key(test_case))
            .collect();
        let (_, m) = match candidates.as_slice() {
            [one] => *one,
            [] => return Err(format!("no state machine in the mock file has a test case {test_case:?}")),
            _ => {
                return Err(format!(
                    "several state machines have a test case {test_case:?}; name one with --state-machine"
                ));
            }
        };
        let mut responses = HashMap::new();
        for (state, response) in &m.test_cases[test_case] {
            let table = config.mocked_responses.get(response).ok_or_else(|| {
                format!("test case {test_case:?} names a mocked response {response:?} that is not defined")
            })?;
            let mut ranges = Vec::new();
            for (key, r) in table {
                let (a, b) = match key.split_once('-') {
                    Some((a, b)) => (a.trim().parse(), b.trim().parse()),
                    None => (key.trim().parse(), key.trim().parse()),
                };
                let (Ok(a), Ok(b)) = (a, b) else {
                    return Err(format!(
                        "mocked response {response:?} has key {key:?}; keys are invocation numbers like \"0\" or \"1-3\""
                    ));
                };
                ranges.push((a, b, r.clone()));
            }
            responses.insert(state.clone(), ranges);
        }
        Ok(MockHandler { responses, calls: Mutex::new(HashMap::new()) })
    }
}

impl TaskHandler for MockHandler {
    fn call<'a>(&'a self, request: &'a TaskRequest) -> Option<TaskFuture<'a>> {
        let ranges = self.responses.get(&request.state)?;
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            let c = calls.entry(request.state.clone()).or_insert(0);
            *c += 1;
            *c - 1
        };
        let answer = match ranges.iter().find(|(a, b, _)| (*a..=*b).contains(&n)) {
            Some((_, _, MockedResponse::Return(v))) => Ok(v.clone()),
            Some((_, _, MockedResponse::Throw { error, cause })) => Err(StatesError::new(error.clone(), cause.clone())),
            None => Err(StatesError::new(
                names::TASK_FAILED,
                format!("the mock has no response for call {n} of state {:?}", request.state),
            )),
        };
        Some(Box::pin(async move { answer }))
    }
}

/// `sns:publish` run locally: the message is appended as one JSON line to a file (the run's
/// `notifications.jsonl`) and shown on standard error, and the task returns a `MessageId` as SNS does.
pub struct SnsHandler {
    file: Option<std::path::PathBuf>,
    quiet: bool,
    lock: Mutex<()>,
}

impl SnsHandler {
    /// Appends to `file` (if any); `quiet` keeps standard error clean.
    pub fn new(file: Option<std::path::PathBuf>, quiet: bool) -> Self {
        SnsHandler { file, quiet, lock: Mutex::new(()) }
    }

    fn publish(&self, request: &TaskRequest) -> Result<Value, StatesError> {
        let p = &request.parameters;
        // Step Functions sends a JSON Message as its text.
        let message = match p.get("Message") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(StatesError::new("SNS.InvalidParameterException", "Message is required")),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let record = serde_json::json!({
            "MessageId": id,
            "TopicArn": p.get("TopicArn"),
            "Subject": p.get("Subject"),
            "Message": message,
            "State": request.state,
            "Timestamp": request.context.pointer("/State/EnteredTime"),
        });
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = &self.file {
            use std::io::Write;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StatesError::new("SNS.InternalErrorException", e.to_string()))?;
            }
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                StatesError::new("SNS.InternalErrorException", format!("cannot write {}: {e}", path.display()))
            })?;
            writeln!(f, "{record}").map_err(|e| StatesError::new("SNS.InternalErrorException", e.to_string()))?;
        }
        if !self.quiet {
            let subject = p.get("Subject").and_then(Value::as_str).unwrap_or("(no subject)");
            // The console gets the gist (a pipeline notice's status, stage headlines, failure and rerun command);
            // the file has the whole message.
            eprintln!("notification [{}] {subject}", request.state);
            match serde_json::from_str::<Value>(&message).ok().filter(|m| m.get("status").is_some()) {
                Some(m) => {
                    for line in gist(&m) {
                        eprintln!("  {line}");
                    }
                }
                None => eprintln!("  {}", message.chars().take(600).collect::<String>()),
            }
            if let Some(path) = &self.file {
                eprintln!("  (the whole message is in {})", path.display());
            }
        }
        Ok(serde_json::json!({"MessageId": id, "SdkHttpMetadata": {"HttpStatusCode": 200}}))
    }
}

impl TaskHandler for SnsHandler {
    fn call<'a>(&'a self, request: &'a TaskRequest) -> Option<TaskFuture<'a>> {
        if !request.resource.starts_with("arn:aws:states:::sns:publish") {
            return None;
        }
        let answer = self.publish(request);
        Some(Box::pin(async move { answer }))
    }
}
