//! `amali render`: the pipeline as canonical ASL, one file per environment, and the staleness check CI runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use similar::TextDiff;

use super::{ExitStatus, GlobalArgs};
use crate::config::Config;
use crate::{asl, pipeline};

/// Arguments of `amali render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Render only this environment (a table [env.ENV] of amali.toml)
    #[arg(long, short, value_name = "ENV")]
    pub env: Option<String>,
    /// Write to FILE instead of asl/ENV.asl.json ("-" for standard output); needs --env
    #[arg(long, short, value_name = "FILE", requires = "env")]
    pub out: Option<PathBuf>,
    /// Write nothing: exit 1 with a diff if a file differs from what would be rendered
    #[arg(long)]
    pub check: bool,
    /// The directory of rendered files [default: asl/ beside amali.toml]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The file an environment renders to inside `dir`.
pub fn rendered_path(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{env}.asl.json"))
}

/// Renders the definition of environment `env`.
pub fn render_env(config: &Config, env: &str) -> anyhow::Result<String> {
    let env_config = config.env(env)?;
    let machine = pipeline::build(config, env_config)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("the pipeline for environment {env:?} is not a valid state machine"))?;
    Ok(asl::render(&machine))
}

/// Runs `amali render`.
pub fn run(global: &GlobalArgs, args: RenderArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    let dir = args.dir.clone().unwrap_or_else(|| default_dir(&config));
    let envs: Vec<String> = match &args.env {
        Some(env) => vec![env.clone()],
        None => config.env.keys().cloned().collect(),
    };
    let mut stale = 0;
    for env in &envs {
        let text = render_env(&config, env)?;
        let target = args.out.clone().unwrap_or_else(|| rendered_path(&dir, env));
        if target.as_os_str() == "-" {
            if args.check {
                anyhow::bail!("--check compares files; it cannot check standard output");
            }
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
            continue;
        }
        if args.check {
            stale += usize::from(!check_file(&target, &text, global.quiet)?);
        } else {
            write_if_changed(&target, &text, global.quiet)?;
        }
    }
    if args.check && args.env.is_none() {
        stale += orphans(&dir, &envs, global.quiet)?;
    }
    if stale > 0 {
        eprintln!("{stale} rendered file(s) are stale: run `amali render` and commit asl/.");
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// `asl/` beside the configuration file, or in the current directory for the built-in configuration.
fn default_dir(config: &Config) -> PathBuf {
    Path::new(&config.origin)
        .parent()
        .filter(|p| Path::new(&config.origin).is_file() && !p.as_os_str().is_empty())
        .map(|p| p.join("asl"))
        .unwrap_or_else(|| PathBuf::from("asl"))
}

fn write_if_changed(target: &Path, text: &str, quiet: bool) -> anyhow::Result<()> {
    if std::fs::read_to_string(target).is_ok_and(|old| old == text) {
        if !quiet {
            eprintln!("unchanged {}", target.display());
        }
        return Ok(());
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(target, text).with_context(|| format!("cannot write {}", target.display()))?;
    if !quiet {
        eprintln!("wrote {}", target.display());
    }
    Ok(())
}

/// True when `target` holds exactly `text`; otherwise prints a unified diff (committed -> rendered).
fn check_file(target: &Path, text: &str, quiet: bool) -> anyhow::Result<bool> {
    let old = match std::fs::read_to_string(target) {
        Ok(old) => old,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{} is missing", target.display());
            return Ok(false);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", target.display())),
    };
    if old == text {
        if !quiet {
            eprintln!("up to date {}", target.display());
        }
        return Ok(true);
    }
    let name = target.display().to_string();
    let diff = TextDiff::from_lines(old.as_str(), text);
    eprintln!("{name} is stale:");
    eprint!(
        "{}",
        diff.unified_diff().context_radius(3).header(&format!("{name} (committed)"), &format!("{name} (rendered)"))
    );
    Ok(false)
}

/// Rendered files in `dir` for environments that no longer exist.
fn orphans(dir: &Path, envs: &[String], quiet: bool) -> anyhow::Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    let mut count = 0;
    for entry in entries {
        let path = entry?.path();
        let Some(env) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".asl.json")) else {
            continue;
        };
        if !envs.iter().any(|e| e == env) {
            count += 1;
            if !quiet {
                eprintln!("{} belongs to no environment of the configuration; delete it", path.display());
            }
        }
    }
    Ok(count)
}
