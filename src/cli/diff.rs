//! `amali diff`: what changed between two state machine definitions, state by state.
//!
//! Either side may be `deployed:ENV`, the definition live in AWS for an environment (its `live` alias's version);
//! with only `deployed:ENV` given, it is compared with what amali renders for that environment.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::aws::{AwsArgs, deployed_definition};
use super::validate::Format;
use super::{ExitStatus, GlobalArgs};
use crate::asl::diff::{self, Diff, compact};
use crate::config::Config;

/// Arguments of `amali diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old definition: a file, "-" (standard input) or deployed:ENV (live in AWS)
    pub old: String,
    /// The new definition [default with deployed:ENV: the definition amali renders for ENV]
    pub new: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Reads one side: a file, standard input, or `deployed:ENV`.
fn read_side(global: &GlobalArgs, side: &str, aws: &AwsArgs) -> anyhow::Result<Value> {
    match side.strip_prefix("deployed:") {
        Some(env) => {
            let config = Config::load(global.config.as_deref())?;
            deployed_definition(&config, env, aws)
        }
        None => read_json(&PathBuf::from(side)),
    }
}

fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Runs `amali diff`: exit 0 when the definitions mean the same machine, 1 when they differ.
pub fn run(global: &GlobalArgs, mut args: DiffArgs) -> anyhow::Result<ExitStatus> {
    let new = match &args.new {
        Some(new) => read_side(global, new, &args.aws),
        None => match args.old.strip_prefix("deployed:") {
            Some(env) => {
                args.new = Some(format!("rendered:{env}"));
                Config::load(global.config.as_deref())
                    .map_err(anyhow::Error::from)
                    .and_then(|c| super::render::render_env(&c, env))
                    .and_then(|text| serde_json::from_str(&text).context("the rendered definition is not JSON"))
            }
            None => {
                eprintln!("error: give two definitions, or deployed:ENV alone to compare it with the rendered one");
                return Ok(ExitStatus::Error);
            }
        },
    };
    let (old, new) = match (read_side(global, &args.old, &args.aws), new) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e:#}");
            return Ok(ExitStatus::Error);
        }
    };
    let d = diff::diff(&old, &new);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&d)?;
            v["identical"] = Value::Bool(d.is_empty());
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            write_text(&mut out, &d, &args, color)?;
        }
    }
    Ok(if d.is_empty() { ExitStatus::Success } else { ExitStatus::Failure })
}

fn write_text(out: &mut impl Write, d: &Diff, args: &DiffArgs, color: bool) -> std::io::Result<()> {
    writeln!(out, "--- {}", args.old)?;
    writeln!(out, "+++ {}", args.new.as_deref().unwrap_or(""))?;
    if d.is_empty() {
        return writeln!(out, "no semantic difference");
    }
    write_changes(out, d, color)
}

/// Writes a non-empty diff's changes, one line per state (and one per changed field under it), then a count.
pub fn write_changes(out: &mut impl Write, d: &Diff, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, text: String| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text };
    for c in &d.machine {
        writeln!(out, "{} {}: {} -> {}", paint("33", "~ machine".into()), c.path, compact(&c.old), compact(&c.new))?;
    }
    let place = |parent: &str| if parent.is_empty() { String::new() } else { format!(" (in {parent})") };
    for s in &d.removed {
        writeln!(out, "{}", paint("31", format!("- {} {:?}{}", s.ty, s.name, place(&s.parent))))?;
    }
    for s in &d.added {
        writeln!(out, "{}", paint("32", format!("+ {} {:?}{}", s.ty, s.name, place(&s.parent))))?;
    }
    for r in &d.renamed {
        writeln!(out, "{}", paint("36", format!("> {:?} renamed to {:?}", r.from, r.to)))?;
    }
    for s in &d.changed {
        writeln!(out, "{}", paint("33", format!("~ {} {:?}", s.ty, s.name)))?;
        for c in &s.changes {
            let path = if c.path.is_empty() { "/" } else { &c.path };
            writeln!(out, "    {path}: {} -> {}", paint("31", compact(&c.old)), paint("32", compact(&c.new)))?;
        }
    }
    writeln!(
        out,
        "{} added, {} removed, {} renamed, {} changed{}",
        d.added.len(),
        d.removed.len(),
        d.renamed.len(),
        d.changed.len(),
        if d.machine.is_empty() { "" } else { ", machine fields changed" }
    )
}
