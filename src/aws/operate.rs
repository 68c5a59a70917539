//! Operating a deployed pipeline: start and follow executions, their status per stage, rerun one stage with the
//! arguments it had, redrive a failed execution, and move the `live` alias back.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, LaunchType, NetworkConfiguration, TaskOverride,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::primitives::DateTimeFormat;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus, HistoryEvent};
use serde::Serialize;
use serde_json::{Value, json};

use super::deploy::{LIVE, live, point_alias, version_number};
use super::{Aws, StartOn, describe_error};
use crate::config::EnvConfig;
use crate::stage::Stage;

/// How often a followed execution, job run or task is polled.
pub const POLL: Duration = Duration::from_secs(3);

/// One event of an execution's history, flattened to what amali shows.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The event's id (1, 2, ...).
    pub id: i64,
    /// The previous event of its state or branch.
    pub previous_event_id: i64,
    /// Its type, e.g. `TaskStateEntered`.
    pub kind: String,
    /// When it happened, RFC 3339.
    pub timestamp: String,
    /// The state it concerns (entered and exited events).
    pub state: Option<String>,
    /// The error of a failure event.
    pub error: Option<String>,
    /// The cause of a failure event.
    pub cause: Option<String>,
    /// A scheduled task's integration (`lambda`, `glue`, `ecs`, ...).
    pub resource_type: Option<String>,
    /// A scheduled task's action (`invoke`, `startJobRun.sync`, ...).
    pub resource: Option<String>,
    /// A scheduled task's parameters (JSON).
    pub parameters: Option<String>,
}

impl Event {
    fn from_sdk(e: &HistoryEvent) -> Event {
        let (error, cause) = failure(e);
        let scheduled = e.task_scheduled_event_details();
        Event {
            id: e.id(),
            previous_event_id: e.previous_event_id(),
            kind: e.r#type().as_str().to_string(),
            timestamp: e.timestamp().fmt(DateTimeFormat::DateTime).unwrap_or_default(),
            state: e
                .state_entered_event_details()
                .map(|d| d.name().to_string())
                .or_else(|| e.state_exited_event_details().map(|d| d.name().to_string())),
            error,
            cause,
            resource_type: scheduled.map(|s| s.resource_type().to_string()),
            resource: scheduled.map(|s| s.resource().to_string()),
            parameters: scheduled.map(|s| s.parameters().to_string()),
        }
    }
}

fn failure(e: &HistoryEvent) -> (Option<String>, Option<String>) {
    macro_rules! pick {
        ($($details:ident),*) => {
            $(if let Some(d) = e.$details() {
                return (d.error().map(String::from), d.cause().map(String::from));
            })*
        };
    }
    pick!(
        task_failed_event_details,
        task_timed_out_event_details,
        task_start_failed_event_details,
        task_submit_failed_event_details,
        lambda_function_failed_event_details,
        lambda_function_timed_out_event_details,
        execution_failed_event_details,
        execution_timed_out_event_details,
        execution_aborted_event_details
    );
    (None, None)
}

/// The whole history of an execution, oldest first.
pub async fn history(aws: &Aws, execution_arn: &str) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut pages = aws.sfn.get_execution_history().execution_arn(execution_arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("cannot read the history of {execution_arn}: {}", describe_error(&e)))?;
        events.extend(page.events().iter().map(Event::from_sdk));
    }
    Ok(events)
}

/// An execution as `amali graph --run` draws it: the definition it ran, its history as overlay steps, and whether
/// it has ended.
pub async fn execution_for_graph(
    aws: &Aws,
    execution_arn: &str,
) -> anyhow::Result<(String, Vec<crate::asl::execution::Step>, bool)> {
    let machine = aws
        .sfn
        .describe_state_machine_for_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| anyhow!("cannot read the definition of {execution_arn}: {}", describe_error(&e)))?;
    let finished = describe(aws, execution_arn).await?.status() != &ExecutionStatus::Running;
    let steps = history(aws, execution_arn)
        .await?
        .into_iter()
        .map(|e| crate::asl::execution::Step {
            id: e.id,
            previous: e.previous_event_id,
            timestamp: crate::asl::execution::parse_time(&e.timestamp),
            kind: e.kind,
            state: e.state,
        })
        .collect();
    Ok((machine.definition().to_string(), steps, finished))
}

/// DescribeExecution of `execution_arn`.
async fn describe(aws: &Aws, execution_arn: &str) -> anyhow::Result<DescribeExecutionOutput> {
    aws.sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| anyhow!("cannot read {execution_arn}: {}", describe_error(&e)))
}

/// The execution ARN of the execution named `name` of `env`'s state machine.
pub fn execution_arn(env: &EnvConfig, name: &str) -> String {
    env.arn("states", &format!("execution:{}:{name}", env.state_machine))
}

/// What `amali run --env` starts.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The run's logical date.
    pub logical_date: String,
    /// Extra input fields.
    pub input: Value,
    /// Start another execution even if one of this logical date exists.
    pub force: bool,
    /// What to start.
    pub on: StartOn,
}

/// An execution `amali run` found or started.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Its ARN.
    pub execution_arn: String,
    /// Its name (the run id).
    pub name: String,
    /// Whether it was started now (false: it existed).
    pub started: bool,
    /// Its status when found (started ones are RUNNING).
    pub status: String,
}

/// The deterministic execution name of a logical date: one run per date.
pub fn run_name(logical_date: &str) -> String {
    format!("run-{logical_date}")
}

/// Starts an execution on the alias `live` (or a version), named after the logical date, unless one exists.
pub async fn start(aws: &Aws, env: &EnvConfig, request: &RunRequest) -> anyhow::Result<Started> {
    let mut name = run_name(&request.logical_date);
    let arn = execution_arn(env, &name);
    match aws.sfn.describe_execution().execution_arn(&arn).send().await {
        Ok(existing) if !request.force => {
            return Ok(Started { execution_arn: arn, name, started: false, status: existing.status().as_str().into() });
        }
        Ok(_) => name = format!("{name}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {}
        Err(e) => bail!("cannot look for execution {name}: {}", describe_error(&e)),
    }
    let sm = env.state_machine_arn();
    let target = match request.on {
        StartOn::Live => format!("{sm}:{LIVE}"),
        StartOn::Latest => sm,
        StartOn::Version(v) => format!("{sm}:{v}"),
    };
    let mut input = request.input.clone();
    if !input.is_object() {
        bail!("--input must be a JSON object, like {{\"logical_date\": \"2024-03-01\"}}");
    }
    input["logical_date"] = json!(request.logical_date);
    let out = aws
        .sfn
        .start_execution()
        .state_machine_arn(&target)
        .name(&name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| {
            let hint = if e.as_service_error().is_some_and(|s| s.is_state_machine_does_not_exist()) {
                format!(" (deploy first: amali deploy --env {})", env.name)
            } else {
                String::new()
            };
            anyhow!("cannot start {name} on {target}: {}{hint}", describe_error(&e))
        })?;
    Ok(Started { execution_arn: out.execution_arn().to_string(), name, started: true, status: "RUNNING".into() })
}

/// The status of an execution and, once it ended, its error and cause.
#[derive(Debug, Clone, Serialize)]
pub struct Ended {
    /// SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    /// The error of a failed execution.
    pub error: Option<String>,
    /// The cause of a failed execution.
    pub cause: Option<String>,
    /// The execution's output.
    pub output: Option<String>,
}

/// Polls an execution's history until it ends, giving each new event to `show`.
pub async fn follow(aws: &Aws, execution_arn: &str, show: &mut dyn FnMut(&Event)) -> anyhow::Result<Ended> {
    let mut seen = 0;
    loop {
        let events = history(aws, execution_arn).await?;
        for e in &events {
            if e.id > seen {
                show(e);
                seen = e.id;
            }
        }
        let out = describe(aws, execution_arn).await?;
        if *out.status() != ExecutionStatus::Running && *out.status() != ExecutionStatus::PendingRedrive {
            let events = history(aws, execution_arn).await?;
            for e in events.iter().filter(|e| e.id > seen) {
                show(e);
            }
            return Ok(Ended {
                status: out.status().as_str().to_string(),
                error: out.error().map(String::from),
                cause: out.cause().map(String::from),
                output: out.output().map(String::from),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How one stage went in an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Never entered.
    NotRun,
    /// Entered, not exited.
    Running,
    /// Exited.
    Succeeded,
    /// Its task failed (the last attempt, when retried).
    Failed,
}

/// The status of every stage from an execution's history.
pub fn stage_statuses(events: &[Event]) -> Vec<(Stage, StageStatus)> {
    Stage::ALL
        .iter()
        .map(|stage| {
            let name = stage.state_name();
            let mut status = StageStatus::NotRun;
            let mut inside = false;
            for e in events {
                if e.state.as_deref() == Some(name) && e.kind.ends_with("StateEntered") {
                    status = StageStatus::Running;
                    inside = true;
                } else if e.state.as_deref() == Some(name) && e.kind.ends_with("StateExited") {
                    // A caught failure exits the state too: keep Failed.
                    if status != StageStatus::Failed {
                        status = StageStatus::Succeeded;
                    }
                    inside = false;
                } else if inside && e.error.is_some() && (e.kind.starts_with("Task") || e.kind.starts_with("Lambda")) {
                    status = StageStatus::Failed;
                } else if inside && (e.kind == "TaskSucceeded" || e.kind == "LambdaFunctionSucceeded") {
                    status = StageStatus::Running;
                }
            }
            (*stage, status)
        })
        .collect()
}

/// One row of `amali status`.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionStatusRow {
    /// The execution's name.
    pub name: String,
    /// Its ARN.
    pub execution_arn: String,
    /// RUNNING, SUCCEEDED, FAILED, ...
    pub status: String,
    /// When it started.
    pub started: String,
    /// When it stopped.
    pub stopped: Option<String>,
    /// How each stage went.
    pub stages: Vec<(Stage, StageStatus)>,
}

/// The `limit` most recent executions of `env`'s state machine, newest first.
async fn list_executions(aws: &Aws, env: &EnvConfig, limit: i32) -> anyhow::Result<Vec<ExecutionListItem>> {
    let out = aws
        .sfn
        .list_executions()
        .state_machine_arn(env.state_machine_arn())
        .max_results(limit)
        .send()
        .await
        .map_err(|e| anyhow!("cannot list the executions of {}: {}", env.state_machine, describe_error(&e)))?;
    Ok(out.executions)
}

/// The most recent executions of `env`'s state machine, newest first, with the status of each stage.
pub async fn recent(aws: &Aws, env: &EnvConfig, limit: i32) -> anyhow::Result<Vec<ExecutionStatusRow>> {
    let mut rows = Vec::new();
    for item in list_executions(aws, env, limit).await? {
        let events = history(aws, item.execution_arn()).await?;
        rows.push(ExecutionStatusRow {
            name: item.name().to_string(),
            execution_arn: item.execution_arn().to_string(),
            status: item.status().as_str().to_string(),
            started: item.start_date().fmt(DateTimeFormat::DateTime).unwrap_or_default(),
            stopped: item.stop_date().and_then(|d| d.fmt(DateTimeFormat::DateTime).ok()),
            stages: stage_statuses(&events),
        });
    }
    Ok(rows)
}

/// The latest execution of `env`'s state machine.
pub async fn latest_execution(aws: &Aws, env: &EnvConfig) -> anyhow::Result<String> {
    list_executions(aws, env, 1).await?.first().map(|e| e.execution_arn().to_string()).ok_or_else(|| {
        anyhow!("{} has no executions yet: `amali run --env {}` starts one", env.state_machine, env.name)
    })
}

/// The call a stage's Task made in an execution: its integration and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct StageCall {
    /// `lambda`, `glue` or `ecs`.
    pub resource_type: String,
    /// `invoke`, `startJobRun.sync`, `runTask.sync`, ...
    pub resource: String,
    /// The parameters, as Step Functions sent them.
    pub parameters: Value,
}

/// The last call `stage`'s Task made in an execution's history.
pub fn stage_call(events: &[Event], stage: Stage) -> Option<StageCall> {
    let name = stage.state_name();
    let mut inside = false;
    let mut found = None;
    for e in events {
        if e.state.as_deref() == Some(name) && e.kind.ends_with("StateEntered") {
            inside = true;
        } else if e.state.is_some() && e.kind.ends_with("StateEntered") {
            inside = false;
        } else if inside && e.kind == "TaskScheduled" {
            found = Some(StageCall {
                resource_type: e.resource_type.clone().unwrap_or_default(),
                resource: e.resource.clone().unwrap_or_default(),
                parameters: e.parameters.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null),
            });
        }
    }
    found
}

/// How a rerun ended.
#[derive(Debug, Clone, Serialize)]
pub struct RerunOutcome {
    /// Whether the stage succeeded.
    pub succeeded: bool,
    /// What it ran (a job run id, a task ARN, a function).
    pub ran: String,
    /// The stage's result or the failure's description.
    pub detail: String,
}

/// Runs `call` again in AWS (a Lambda invoke, a Glue job run, an ECS task) and waits for it to end.
pub async fn rerun(aws: &Aws, call: &StageCall, progress: &mut dyn FnMut(&str)) -> anyhow::Result<RerunOutcome> {
    let p = &call.parameters;
    match call.resource_type.as_str() {
        "lambda" => {
            let function = p["FunctionName"].as_str().ok_or_else(|| anyhow!("the Lambda call names no function"))?;
            progress(&format!("invoking {function}"));
            let payload = p.get("Payload").cloned().unwrap_or(Value::Null);
            let out = aws
                .lambda
                .invoke()
                .function_name(function)
                .payload(Blob::new(payload.to_string()))
                .send()
                .await
                .map_err(|e| anyhow!("cannot invoke {function}: {}", describe_error(&e)))?;
            let body = out.payload().map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()).unwrap_or_default();
            Ok(RerunOutcome { succeeded: out.function_error().is_none(), ran: function.to_string(), detail: body })
        }
        "glue" => {
            let job = p["JobName"].as_str().ok_or_else(|| anyhow!("the Glue call names no job"))?;
            let arguments = p["Arguments"].as_object().cloned().unwrap_or_default();
            let out = aws
                .glue
                .start_job_run()
                .job_name(job)
                .set_arguments(Some(
                    arguments
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| anyhow!("cannot start Glue job {job}: {}", describe_error(&e)))?;
            let run_id = out.job_run_id().unwrap_or_default().to_string();
            progress(&format!("started Glue job run {run_id} of {job}"));
            loop {
                let run = aws
                    .glue
                    .get_job_run()
                    .job_name(job)
                    .run_id(&run_id)
                    .send()
                    .await
                    .map_err(|e| anyhow!("cannot read job run {run_id}: {}", describe_error(&e)))?;
                let run = run.job_run.ok_or_else(|| anyhow!("job run {run_id} is gone"))?;
                let state = run.job_run_state().map(|s| s.as_str().to_string()).unwrap_or_default();
                if ["SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"].contains(&state.as_str()) {
                    return Ok(RerunOutcome {
                        succeeded: state == "SUCCEEDED",
                        ran: format!("{job} run {run_id}"),
                        detail: run.error_message().map(|m| format!("{state}: {m}")).unwrap_or(state),
                    });
                }
                tokio::time::sleep(POLL).await;
            }
        }
        "ecs" => {
            let cluster = p["Cluster"].as_str().ok_or_else(|| anyhow!("the ECS call names no cluster"))?;
            let task_definition =
                p["TaskDefinition"].as_str().ok_or_else(|| anyhow!("the ECS call names no task definition"))?;
            let vpc = &p["NetworkConfiguration"]["AwsvpcConfiguration"];
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                    .unwrap_or_default()
            };
            let network = AwsVpcConfiguration::builder()
                .set_subnets(Some(strings(&vpc["Subnets"])))
                .set_security_groups(Some(strings(&vpc["SecurityGroups"])))
                .assign_public_ip(AssignPublicIp::from(vpc["AssignPublicIp"].as_str().unwrap_or("DISABLED")))
                .build()
                .context("the ECS call's network configuration")?;
            let overrides = p["Overrides"]["ContainerOverrides"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            ContainerOverride::builder()
                                .set_name(c["Name"].as_str().map(String::from))
                                .set_command(Some(strings(&c["Command"])))
                                .build()
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let out = aws
                .ecs
                .run_task()
                .cluster(cluster)
                .task_definition(task_definition)
                .launch_type(LaunchType::Fargate)
                .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(network).build())
                .overrides(TaskOverride::builder().set_container_overrides(Some(overrides)).build())
                .send()
                .await
                .map_err(|e| anyhow!("cannot run an ECS task of {task_definition}: {}", describe_error(&e)))?;
            if let Some(f) = out.failures().first() {
                bail!("ECS did not start the task: {} {}", f.reason().unwrap_or(""), f.detail().unwrap_or(""));
            }
            let task = out
                .tasks()
                .first()
                .and_then(|t| t.task_arn())
                .ok_or_else(|| anyhow!("ECS started no task"))?
                .to_string();
            progress(&format!("started ECS task {task}"));
            loop {
                let out = aws
                    .ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .tasks(&task)
                    .send()
                    .await
                    .map_err(|e| anyhow!("cannot read task {task}: {}", describe_error(&e)))?;
                let Some(t) = out.tasks().first() else { bail!("task {task} is gone") };
                if t.last_status() == Some("STOPPED") {
                    let exit = t.containers().first().and_then(|c| c.exit_code());
                    return Ok(RerunOutcome {
                        succeeded: exit == Some(0),
                        ran: task.clone(),
                        detail: format!(
                            "exit code {} ({})",
                            exit.map(|c| c.to_string()).unwrap_or_else(|| "none".into()),
                            t.stopped_reason().unwrap_or("stopped")
                        ),
                    });
                }
                tokio::time::sleep(POLL).await;
            }
        }
        other => bail!("a {other} task ({}) cannot be rerun by amali", call.resource),
    }
}

/// Redrives a failed execution: it resumes from the state that failed.
pub async fn redrive(aws: &Aws, execution_arn: &str) -> anyhow::Result<()> {
    aws.sfn
        .redrive_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| anyhow!("cannot redrive {execution_arn}: {}", describe_error(&e)))?;
    Ok(())
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    /// The version the alias pointed to.
    pub from: u64,
    /// The version it points to now.
    pub to: u64,
}

/// Moves the alias `live` to `to`, or to the version before the one it points to.
pub async fn rollback(aws: &Aws, env: &EnvConfig, to: Option<u64>) -> anyhow::Result<Rollback> {
    let sm = env.state_machine_arn();
    let current = live(aws, env).await?;
    if current.latest.is_none() {
        bail!("{} is not deployed: `amali deploy --env {}` first", env.state_machine, env.name);
    }
    let from = current.alias_version.as_deref().and_then(version_number).ok_or_else(|| {
        anyhow!("the alias {LIVE} does not point to one version; `amali deploy --env {}` sets it", env.name)
    })?;
    let to = match to {
        Some(v) => {
            aws.sfn
                .describe_state_machine()
                .state_machine_arn(format!("{sm}:{v}"))
                .send()
                .await
                .map_err(|e| anyhow!("version {v} of {}: {}", env.state_machine, describe_error(&e)))?;
            v
        }
        None => {
            let mut versions = Vec::new();
            let mut token = None;
            loop {
                let page = aws
                    .sfn
                    .list_state_machine_versions()
                    .state_machine_arn(&sm)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!("cannot list the versions of {}: {}", env.state_machine, describe_error(&e))
                    })?;
                versions.extend(
                    page.state_machine_versions().iter().filter_map(|v| version_number(v.state_machine_version_arn())),
                );
                token = page.next_token().map(String::from);
                if token.is_none() {
                    break;
                }
            }
            versions
                .into_iter()
                .filter(|v| *v < from)
                .max()
                .ok_or_else(|| anyhow!("there is no version before {from} to roll back to"))?
        }
    };
    if to == from {
        bail!("the alias {LIVE} already points to version {to}");
    }
    point_alias(aws, &sm, &format!("{sm}:{to}"), true).await?;
    Ok(Rollback { from, to })
}
