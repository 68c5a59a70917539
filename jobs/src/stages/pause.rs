//! `pause_clusters`: after the loads, stop the internal RDS and pause Redshift (or resume them before a run).
//!
//! Locally there is nothing to stop: the binary says what it would do for each target and succeeds. It refuses to
//! pause while another execution of the pipeline is running on this machine (a run directory whose `pid` file names
//! a live process), since that run still needs the databases: it then pauses nothing and says why, which is not a
//! failure of this run. On AWS the same decisions are made by the `pause_clusters` Lambda against the RDS and
//! Redshift APIs.

use std::path::Path;

use clap::ValueEnum;

use super::Outcome;
use crate::db::Target;
use crate::error::StageError;
use crate::settings::Settings;
use crate::summary::{Layer, TableSummary};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// Stop the internal RDS and pause Redshift.
    Pause,
    /// Start them again.
    Resume,
}

/// What to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Cluster {
    /// The internal RDS (landing and silver tables).
    InternalRds,
    /// The Redshift warehouse (gold).
    Redshift,
}

/// Other executions running on this machine: run ids whose `pid` file names a live process.
pub fn running_elsewhere(workdir: &Path, this_run: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(workdir.join("runs")) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() != this_run)
        .filter_map(|e| {
            let pid: u32 = std::fs::read_to_string(e.path().join("pid")).ok()?.trim().parse().ok()?;
            Path::new(&format!("/proc/{pid}")).exists().then(|| e.file_name().to_string_lossy().to_string())
        })
        .collect()
}

/// Runs the stage.
pub fn run(settings: &Settings, action: Action, targets: &[Cluster]) -> Outcome {
    let mut outcome = Outcome::default();
    let others = running_elsewhere(&settings.workdir, &settings.run_id);
    for target in targets {
        let (which, layer) = match target {
            Cluster::InternalRds => ("internal_database", Layer::InternalRds),
            Cluster::Redshift => ("warehouse", Layer::Warehouse),
        };
        let url = if which == "warehouse" { &settings.data.warehouse } else { &settings.data.internal_database };
        let name = match target {
            Cluster::InternalRds => "internal_rds",
            Cluster::Redshift => "redshift",
        };
        let mut summary = TableSummary::new(name, layer);
        let result = match Target::parse(url, &settings.workdir) {
            Ok(Target::Sqlite(path)) => {
                let verb = if action == Action::Pause { "stop" } else { "start" };
                summary.note = Some(if action == Action::Pause && !others.is_empty() {
                    format!("not paused: run {} is still running and needs it", others.join(", "))
                } else {
                    format!("would {verb} it; {} is a local SQLite file, which has nothing to {verb}", path.display())
                });
                Ok(())
            }
            Ok(_) => Err(StageError::config(format!(
                "{url} is a server: pausing it is the job of the pause_clusters Lambda on AWS, which this local binary \
                 does not replace"
            ))),
            Err(e) => Err(e),
        };
        tracing::info!(target = ?target, note = summary.note.as_deref().unwrap_or(""), "{action:?}");
        outcome.record(summary, result);
    }
    outcome
}
