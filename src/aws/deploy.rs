//! `amali deploy`: plan, then apply, the AWS resources of one environment, idempotently.
//!
//! The plan reads what exists (Describe/Get/List calls only) and compares it with what `amali.toml` and the
//! rendered definition ask for: SNS topics and their subscriptions, the Lambda functions (`pause_clusters` and any
//! stage on the lambda runner, each a zip of the stage binary as `bootstrap`), the ECS cluster and the stages' task
//! definition, the Glue jobs of stages still on Glue (kept, never created: their default arguments are managed and
//! passwords removed from them), the state machine and its `live` alias. Each resource is `create`, `update` or
//! `unchanged`, with what differs. Applying makes only the calls the plan lists, so a deploy with nothing to change
//! makes no mutating call.
//!
//! The state machine is updated with `publish`, which gives a new version; the alias `live` then moves to it.
//! Executions start on the alias (`amali run --env`), so `amali rollback` moving the alias back is a rollback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode, TaskDefinition,
};
use aws_sdk_glue::types::{Job, JobUpdate};
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, FunctionConfiguration, Runtime};
use aws_sdk_sfn::types::RoutingConfigurationListItem;
use serde::Serialize;
use serde_json::Value;

use super::package::{LambdaZip, lambda_zip};
use super::{Aws, describe_error};
use crate::asl::diff::{self, Diff};
use crate::config::{DeployConfig, EnvConfig, Runner};
use crate::stage::Stage;

/// The alias executions start on.
pub const LIVE: &str = "live";

/// The longest a Lambda function may run, in seconds.
const LAMBDA_MAX_TIMEOUT: u64 = 900;

/// What a deploy targets.
#[derive(Debug, Clone)]
pub struct Target {
    /// The environment.
    pub env: EnvConfig,
    /// The definition to deploy (canonical ASL JSON).
    pub definition: String,
    /// Where the stage binaries to package for Lambda are.
    pub artifacts: PathBuf,
    /// The stages image for ECS, overriding `[env.NAME.deploy] image`.
    pub image: Option<String>,
}

impl Target {
    fn deploy(&self) -> anyhow::Result<&DeployConfig> {
        self.env.deploy.as_ref().ok_or_else(|| {
            anyhow!(
                "environment {0} has no [env.{0}.deploy] table: add one with role (the state machine's IAM role) and \
                 lambda_role (the functions' role); see README.md, Configuration",
                self.env.name
            )
        })
    }
}

/// What a deploy does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It does not exist yet.
    Create,
    /// It exists and differs.
    Update,
    /// It exists as asked.
    Unchanged,
}

/// One resource in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The kind of resource, e.g. "Lambda function".
    pub resource: &'static str,
    /// Its name.
    pub name: String,
    /// What the deploy does to it.
    pub action: Action,
    /// What differs (or, for a creation, what it will be), one line each.
    pub details: Vec<String>,
    /// The calls applying it makes.
    #[serde(skip)]
    steps: Vec<Step>,
}

impl Change {
    fn new(resource: &'static str, name: impl Into<String>) -> Change {
        Change { resource, name: name.into(), action: Action::Unchanged, details: Vec::new(), steps: Vec::new() }
    }

    fn step(mut self, action: Action, step: Step) -> Change {
        if self.action != Action::Create {
            self.action = action;
        }
        self.steps.push(step);
        self
    }

    fn detail(mut self, line: impl Into<String>) -> Change {
        self.details.push(line.into());
        self
    }
}

/// A plan: every resource with its action, what cannot be deployed, and the definition's diff.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The environment.
    pub env: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The resources, in the order they are applied.
    pub changes: Vec<Change>,
    /// What prevents the deploy (a missing Glue job, no image): nothing is applied while there is one.
    pub problems: Vec<String>,
    /// Notes that do not prevent it.
    pub warnings: Vec<String>,
    /// The semantic diff of the live definition (the alias's version, else the latest) and the new one.
    pub definition_diff: Option<Diff>,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Unchanged)
    }

    /// How many resources have `action`.
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

#[derive(Debug, Clone)]
enum Step {
    CreateTopic {
        name: String,
    },
    Subscribe {
        topic_arn: String,
        protocol: String,
        endpoint: String,
    },
    CreateFunction(Box<FunctionSpec>),
    UpdateFunctionCode(Box<FunctionSpec>),
    UpdateFunctionConfiguration(Box<FunctionSpec>),
    CreateCluster {
        name: String,
    },
    RegisterTaskDefinition(Box<TaskSpec>),
    UpdateGlueJob {
        name: String,
        update: Box<JobUpdate>,
    },
    CreateStateMachine,
    UpdateStateMachine,
    PublishVersion,
    /// Points the alias at the version published by an earlier step, or at `version`.
    PointAlias {
        exists: bool,
    },
}

/// A Lambda function as the deploy wants it.
#[derive(Debug, Clone)]
struct FunctionSpec {
    name: String,
    zip: LambdaZip,
    role: String,
    architecture: String,
    memory: i32,
    timeout: i32,
    variables: BTreeMap<String, String>,
}

/// The stages' task definition as the deploy wants it.
#[derive(Debug, Clone, PartialEq)]
struct TaskSpec {
    family: String,
    container: String,
    image: String,
    cpu: String,
    memory: String,
    task_role: Option<String>,
    execution_role: Option<String>,
    environment: BTreeMap<String, String>,
    log_group: String,
    region: String,
}

/// Reads what exists and plans the deploy of `target`. Makes only read calls.
pub async fn plan(aws: &Aws, target: &Target) -> anyhow::Result<Plan> {
    let deploy = target.deploy()?;
    let env = &target.env;
    let mut plan = Plan {
        env: env.name.clone(),
        account: env.account.clone(),
        region: env.region.clone(),
        changes: Vec::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
        definition_diff: None,
    };
    check_account(aws, env, &mut plan).await?;
    plan_topics(aws, target, deploy, &mut plan).await?;
    plan_functions(aws, target, deploy, &mut plan).await?;
    plan_ecs(aws, target, deploy, &mut plan).await?;
    plan_glue(aws, target, &mut plan).await?;
    plan_state_machine(aws, target, deploy, &mut plan).await?;
    Ok(plan)
}

/// The credentials must be for the environment's account: deploying dev's configuration with prod's credentials (or
/// the reverse) is a problem of the plan, not something to find out from the first failing call.
async fn check_account(aws: &Aws, env: &EnvConfig, plan: &mut Plan) -> anyhow::Result<()> {
    let me = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow!("cannot tell which AWS account the credentials are for: {}", describe_error(&e)))?;
    match me.account() {
        Some(account) if account != env.account => plan.problems.push(format!(
            "the credentials are for account {account} ({}), but [env.{}] is account {}: use that account's profile \
             or role",
            me.arn().unwrap_or("?"),
            env.name,
            env.account
        )),
        _ => {}
    }
    Ok(())
}

async fn plan_topics(aws: &Aws, target: &Target, deploy: &DeployConfig, plan: &mut Plan) -> anyhow::Result<()> {
    let env = &target.env;
    let topics = [("success", &env.topics.success), ("failure", &env.topics.failure)];
    for (key, name) in topics {
        if plan.changes.iter().any(|c| c.resource == "SNS topic" && &c.name == name) {
            continue;
        }
        let arn = env.topic_arn(name);
        let exists = match aws.sns.get_topic_attributes().topic_arn(&arn).send().await {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found_exception()) => false,
            Err(e) => return Err(anyhow!("cannot read SNS topic {name}: {}", describe_error(&e))),
        };
        let mut change = Change::new("SNS topic", name.clone());
        if !exists {
            change = change.step(Action::Create, Step::CreateTopic { name: name.clone() }).detail(arn.clone());
        }
        plan.changes.push(change);
        let wanted = deploy.subscriptions.get(key).cloned().unwrap_or_default();
        let mut present = Vec::new();
        if exists {
            let mut pages = aws.sns.list_subscriptions_by_topic().topic_arn(&arn).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| anyhow!("cannot list the subscriptions of {name}: {}", describe_error(&e)))?;
                for s in page.subscriptions() {
                    present.push(format!("{}:{}", s.protocol().unwrap_or(""), s.endpoint().unwrap_or("")));
                }
            }
        }
        for endpoint in &wanted {
            let (protocol, address) = endpoint.split_once(':').unwrap_or(("", endpoint));
            let mut change = Change::new("SNS subscription", format!("{name} -> {endpoint}"));
            if !present.contains(endpoint) {
                change = change.step(
                    Action::Create,
                    Step::Subscribe { topic_arn: arn.clone(), protocol: protocol.into(), endpoint: address.into() },
                );
                if protocol == "email" {
                    change = change.detail("the address receives a confirmation mail to accept");
                }
            }
            plan.changes.push(change);
        }
        for other in present.iter().filter(|p| !wanted.contains(p)) {
            plan.warnings.push(format!("{name} has a subscription {other} that amali.toml does not list: left alone"));
        }
    }
    Ok(())
}

/// The functions the environment needs: the pause function and every stage on the lambda runner.
fn functions(target: &Target) -> Vec<(String, Stage)> {
    let env = &target.env;
    let mut out = vec![(env.pause_function.clone(), Stage::PauseClusters)];
    for stage in Stage::ALL {
        if stage != Stage::PauseClusters && env.runner_for(stage) == Runner::Lambda {
            out.push((env.lambda_function(stage), stage));
        }
    }
    out
}

async fn plan_functions(aws: &Aws, target: &Target, deploy: &DeployConfig, plan: &mut Plan) -> anyhow::Result<()> {
    for (name, stage) in functions(target) {
        let binary = target.artifacts.join(stage.name());
        let zip = match lambda_zip(&binary) {
            Ok(zip) => zip,
            Err(e) => {
                plan.problems.push(format!("Lambda function {name}: {e:#}"));
                continue;
            }
        };
        let spec = FunctionSpec {
            name: name.clone(),
            zip,
            role: target.env.role_arn(&deploy.lambda_role),
            architecture: deploy.architecture.clone(),
            memory: deploy.lambda_memory_mb,
            timeout: target.env.timeout_for(stage).min(LAMBDA_MAX_TIMEOUT) as i32,
            variables: BTreeMap::from([
                ("AMALI_ENV".to_string(), target.env.name.clone()),
                ("RUST_LOG".to_string(), "info".to_string()),
            ]),
        };
        let current = match aws.lambda.get_function().function_name(&name).send().await {
            Ok(out) => out.configuration,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => None,
            Err(e) => return Err(anyhow!("cannot read Lambda function {name}: {}", describe_error(&e))),
        };
        let change = Change::new("Lambda function", name.clone());
        let change = match current {
            None => change
                .detail(format!(
                    "{} as bootstrap, {} ({} bytes zipped)",
                    stage.name(),
                    spec.architecture,
                    spec.zip.bytes.len()
                ))
                .step(Action::Create, Step::CreateFunction(Box::new(spec))),
            Some(current) => {
                let mut change = change;
                if current.code_sha256() != Some(spec.zip.sha256.as_str()) {
                    change = change
                        .detail(format!(
                            "code: {} -> {} ({})",
                            short(current.code_sha256().unwrap_or("none")),
                            short(&spec.zip.sha256),
                            spec.zip.source.display()
                        ))
                        .step(Action::Update, Step::UpdateFunctionCode(Box::new(spec.clone())));
                }
                let differences = function_differences(&current, &spec);
                if !differences.is_empty() {
                    change.details.extend(differences);
                    change = change.step(Action::Update, Step::UpdateFunctionConfiguration(Box::new(spec)));
                }
                change
            }
        };
        plan.changes.push(change);
    }
    Ok(())
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

fn function_differences(current: &FunctionConfiguration, spec: &FunctionSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut compare = |what: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{what}: {old} -> {new}"));
        }
    };
    compare("role", current.role().unwrap_or("").into(), spec.role.clone());
    compare("runtime", current.runtime().map(|r| r.as_str().to_string()).unwrap_or_default(), "provided.al2023".into());
    compare("handler", current.handler().unwrap_or("").into(), "bootstrap".into());
    compare("memory", format!("{} MB", current.memory_size().unwrap_or(0)), format!("{} MB", spec.memory));
    compare("timeout", format!("{} s", current.timeout().unwrap_or(0)), format!("{} s", spec.timeout));
    let variables: BTreeMap<String, String> = current
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    compare("environment", format!("{variables:?}"), format!("{:?}", spec.variables));
    out
}

fn task_spec(target: &Target, deploy: &DeployConfig) -> Option<Result<TaskSpec, String>> {
    let env = &target.env;
    let on_ecs = Stage::ALL.iter().any(|s| *s != Stage::PauseClusters && env.runner_for(*s) == Runner::Ecs);
    let ecs = env.ecs.as_ref().filter(|_| on_ecs)?;
    let Some(image) = target.image.clone().or_else(|| deploy.image.clone()) else {
        return Some(Err(format!(
            "ECS task definition {}: no image for the stages; set image in [env.{}.deploy] or pass --image URI",
            ecs.task_definition, env.name
        )));
    };
    Some(Ok(TaskSpec {
        family: ecs.task_definition.clone(),
        container: ecs.container.clone(),
        image,
        cpu: ecs.cpu.clone(),
        memory: ecs.memory.clone(),
        task_role: ecs.task_role.as_ref().map(|r| env.role_arn(r)),
        execution_role: ecs.execution_role.as_ref().map(|r| env.role_arn(r)),
        environment: BTreeMap::from([
            ("AMALI_ENV".to_string(), env.name.clone()),
            ("RUST_LOG".to_string(), "info".to_string()),
        ]),
        log_group: format!("/amali/{}", ecs.task_definition),
        region: env.region.clone(),
    }))
}

/// What a registered task definition says, in the shape of a [`TaskSpec`], to compare.
fn registered_spec(td: &TaskDefinition, region: &str) -> Option<TaskSpec> {
    let container = td.container_definitions().first()?;
    let log_group = container
        .log_configuration()
        .and_then(|l| l.options())
        .and_then(|o| o.get("awslogs-group"))
        .cloned()
        .unwrap_or_default();
    Some(TaskSpec {
        family: td.family().unwrap_or("").into(),
        container: container.name().unwrap_or("").into(),
        image: container.image().unwrap_or("").into(),
        cpu: td.cpu().unwrap_or("").into(),
        memory: td.memory().unwrap_or("").into(),
        task_role: td.task_role_arn().map(String::from),
        execution_role: td.execution_role_arn().map(String::from),
        environment: container
            .environment()
            .iter()
            .map(|kv| (kv.name().unwrap_or("").to_string(), kv.value().unwrap_or("").to_string()))
            .collect(),
        log_group,
        region: region.to_string(),
    })
}

fn task_differences(old: &TaskSpec, new: &TaskSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut compare = |what: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{what}: {a} -> {b}"));
        }
    };
    compare("container", old.container.clone(), new.container.clone());
    compare("image", old.image.clone(), new.image.clone());
    compare("cpu", old.cpu.clone(), new.cpu.clone());
    compare("memory", old.memory.clone(), new.memory.clone());
    compare("task role", format!("{:?}", old.task_role), format!("{:?}", new.task_role));
    compare("execution role", format!("{:?}", old.execution_role), format!("{:?}", new.execution_role));
    compare("environment", format!("{:?}", old.environment), format!("{:?}", new.environment));
    compare("log group", old.log_group.clone(), new.log_group.clone());
    out
}

async fn plan_ecs(aws: &Aws, target: &Target, deploy: &DeployConfig, plan: &mut Plan) -> anyhow::Result<()> {
    let spec = match task_spec(target, deploy) {
        None => return Ok(()),
        Some(Err(problem)) => {
            plan.problems.push(problem);
            return Ok(());
        }
        Some(Ok(spec)) => spec,
    };
    let ecs = target.env.ecs.as_ref().expect("task_spec checked it");
    let clusters = aws
        .ecs
        .describe_clusters()
        .clusters(&ecs.cluster)
        .send()
        .await
        .map_err(|e| anyhow!("cannot read ECS cluster {}: {}", ecs.cluster, describe_error(&e)))?;
    let active = clusters.clusters().iter().any(|c| c.status() == Some("ACTIVE"));
    let mut cluster = Change::new("ECS cluster", ecs.cluster.clone());
    if !active {
        cluster = cluster
            .detail("an empty cluster for Fargate tasks")
            .step(Action::Create, Step::CreateCluster { name: ecs.cluster.clone() });
    }
    plan.changes.push(cluster);

    let current = match aws.ecs.describe_task_definition().task_definition(&spec.family).send().await {
        Ok(out) => out.task_definition,
        // ECS answers ClientException for a family with no active revision.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_client_exception()) => None,
        Err(e) => return Err(anyhow!("cannot read ECS task definition {}: {}", spec.family, describe_error(&e))),
    };
    let change = Change::new("ECS task definition", spec.family.clone());
    let change = match current.as_ref().and_then(|td| registered_spec(td, &target.env.region).map(|s| (td, s))) {
        None => change
            .detail(format!("{} ({} CPU units, {} MiB), logs in {}", spec.image, spec.cpu, spec.memory, spec.log_group))
            .step(Action::Create, Step::RegisterTaskDefinition(Box::new(spec))),
        Some((td, registered)) => {
            let differences = task_differences(&registered, &spec);
            let name = format!("{}:{}", spec.family, td.revision());
            if differences.is_empty() {
                Change { name, ..change }
            } else {
                let mut change =
                    Change { name, ..change }.step(Action::Update, Step::RegisterTaskDefinition(Box::new(spec)));
                change.details.extend(differences);
                change.details.push("registers a new revision".into());
                change
            }
        }
    };
    plan.changes.push(change);
    Ok(())
}

/// Default-argument keys that look like a password: never kept in a Glue job's arguments.
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "pwd", "secret", "token", "credential"].iter().any(|w| key.contains(w))
}

/// The default arguments amali manages on a Glue job: the environment, and no job bookmarks (the stages track
/// their own increments; a bookmark would skip data on a rerun).
fn managed_glue_arguments(env: &EnvConfig) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("--env".to_string(), env.name.clone()),
        ("--job-bookmark-option".to_string(), "job-bookmark-disable".to_string()),
    ])
}

async fn plan_glue(aws: &Aws, target: &Target, plan: &mut Plan) -> anyhow::Result<()> {
    let env = &target.env;
    for stage in Stage::ALL {
        if stage == Stage::PauseClusters || env.runner_for(stage) != Runner::Glue {
            continue;
        }
        let name = env.glue_job(stage);
        let job = match aws.glue.get_job().job_name(&name).send().await {
            Ok(out) => out.job,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_entity_not_found_exception()) => None,
            Err(e) => return Err(anyhow!("cannot read Glue job {name}: {}", describe_error(&e))),
        };
        let Some(job) = job else {
            plan.problems.push(format!(
                "Glue job {name} (stage {stage}) does not exist: amali keeps existing Glue jobs and does not create \
                 them; create it, or set runner = \"ecs\" in [env.{}.stages.{stage}]",
                env.name
            ));
            continue;
        };
        let (update, details) = glue_update(&job, env);
        let mut change = Change::new("Glue job", name.clone());
        if let Some(update) = update {
            change = change.step(Action::Update, Step::UpdateGlueJob { name, update: Box::new(update) });
            change.details = details;
        }
        plan.changes.push(change);
    }
    Ok(())
}

/// The update a Glue job needs (its whole definition, as UpdateJob replaces it), with what changes; `None` when
/// its arguments are as they should be.
pub fn glue_update(job: &Job, env: &EnvConfig) -> (Option<JobUpdate>, Vec<String>) {
    let current: BTreeMap<String, String> =
        job.default_arguments().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    let fixed: BTreeMap<String, String> = job
        .non_overridable_arguments()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut details = Vec::new();
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &current {
        if looks_secret(k) {
            details.push(format!(
                "remove default argument {k} (a password must not travel as a job argument; stages read \
                 passwords from Secrets Manager)"
            ));
        } else {
            wanted.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in managed_glue_arguments(env) {
        match current.get(&k) {
            Some(old) if *old == v => {}
            Some(old) => details.push(format!("default argument {k}: {old} -> {v}")),
            None => details.push(format!("add default argument {k} = {v}")),
        }
        wanted.insert(k, v);
    }
    let mut fixed_wanted = BTreeMap::new();
    for (k, v) in &fixed {
        if looks_secret(k) {
            details.push(format!("remove non-overridable argument {k} (a password must not travel as a job argument)"));
        } else {
            fixed_wanted.insert(k.clone(), v.clone());
        }
    }
    if details.is_empty() {
        return (None, details);
    }
    let mut update = JobUpdate::builder()
        .set_description(job.description().map(String::from))
        .set_log_uri(job.log_uri().map(String::from))
        .set_role(job.role().map(String::from))
        .set_execution_property(job.execution_property().cloned())
        .set_command(job.command().cloned())
        .set_default_arguments(Some(wanted.into_iter().collect()))
        .set_connections(job.connections().cloned())
        .set_max_retries(Some(job.max_retries()))
        .set_timeout(job.timeout())
        .set_security_configuration(job.security_configuration().map(String::from))
        .set_notification_property(job.notification_property().cloned())
        .set_glue_version(job.glue_version().map(String::from))
        .set_execution_class(job.execution_class().cloned())
        .set_source_control_details(job.source_control_details().cloned())
        .set_job_mode(job.job_mode().cloned())
        .set_job_run_queuing_enabled(job.job_run_queuing_enabled())
        .set_maintenance_window(job.maintenance_window().map(String::from));
    if !fixed.is_empty() {
        update = update.set_non_overridable_arguments(Some(fixed_wanted.into_iter().collect()));
    }
    // Glue rejects MaxCapacity together with a worker type.
    update = if job.worker_type().is_some() {
        update.set_worker_type(job.worker_type().cloned()).set_number_of_workers(job.number_of_workers())
    } else {
        update.set_max_capacity(job.max_capacity())
    };
    (Some(update.build()), details)
}

/// The live state of a state machine: its latest definition and role, and its alias's version.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The latest revision's definition and role, if the state machine exists.
    pub latest: Option<(Value, String)>,
    /// The alias's version ARN, if the alias exists and routes all traffic to one version.
    pub alias_version: Option<String>,
    /// Whether the alias exists.
    pub alias_exists: bool,
    /// The alias's version's definition and role.
    pub alias_definition: Option<(Value, String)>,
}

/// Reads the state machine of `env` and its alias `live`.
pub async fn live(aws: &Aws, env: &EnvConfig) -> anyhow::Result<Live> {
    let arn = env.state_machine_arn();
    let mut live = Live::default();
    match aws.sfn.describe_state_machine().state_machine_arn(&arn).send().await {
        Ok(out) => live.latest = Some((parse_definition(out.definition())?, out.role_arn().to_string())),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_state_machine_does_not_exist()) => return Ok(live),
        Err(e) => return Err(anyhow!("cannot read state machine {}: {}", env.state_machine, describe_error(&e))),
    }
    match aws.sfn.describe_state_machine_alias().state_machine_alias_arn(format!("{arn}:{LIVE}")).send().await {
        Ok(out) => {
            live.alias_exists = true;
            let routes = out.routing_configuration();
            if let [only] = routes {
                live.alias_version = Some(only.state_machine_version_arn().to_string());
            }
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found()) => {}
        Err(e) => return Err(anyhow!("cannot read alias {}:{LIVE}: {}", env.state_machine, describe_error(&e))),
    }
    if let Some(version) = &live.alias_version {
        let out = aws
            .sfn
            .describe_state_machine()
            .state_machine_arn(version)
            .send()
            .await
            .map_err(|e| anyhow!("cannot read version {version}: {}", describe_error(&e)))?;
        live.alias_definition = Some((parse_definition(out.definition())?, out.role_arn().to_string()));
    }
    Ok(live)
}

fn parse_definition(text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).context("the deployed definition is not JSON")
}

/// The version number at the end of a version ARN (`...:stateMachine:name:7` is 7).
pub fn version_number(arn: &str) -> Option<u64> {
    arn.rsplit(':').next().and_then(|n| n.parse().ok())
}

async fn plan_state_machine(aws: &Aws, target: &Target, deploy: &DeployConfig, plan: &mut Plan) -> anyhow::Result<()> {
    let env = &target.env;
    let desired: Value = serde_json::from_str(&target.definition).context("the rendered definition is not JSON")?;
    let role = env.role_arn(&deploy.role);
    validate_in_aws(aws, target, plan).await;
    let live = live(aws, env).await?;
    let same = |(def, r): &(Value, String)| diff::diff(def, &desired).is_empty() && *r == role;
    let mut machine = Change::new("State machine", env.state_machine.clone());
    let mut alias = Change::new("Alias", format!("{}:{LIVE}", env.state_machine));
    let baseline = live.alias_definition.as_ref().or(live.latest.as_ref());
    if let Some((def, old_role)) = baseline {
        let d = diff::diff(def, &desired);
        if !d.is_empty() {
            plan.definition_diff = Some(d);
        }
        if *old_role != role {
            machine = machine.detail(format!("role: {old_role} -> {role}"));
        }
    }
    match &live.latest {
        None => {
            machine = machine
                .detail(format!("{} states, role {role}; publishes version 1", count_states(&desired)))
                .step(Action::Create, Step::CreateStateMachine);
            alias = alias.detail("-> version 1").step(Action::Create, Step::PointAlias { exists: false });
        }
        Some(latest) => {
            let alias_current = live.alias_definition.as_ref().is_some_and(same);
            if !same(latest) {
                machine =
                    machine.detail("update and publish a new version").step(Action::Update, Step::UpdateStateMachine);
            } else if !alias_current {
                machine = machine
                    .detail("the latest revision is as rendered; publish it as a version")
                    .step(Action::Update, Step::PublishVersion);
            }
            if !alias_current {
                let from = live.alias_version.as_deref().and_then(version_number);
                let line = match from {
                    Some(v) => format!("version {v} -> the new version"),
                    None if live.alias_exists => "split routing -> the new version only".into(),
                    None => "-> the new version".into(),
                };
                let action = if live.alias_exists { Action::Update } else { Action::Create };
                alias = alias.detail(line).step(action, Step::PointAlias { exists: live.alias_exists });
            } else if let Some(v) = live.alias_version.as_deref().and_then(version_number) {
                alias.name = format!("{} (version {v})", alias.name);
            }
        }
    }
    plan.changes.push(machine);
    plan.changes.push(alias);
    Ok(())
}

/// Asks AWS's own validator (ValidateStateMachineDefinition) about the definition: its errors are problems of the
/// plan. amali validated the definition when it rendered it, so a validator that cannot be reached (an endpoint
/// without it, a role without the permission) is a warning, asked once, without retries.
async fn validate_in_aws(aws: &Aws, target: &Target, plan: &mut Plan) {
    use aws_sdk_sfn::types::{ValidateStateMachineDefinitionResultCode, ValidateStateMachineDefinitionSeverity};
    let once = aws_sdk_sfn::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled());
    let result = aws
        .sfn
        .validate_state_machine_definition()
        .definition(&target.definition)
        .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
        .customize()
        .config_override(once)
        .send()
        .await;
    match result {
        Ok(out) => {
            for d in out.diagnostics() {
                let line = format!("{} at {}: {}", d.code(), d.location().unwrap_or("/"), d.message());
                if *d.severity() == ValidateStateMachineDefinitionSeverity::Error {
                    plan.problems.push(format!("AWS rejects the definition: {line}"));
                } else {
                    plan.warnings.push(format!("AWS warns about the definition: {line}"));
                }
            }
            if *out.result() == ValidateStateMachineDefinitionResultCode::Fail && out.diagnostics().is_empty() {
                plan.problems.push("AWS rejects the definition (no diagnostics given)".into());
            }
        }
        Err(e) => plan.warnings.push(format!(
            "AWS's definition validator was not available ({}); amali's own validation passed",
            describe_error(&e)
        )),
    }
}

fn count_states(definition: &Value) -> usize {
    fn walk(v: &Value) -> usize {
        let Some(states) = v.get("States").and_then(Value::as_object) else { return 0 };
        states
            .values()
            .map(|s| {
                1 + s.get("Branches").and_then(Value::as_array).map_or(0, |b| b.iter().map(walk).sum())
                    + s.get("ItemProcessor").or_else(|| s.get("Iterator")).map_or(0, walk)
            })
            .sum()
    }
    walk(definition)
}

/// What applying a plan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    /// The version the alias now points to, when the deploy moved it.
    pub version_arn: Option<String>,
    /// One line per call made.
    pub done: Vec<String>,
}

/// Applies `plan`: only the calls its changes list, in order. `progress` is told each resource as it starts.
pub async fn apply(
    aws: &Aws,
    target: &Target,
    plan: &Plan,
    progress: &mut dyn FnMut(&Change),
) -> anyhow::Result<Applied> {
    if !plan.problems.is_empty() {
        return Err(anyhow!("the plan has problems; nothing was applied:\n  {}", plan.problems.join("\n  ")));
    }
    let deploy = target.deploy()?;
    let env = &target.env;
    let sm_arn = target.env.state_machine_arn();
    let role = env.role_arn(&deploy.role);
    let mut applied = Applied::default();
    for change in plan.changes.iter().filter(|c| c.action != Action::Unchanged) {
        progress(change);
        for step in &change.steps {
            let what = format!("{} {}", change.resource, change.name);
            let fail = |e: String| anyhow!("{what}: {e}");
            match step {
                Step::CreateTopic { name } => {
                    aws.sns.create_topic().name(name).send().await.map_err(|e| fail(describe_error(&e)))?;
                    applied.done.push(format!("created SNS topic {name}"));
                }
                Step::Subscribe { topic_arn, protocol, endpoint } => {
                    aws.sns
                        .subscribe()
                        .topic_arn(topic_arn)
                        .protocol(protocol)
                        .endpoint(endpoint)
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    applied.done.push(format!("subscribed {protocol}:{endpoint}"));
                }
                Step::CreateFunction(spec) => {
                    aws.lambda
                        .create_function()
                        .function_name(&spec.name)
                        .runtime(Runtime::Providedal2023)
                        .handler("bootstrap")
                        .role(&spec.role)
                        .architectures(Architecture::from(spec.architecture.as_str()))
                        .memory_size(spec.memory)
                        .timeout(spec.timeout)
                        .environment(environment(&spec.variables))
                        .code(FunctionCode::builder().zip_file(Blob::new(spec.zip.bytes.clone())).build())
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    wait_function(aws, &spec.name, true).await.map_err(|e| fail(e.to_string()))?;
                    applied.done.push(format!("created Lambda function {}", spec.name));
                }
                Step::UpdateFunctionCode(spec) => {
                    aws.lambda
                        .update_function_code()
                        .function_name(&spec.name)
                        .zip_file(Blob::new(spec.zip.bytes.clone()))
                        .architectures(Architecture::from(spec.architecture.as_str()))
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    wait_function(aws, &spec.name, false).await.map_err(|e| fail(e.to_string()))?;
                    applied.done.push(format!("updated the code of {}", spec.name));
                }
                Step::UpdateFunctionConfiguration(spec) => {
                    aws.lambda
                        .update_function_configuration()
                        .function_name(&spec.name)
                        .runtime(Runtime::Providedal2023)
                        .handler("bootstrap")
                        .role(&spec.role)
                        .memory_size(spec.memory)
                        .timeout(spec.timeout)
                        .environment(environment(&spec.variables))
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    wait_function(aws, &spec.name, false).await.map_err(|e| fail(e.to_string()))?;
                    applied.done.push(format!("updated the configuration of {}", spec.name));
                }
                Step::CreateCluster { name } => {
                    aws.ecs.create_cluster().cluster_name(name).send().await.map_err(|e| fail(describe_error(&e)))?;
                    applied.done.push(format!("created ECS cluster {name}"));
                }
                Step::RegisterTaskDefinition(spec) => {
                    let out = register_task_definition(aws, spec).await.map_err(|e| fail(describe_error(&e)))?;
                    let revision = out.task_definition().map(|t| t.revision()).unwrap_or_default();
                    applied.done.push(format!("registered {}:{revision}", spec.family));
                }
                Step::UpdateGlueJob { name, update } => {
                    aws.glue
                        .update_job()
                        .job_name(name)
                        .job_update(update.as_ref().clone())
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    applied.done.push(format!("updated Glue job {name}"));
                }
                Step::CreateStateMachine => {
                    let out = aws
                        .sfn
                        .create_state_machine()
                        .name(&env.state_machine)
                        .definition(&target.definition)
                        .role_arn(&role)
                        .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
                        .publish(true)
                        .version_description(version_description(target))
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    applied.version_arn = out.state_machine_version_arn().map(String::from);
                    applied.done.push(format!("created state machine {}", env.state_machine));
                }
                Step::UpdateStateMachine => {
                    let out = aws
                        .sfn
                        .update_state_machine()
                        .state_machine_arn(&sm_arn)
                        .definition(&target.definition)
                        .role_arn(&role)
                        .publish(true)
                        .version_description(version_description(target))
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    applied.version_arn = out.state_machine_version_arn().map(String::from);
                    applied.done.push(format!("updated state machine {}", env.state_machine));
                }
                Step::PublishVersion => {
                    let out = aws
                        .sfn
                        .publish_state_machine_version()
                        .state_machine_arn(&sm_arn)
                        .description(version_description(target))
                        .send()
                        .await
                        .map_err(|e| fail(describe_error(&e)))?;
                    applied.version_arn = Some(out.state_machine_version_arn().to_string());
                    applied.done.push(format!("published a version of {}", env.state_machine));
                }
                Step::PointAlias { exists } => {
                    let version = applied
                        .version_arn
                        .clone()
                        .ok_or_else(|| fail("no version was published to point the alias at".into()))?;
                    point_alias(aws, &sm_arn, &version, *exists).await?;
                    applied.done.push(format!("alias {LIVE} -> version {}", version_number(&version).unwrap_or(0)));
                }
            }
        }
    }
    Ok(applied)
}

/// Points the alias `live` of the state machine `sm_arn` at `version` (all traffic), creating it if asked.
pub async fn point_alias(aws: &Aws, sm_arn: &str, version: &str, exists: bool) -> anyhow::Result<()> {
    let route = RoutingConfigurationListItem::builder().state_machine_version_arn(version).weight(100).build()?;
    if exists {
        aws.sfn
            .update_state_machine_alias()
            .state_machine_alias_arn(format!("{sm_arn}:{LIVE}"))
            .routing_configuration(route)
            .send()
            .await
            .map_err(|e| anyhow!("cannot move alias {LIVE}: {}", describe_error(&e)))?;
    } else {
        aws.sfn
            .create_state_machine_alias()
            .name(LIVE)
            .description("The version executions start on; `amali rollback` moves it back.")
            .routing_configuration(route)
            .send()
            .await
            .map_err(|e| anyhow!("cannot create alias {LIVE}: {}", describe_error(&e)))?;
    }
    Ok(())
}

fn version_description(target: &Target) -> String {
    let commit = std::env::var("GITHUB_SHA").ok().map(|s| format!(" at {}", short(&s))).unwrap_or_default();
    format!("amali {}{commit} ({} environment)", env!("CARGO_PKG_VERSION"), target.env.name)
}

fn environment(variables: &BTreeMap<String, String>) -> Environment {
    Environment::builder().set_variables(Some(variables.clone().into_iter().collect())).build()
}

async fn wait_function(aws: &Aws, name: &str, created: bool) -> anyhow::Result<()> {
    let limit = Duration::from_secs(300);
    let result = if created {
        aws.lambda.wait_until_function_active_v2().function_name(name).wait(limit).await.map(|_| ())
    } else {
        aws.lambda.wait_until_function_updated_v2().function_name(name).wait(limit).await.map(|_| ())
    };
    result.map_err(|e| anyhow!("the function did not become ready: {e}"))
}

async fn register_task_definition(
    aws: &Aws,
    spec: &TaskSpec,
) -> Result<
    aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput,
    aws_sdk_ecs::error::SdkError<aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionError>,
> {
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &spec.log_group)
        .options("awslogs-region", &spec.region)
        .options("awslogs-stream-prefix", "stage")
        .options("awslogs-create-group", "true")
        .build()
        .expect("the log driver is set");
    let container = ContainerDefinition::builder()
        .name(&spec.container)
        .image(&spec.image)
        .essential(true)
        .set_environment(Some(
            spec.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect(),
        ))
        .log_configuration(logs)
        .build();
    aws.ecs
        .register_task_definition()
        .family(&spec.family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(&spec.cpu)
        .memory(&spec.memory)
        .set_task_role_arn(spec.task_role.clone())
        .set_execution_role_arn(spec.execution_role.clone())
        .container_definitions(container)
        .send()
        .await
}
