//! The AmaliMart pipeline, written in the DSL.
//!
//! ```text
//! Resolve run context (run id = execution name, logical date = input or start date)
//!   -> Read from app database -> Ingest to bronze -> Silver transformation -> Gold transformation
//!   -> Load warehouses (Parallel: Load silver to internal RDS | Load gold to Redshift)
//!   -> Pause clusters -> Notify success -> Pipeline succeeded
//! any failure -> "<state> failed" (records which) -> Notify failure -> Pipeline failed
//! ```
//!
//! What it fixes in the original: the internal RDS is paused only after the load that writes into it; a failed load
//! fails the Parallel and so the run (there is no per-branch "notify and end" that lets the success notice follow);
//! every Task has a timeout and retries transient errors with backoff and jitter; every stage gets the execution
//! name as its run id and a logical date, so rerunning an execution is idempotent; nothing environment-specific is
//! written here.

use amali_core::args::{flag, glue_argument, keys};
use serde_json::{Value, json};

use crate::asl::StateMachine;
use crate::config::{Config, EnvConfig, Runner};
use crate::dsl::{
    BuildErrors, Catch, Chain, Choice, Condition, Ecs, ErrorName, Fail, Glue, Lambda, Open, Parallel, Pass, Retry, Sns,
    StateMachineBuilder, Succeed, Task,
};
use crate::stage::{Stage, StageErrorKind};

/// Where the run context (run id, logical date) lives in the execution's data.
const RUN: &str = "$.run";
/// Where each stage's trimmed result is kept, for the success summary.
const STAGES: &str = "$.stages";
/// Where a caught error (`Error`, `Cause`) is kept.
const ERROR: &str = "$.error";
/// Where the failure record (stage, state, rerun command) is kept.
const FAILED: &str = "$.failed";

/// The name of the state that sends the failure notice.
pub const NOTIFY_FAILURE: &str = "Notify failure";
/// The name of the state that sends the success summary.
pub const NOTIFY_SUCCESS: &str = "Notify success";
/// The name of the Parallel state running both loads.
pub const LOADS: &str = "Load warehouses";
/// The name of the final Fail state.
pub const PIPELINE_FAILED: &str = "Pipeline failed";

/// Seconds an SNS publish may take.
const SNS_TIMEOUT: u64 = 60;

/// Builds the AmaliMart state machine for one environment.
pub fn build(config: &Config, env: &EnvConfig) -> Result<StateMachine, BuildErrors> {
    let p = Pipeline { config, env };
    let chain = p
        .resolve_run_context()
        .next(p.stage_task(Stage::ReadFromAppDatabase))
        .next(p.stage_task(Stage::IngestionFromRds))
        .next(p.stage_task(Stage::SilverTransformation))
        .next(p.stage_task(Stage::GoldTransformation))
        .next(p.loads())
        .next(p.pause_clusters())
        .next(p.notify_success())
        .next(Succeed::new("Pipeline succeeded"));
    StateMachineBuilder::new(chain)
        .comment(format!("{} ({} environment, rendered by amali)", config.pipeline.comment, env.name))
        .timeout_seconds(env.execution_timeout_seconds)
        .build()
}

struct Pipeline<'a> {
    config: &'a Config,
    env: &'a EnvConfig,
}

impl Pipeline<'_> {
    /// Sets `$.run`: the execution name as run id, and the logical date from the input or the start date.
    fn resolve_run_context(&self) -> Chain<Open> {
        Choice::new("Resolve run context")
            .comment("A run is identified by its execution name; its logical date is given or is the start date.")
            .when(
                Condition::is_present("$.logical_date"),
                Pass::new("Use requested logical date")
                    .parameters(json!({
                        "run_id.$": "$$.Execution.Name",
                        "logical_date.$": "$.logical_date",
                    }))
                    .result_path(RUN),
            )
            .otherwise(
                Pass::new("Use execution start date")
                    .parameters(json!({
                        "run_id.$": "$$.Execution.Name",
                        "logical_date.$": "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)",
                    }))
                    .result_path(RUN),
            )
            .afterwards()
    }

    /// The arguments every stage gets, whatever its runner.
    fn stage_payload(&self, stage: Stage) -> Value {
        json!({
            (keys::STAGE): stage.name(),
            (keys::ENV): self.env.name,
            (format!("{}.$", keys::RUN_ID)): "$.run.run_id",
            (format!("{}.$", keys::LOGICAL_DATE)): "$.run.logical_date",
        })
    }

    /// The Task running `stage` on its configured runner, trimmed to what the summary needs.
    fn stage_integration(&self, stage: Stage) -> (Task, Vec<ErrorName>, Value) {
        let name = stage.state_name();
        match self.env.runner_for(stage) {
            Runner::Glue => (
                Task::new(
                    name,
                    Glue::start_job_run(self.env.glue_job(stage))
                        .sync()
                        .argument(glue_argument(keys::RUN_ID), "$.run.run_id")
                        .argument(glue_argument(keys::LOGICAL_DATE), "$.run.logical_date")
                        .argument(glue_argument(keys::ENV), self.env.name.clone()),
                ),
                vec![
                    ErrorName::of("Glue.AWSGlueException"),
                    ErrorName::of("Glue.ConcurrentRunsExceededException"),
                    ErrorName::of("Glue.InternalServiceException"),
                ],
                json!({"job_run_id.$": "$.Id", "state.$": "$.JobRunState", "seconds.$": "$.ExecutionTime"}),
            ),
            Runner::Ecs => {
                let ecs = self.env.ecs.as_ref().expect("checked when the configuration was loaded");
                let command = format!(
                    "States.Array('{}', '{}', $.run.run_id, '{}', $.run.logical_date, '{}', '{}')",
                    stage.name(),
                    flag(keys::RUN_ID),
                    flag(keys::LOGICAL_DATE),
                    flag(keys::ENV),
                    self.env.name
                );
                (
                    Task::new(
                        name,
                        Ecs::run_task(ecs.cluster.clone(), ecs.task_definition.clone())
                            .sync()
                            .network(ecs.subnets.clone(), ecs.security_groups.clone(), false)
                            .command(ecs.container.clone(), command),
                    ),
                    vec![ErrorName::of("ECS.AmazonECSException"), ErrorName::of("ECS.ServerException")],
                    json!({"task_arn.$": "$.TaskArn", "status.$": "$.LastStatus"}),
                )
            }
            Runner::Lambda => (
                Task::new(name, Lambda::invoke(self.env.lambda_function(stage)).payload(self.stage_payload(stage))),
                lambda_service_errors(),
                json!({"headline.$": "$.Payload.headline", "summary.$": "$.Payload"}),
            ),
        }
    }

    /// A stage Task with its timeout, retries and (outside a Parallel) its catch.
    fn stage_task_base(&self, stage: Stage) -> Task {
        let (task, service_errors, selector) = self.stage_integration(stage);
        let retry_failed_run = self.env.runner_for(stage) != Runner::Lambda;
        let mut task =
            task.comment(stage.summary()).timeout(self.env.timeout_for(stage)).result_selector(selector).retry(
                Retry::on(transient(service_errors))
                    .interval(30)
                    .max_attempts(3)
                    .backoff(2.0)
                    .max_delay(300)
                    .full_jitter(),
            );
        if retry_failed_run {
            // A Glue job or ECS task that fails reports States.TaskFailed whatever the stage's own error was. Every
            // stage is idempotent per run id, so one more attempt is safe and covers the stage's transient errors.
            task =
                task.retry(Retry::on([ErrorName::TASK_FAILED]).interval(60).max_attempts(1).backoff(2.0).full_jitter());
        }
        task
    }

    fn stage_task(&self, stage: Stage) -> Task {
        self.stage_task_base(stage).result_path(format!("{STAGES}.{}", stage.name())).catch(
            Catch::all().result_path(ERROR),
            self.record_failure(stage.state_name(), stage.name(), &self.rerun(stage)),
        )
    }

    fn rerun(&self, stage: Stage) -> String {
        format!(
            "States.Format('amali rerun {} --env {} --execution {{}}', $$.Execution.Id)",
            stage.name(),
            self.env.name
        )
    }

    fn redrive(&self) -> String {
        format!("States.Format('amali redrive --env {} {{}}', $$.Execution.Id)", self.env.name)
    }

    /// `"<state> failed"`: records which state failed and how to rerun it, then leads to the failure notice.
    fn record_failure(&self, state: &str, stage: &str, rerun: &str) -> Chain<crate::dsl::Closed> {
        Chain::start(
            Pass::new(format!("{state} failed"))
                .parameters(json!({"state": state, "stage": stage, "rerun.$": rerun}))
                .result_path(FAILED),
        )
        .next(self.notify_failure())
        .next(
            Fail::new(PIPELINE_FAILED)
                .comment("Fails the execution with the error of the state that failed.")
                .error_path("$.error.Error")
                .cause_path("$.error.Cause"),
        )
    }

    /// Both loads at once. A failed load fails the Parallel (the other load is stopped; each load is atomic, so its
    /// target keeps the old or the new data), and the Parallel's catch leads to the failure notice.
    fn loads(&self) -> Parallel {
        let branch = |stage: Stage| self.stage_task_base(stage);
        Parallel::new(LOADS)
            .comment("Silver to the internal RDS and gold to Redshift, concurrently; either failing fails the run.")
            .branch(branch(Stage::Rds))
            .branch(branch(Stage::WriteToRdsRs))
            .result_selector(json!({"rds.$": "$[0]", "write_to_rds_rs.$": "$[1]"}))
            .result_path("$.stages.loads")
            .catch(Catch::all().result_path(ERROR), self.record_failure(LOADS, "rds, write_to_rds_rs", &self.redrive()))
    }

    /// Pauses the internal RDS and Redshift once nothing uses them any more.
    fn pause_clusters(&self) -> Task {
        let stage = Stage::PauseClusters;
        Task::new(
            stage.state_name(),
            Lambda::invoke(self.env.pause_function.clone()).payload(json!({
                "action": "pause",
                "targets": ["internal_rds", "redshift"],
                "run_id.$": "$.run.run_id",
                "execution.$": "$$.Execution.Id",
            })),
        )
        .comment("After both loads: nothing reads or writes the internal RDS or Redshift any more in this run.")
        .timeout(self.env.timeout_for(stage))
        .result_selector(json!({"headline.$": "$.Payload.headline", "summary.$": "$.Payload"}))
        .result_path(format!("{STAGES}.{}", stage.name()))
        .retry(
            Retry::on(transient(lambda_service_errors()))
                .interval(10)
                .max_attempts(3)
                .backoff(2.0)
                .max_delay(120)
                .full_jitter(),
        )
        .catch(
            Catch::all().result_path(ERROR),
            self.record_failure(stage.state_name(), stage.name(), &self.rerun(stage)),
        )
    }

    fn notify_success(&self) -> Task {
        let message = json!({
            "status": "SUCCEEDED",
            "pipeline": self.config.pipeline.name,
            "environment": self.env.name,
            "execution.$": "$$.Execution.Id",
            "run_id.$": "$.run.run_id",
            "logical_date.$": "$.run.logical_date",
            "started_at.$": "$$.Execution.StartTime",
            "stages.$": STAGES,
        });
        Task::new(
            NOTIFY_SUCCESS,
            Sns::publish(self.env.topic_arn(&self.env.topics.success), message)
                .subject(format!("{} pipeline succeeded ({})", self.config.pipeline.name, self.env.name)),
        )
        .timeout(SNS_TIMEOUT)
        .discard_result()
        .retry(sns_retry())
        .catch(Catch::all().result_path(ERROR), self.record_failure(NOTIFY_SUCCESS, "notify", &self.redrive()))
    }

    fn notify_failure(&self) -> Task {
        let message = json!({
            "status": "FAILED",
            "pipeline": self.config.pipeline.name,
            "environment": self.env.name,
            "execution.$": "$$.Execution.Id",
            "run_id.$": "$.run.run_id",
            "failed_state.$": "$.failed.state",
            "failed_stage.$": "$.failed.stage",
            "error.$": "$.error.Error",
            "cause.$": "$.error.Cause",
            "rerun.$": "$.failed.rerun",
        });
        Task::new(
            NOTIFY_FAILURE,
            Sns::publish(self.env.topic_arn(&self.env.topics.failure), message)
                .subject(format!("{} pipeline FAILED ({})", self.config.pipeline.name, self.env.name)),
        )
        .timeout(SNS_TIMEOUT)
        .discard_result()
        .retry(sns_retry())
        .catch(
            Catch::all().result_path("$.notify_error").comment("The notice itself failed: fail the run regardless."),
            Fail::new(PIPELINE_FAILED)
                .comment("Fails the execution with the error of the state that failed.")
                .error_path("$.error.Error")
                .cause_path("$.error.Cause"),
        )
    }
}

/// A stage's own transient error plus its integration's transient service errors.
fn transient(service_errors: Vec<ErrorName>) -> Vec<ErrorName> {
    std::iter::once(StageErrorKind::Transient.error_name()).chain(service_errors).collect()
}

fn lambda_service_errors() -> Vec<ErrorName> {
    vec![
        ErrorName::of("Lambda.ServiceException"),
        ErrorName::of("Lambda.AWSLambdaException"),
        ErrorName::of("Lambda.SdkClientException"),
        ErrorName::of("Lambda.TooManyRequestsException"),
    ]
}

fn sns_retry() -> Retry {
    Retry::on([
        ErrorName::of("SNS.InternalErrorException"),
        ErrorName::of("SNS.ThrottledException"),
        ErrorName::of("SNS.SdkClientException"),
    ])
    .interval(5)
    .max_attempts(3)
    .backoff(2.0)
    .full_jitter()
}
