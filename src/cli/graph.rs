//! `amali graph`: a state machine as a Mermaid or Graphviz diagram.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{ExitStatus, GlobalArgs};
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
    pub file: Option<PathBuf>,
    /// The environment whose pipeline to draw when no file is given
    #[arg(long, short, default_value = "local", value_name = "ENV")]
    pub env: String,
    /// Diagram language
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// Runs `amali graph`.
pub fn run(global: &GlobalArgs, args: GraphArgs) -> anyhow::Result<ExitStatus> {
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
    let format = match args.format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
    };
    std::io::stdout().write_all(graph::draw(&machine, format).as_bytes())?;
    Ok(ExitStatus::Success)
}
