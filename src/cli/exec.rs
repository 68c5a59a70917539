//! `amali exec`: run any state machine definition locally and print the outcome as one JSON object.
//!
//! The output is a stable contract that tools outside the project drive:
//! `{"status": "SUCCEEDED"|"FAILED"|"TIMED_OUT"|"ABORTED", "output": ..., "error": ..., "cause": ...}`, plus
//! `"history"` with `--history`. Exit 0 when SUCCEEDED, 1 otherwise, 2 when the definition, input or mock file is
//! unusable (the reason goes to standard error and nothing to standard output).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Args;
use serde_json::Value;

use super::ExitStatus;
use crate::asl;
use crate::asl::substitutions;
use crate::interp::clock::{Clock, RealClock, VirtualClock};
use crate::interp::handlers::{Handlers, MockConfig, MockHandler, SnsHandler};
use crate::interp::{Options, Status, execute};

/// Arguments of `amali exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The state machine definition (ASL JSON; "-" reads standard input)
    pub definition: PathBuf,
    /// The execution input: JSON text, or @FILE to read it from a file
    #[arg(long, short, default_value = "{}", value_name = "JSON|@FILE")]
    pub input: String,
    /// Mocked task responses in AWS Step Functions Local's MockConfigFile format
    #[arg(long, value_name = "FILE", requires = "test_case")]
    pub mock_config: Option<PathBuf>,
    /// The test case of the mock file to use
    #[arg(long, value_name = "NAME", requires = "mock_config")]
    pub test_case: Option<String>,
    /// The state machine of the mock file (default: the only one with the test case)
    #[arg(long, value_name = "NAME")]
    pub state_machine: Option<String>,
    /// The execution name ($$.Execution.Name) [default: a random UUID]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Include the execution history (AWS's event shape) in the output
    #[arg(long)]
    pub history: bool,
    /// Wait for real in Wait states and retry backoff (by default time is virtual: waits take no time)
    #[arg(long)]
    pub real_time: bool,
    /// Append SNS notifications (sns:publish tasks that no mock answers) to this JSON-lines file
    #[arg(long, value_name = "FILE")]
    pub notifications: Option<PathBuf>,
    /// A value for a CloudFormation `${NAME}` placeholder (DefinitionSubstitutions), replaced before the run;
    /// repeatable. Every placeholder needs one
    #[arg(long = "substitute", value_name = "NAME=VALUE")]
    pub substitute: Vec<String>,
    /// A JSON object of placeholder values (the shape of DefinitionSubstitutions); --substitute wins over it
    #[arg(long, value_name = "FILE")]
    pub substitutions: Option<PathBuf>,
}

/// Reads `--input`: JSON text or @FILE.
pub fn read_input(input: &str) -> anyhow::Result<Value> {
    let text = match input.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read the input file {path}"))?,
        None => input.to_string(),
    };
    serde_json::from_str(&text)
        .with_context(|| format!("the input is not JSON: {}", text.chars().take(80).collect::<String>()))
}

fn prepare(args: &ExecArgs) -> anyhow::Result<(asl::StateMachine, Value, Options)> {
    let text = if args.definition.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.definition)
            .with_context(|| format!("cannot read {}", args.definition.display()))?
    };
    let text = substitutions::apply(&text, &substitutions::collect(args.substitutions.as_deref(), &args.substitute)?);
    // Placeholders left without a value stay as text (a mocked Task does not need its Resource); say so.
    let left = substitutions::placeholders(&text);
    let hint = match left.is_empty() {
        true => String::new(),
        false => {
            let names = left.iter().map(|n| format!("${{{n}}}")).collect::<Vec<_>>().join(", ");
            eprintln!(
                "warning: DefinitionSubstitutions placeholders without a value: {names} (--substitute NAME=VALUE)"
            );
            format!("\n  (it has placeholders without a value: {names}; give them with --substitute NAME=VALUE)")
        }
    };
    let report = asl::validate::validate(&text, false);
    if !report.is_valid() {
        let problems: Vec<String> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == asl::validate::Severity::Error)
            .map(|d| format!("  {} at {}: {}", d.code, d.location, d.message))
            .collect();
        return Err(anyhow!(
            "{} is not a valid state machine:\n{}{hint}",
            args.definition.display(),
            problems.join("\n")
        ));
    }
    let machine = asl::parse(&text).map_err(|e| anyhow!("{}: {e}", args.definition.display()))?;
    let input = read_input(&args.input)?;
    let mut handlers = Handlers::new();
    if let (Some(path), Some(case)) = (&args.mock_config, &args.test_case) {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let config: MockConfig =
            serde_json::from_str(&text).with_context(|| format!("{} is not a MockConfigFile", path.display()))?;
        let mock = MockHandler::new(&config, args.state_machine.as_deref(), case)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        handlers = handlers.with(Arc::new(mock));
    }
    // Mocks answer first; an sns:publish they do not answer is published locally.
    handlers = handlers.with(Arc::new(SnsHandler::new(args.notifications.clone(), true)));
    let clock: Arc<dyn Clock> = if args.real_time { Arc::new(RealClock) } else { Arc::new(VirtualClock::new()) };
    let name = args.definition.file_stem().and_then(|s| s.to_str()).unwrap_or("StateMachine");
    let machine_name = args.state_machine.clone().unwrap_or_else(|| name.trim_end_matches(".asl").to_string());
    let options = Options {
        clock,
        handlers,
        execution_name: args.name.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        state_machine_name: machine_name,
        history: args.history,
        ..Options::default()
    };
    Ok((machine, input, options))
}

/// Runs `amali exec`.
pub fn run(args: ExecArgs) -> anyhow::Result<ExitStatus> {
    let (machine, input, options) = match prepare(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitStatus::Error);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(execute(&machine, input, options));
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(if outcome.status == Status::Succeeded { ExitStatus::Success } else { ExitStatus::Failure })
}
