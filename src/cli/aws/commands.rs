//! The AWS commands' work (the `aws` feature): each connects to the environment's AWS and does what it was asked.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use super::{AwsArgs, AwsRun, DeployArgs, RollbackArgs, StatusArgs};
use crate::aws::deploy::{self, Action, Plan, Target};
use crate::aws::operate::{self, Event, RunRequest, StageStatus};
use crate::aws::{Aws, CallLog};
use crate::cli::render::render_env;
use crate::cli::validate::Format;
use crate::cli::{ExitStatus, GlobalArgs};
use crate::config::{Config, EnvConfig};
use crate::stage::Stage;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

fn calls_json(log: &CallLog) -> Value {
    let calls = log.calls();
    let mutating = log.mutating();
    json!({
        "total": calls.len(),
        "mutating": mutating.len(),
        "mutating_calls": mutating.iter().map(|c| format!("{}.{}", c.service, c.operation)).collect::<Vec<_>>(),
    })
}

/// The directory of the running executable: where cargo puts the stage binaries too.
fn beside_amali() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `amali deploy`.
pub fn deploy(global: &GlobalArgs, args: DeployArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    let env = config.env(&args.env)?.clone();
    let definition = render_env(&config, &args.env)?;
    let target = Target {
        env,
        definition,
        artifacts: args.artifacts.clone().unwrap_or_else(beside_amali),
        image: args.image.clone(),
    };
    let rt = runtime()?;
    rt.block_on(async {
        let aws = Aws::connect(&target.env, args.aws.endpoint_url.as_deref()).await;
        let plan = deploy::plan(&aws, &target).await?;
        let text = args.format == Format::Text;
        let mut out = std::io::stdout().lock();
        if text {
            write_plan(&mut out, &plan, color())?;
        }
        let finish = |out: &mut dyn Write, plan: &Plan, applied: Option<&deploy::Applied>| -> anyhow::Result<()> {
            if !text {
                let v = json!({"plan": plan, "applied": applied, "calls": calls_json(&aws.log)});
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            }
            Ok(())
        };
        if !plan.problems.is_empty() {
            finish(&mut out, &plan, None)?;
            return Ok(ExitStatus::Failure);
        }
        if !plan.has_changes() {
            if text {
                writeln!(
                    out,
                    "Nothing to change: {} is as amali.toml and the rendered definition say. No change was made.",
                    plan.env
                )?;
            }
            finish(&mut out, &plan, None)?;
            return Ok(ExitStatus::Success);
        }
        if args.dry_run {
            if text {
                writeln!(out, "Dry run: nothing was changed. `amali deploy --env {}` applies this plan.", plan.env)?;
            }
            finish(&mut out, &plan, None)?;
            return Ok(ExitStatus::Success);
        }
        if !args.yes {
            if !std::io::stdin().is_terminal() {
                bail!("not applying without confirmation: pass --yes to apply (CI), or --dry-run to only plan");
            }
            eprint!("Apply this plan to {} (account {})? [y/N] ", plan.env, plan.account);
            let mut answer = String::new();
            std::io::stdin().read_line(&mut answer)?;
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                writeln!(out, "Not applied: nothing was changed.")?;
                return Ok(ExitStatus::Failure);
            }
        }
        let quiet = global.quiet;
        let applied = deploy::apply(&aws, &target, &plan, &mut |c| {
            if !quiet && text {
                eprintln!("applying: {} {}", c.resource, c.name);
            }
        })
        .await?;
        if text {
            for line in &applied.done {
                writeln!(out, "  {line}")?;
            }
            match applied.version_arn.as_deref().and_then(deploy::version_number) {
                Some(v) => writeln!(out, "Deployed {}: the alias {} points to version {v}.", plan.env, deploy::LIVE)?,
                None => writeln!(out, "Deployed {}.", plan.env)?,
            }
        }
        finish(&mut out, &plan, Some(&applied))?;
        Ok(ExitStatus::Success)
    })
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Writes a plan for people: one line per resource with its action, what differs under it, the definition's diff.
pub fn write_plan(out: &mut impl Write, plan: &Plan, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, text: String| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text };
    writeln!(out, "Plan for {} (account {}, {}):", plan.env, plan.account, plan.region)?;
    writeln!(out)?;
    let width = plan.changes.iter().map(|c| c.resource.len()).max().unwrap_or(0);
    for c in &plan.changes {
        let (mark, code, word) = match c.action {
            Action::Create => ("+", "32", "create"),
            Action::Update => ("~", "33", "update"),
            Action::Unchanged => ("=", "2", "unchanged"),
        };
        writeln!(out, "  {} {:<9} {:<width$}  {}", paint(code, mark.into()), word, c.resource, c.name)?;
        for d in &c.details {
            writeln!(out, "      {d}")?;
        }
        if c.resource == "State machine"
            && let Some(d) = &plan.definition_diff
        {
            writeln!(out, "      definition, against the live version:")?;
            let mut buf = Vec::new();
            crate::cli::diff::write_changes(&mut buf, d, color)?;
            for line in String::from_utf8_lossy(&buf).lines() {
                writeln!(out, "        {line}")?;
            }
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        for w in &plan.warnings {
            writeln!(out, "  note: {w}")?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Plan: {} to create, {} to update, {} unchanged.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Unchanged)
    )?;
    if !plan.problems.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", paint("31", "Cannot deploy until these are fixed (nothing was changed):".into()))?;
        for p in &plan.problems {
            writeln!(out, "  - {p}")?;
        }
    }
    Ok(())
}

/// Runs `amali rollback`.
pub fn rollback(global: &GlobalArgs, args: RollbackArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    let env = config.env(&args.env)?.clone();
    runtime()?.block_on(async {
        let aws = Aws::connect(&env, args.aws.endpoint_url.as_deref()).await;
        let done = operate::rollback(&aws, &env, args.to).await?;
        println!(
            "Rolled back {}: the alias {} moved from version {} to version {}. New executions run version {}.",
            env.name,
            deploy::LIVE,
            done.from,
            done.to,
            done.to
        );
        Ok(ExitStatus::Success)
    })
}

/// Runs `amali status`.
pub fn status(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    let envs: Vec<EnvConfig> = match &args.env {
        Some(name) => vec![config.env(name)?.clone()],
        None => config.env.values().filter(|e| e.deploy.is_some()).cloned().collect(),
    };
    if envs.is_empty() {
        bail!("no environment of {} has a [env.NAME.deploy] table: give --env ENV", config.origin);
    }
    runtime()?.block_on(async {
        let mut all = Vec::new();
        let mut out = std::io::stdout().lock();
        for env in &envs {
            let aws = Aws::connect(env, args.aws.endpoint_url.as_deref()).await;
            let live = deploy::live(&aws, env).await?;
            let version = live.alias_version.as_deref().and_then(deploy::version_number);
            let rows = if live.latest.is_some() { operate::recent(&aws, env, args.limit).await? } else { Vec::new() };
            if args.format == Format::Json {
                all.push(json!({"env": env.name, "state_machine": env.state_machine, "live_version": version, "executions": rows}));
                continue;
            }
            let deployed = match (&live.latest, version) {
                (None, _) => "not deployed".to_string(),
                (Some(_), Some(v)) => format!("alias {} -> version {v}", deploy::LIVE),
                (Some(_), None) => format!("no alias {}", deploy::LIVE),
            };
            writeln!(out, "{} — {} ({deployed})", env.name, env.state_machine)?;
            if rows.is_empty() {
                writeln!(out, "  no executions")?;
                continue;
            }
            let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(9).max(9);
            let mut header = format!("  {:<name_width$}  {:<9}  {:<20}", "EXECUTION", "STATUS", "STARTED");
            for stage in Stage::ALL {
                header.push_str(&format!("  {:<8}", short_stage(stage)));
            }
            writeln!(out, "{}", header.trim_end())?;
            for r in &rows {
                let started: String = r.started.chars().take(19).collect();
                let mut line = format!("  {:<name_width$}  {:<9}  {:<20}", r.name, r.status, started);
                for (_, s) in &r.stages {
                    let word = match s {
                        StageStatus::NotRun => "-",
                        StageStatus::Running => "running",
                        StageStatus::Succeeded => "ok",
                        StageStatus::Failed => "FAILED",
                    };
                    line.push_str(&format!("  {word:<8}"));
                }
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        if args.format == Format::Json {
            serde_json::to_writer_pretty(&mut out, &all)?;
            writeln!(out)?;
        }
        Ok(ExitStatus::Success)
    })
}

fn short_stage(stage: Stage) -> &'static str {
    match stage {
        Stage::ReadFromAppDatabase => "read",
        Stage::IngestionFromRds => "ingest",
        Stage::SilverTransformation => "silver",
        Stage::GoldTransformation => "gold",
        Stage::Rds => "rds",
        Stage::WriteToRdsRs => "redshift",
        Stage::PauseClusters => "pause",
    }
}

/// Runs `amali run --env ENV` against AWS.
pub fn run(env: &EnvConfig, aws_args: &AwsArgs, request: AwsRun, quiet: bool) -> anyhow::Result<ExitStatus> {
    let input: Value = match &request.input {
        None => json!({}),
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?,
                None => text.clone(),
            };
            serde_json::from_str(&text).context("--input is not JSON")?
        }
    };
    let logical_date = request
        .logical_date
        .clone()
        .or_else(|| input["logical_date"].as_str().map(String::from))
        .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
    if chrono::NaiveDate::parse_from_str(&logical_date, "%Y-%m-%d").is_err() {
        bail!("the logical date {logical_date:?} is not YYYY-MM-DD");
    }
    runtime()?.block_on(async {
        let aws = Aws::connect(env, aws_args.endpoint_url.as_deref()).await;
        let started =
            operate::start(&aws, env, &RunRequest { logical_date, input, force: request.force, on: request.on })
                .await?;
        if started.started {
            println!("started {} ({})", started.name, started.execution_arn);
        } else {
            println!(
                "{} exists ({}): not starting another; --force starts one anyway{}",
                started.name,
                started.status,
                if started.status == "FAILED" {
                    format!(", `amali redrive {}` resumes it", started.execution_arn)
                } else {
                    String::new()
                }
            );
        }
        if !request.follow {
            return Ok(ExitStatus::Success);
        }
        follow(&aws, &started.execution_arn, quiet).await
    })
}

async fn follow(aws: &Aws, execution_arn: &str, quiet: bool) -> anyhow::Result<ExitStatus> {
    let start = std::time::Instant::now();
    let ended = operate::follow(aws, execution_arn, &mut |e| {
        if !quiet {
            show_event(e, start.elapsed().as_secs_f64());
        }
    })
    .await?;
    println!("{}: {}", execution_arn.rsplit(':').next().unwrap_or(execution_arn), ended.status);
    if let Some(error) = &ended.error {
        println!("  error: {error}");
    }
    if let Some(cause) = &ended.cause {
        println!("  cause: {}", cause.chars().take(500).collect::<String>());
    }
    Ok(if ended.status == "SUCCEEDED" { ExitStatus::Success } else { ExitStatus::Failure })
}

/// One line per state entered or left, failure or end of the execution.
fn show_event(e: &Event, t: f64) {
    let state = e.state.as_deref().unwrap_or("");
    match e.kind.as_str() {
        k if k.ends_with("StateEntered") => eprintln!("[{t:7.1}s] ▶ {state}"),
        k if k.ends_with("StateExited") => eprintln!("[{t:7.1}s]   {state} done"),
        k if e.error.is_some() => eprintln!(
            "[{t:7.1}s] ✗ {k}: {} {}",
            e.error.as_deref().unwrap_or(""),
            e.cause.as_deref().unwrap_or("").chars().take(300).collect::<String>()
        ),
        "ExecutionSucceeded" => eprintln!("[{t:7.1}s] ExecutionSucceeded"),
        _ => {}
    }
}

/// Runs `amali rerun STAGE --env ENV [--execution ARN]` against AWS.
pub fn rerun(env: &EnvConfig, aws_args: &AwsArgs, stage: Stage, execution: Option<&str>) -> anyhow::Result<ExitStatus> {
    runtime()?.block_on(async {
        let aws = Aws::connect(env, aws_args.endpoint_url.as_deref()).await;
        let arn = match execution {
            Some(a) if a.starts_with("arn:") => a.to_string(),
            Some(name) => operate::execution_arn(env, name),
            None => operate::latest_execution(&aws, env).await?,
        };
        let events = operate::history(&aws, &arn).await?;
        let call = operate::stage_call(&events, stage).ok_or_else(|| {
            anyhow!("{stage} did not run in {arn} (it failed earlier or was never reached): `amali redrive {arn}` resumes the execution")
        })?;
        eprintln!("rerunning {stage} with the arguments it had in {}", arn.rsplit(':').next().unwrap_or(&arn));
        let outcome = operate::rerun(&aws, &call, &mut |line| eprintln!("  {line}")).await?;
        println!("{stage}: {} ({})", if outcome.succeeded { "SUCCEEDED" } else { "FAILED" }, outcome.ran);
        println!("  {}", outcome.detail.chars().take(2000).collect::<String>());
        Ok(if outcome.succeeded { ExitStatus::Success } else { ExitStatus::Failure })
    })
}

/// Runs `amali redrive EXECUTION_ARN` against AWS, following the execution when asked.
pub fn redrive(
    env: &EnvConfig,
    aws_args: &AwsArgs,
    execution_arn: &str,
    follow_it: bool,
    quiet: bool,
) -> anyhow::Result<ExitStatus> {
    runtime()?.block_on(async {
        let aws = Aws::connect(env, aws_args.endpoint_url.as_deref()).await;
        operate::redrive(&aws, execution_arn).await?;
        println!("redriven: {execution_arn} resumes from the state that failed");
        if follow_it { follow(&aws, execution_arn, quiet).await } else { Ok(ExitStatus::Success) }
    })
}

/// The definition, history steps and whether it ended, of an execution in AWS (`amali graph --run ARN`).
pub fn execution_for_graph(
    env: &EnvConfig,
    aws_args: &AwsArgs,
    execution_arn: &str,
) -> anyhow::Result<(String, Vec<crate::asl::execution::Step>, bool)> {
    runtime()?.block_on(async {
        let aws = Aws::connect(env, aws_args.endpoint_url.as_deref()).await;
        operate::execution_for_graph(&aws, execution_arn).await
    })
}

/// The definition deployed for `env` (the alias's version, else the latest), as JSON.
pub fn deployed_definition(config: &Config, env: &str, aws_args: &AwsArgs) -> anyhow::Result<Value> {
    let env = config.env(env)?.clone();
    runtime()?.block_on(async {
        let aws = Aws::connect(&env, aws_args.endpoint_url.as_deref()).await;
        let live = deploy::live(&aws, &env).await?;
        live.alias_definition.or(live.latest).map(|(d, _)| d).ok_or_else(|| {
            anyhow!("{} is not deployed in {} (`amali deploy --env {}`)", env.state_machine, env.region, env.name)
        })
    })
}
