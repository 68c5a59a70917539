//! Task states and typed service integrations: Glue, ECS, Lambda and SNS, plus any other resource.

use serde_json::{Map, Value, json};

use super::states::{Policies, io_setters, policy_setters};
use super::{Chain, Graph, IntoChain, Open};
use crate::asl::{self, State};

/// A service integration: the `Resource` ARN and the `Parameters` a Task sends to it.
pub trait Integration {
    /// The `Resource` field, e.g. `arn:aws:states:::glue:startJobRun.sync`.
    fn resource(&self) -> String;
    /// The `Parameters` payload template.
    fn parameters(&self) -> Option<Value>;
}

/// Any resource ARN with an optional payload template: the escape hatch for integrations without a typed builder.
#[derive(Debug, Clone)]
pub struct Resource {
    arn: String,
    parameters: Option<Value>,
}

impl Resource {
    /// Calls `arn` (an optimized integration, an AWS SDK integration, an activity or a Lambda ARN).
    pub fn new(arn: impl Into<String>) -> Self {
        Resource { arn: arn.into(), parameters: None }
    }

    /// The payload template.
    pub fn parameters(mut self, template: Value) -> Self {
        self.parameters = Some(template);
        self
    }
}

impl Integration for Resource {
    fn resource(&self) -> String {
        self.arn.clone()
    }
    fn parameters(&self) -> Option<Value> {
        self.parameters.clone()
    }
}

fn service_arn(service_action: &str, sync: bool) -> String {
    format!("arn:aws:states:::{service_action}{}", if sync { ".sync" } else { "" })
}

/// Sets `key` to a literal, or `key.$` when the value is a path (`$...`) or an intrinsic function (`States.`).
fn put(map: &mut Map<String, Value>, key: &str, value: Value) {
    match &value {
        Value::String(s) if s.starts_with('$') || s.starts_with("States.") => {
            map.insert(format!("{key}.$"), value);
        }
        _ => {
            map.insert(key.to_string(), value);
        }
    }
}

/// `glue:startJobRun`: starts an AWS Glue job run; with `.sync()` the Task waits for the run to end.
#[derive(Debug, Clone)]
pub struct Glue {
    job_name: String,
    arguments: Map<String, Value>,
    sync: bool,
}

impl Glue {
    /// Runs the Glue job named `job_name`.
    pub fn start_job_run(job_name: impl Into<String>) -> Self {
        Glue { job_name: job_name.into(), arguments: Map::new(), sync: false }
    }

    /// Waits for the job run to finish (`.sync`): the Task fails when the run fails, times out or is stopped.
    pub fn sync(mut self) -> Self {
        self.sync = true;
        self
    }

    /// A job argument (`--name`). A value starting with `$` or `States.` is evaluated against the state's input.
    pub fn argument(mut self, name: impl AsRef<str>, value: impl Into<Value>) -> Self {
        put(&mut self.arguments, name.as_ref(), value.into());
        self
    }
}

impl Integration for Glue {
    fn resource(&self) -> String {
        service_arn("glue:startJobRun", self.sync)
    }
    fn parameters(&self) -> Option<Value> {
        let mut p = Map::new();
        p.insert("JobName".into(), self.job_name.clone().into());
        if !self.arguments.is_empty() {
            p.insert("Arguments".into(), Value::Object(self.arguments.clone()));
        }
        Some(Value::Object(p))
    }
}

/// `ecs:runTask`: runs an ECS task (Fargate by default); with `.sync()` the Task waits for it to stop.
#[derive(Debug, Clone)]
pub struct Ecs {
    cluster: String,
    task_definition: String,
    launch_type: String,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    assign_public_ip: bool,
    container: Option<(String, Value)>,
    sync: bool,
}

impl Ecs {
    /// Runs `task_definition` (family, family:revision or ARN) on `cluster` (name or ARN).
    pub fn run_task(cluster: impl Into<String>, task_definition: impl Into<String>) -> Self {
        Ecs {
            cluster: cluster.into(),
            task_definition: task_definition.into(),
            launch_type: "FARGATE".into(),
            subnets: Vec::new(),
            security_groups: Vec::new(),
            assign_public_ip: false,
            container: None,
            sync: false,
        }
    }

    /// Waits for the task to stop (`.sync`): the Task fails when a container exits non-zero.
    pub fn sync(mut self) -> Self {
        self.sync = true;
        self
    }

    /// `FARGATE` (default), `EC2` or `EXTERNAL`.
    pub fn launch_type(mut self, launch_type: impl Into<String>) -> Self {
        self.launch_type = launch_type.into();
        self
    }

    /// The awsvpc network: subnets and security groups; public IPs are not assigned unless asked for.
    pub fn network(mut self, subnets: Vec<String>, security_groups: Vec<String>, assign_public_ip: bool) -> Self {
        self.subnets = subnets;
        self.security_groups = security_groups;
        self.assign_public_ip = assign_public_ip;
        self
    }

    /// Overrides the command of `container`: an array literal, or a path/intrinsic (`States.Array(...)`).
    pub fn command(mut self, container: impl Into<String>, command: impl Into<Value>) -> Self {
        self.container = Some((container.into(), command.into()));
        self
    }
}

impl Integration for Ecs {
    fn resource(&self) -> String {
        service_arn("ecs:runTask", self.sync)
    }
    fn parameters(&self) -> Option<Value> {
        let mut p = Map::new();
        p.insert("LaunchType".into(), self.launch_type.clone().into());
        p.insert("Cluster".into(), self.cluster.clone().into());
        p.insert("TaskDefinition".into(), self.task_definition.clone().into());
        if !self.subnets.is_empty() {
            p.insert(
                "NetworkConfiguration".into(),
                json!({"AwsvpcConfiguration": {
                    "Subnets": self.subnets,
                    "SecurityGroups": self.security_groups,
                    "AssignPublicIp": if self.assign_public_ip { "ENABLED" } else { "DISABLED" },
                }}),
            );
        }
        if let Some((name, command)) = &self.container {
            let mut o = Map::new();
            o.insert("Name".into(), name.clone().into());
            put(&mut o, "Command", command.clone());
            p.insert("Overrides".into(), json!({"ContainerOverrides": [o]}));
        }
        Some(Value::Object(p))
    }
}

/// `lambda:invoke`: invokes a Lambda function with a payload; the result is the invocation response.
#[derive(Debug, Clone)]
pub struct Lambda {
    function_name: String,
    payload: Option<Value>,
}

impl Lambda {
    /// Invokes `function_name` (name, ARN, or name with alias).
    pub fn invoke(function_name: impl Into<String>) -> Self {
        Lambda { function_name: function_name.into(), payload: None }
    }

    /// The payload: an object template (keys ending in `.$` are evaluated), or a path such as `$`.
    pub fn payload(mut self, payload: impl Into<Value>) -> Self {
        self.payload = Some(payload.into());
        self
    }
}

impl Integration for Lambda {
    fn resource(&self) -> String {
        service_arn("lambda:invoke", false)
    }
    fn parameters(&self) -> Option<Value> {
        let mut p = Map::new();
        p.insert("FunctionName".into(), self.function_name.clone().into());
        if let Some(payload) = &self.payload {
            put(&mut p, "Payload", payload.clone());
        }
        Some(Value::Object(p))
    }
}

/// `sns:publish`: publishes a message to a topic.
#[derive(Debug, Clone)]
pub struct Sns {
    topic_arn: String,
    subject: Option<Value>,
    message: Value,
}

impl Sns {
    /// Publishes `message` to `topic_arn`: a literal, an object template (sent as JSON), a path or an intrinsic.
    pub fn publish(topic_arn: impl Into<String>, message: impl Into<Value>) -> Self {
        Sns { topic_arn: topic_arn.into(), subject: None, message: message.into() }
    }

    /// The subject line (e-mail subscriptions); a path or intrinsic is evaluated.
    pub fn subject(mut self, subject: impl Into<Value>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

impl Integration for Sns {
    fn resource(&self) -> String {
        service_arn("sns:publish", false)
    }
    fn parameters(&self) -> Option<Value> {
        let mut p = Map::new();
        p.insert("TopicArn".into(), self.topic_arn.clone().into());
        if let Some(subject) = &self.subject {
            put(&mut p, "Subject", subject.clone());
        }
        put(&mut p, "Message", self.message.clone());
        Some(Value::Object(p))
    }
}

/// A `Task` state calling an [`Integration`].
#[derive(Debug, Clone)]
pub struct Task {
    name: String,
    state: asl::Task,
    policies: Policies,
}

impl Task {
    /// A Task named `name` that calls `integration`.
    pub fn new(name: impl Into<String>, integration: impl Integration) -> Self {
        let state =
            asl::Task { resource: integration.resource(), parameters: integration.parameters(), ..Default::default() };
        Task { name: name.into(), state, policies: Policies::default() }
    }

    /// Fails the task with `States.Timeout` after `seconds` (without it, a stuck job holds the run for a year).
    pub fn timeout(mut self, seconds: u64) -> Self {
        self.state.timeout_seconds = Some(seconds.into());
        self
    }

    /// Fails the task with `States.HeartbeatTimeout` when no heartbeat arrives within `seconds`.
    pub fn heartbeat(mut self, seconds: u64) -> Self {
        self.state.heartbeat_seconds = Some(seconds.into());
        self
    }

    /// Calls the integration under another role (`RoleArn`, or `RoleArn.$` for a path).
    pub fn credentials(mut self, credentials: Value) -> Self {
        self.state.credentials = Some(credentials);
        self
    }

    io_setters!();
    policy_setters!();
}

impl IntoChain for Task {
    type Kind = Open;
    fn into_chain(self) -> Chain<Open> {
        let graph: Graph = self.policies.into_graph(
            self.name,
            State::Task(self.state),
            |s| match s {
                State::Task(t) => &mut t.retry,
                _ => unreachable!("built as a Task"),
            },
            |s| match s {
                State::Task(t) => &mut t.catch,
                _ => unreachable!("built as a Task"),
            },
        );
        Chain::from_graph(graph)
    }
}
