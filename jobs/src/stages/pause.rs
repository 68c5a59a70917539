//! `pause_clusters`: after the loads, stop the internal RDS and pause Redshift (or resume them before a run).
//!
//! Locally there is nothing to stop: the binary says what it would do for each target and succeeds. On AWS (the
//! databases are servers) it calls the RDS and Redshift APIs with the identifiers of the configuration, as the
//! `pause_clusters` Lambda or from a shell. Either way it is idempotent (already stopped, or stopping, is success)
//! and it refuses to pause while another execution of the pipeline is running (locally: a run directory whose `pid`
//! file names a live process; on AWS: a RUNNING execution of the state machine other than the caller), since that
//! run still needs the databases: it then pauses nothing and says why, which is not a failure of this run.

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

/// Runs the stage: locally for SQLite databases, against AWS for servers (built without the `aws` feature, each
/// server is refused with a configuration error that says how to build the stages that can pause it).
#[cfg_attr(not(feature = "aws"), allow(unused_variables))]
pub async fn run(settings: &Settings, action: Action, targets: &[Cluster], execution: Option<&str>) -> Outcome {
    let local = [&settings.data.internal_database, &settings.data.warehouse]
        .iter()
        .all(|u| matches!(Target::parse(u, &settings.workdir), Ok(Target::Sqlite(_))));
    #[cfg(feature = "aws")]
    if !local {
        return aws::run(settings, action, targets, execution).await;
    }
    run_local(settings, action, targets)
}

/// The local run: says what it would do.
pub fn run_local(settings: &Settings, action: Action, targets: &[Cluster]) -> Outcome {
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
                let verb = match (action, target) {
                    (Action::Pause, Cluster::InternalRds) => "stop",
                    (Action::Pause, Cluster::Redshift) => "pause",
                    (Action::Resume, Cluster::InternalRds) => "start",
                    (Action::Resume, Cluster::Redshift) => "resume",
                };
                summary.note = Some(if action == Action::Pause && !others.is_empty() {
                    format!("not paused: run {} is still running and needs it", others.join(", "))
                } else {
                    format!("would {verb} it; {} is a local SQLite file, which has nothing to {verb}", path.display())
                });
                Ok(())
            }
            Ok(_) => Err(StageError::without_aws(&format!("pause the server {url} (the RDS and Redshift APIs)"))),
            Err(e) => Err(e),
        };
        tracing::info!(target = ?target, note = summary.note.as_deref().unwrap_or(""), "{action:?}");
        outcome.record(summary, result);
    }
    outcome
}

/// The AWS side: RDS, Redshift and Step Functions APIs.
#[cfg(feature = "aws")]
pub mod aws {
    use aws_config::{BehaviorVersion, Region, SdkConfig};

    use super::{Action, Cluster, Outcome};
    use crate::error::{Result, StageError};
    use crate::settings::Settings;
    use crate::summary::{Layer, TableSummary};

    fn api_error<E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error>(what: &str, e: E) -> StageError {
        let text = match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{what}: {code}: {message}"),
            (Some(code), None) => format!("{what}: {code}"),
            _ => format!("{what}: {}", aws_sdk_rds::error::DisplayErrorContext(&e)),
        };
        if text.contains("NotFound") || text.contains("AccessDenied") || text.contains("InvalidParameter") {
            StageError::config(text)
        } else {
            StageError::transient(text)
        }
    }

    /// The AWS configuration of the environment's region, with the default credentials.
    pub async fn sdk_config(settings: &Settings) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(settings.env.region.clone())).load().await
    }

    /// RUNNING executions of the environment's state machine other than `execution`.
    pub async fn other_executions(
        config: &SdkConfig,
        settings: &Settings,
        execution: Option<&str>,
    ) -> Result<Vec<String>> {
        let machine = format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            settings.env.region, settings.env.account, settings.env.state_machine
        );
        let client = aws_sdk_sfn::Client::new(config);
        let listed = client
            .list_executions()
            .state_machine_arn(&machine)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .send()
            .await;
        let out = match listed {
            Ok(out) => out,
            // Called outside the pipeline (a person resuming clusters before a deploy): nothing else can be running.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_state_machine_does_not_exist()) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(api_error(&format!("list the running executions of {machine}"), e)),
        };
        Ok(out
            .executions()
            .iter()
            .map(|e| e.execution_arn().to_string())
            .filter(|arn| Some(arn.as_str()) != execution)
            .collect())
    }

    /// The states of a resource: off, going off, on, going on (as its API spells them).
    struct States {
        off: &'static str,
        stopping: &'static str,
        on: &'static str,
        starting: &'static str,
    }

    const RDS: States = States { off: "stopped", stopping: "stopping", on: "available", starting: "starting" };
    const REDSHIFT: States = States { off: "paused", stopping: "pausing", on: "available", starting: "resuming" };

    /// Whether `action` has to act on a resource in `status`: `Ok(false)` when it is there already (idempotent),
    /// `Ok(true)` when it must act, an error (transient: retry later) while it is in any other state.
    fn must_act(action: Action, status: &str, states: &States, what: &str) -> Result<bool> {
        match action {
            Action::Pause if status == states.off || status == states.stopping => Ok(false),
            Action::Resume if status == states.on || status == states.starting => Ok(false),
            Action::Pause if status == states.on => Ok(true),
            Action::Resume if status == states.off => Ok(true),
            _ => Err(StageError::transient(format!("{what} is {status}: try again when it settles"))),
        }
    }

    fn said(action: Action, acted: bool, what: &str, status: &str, states: &States) -> String {
        match (acted, action) {
            (false, _) => format!("{what} is {status} already"),
            (true, Action::Pause) => format!("{what} is {}", states.stopping),
            (true, Action::Resume) => format!("{what} is {}", states.starting),
        }
    }

    /// Stops or starts the internal RDS (an instance, or an Aurora cluster); returns what happened.
    pub async fn rds(config: &SdkConfig, settings: &Settings, action: Action) -> Result<String> {
        let client = aws_sdk_rds::Client::new(config);
        let data = &settings.data;
        if let Some(id) = &data.rds_cluster {
            let what = format!("cluster {id}");
            let out = client.describe_db_clusters().db_cluster_identifier(id).send().await;
            let out = out.map_err(|e| api_error(&format!("describe the RDS {what}"), e))?;
            let status = out.db_clusters().first().and_then(|c| c.status()).unwrap_or("unknown").to_string();
            let act = must_act(action, &status, &RDS, &format!("the RDS {what}"))?;
            if act && action == Action::Pause {
                client.stop_db_cluster().db_cluster_identifier(id).send().await.map_err(|e| api_error("stop", e))?;
            } else if act {
                client.start_db_cluster().db_cluster_identifier(id).send().await.map_err(|e| api_error("start", e))?;
            }
            return Ok(said(action, act, &what, &status, &RDS));
        }
        let id = data.rds_instance.as_deref().ok_or_else(|| {
            StageError::config(
                "set rds_instance (or rds_cluster) in [env.NAME.data] so that the internal RDS can be paused",
            )
        })?;
        let what = format!("instance {id}");
        let out = client.describe_db_instances().db_instance_identifier(id).send().await;
        let out = out.map_err(|e| api_error(&format!("describe the RDS {what}"), e))?;
        let status = out.db_instances().first().and_then(|i| i.db_instance_status()).unwrap_or("unknown").to_string();
        let act = must_act(action, &status, &RDS, &format!("the RDS {what}"))?;
        if act && action == Action::Pause {
            client.stop_db_instance().db_instance_identifier(id).send().await.map_err(|e| api_error("stop", e))?;
        } else if act {
            client.start_db_instance().db_instance_identifier(id).send().await.map_err(|e| api_error("start", e))?;
        }
        Ok(said(action, act, &what, &status, &RDS))
    }

    /// Pauses or resumes the Redshift cluster; returns what happened.
    pub async fn redshift(config: &SdkConfig, settings: &Settings, action: Action) -> Result<String> {
        let id = settings.data.redshift_cluster.as_deref().ok_or_else(|| {
            StageError::config("set redshift_cluster in [env.NAME.data] so that Redshift can be paused")
        })?;
        let client = aws_sdk_redshift::Client::new(config);
        let what = format!("cluster {id}");
        let out = client.describe_clusters().cluster_identifier(id).send().await;
        let out = out.map_err(|e| api_error(&format!("describe the Redshift {what}"), e))?;
        let status = out.clusters().first().and_then(|c| c.cluster_status()).unwrap_or("unknown").to_lowercase();
        let act = must_act(action, &status, &REDSHIFT, &format!("the Redshift {what}"))?;
        if act && action == Action::Pause {
            client.pause_cluster().cluster_identifier(id).send().await.map_err(|e| api_error("pause", e))?;
        } else if act {
            client.resume_cluster().cluster_identifier(id).send().await.map_err(|e| api_error("resume", e))?;
        }
        Ok(said(action, act, &what, &status, &REDSHIFT))
    }

    /// Runs the stage against AWS.
    pub async fn run(settings: &Settings, action: Action, targets: &[Cluster], execution: Option<&str>) -> Outcome {
        let config = sdk_config(settings).await;
        let mut outcome = Outcome::default();
        let others = match action {
            Action::Pause => match other_executions(&config, settings, execution).await {
                Ok(o) => o,
                Err(e) => return Outcome::failed(e),
            },
            Action::Resume => Vec::new(),
        };
        for target in targets {
            let (name, layer) = match target {
                Cluster::InternalRds => ("internal_rds", Layer::InternalRds),
                Cluster::Redshift => ("redshift", Layer::Warehouse),
            };
            let mut summary = TableSummary::new(name, layer);
            let result = if !others.is_empty() {
                summary.note = Some(format!("not paused: {} is still running and needs it", others.join(", ")));
                Ok(())
            } else {
                let done = match target {
                    Cluster::InternalRds => rds(&config, settings, action).await,
                    Cluster::Redshift => redshift(&config, settings, action).await,
                };
                done.map(|note| summary.note = Some(note))
            };
            tracing::info!(target = name, note = summary.note.as_deref().unwrap_or(""), "{action:?}");
            outcome.record(summary, result);
        }
        outcome
    }
}
