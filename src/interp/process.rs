//! Running the pipeline's stages as local processes: the Task integrations that start a stage on AWS
//! (`lambda:invoke`, `glue:startJobRun(.sync)`, `ecs:runTask(.sync)`) start the stage binary here instead, with
//! the arguments the Task passes, and answer the way AWS would.
//!
//! | integration        | arguments of the binary                                   | result / error                         |
//! |--------------------|-----------------------------------------------------------|----------------------------------------|
//! | `lambda:invoke`    | the payload's keys as flags (`run_id` -> `--run-id V`)    | `{"Payload": summary, "StatusCode": 200}`; a failure is the stage's error name (`Amali.DataError`), its cause Lambda's `{"errorType", "errorMessage"}` |
//! | `glue:startJobRun` | the job's `Arguments` as they are (`--run_id V`)          | a JobRun (`JobRunState`, `ExecutionTime`); a failure is `States.TaskFailed` with the JobRun (its `ErrorMessage` names the stage's error) as cause |
//! | `ecs:runTask`      | the container override's `Command` after the binary name  | a stopped task; a failure is `States.TaskFailed` with the task (exit code, reason) as cause |
//!
//! The stage's summary (one JSON object on standard output) is the Lambda payload; its log (standard error) goes
//! to `<logs>/<stage>.log`. A Task that times out drops the process, which kills it.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use amali_core::args as stage_args;
use amali_core::summary::RunSummary;
use amali_core::task::{TaskOutcome, TaskRecord};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::error::{StatesError, names};
use super::handlers::{TaskFuture, TaskHandler, TaskRequest};
use crate::config::EnvConfig;
use crate::stage::{Stage, StageErrorKind};

/// Finds a binary by name.
pub type Locate = Arc<dyn Fn(&str) -> Result<PathBuf, String> + Send + Sync>;

/// Runs stage binaries for the Task states that start stages.
pub struct ProcessHandler {
    env: EnvConfig,
    locate: Locate,
    /// Environment variables every stage gets (work directory, configuration file).
    vars: Vec<(String, String)>,
    logs: PathBuf,
    fail: BTreeSet<Stage>,
    record: Option<PathBuf>,
    replay: HashMap<String, Value>,
}

/// How a Task started the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Integration {
    Lambda,
    Glue,
    Ecs,
}

/// What a stage process did.
struct Exit {
    code: Option<i32>,
    summary: Option<RunSummary>,
    last_error: String,
    seconds: f64,
}

impl ProcessHandler {
    /// A handler for `env`'s stages: binaries found by `locate`, each run with `vars` in its environment, its log
    /// written under `logs`. Stages in `fail` are not run: they fail as if they had (`--fail-stage`).
    pub fn new(
        env: EnvConfig,
        locate: Locate,
        vars: Vec<(String, String)>,
        logs: PathBuf,
        fail: BTreeSet<Stage>,
    ) -> Self {
        ProcessHandler { env, locate, vars, logs, fail, record: None, replay: HashMap::new() }
    }

    /// Appends every stage call (state, stage, resource, parameters, then result or error) to `file` as a JSON line:
    /// what `amali rerun` and `amali redrive` read back.
    pub fn recording(mut self, file: PathBuf) -> Self {
        self.record = Some(file);
        self
    }

    /// Answers the first attempt of these states with their recorded results instead of running the stage
    /// (a redrive does not run again what succeeded).
    pub fn replaying(mut self, results: HashMap<String, Value>) -> Self {
        self.replay = results;
        self
    }

    fn write_record(&self, request: &TaskRequest, stage: Stage, result: &Result<Value, StatesError>, replayed: bool) {
        let Some(file) = &self.record else { return };
        let record = TaskRecord {
            state: request.state.clone(),
            stage,
            resource: request.resource.clone(),
            parameters: request.parameters.clone(),
            attempt: request.attempt,
            replayed,
            outcome: match result {
                Ok(v) => TaskOutcome::Succeeded { result: v.clone() },
                Err(e) => TaskOutcome::Failed { error: e.error.clone(), cause: e.cause.clone() },
            },
        };
        let line = serde_json::to_string(&record).unwrap_or_default();
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            eprintln!("warning: cannot record the call of {} in {}: {e}", request.state, file.display());
        }
    }

    /// The stage a request starts, how, and the binary's arguments; `None` when it starts no stage of ours.
    fn route(&self, request: &TaskRequest) -> Option<(Stage, Integration, Vec<String>)> {
        let resource = request.resource.strip_prefix("arn:aws:states:::").unwrap_or(&request.resource);
        let p = &request.parameters;
        if resource.starts_with("lambda:invoke") {
            let function = p.get("FunctionName")?.as_str()?;
            let function = function.rsplit(':').next().unwrap_or(function);
            let by_name = Stage::ALL.into_iter().find(|s| self.env.lambda_function(*s) == function);
            let by_payload = p
                .get("Payload")
                .and_then(|p| p.get(stage_args::keys::STAGE))
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
            let stage = by_name.or(by_payload)?;
            return Some((stage, Integration::Lambda, payload_flags(p.get("Payload").unwrap_or(&Value::Null))));
        }
        if resource.starts_with("glue:startJobRun") {
            let job = p.get("JobName")?.as_str()?;
            let stage = Stage::ALL.into_iter().find(|s| self.env.glue_job(*s) == job)?;
            let mut args = Vec::new();
            for (k, v) in p.get("Arguments").and_then(Value::as_object).into_iter().flatten() {
                args.push(stage_args::as_flag(k));
                args.push(scalar_text(v));
            }
            return Some((stage, Integration::Glue, args));
        }
        if resource.starts_with("ecs:runTask") {
            let overrides = p.pointer("/Overrides/ContainerOverrides")?.as_array()?;
            let command = overrides.iter().find_map(|o| o.get("Command")?.as_array())?;
            let mut words = command.iter().map(scalar_text);
            let stage: Stage = words.next()?.parse().ok()?;
            return Some((stage, Integration::Ecs, words.collect()));
        }
        None
    }

    async fn run(&self, stage: Stage, args: &[String]) -> Result<Exit, StatesError> {
        let binary = (self.locate)(stage.name()).map_err(|e| StatesError::new(names::TASK_FAILED, e))?;
        std::fs::create_dir_all(&self.logs)
            .map_err(|e| StatesError::new(names::TASK_FAILED, format!("cannot create {}: {e}", self.logs.display())))?;
        let log_path = self.logs.join(format!("{}.log", stage.name()));
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| {
                StatesError::new(names::TASK_FAILED, format!("cannot open {}: {e}", log_path.display()))
            })?;
        let started = Instant::now();
        let mut command = tokio::process::Command::new(&binary);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).kill_on_drop(true);
        for (k, v) in &self.vars {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .map_err(|e| StatesError::new(names::TASK_FAILED, format!("cannot start {}: {e}", binary.display())))?;
        let mut stdout = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout).await;
        }
        tracing::debug!(stage = stage.name(), binary = %binary.display(), ?args, log = %log_path.display(), "stage started");
        let status = child.wait().await.map_err(|e| StatesError::new(names::TASK_FAILED, e.to_string()))?;
        tracing::debug!(stage = stage.name(), code = ?status.code(), seconds = started.elapsed().as_secs_f64(), "stage ended");
        let summary = stdout.lines().rev().find_map(|l| serde_json::from_str::<RunSummary>(l.trim()).ok());
        let last_error = std::fs::read_to_string(&log_path)
            .ok()
            .and_then(|t| t.lines().rev().find(|l| l.starts_with("error:")).map(str::to_string))
            .unwrap_or_default();
        Ok(Exit { code: status.code(), summary, last_error, seconds: started.elapsed().as_secs_f64() })
    }

    /// The answer AWS would give for a stage that exited.
    fn answer(&self, stage: Stage, how: Integration, args: &[String], exit: Exit) -> Result<Value, StatesError> {
        let ok = exit.code == Some(0);
        let error_name = exit.summary.as_ref().and_then(|s| s.error.clone()).unwrap_or_else(|| match exit.code {
            Some(c) => format!("Amali.ExitCode{c}"),
            None => "Amali.Killed".to_string(),
        });
        let message = exit.summary.as_ref().and_then(|s| s.cause.clone()).unwrap_or_else(|| {
            if exit.last_error.is_empty() {
                format!("the stage exited with {:?} and printed no summary (see its log)", exit.code)
            } else {
                exit.last_error.clone()
            }
        });
        let run_id = format!("jr_{}", uuid::Uuid::new_v4().simple());
        match how {
            Integration::Lambda => {
                if ok {
                    Ok(json!({
                        "ExecutedVersion": "$LATEST",
                        "Payload": exit.summary.map(|s| json!(s)).unwrap_or(Value::Null),
                        "StatusCode": 200,
                    }))
                } else {
                    let cause = json!({"errorMessage": message, "errorType": error_name, "trace": []});
                    Err(StatesError::new(error_name, cause.to_string()))
                }
            }
            Integration::Glue => {
                let run = json!({
                    "Id": run_id,
                    "JobName": self.env.glue_job(stage),
                    "Arguments": args_object(args),
                    "JobRunState": if ok { "SUCCEEDED" } else { "FAILED" },
                    "ExecutionTime": exit.seconds.round() as i64,
                    "ErrorMessage": if ok { Value::Null } else { json!(format!("{error_name}: {message}")) },
                });
                if ok { Ok(run) } else { Err(StatesError::new(names::TASK_FAILED, run.to_string())) }
            }
            Integration::Ecs => {
                let task = json!({
                    "TaskArn": format!("arn:aws:ecs:{}:{}:task/local/{}", self.env.region, self.env.account, uuid::Uuid::new_v4().simple()),
                    "LastStatus": "STOPPED",
                    "StopCode": "EssentialContainerExited",
                    "StoppedReason": "Essential container in task exited",
                    "Containers": [{
                        "Name": self.env.ecs.as_ref().map(|e| e.container.clone()).unwrap_or_default(),
                        "ExitCode": exit.code,
                        "Reason": if ok { Value::Null } else { json!(format!("{error_name}: {message}")) },
                    }],
                });
                if ok { Ok(task) } else { Err(StatesError::new(names::TASK_FAILED, task.to_string())) }
            }
        }
    }
}

impl TaskHandler for ProcessHandler {
    fn call<'a>(&'a self, request: &'a TaskRequest) -> Option<TaskFuture<'a>> {
        let (stage, how, args) = self.route(request)?;
        Some(Box::pin(async move {
            if request.attempt == 0
                && let Some(result) = self.replay.get(&request.state)
            {
                let result = Ok(result.clone());
                self.write_record(request, stage, &result, true);
                return result;
            }
            let exit = if self.fail.contains(&stage) {
                let kind = StageErrorKind::Internal;
                let cause = format!("{} was made to fail (--fail-stage {})", stage.name(), stage.name());
                Exit {
                    code: Some(kind.exit_code().into()),
                    summary: Some(RunSummary::new(
                        stage,
                        "",
                        "",
                        0.0,
                        Vec::new(),
                        Some((kind.error_name().to_string(), cause)),
                    )),
                    last_error: String::new(),
                    seconds: 0.0,
                }
            } else {
                match self.run(stage, &args).await {
                    Ok(exit) => exit,
                    Err(e) => {
                        let result = Err(e);
                        self.write_record(request, stage, &result, false);
                        return result;
                    }
                }
            };
            let result = self.answer(stage, how, &args, exit);
            self.write_record(request, stage, &result, false);
            result
        }))
    }
}

/// A JSON value as one command-line word.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A Lambda payload as flags: `{"run_id": "r1", "targets": ["a", "b"]}` -> `--run-id r1 --targets a,b`; the
/// `stage` key only chose the binary.
pub fn payload_flags(payload: &Value) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in payload.as_object().into_iter().flatten() {
        if k == stage_args::keys::STAGE || v.is_null() {
            continue;
        }
        args.push(stage_args::flag(k));
        args.push(scalar_text(v));
    }
    args
}

fn args_object(args: &[String]) -> Value {
    let mut map = serde_json::Map::new();
    for pair in args.chunks(2) {
        if let [k, v] = pair {
            map.insert(k.clone(), json!(v));
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_become_flags() {
        let p = json!({"stage": "rds", "env": "local", "run_id": "r1", "targets": ["internal_rds", "redshift"]});
        assert_eq!(payload_flags(&p), ["--env", "local", "--run-id", "r1", "--targets", "internal_rds,redshift"]);
    }
}
