//! `amali run --local`, `amali rerun STAGE --local` and `amali redrive --local RUN_ID`: the pipeline on this
//! machine, through the interpreter, with the real stage binaries.
//!
//! A run lives in `<workdir>/runs/<RUN_ID>/`: the definition it ran, its input, its history (AWS's event shape),
//! its outcome, every stage call (`tasks.jsonl`: state, parameters, result or error) and the stages' logs.
//! The run id is the execution's name, which every stage receives as `--run-id`: stages are idempotent per run id,
//! so a rerun or a redrive of a run never writes anything twice.
//!
//! A redrive resumes a failed run as AWS's RedriveExecution does: the same definition and input, the same run id,
//! and the stages that succeeded are not run again (their recorded results are replayed); the stage that failed and
//! everything after it run for real.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use super::aws::{self, AwsArgs};
use super::{ExitStatus, GlobalArgs, tools};
use crate::asl::{self, StateMachine};
use crate::aws::StartOn;
use crate::config::{Config, EnvConfig};
use crate::interp::clock::{Clock, RealClock, VirtualClock};
use crate::interp::handlers::{Handlers, SnsHandler, TaskHandler, TaskRequest};
use crate::interp::process::{Locate, ProcessHandler};
use crate::interp::{Options, Outcome, Status, execute};
use crate::pipeline;
use crate::stage::Stage;
use amali_core::context;
use amali_core::task::{self, TaskOutcome, TaskRecord};

/// Where and what to run, shared by run, rerun and redrive.
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// Run on this machine: SQLite databases and a lake directory in the work directory, stages as processes
    /// (implied for an environment whose lake is a local directory)
    #[arg(long)]
    pub local: bool,
    /// The environment of amali.toml; one whose lake is in S3 is operated in AWS
    #[arg(long, default_value = "local", value_name = "ENV")]
    pub env: String,
    /// The work directory [default: the environment's data.workdir, else .amali]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl LocalArgs {
    /// The environment when it runs in AWS (not --local, and its lake is not a local directory).
    fn aws_env(&self, config: &Config) -> anyhow::Result<Option<EnvConfig>> {
        if self.local {
            return Ok(None);
        }
        let env = config.env(&self.env)?;
        Ok(on_aws(env).then(|| env.clone()))
    }
}

/// Arguments of `amali run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: LocalArgs,
    /// The run's logical date, YYYY-MM-DD [default: today]
    #[arg(long, value_name = "DATE")]
    pub logical_date: Option<String>,
    /// The run id (the execution's name) [default: local-<UTC time>]
    #[arg(long, value_name = "RUN_ID")]
    pub name: Option<String>,
    /// Make a stage fail as if it had (to see the failure path: notification, rerun hint); repeatable
    #[arg(long = "fail-stage", value_name = "STAGE")]
    pub fail_stage: Vec<Stage>,
    /// Wait for real in Wait states and retry backoff (by default waits take no time)
    #[arg(long)]
    pub real_time: bool,
    /// The CSV files that seed the app database on first use [default: jobs/sample-data beside amali.toml]
    #[arg(long, value_name = "DIR")]
    pub sample_data: Option<PathBuf>,
    /// AWS: the execution's input, JSON or @FILE (logical_date is set from --logical-date)
    #[arg(long, value_name = "JSON")]
    pub input: Option<String>,
    /// AWS: show the execution state by state until it ends (exit 0 only if it succeeded)
    #[arg(long)]
    pub follow: bool,
    /// AWS: start another execution even if one for this logical date exists
    #[arg(long)]
    pub force: bool,
    /// AWS: what to start: the alias "live", the "latest" revision, or a version number
    #[arg(long, value_name = "TARGET", default_value = "live", value_parser = parse_start_on)]
    pub on: StartOn,
}

/// Arguments of `amali rerun`.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The stage to run again (read_from_app_database, ingestion_from_rds, ...)
    pub stage: Stage,
    #[command(flatten)]
    pub target: LocalArgs,
    /// The run whose arguments to reuse [default: the latest run]
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// The run, as the execution ARN a failure notice names (its last part is the run id)
    #[arg(long, value_name = "ARN", conflicts_with = "run")]
    pub execution: Option<String>,
}

/// Arguments of `amali redrive`.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The failed run: its run id or execution ARN (an ARN of an environment in AWS redrives it there)
    pub run: String,
    #[command(flatten)]
    pub target: LocalArgs,
    /// AWS: show the execution state by state until it ends
    #[arg(long)]
    pub follow: bool,
}

/// A resolved local environment.
struct Local {
    config: Config,
    env: EnvConfig,
    workdir: PathBuf,
}

impl Local {
    fn resolve(config: Config, args: &LocalArgs) -> anyhow::Result<Local> {
        let env = config.env(&args.env)?.clone();
        let workdir = context::workdir_of(env.data_config(&config.origin)?, args.workdir.as_deref());
        std::fs::create_dir_all(&workdir).with_context(|| format!("cannot create {}", workdir.display()))?;
        let workdir = std::path::absolute(&workdir).unwrap_or(workdir);
        Ok(Local { config, env, workdir })
    }

    fn runs(&self) -> PathBuf {
        self.workdir.join("runs")
    }

    /// The stage handler for a run: binaries next to amali, every stage told the work directory and the config.
    fn stages(&self, run_dir: &Path, fail: BTreeSet<Stage>, replay: HashMap<String, Value>) -> ProcessHandler {
        let locate: Locate = Arc::new(|name: &str| tools::find_binary(name).map_err(|e| e.to_string()));
        let mut vars = vec![("AMALI_WORKDIR".to_string(), self.workdir.display().to_string())];
        if self.config.origin.ends_with(".toml") {
            let origin =
                std::path::absolute(&self.config.origin).unwrap_or_else(|_| PathBuf::from(&self.config.origin));
            vars.push(("AMALI_CONFIG".to_string(), origin.display().to_string()));
        }
        ProcessHandler::new(self.env.clone(), locate, vars, run_dir.join("logs"), fail)
            .recording(run_dir.join("tasks.jsonl"))
            .replaying(replay)
    }

    fn options(&self, run_id: &str, handlers: Handlers, real_time: bool, quiet: bool) -> Options {
        let clock: Arc<dyn Clock> = if real_time { Arc::new(RealClock) } else { Arc::new(VirtualClock::new()) };
        Options {
            clock,
            handlers,
            execution_name: run_id.to_string(),
            state_machine_name: self.env.state_machine.clone(),
            region: self.env.region.clone(),
            account: self.env.account.clone(),
            history: true,
            observer: if quiet { None } else { Some(progress()) },
            ..Options::default()
        }
    }

    fn notifications(&self) -> PathBuf {
        self.workdir.join("notifications.jsonl")
    }

    /// The run directory of `run` (a run id or an execution ARN), or of the latest run.
    fn run_dir(&self, run: Option<&str>) -> anyhow::Result<(String, PathBuf)> {
        let id = match run {
            Some(r) => r.rsplit(':').next().unwrap_or(r).to_string(),
            None => latest_run(&self.runs())?,
        };
        let dir = self.runs().join(&id);
        if !dir.join("outcome.json").is_file() {
            bail!("no finished run {id} in {}; `ls {}` lists the runs", self.runs().display(), self.runs().display());
        }
        Ok((id, dir))
    }
}

/// Live progress on standard error: one line when a stage starts and one when it ends.
fn progress() -> crate::interp::exec::Observer {
    let started = Instant::now();
    let entered: Mutex<Vec<String>> = Mutex::new(Vec::new());
    Arc::new(move |event: &Value| {
        let t = started.elapsed().as_secs_f64();
        let kind = event["type"].as_str().unwrap_or_default();
        match kind {
            "TaskStateEntered" => {
                let name = event.pointer("/stateEnteredEventDetails/name").and_then(Value::as_str).unwrap_or("?");
                entered.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string());
                eprintln!("[{t:7.1}s] ▶ {name}");
            }
            "TaskSucceeded" => {
                let output: Value = event
                    .pointer("/taskSucceededEventDetails/output")
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or(Value::Null);
                if let Some(summary) = task::summary_of(&output) {
                    eprintln!(
                        "[{t:7.1}s] ✓ {} ({} rows written, {:.1}s)",
                        summary.stage,
                        summary.rows_written(),
                        summary.seconds
                    );
                }
            }
            "TaskFailed" | "TaskTimedOut" => {
                let d = event.get("taskFailedEventDetails").or_else(|| event.get("taskTimedOutEventDetails"));
                let error = d.and_then(|d| d["error"].as_str()).unwrap_or("?");
                let cause = d.and_then(|d| d["cause"].as_str()).unwrap_or_default();
                let cause = task::cause_message(cause);
                eprintln!("[{t:7.1}s] ✗ {error}: {}", cause.chars().take(300).collect::<String>());
            }
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted" => {
                eprintln!("[{t:7.1}s] {kind}");
            }
            _ => {}
        }
    })
}

fn latest_run(runs: &Path) -> anyhow::Result<String> {
    let mut newest: Option<(std::time::SystemTime, String)> = None;
    for entry in std::fs::read_dir(runs).with_context(|| format!("no runs yet in {}", runs.display()))? {
        let entry = entry?;
        let modified = entry.metadata()?.modified()?;
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().join("outcome.json").is_file() && newest.as_ref().is_none_or(|(m, _)| modified > *m) {
            newest = Some((modified, name));
        }
    }
    newest.map(|(_, n)| n).ok_or_else(|| anyhow!("no finished run in {}", runs.display()))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

/// Seeds the SQLite app database from the sample data when it does not exist yet.
fn seed_if_missing(local: &Local, sample: Option<&Path>, quiet: bool) -> anyhow::Result<()> {
    let data = local.env.data.as_ref().expect("checked in resolve");
    let Some(path) = data.app_database.strip_prefix("sqlite://") else { return Ok(()) };
    let path = local.workdir.join(path);
    if path.exists() {
        return Ok(());
    }
    let from = sample.map(PathBuf::from).unwrap_or_else(|| super::seed::default_sample_dir(&local.config));
    if !from.is_dir() {
        bail!(
            "the app database {} does not exist and there is no sample data at {} to seed it: give --sample-data DIR",
            path.display(),
            from.display()
        );
    }
    if !quiet {
        eprintln!("seeding the app database {} from {} (first run only)", path.display(), from.display());
    }
    let binary = tools::find_binary("amali_data")?;
    let out = std::process::Command::new(&binary)
        .args(["seed", "--target", &format!("sqlite://{}", path.display()), "--from"])
        .arg(&from)
        .env("AMALI_LOG", "warn")
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !out.status.success() {
        bail!("seeding {} failed: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// When amali runs under `cargo run` and the stage binaries are missing, builds them (first run on a fresh clone).
fn build_stages_if_missing(quiet: bool) -> anyhow::Result<()> {
    let missing: Vec<&str> =
        ["amali_data", "read_from_app_database"].into_iter().filter(|b| tools::find_binary(b).is_err()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let (Some(cargo), Ok(exe)) = (std::env::var_os("CARGO"), std::env::current_exe()) else {
        bail!("the stage binaries ({}) are not built: run `cargo build --workspace` first", missing.join(", "));
    };
    let profile_dir = exe.parent().ok_or_else(|| anyhow!("amali has no directory"))?;
    let target_dir = profile_dir.parent().ok_or_else(|| anyhow!("amali is not in a cargo target directory"))?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    if !quiet {
        eprintln!("building the stage binaries (first run only; `cargo build -p amali-jobs --bins` does the same) ...");
    }
    let mut command = std::process::Command::new(cargo);
    // Only the stages' package: building the workspace here would compile amali's own dependencies again with the
    // features the stages add to them (`cargo run` resolved them for amali alone).
    command.args(["build", "-p", "amali-jobs", "--bins"]).env("CARGO_TARGET_DIR", target_dir);
    if release {
        command.arg("--release");
    }
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("building the stage binaries failed (see above)");
    }
    Ok(())
}

/// The per-stage lines of the end-of-run summary, from the recorded stage calls.
fn stage_report(run_dir: &Path, skip: usize) -> Vec<String> {
    let records = TaskRecord::parse_lines(&std::fs::read_to_string(run_dir.join("tasks.jsonl")).unwrap_or_default());
    let mut lines = Vec::new();
    for record in records.iter().skip(skip) {
        let stage = record.stage.name();
        let line = match &record.outcome {
            TaskOutcome::Succeeded { .. } => {
                let (seconds, rows) = record.summary().map(|s| (s.seconds, s.rows_written())).unwrap_or_default();
                let replayed = if record.replayed { " (replayed)" } else { "" };
                format!("  ✓ {stage:<24} {seconds:>8.1}s {rows:>10} rows written{replayed}")
            }
            TaskOutcome::Failed { error, cause } => {
                let cause = task::cause_message(cause);
                format!("  ✗ {stage:<24} {error}: {}", cause.chars().take(200).collect::<String>())
            }
        };
        lines.push(line);
    }
    lines
}

/// Stage calls recorded so far in a run.
fn recorded_calls(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("tasks.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// Keeps the run's history and outcome and prints the end-of-run summary (the stage calls after `calls_before`).
fn finish(
    local: &Local,
    (run_id, run_dir): (&str, &Path),
    outcome: &Outcome,
    history_file: &str,
    calls_before: usize,
) -> anyhow::Result<ExitStatus> {
    write_json(&run_dir.join(history_file), &outcome.history.clone().unwrap_or_default())?;
    let mut summary = outcome.clone();
    summary.history = None;
    write_json(&run_dir.join("outcome.json"), &summary)?;
    let status = serde_json::to_value(outcome.status)?;
    println!("run {run_id}: {}", status.as_str().unwrap_or("?"));
    for line in stage_report(run_dir, calls_before) {
        println!("{line}");
    }
    if let (Some(e), Some(c)) = (&outcome.error, &outcome.cause) {
        println!("  error: {e}: {}", c.chars().take(500).collect::<String>());
    }
    println!("  run directory: {}", run_dir.display());
    println!("  notifications: {}", local.notifications().display());
    if outcome.status != Status::Succeeded {
        println!("  rerun one stage: amali rerun STAGE --local --run {run_id}");
        println!("  resume the run:  amali redrive --local {run_id}");
    }
    Ok(if outcome.status == Status::Succeeded { ExitStatus::Success } else { ExitStatus::Failure })
}

/// Runs `body` with `<run_dir>/pid` naming this process, so that `pause_clusters` of another run knows this one is
/// still running.
fn running<T>(run_dir: &Path, body: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let pid = run_dir.join("pid");
    std::fs::write(&pid, std::process::id().to_string()).with_context(|| format!("cannot write {}", pid.display()))?;
    let result = body();
    let _ = std::fs::remove_file(&pid);
    result
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// Runs `amali run --local`.
pub fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    if let Some(env) = args.target.aws_env(&config)? {
        if args.name.is_some() || !args.fail_stage.is_empty() {
            bail!("--name and --fail-stage are for local runs; in AWS the execution is named after its logical date");
        }
        let request = aws::AwsRun {
            logical_date: args.logical_date.clone(),
            input: args.input.clone(),
            follow: args.follow,
            force: args.force,
            on: args.on,
        };
        return aws::run(&env, &args.target.aws, request, global.quiet);
    }
    // Everything a stage would refuse is refused here, before anything is written.
    let run_id = args.name.clone().unwrap_or_else(|| format!("local-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
    context::check_run_id(&run_id).context("--name")?;
    let logical_date = args.logical_date.as_deref().map(context::check_logical_date).transpose()?;
    let local = Local::resolve(config, &args.target)?;
    build_stages_if_missing(global.quiet)?;
    seed_if_missing(&local, args.sample_data.as_deref(), global.quiet)?;
    let machine: StateMachine =
        pipeline::build(&local.config, &local.env).map_err(|e| anyhow!("the pipeline does not build:\n{e}"))?;
    let run_dir = local.runs().join(&run_id);
    if run_dir.exists() {
        bail!("run {run_id} exists in {}: pick another --name, or `amali redrive --local {run_id}`", run_dir.display());
    }
    std::fs::create_dir_all(&run_dir).with_context(|| format!("cannot create {}", run_dir.display()))?;
    let input = match logical_date {
        Some(d) => json!({ (amali_core::args::keys::LOGICAL_DATE): d }),
        None => json!({}),
    };
    std::fs::write(run_dir.join("definition.asl.json"), asl::render(&machine))?;
    write_json(&run_dir.join("input.json"), &input)?;
    if !global.quiet {
        eprintln!(
            "run {run_id} of {} ({}), work directory {}",
            local.env.state_machine,
            local.env.name,
            local.workdir.display()
        );
    }
    let handlers = Handlers::new()
        .with(Arc::new(local.stages(&run_dir, args.fail_stage.iter().copied().collect(), HashMap::new())))
        .with(Arc::new(SnsHandler::new(Some(local.notifications()), global.quiet)));
    let options = local.options(&run_id, handlers, args.real_time, global.quiet);
    let outcome = running(&run_dir, || runtime().map(|rt| rt.block_on(execute(&machine, input, options))))?;
    finish(&local, (&run_id, &run_dir), &outcome, "history.json", 0)
}

/// Runs `amali rerun STAGE --local`.
pub fn rerun(global: &GlobalArgs, args: RerunArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    if let Some(env) = args.target.aws_env(&config)? {
        let execution = args.execution.as_deref().or(args.run.as_deref());
        return aws::rerun(&env, &args.target.aws, args.stage, execution);
    }
    let local = Local::resolve(config, &args.target)?;
    let (run_id, run_dir) = local.run_dir(args.run.as_deref().or(args.execution.as_deref()))?;
    let records = TaskRecord::parse_lines(&std::fs::read_to_string(run_dir.join("tasks.jsonl")).unwrap_or_default());
    let record = records
        .into_iter()
        .rev()
        .find(|r| r.stage == args.stage)
        .ok_or_else(|| {
            anyhow!(
                "{} did not run in run {run_id} (it failed earlier, or was never reached): `amali redrive --local {run_id}` resumes the run",
                args.stage
            )
        })?;
    let request = TaskRequest {
        state: record.state,
        resource: record.resource,
        parameters: record.parameters,
        context: json!({}),
        attempt: 0,
    };
    if !global.quiet {
        eprintln!("rerunning {} with the arguments it had in run {run_id}", args.stage);
    }
    let handler = local.stages(&run_dir, BTreeSet::new(), HashMap::new());
    let result = runtime()?.block_on(async {
        match handler.call(&request) {
            Some(f) => f.await,
            None => Err(crate::interp::StatesError::runtime("the recorded call does not start a stage")),
        }
    });
    match result {
        Ok(value) => {
            println!("{}", serde_json::to_string_pretty(value.get("Payload").unwrap_or(&value))?);
            Ok(ExitStatus::Success)
        }
        Err(e) => {
            println!("{} failed: {}: {}", args.stage, e.error, e.cause);
            Ok(ExitStatus::Failure)
        }
    }
}

/// Runs `amali redrive --local RUN_ID`.
pub fn redrive(global: &GlobalArgs, args: RedriveArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    if let Some(env) = aws_env_of_execution(&config, &args)? {
        return aws::redrive(&env, &args.target.aws, &args.run, args.follow, global.quiet);
    }
    let local = Local::resolve(config, &args.target)?;
    let (run_id, run_dir) = local.run_dir(Some(&args.run))?;
    let outcome: Value = serde_json::from_str(&std::fs::read_to_string(run_dir.join("outcome.json"))?)?;
    if outcome["status"] == "SUCCEEDED" {
        bail!(
            "run {run_id} succeeded: there is nothing to redrive (`amali rerun STAGE --local --run {run_id}` reruns one stage)"
        );
    }
    let definition = std::fs::read_to_string(run_dir.join("definition.asl.json"))?;
    let machine = asl::parse(&definition).map_err(|e| anyhow!("the run's definition no longer parses: {e}"))?;
    let input: Value = serde_json::from_str(&std::fs::read_to_string(run_dir.join("input.json"))?)?;
    // The stages that succeeded, with their results, to replay instead of running again.
    let mut replay = HashMap::new();
    for record in TaskRecord::parse_lines(&std::fs::read_to_string(run_dir.join("tasks.jsonl")).unwrap_or_default()) {
        if let TaskOutcome::Succeeded { result } = record.outcome {
            replay.insert(record.state, result);
        }
    }
    let n = (1..).find(|n| !run_dir.join(format!("history.redrive-{n}.json")).exists()).unwrap_or(1);
    if !global.quiet {
        eprintln!("redriving run {run_id} (redrive {n}): {} stages succeeded before and are replayed", replay.len());
    }
    let handlers = Handlers::new()
        .with(Arc::new(local.stages(&run_dir, BTreeSet::new(), replay)))
        .with(Arc::new(SnsHandler::new(Some(local.notifications()), global.quiet)));
    let options = local.options(&run_id, handlers, false, global.quiet);
    let before = recorded_calls(&run_dir);
    let outcome = running(&run_dir, || runtime().map(|rt| rt.block_on(execute(&machine, input, options))))?;
    finish(&local, (&run_id, &run_dir), &outcome, &format!("history.redrive-{n}.json"), before)
}

/// Whether `env` runs in AWS: its lake is not a local directory (or it has no data table at all).
fn on_aws(env: &EnvConfig) -> bool {
    env.data.as_ref().is_none_or(|d| d.lake.contains("://"))
}

/// The environment in AWS a redrive is for: the one whose state machine the execution ARN names (or --env).
fn aws_env_of_execution(config: &Config, args: &RedriveArgs) -> anyhow::Result<Option<EnvConfig>> {
    if args.target.local {
        return Ok(None);
    }
    if let Some(env) = config.env_of_execution(&args.run) {
        let env = env?;
        return Ok(on_aws(env).then(|| env.clone()));
    }
    args.target.aws_env(config)
}

fn parse_start_on(text: &str) -> Result<StartOn, String> {
    match text {
        "live" => Ok(StartOn::Live),
        "latest" => Ok(StartOn::Latest),
        n => n.parse().map(StartOn::Version).map_err(|_| format!("{n:?} is not live, latest or a version number")),
    }
}
