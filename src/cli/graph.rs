//! `amali graph`: a state machine as a Mermaid or Graphviz diagram.

use std::io::Write;
use std::path::PathBuf;

use amali_core::context;
use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};

use super::aws::{self, AwsArgs};
use super::{ExitStatus, GlobalArgs};
use crate::asl::execution::{self, Step};
use crate::asl::graph::{self, Format};
use crate::config::Config;
use crate::{asl, pipeline};

/// Diagram languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart (renders on GitHub)
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`)
    Dot,
}

/// Arguments of `amali graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// An ASL file ("-" reads standard input) [default: the pipeline of --env]
    #[arg(conflicts_with = "run")]
    pub file: Option<PathBuf>,
    /// Draw an execution: a local run id (in the work directory's runs/) or an execution ARN; each state coloured
    /// by its outcome and labelled with its duration
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// The work directory of local runs [default: the environment's data.workdir, else .amali]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The environment whose pipeline to draw when no file is given
    #[arg(long, short, default_value = "local", value_name = "ENV")]
    pub env: String,
    /// Diagram language
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// Runs `amali graph`.
pub fn run(global: &GlobalArgs, args: GraphArgs) -> anyhow::Result<ExitStatus> {
    let format = match args.format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
    };
    if let Some(run) = &args.run {
        let (definition, steps, finished) = execution(global, &args, run)?;
        let machine = asl::parse(&definition).map_err(|e| anyhow!("the definition of {run} does not parse: {e}"))?;
        let overlay = execution::overlay(&steps, finished);
        std::io::stdout().write_all(graph::draw_run(&machine, format, Some(&overlay)).as_bytes())?;
        return Ok(ExitStatus::Success);
    }
    let machine = match &args.file {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
            };
            match asl::parse(&text) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!(
                        "error: {} cannot be drawn: {e}\n(run `amali validate` on it to see every problem)",
                        path.display()
                    );
                    return Ok(ExitStatus::Error);
                }
            }
        }
        None => {
            let config = Config::load(global.config.as_deref())?;
            pipeline::build(&config, config.env(&args.env)?).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    std::io::stdout().write_all(graph::draw(&machine, format).as_bytes())?;
    Ok(ExitStatus::Success)
}

/// The definition, history and whether it ended of `run`: an execution ARN (read from AWS, with the environment
/// whose state machine it names) or a local run id (read from its run directory).
fn execution(global: &GlobalArgs, args: &GraphArgs, run: &str) -> anyhow::Result<(String, Vec<Step>, bool)> {
    let config = Config::load(global.config.as_deref())?;
    if let Some(env) = config.env_of_execution(run) {
        return aws::execution_for_graph(env?, &args.aws, run);
    }
    let env = config.env(&args.env)?;
    let workdir = context::workdir_of(env.data_config(&config.origin)?, args.workdir.as_deref());
    let dir = workdir.join("runs").join(run);
    let definition = std::fs::read_to_string(dir.join("definition.asl.json")).with_context(|| {
        format!(
            "no run {run} in {}: `ls {}` lists the runs",
            workdir.join("runs").display(),
            workdir.join("runs").display()
        )
    })?;
    // A redriven run's latest history is its last redrive's.
    let history = (1..)
        .map(|n| dir.join(format!("history.redrive-{n}.json")))
        .take_while(|p| p.is_file())
        .last()
        .unwrap_or_else(|| dir.join("history.json"));
    let finished = dir.join("outcome.json").is_file() && !dir.join("pid").is_file();
    let events: Vec<serde_json::Value> = match std::fs::read_to_string(&history) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not a history", history.display()))?,
        // A run still going has written no history yet: every state shows as not run.
        Err(_) => Vec::new(),
    };
    Ok((definition, events.iter().filter_map(Step::from_json).collect(), finished))
}
