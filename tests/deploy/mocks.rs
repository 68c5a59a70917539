//! The calls moto_server does not implement (PublishStateMachineVersion, ValidateStateMachineDefinition,
//! ListStateMachineVersions, RedriveExecution, Glue UpdateJob), against clients answered by aws-smithy-mocks rules.

use std::collections::HashMap;
use std::path::Path;

use amali::aws::deploy::{self, Action, Target};
use amali::aws::package::lambda_zip;
use amali::aws::{Aws, CallLog, operate};
use amali::config::Config;
use amali::stage::{SERVES_LAMBDA, Stage};
use aws_sdk_glue::operation::get_job::{GetJobError, GetJobOutput};
use aws_sdk_glue::operation::update_job::UpdateJobOutput;
use aws_sdk_glue::types::{Job, JobCommand};
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::types::{EnvironmentResponse, FunctionConfiguration, Runtime};
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput;
use aws_sdk_sfn::operation::describe_state_machine_alias::DescribeStateMachineAliasOutput;
use aws_sdk_sfn::operation::list_state_machine_versions::ListStateMachineVersionsOutput;
use aws_sdk_sfn::operation::publish_state_machine_version::PublishStateMachineVersionOutput;
use aws_sdk_sfn::operation::redrive_execution::RedriveExecutionOutput;
use aws_sdk_sfn::operation::update_state_machine_alias::UpdateStateMachineAliasOutput;
use aws_sdk_sfn::operation::validate_state_machine_definition::ValidateStateMachineDefinitionOutput;
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::{
    RoutingConfigurationListItem, StateMachineType, StateMachineVersionListItem,
    ValidateStateMachineDefinitionDiagnostic, ValidateStateMachineDefinitionResultCode,
    ValidateStateMachineDefinitionSeverity,
};
use aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesOutput;
use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock};

/// A client of `$sdk` whose calls are answered by aws-smithy-mocks rules: `mock_client!` without the SDKs'
/// `test-util` feature, so the test build reuses the SDK crates `cargo run` compiled (each costs minutes).
macro_rules! mock_client {
    ($sdk:ident, $rules:expr) => {
        mock_client!($sdk, RuleMode::Sequential, $rules)
    };
    ($sdk:ident, $mode:expr, $rules:expr) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new().rule_mode($mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = $sdk::config::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("eu-west-1"))
            .credentials_provider($sdk::config::Credentials::new("AKIDTEST", "test", None, None, "mocks"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        $sdk::Client::from_conf(config)
    }};
}

const CONFIG: &str = r#"
[pipeline]
name = "amalimart"
comment = "test"

[env.mocked]
region = "eu-west-1"
account = "123456789012"
state_machine = "amalimart-pipeline-mocked"
execution_timeout_seconds = 3600
runner = "glue"
pause_function = "mocked-pause_clusters"
topics = { success = "mocked-success", failure = "mocked-failure" }

[env.mocked.deploy]
role = "mocked-pipeline"
lambda_role = "mocked-lambda"
"#;

const SM: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:amalimart-pipeline-mocked";

fn target(artifacts: &Path) -> Target {
    let config = Config::parse(CONFIG, "test").unwrap();
    let env = config.env("mocked").unwrap().clone();
    let definition = amali::asl::render(&amali::pipeline::build(&config, &env).unwrap());
    std::fs::write(artifacts.join("pause_clusters"), format!("\x7fELF pause {SERVES_LAMBDA}")).unwrap();
    Target { env, definition, artifacts: artifacts.to_path_buf(), image: None }
}

fn aws(
    sfn: aws_sdk_sfn::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
    glue: aws_sdk_glue::Client,
) -> Aws {
    Aws {
        sfn,
        sns,
        lambda,
        glue,
        ecs: mock_client!(aws_sdk_ecs, []),
        sts: sts("123456789012"),
        log: CallLog::default(),
    }
}

/// Credentials of `account`.
fn sts(account: &'static str) -> aws_sdk_sts::Client {
    let me = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account(account)
            .arn(format!("arn:aws:sts::{account}:assumed-role/deployer/ci"))
            .build()
    });
    mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&me])
}

/// Topics that exist with no subscriptions.
fn sns() -> aws_sdk_sns::Client {
    let attributes =
        mock!(aws_sdk_sns::Client::get_topic_attributes).then_output(|| GetTopicAttributesOutput::builder().build());
    let subscriptions = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic)
        .then_output(|| ListSubscriptionsByTopicOutput::builder().build());
    mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&attributes, &subscriptions])
}

/// The pause function, deployed as the target wants it.
fn lambda(target: &Target) -> aws_sdk_lambda::Client {
    let sha = lambda_zip(&target.artifacts.join("pause_clusters")).unwrap().sha256;
    let timeout = target.env.timeout_for(Stage::PauseClusters).min(900) as i32;
    let env_name = target.env.name.clone();
    let get = mock!(aws_sdk_lambda::Client::get_function).then_output(move || {
        GetFunctionOutput::builder()
            .configuration(
                FunctionConfiguration::builder()
                    .function_name("mocked-pause_clusters")
                    .code_sha256(sha.clone())
                    .role("arn:aws:iam::123456789012:role/mocked-lambda")
                    .runtime(Runtime::Providedal2023)
                    .handler("bootstrap")
                    .memory_size(1024)
                    .timeout(timeout)
                    .environment(
                        EnvironmentResponse::builder()
                            .variables("AMALI_ENV", env_name.clone())
                            .variables("RUST_LOG", "info")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&get])
}

fn glue_job(name: &str, arguments: &[(&str, &str)]) -> Job {
    Job::builder()
        .name(name)
        .role("arn:aws:iam::123456789012:role/glue")
        .command(JobCommand::builder().name("glueetl").script_location("s3://scripts/job.py").build())
        .set_default_arguments(Some(arguments.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
        .glue_version("4.0")
        .build()
}

/// Every stage's Glue job exists with the managed arguments, except those in `special`.
fn glue_rule(special: HashMap<&'static str, Option<Job>>) -> Rule {
    mock!(aws_sdk_glue::Client::get_job).then_compute_response(move |req| {
        let name = req.job_name().unwrap_or_default().to_string();
        match special.get(name.as_str()) {
            Some(Some(job)) => aws_smithy_mocks::MockResponse::Output(GetJobOutput::builder().job(job.clone()).build()),
            Some(None) => aws_smithy_mocks::MockResponse::Error(GetJobError::EntityNotFoundException(
                aws_sdk_glue::types::error::EntityNotFoundException::builder().message("no such job").build(),
            )),
            None => aws_smithy_mocks::MockResponse::Output(
                GetJobOutput::builder()
                    .job(glue_job(&name, &[("--env", "mocked"), ("--job-bookmark-option", "job-bookmark-disable")]))
                    .build(),
            ),
        }
    })
}

fn machine(arn: &str, definition: &str) -> DescribeStateMachineOutput {
    DescribeStateMachineOutput::builder()
        .state_machine_arn(arn)
        .name("amalimart-pipeline-mocked")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/mocked-pipeline")
        .r#type(StateMachineType::Standard)
        .creation_date(DateTime::from_secs(1_700_000_000))
        .build()
        .unwrap()
}

fn alias_to(version: u64) -> DescribeStateMachineAliasOutput {
    DescribeStateMachineAliasOutput::builder()
        .state_machine_alias_arn(format!("{SM}:live"))
        .name("live")
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(format!("{SM}:{version}"))
                .weight(100)
                .build()
                .unwrap(),
        )
        .build()
}

fn valid() -> Rule {
    mock!(aws_sdk_sfn::Client::validate_state_machine_definition).then_output(|| {
        ValidateStateMachineDefinitionOutput::builder()
            .result(ValidateStateMachineDefinitionResultCode::Ok)
            .set_diagnostics(Some(vec![]))
            .build()
            .unwrap()
    })
}

/// The latest revision is as rendered but the alias is on an older version: the deploy publishes a version
/// (PublishStateMachineVersion) and moves the alias to it, without updating the state machine.
#[tokio::test]
async fn an_alias_behind_the_latest_revision_gets_a_published_version() {
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path());
    let current = target.definition.clone();
    let old = current.replace("\"TimeoutSeconds\": 3600", "\"TimeoutSeconds\": 1800");
    assert_ne!(old, current, "the test needs an older definition that differs");
    let latest = mock!(aws_sdk_sfn::Client::describe_state_machine)
        .match_requests(|r| r.state_machine_arn() == Some(SM))
        .then_output(move || machine(SM, &current));
    let version = mock!(aws_sdk_sfn::Client::describe_state_machine)
        .match_requests(|r| r.state_machine_arn() == Some(&format!("{SM}:1")))
        .then_output(move || machine(&format!("{SM}:1"), &old));
    let alias = mock!(aws_sdk_sfn::Client::describe_state_machine_alias).then_output(|| alias_to(1));
    let publish = mock!(aws_sdk_sfn::Client::publish_state_machine_version).then_output(|| {
        PublishStateMachineVersionOutput::builder()
            .state_machine_version_arn(format!("{SM}:2"))
            .creation_date(DateTime::from_secs(1_700_000_100))
            .build()
            .unwrap()
    });
    let move_alias = mock!(aws_sdk_sfn::Client::update_state_machine_alias)
        .match_requests(|r| {
            r.routing_configuration().first().map(|c| c.state_machine_version_arn()) == Some(&format!("{SM}:2"))
        })
        .then_output(|| UpdateStateMachineAliasOutput::builder().update_date(DateTime::from_secs(1)).build().unwrap());
    let update = mock!(aws_sdk_sfn::Client::update_state_machine).then_error(|| {
        aws_sdk_sfn::operation::update_state_machine::UpdateStateMachineError::unhandled("must not be called")
    });
    let sfn = mock_client!(
        aws_sdk_sfn,
        RuleMode::MatchAny,
        [&valid(), &latest, &version, &alias, &publish, &move_alias, &update]
    );
    let aws =
        aws(sfn, sns(), lambda(&target), mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&glue_rule(HashMap::new())]));

    let plan = deploy::plan(&aws, &target).await.unwrap();
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let actions: Vec<(&str, Action)> = plan.changes.iter().map(|c| (c.resource, c.action)).collect();
    assert!(
        actions.iter().filter(|(r, _)| *r != "State machine" && *r != "Alias").all(|(_, a)| *a == Action::Unchanged),
        "{actions:?}"
    );
    let sm = plan.changes.iter().find(|c| c.resource == "State machine").unwrap();
    assert_eq!(sm.action, Action::Update);
    assert!(sm.details.iter().any(|d| d.contains("publish it as a version")), "{:?}", sm.details);
    let diff = plan.definition_diff.as_ref().expect("the live version differs from the rendered one");
    assert!(!diff.is_empty());

    let applied = deploy::apply(&aws, &target, &plan, &mut |_| {}).await.unwrap();
    assert_eq!(applied.version_arn.as_deref(), Some(format!("{SM}:2").as_str()));
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(move_alias.num_calls(), 1);
    assert_eq!(update.num_calls(), 0);
}

/// AWS's validator's errors stop the deploy before anything is applied.
#[tokio::test]
async fn aws_validation_errors_are_problems_of_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path());
    let invalid = mock!(aws_sdk_sfn::Client::validate_state_machine_definition).then_output(|| {
        ValidateStateMachineDefinitionOutput::builder()
            .result(ValidateStateMachineDefinitionResultCode::Fail)
            .diagnostics(
                ValidateStateMachineDefinitionDiagnostic::builder()
                    .severity(ValidateStateMachineDefinitionSeverity::Error)
                    .code("SCHEMA_VALIDATION_FAILED")
                    .message("The field 'TimeoutSeconds' should be positive")
                    .location("/States/Notify success/TimeoutSeconds")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let missing = mock!(aws_sdk_sfn::Client::describe_state_machine).then_error(|| {
        aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError::StateMachineDoesNotExist(
            aws_sdk_sfn::types::error::StateMachineDoesNotExist::builder().message("no").build(),
        )
    });
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&invalid, &missing]);
    let aws =
        aws(sfn, sns(), lambda(&target), mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&glue_rule(HashMap::new())]));
    let plan = deploy::plan(&aws, &target).await.unwrap();
    assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
    assert!(plan.problems[0].contains("SCHEMA_VALIDATION_FAILED at /States/Notify success/TimeoutSeconds"));
    let err = deploy::apply(&aws, &target, &plan, &mut |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("nothing was applied"), "{err}");
}

/// Credentials of another account than the environment's stop the deploy.
#[tokio::test]
async fn credentials_of_another_account_are_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path());
    let missing = mock!(aws_sdk_sfn::Client::describe_state_machine).then_error(|| {
        aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError::StateMachineDoesNotExist(
            aws_sdk_sfn::types::error::StateMachineDoesNotExist::builder().message("no").build(),
        )
    });
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&valid(), &missing]);
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&glue_rule(HashMap::new())]);
    let aws = Aws { sts: sts("999999999999"), ..aws(sfn, sns(), lambda(&target), glue) };
    let plan = deploy::plan(&aws, &target).await.unwrap();
    assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
    assert!(
        plan.problems[0].starts_with("the credentials are for account 999999999999 (arn:aws:sts::999999999999:"),
        "{}",
        plan.problems[0]
    );
    assert!(plan.problems[0].contains("but [env.mocked] is account 123456789012"));
}

/// A Glue job keeps its definition; its default arguments lose the password and gain the managed ones (UpdateJob
/// gets the whole definition back, as it replaces the job). A stage whose Glue job is missing is a problem.
#[tokio::test]
async fn glue_jobs_are_kept_and_their_passwords_removed() {
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path());
    let leaky = glue_job(
        "read_from_app_database",
        &[("--db_password", "hunter2"), ("--TempDir", "s3://tmp/"), ("--env", "mocked")],
    );
    let special = HashMap::from([("read_from_app_database", Some(leaky))]);
    let get = glue_rule(special);
    let update = mock!(aws_sdk_glue::Client::update_job)
        .match_requests(|r| {
            let Some(u) = r.job_update() else { return false };
            let args = u.default_arguments().cloned().unwrap_or_default();
            r.job_name() == Some("read_from_app_database")
                && !args.contains_key("--db_password")
                && args.get("--TempDir").map(String::as_str) == Some("s3://tmp/")
                && args.get("--job-bookmark-option").map(String::as_str) == Some("job-bookmark-disable")
                && u.role() == Some("arn:aws:iam::123456789012:role/glue")
                && u.command().and_then(|c| c.script_location()) == Some("s3://scripts/job.py")
                && u.glue_version() == Some("4.0")
        })
        .then_output(|| UpdateJobOutput::builder().job_name("read_from_app_database").build());
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get, &update]);
    let current = target.definition.clone();
    let latest = mock!(aws_sdk_sfn::Client::describe_state_machine).then_output(move || machine(SM, &current));
    let current = target.definition.clone();
    let version = mock!(aws_sdk_sfn::Client::describe_state_machine)
        .match_requests(|r| r.state_machine_arn() == Some(&format!("{SM}:4")))
        .then_output(move || machine(&format!("{SM}:4"), &current));
    let alias = mock!(aws_sdk_sfn::Client::describe_state_machine_alias).then_output(|| alias_to(4));
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&valid(), &version, &latest, &alias]);
    let aws = aws(sfn, sns(), lambda(&target), glue);

    let plan = deploy::plan(&aws, &target).await.unwrap();
    let changed: Vec<_> = plan.changes.iter().filter(|c| c.action != Action::Unchanged).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!((changed[0].resource, changed[0].name.as_str()), ("Glue job", "read_from_app_database"));
    assert!(changed[0].details.iter().any(|d| d.starts_with("remove default argument --db_password")));
    assert!(!format!("{:?}", changed[0].details).contains("hunter2"), "a password value must never be shown");
    deploy::apply(&aws, &target, &plan, &mut |_| {}).await.unwrap();
    assert_eq!(update.num_calls(), 1);

    // A missing job: the plan says what to do, and nothing is applied.
    let get = glue_rule(HashMap::from([("silver_transformation", None)]));
    let aws2 = Aws { glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get]), ..aws };
    let plan = deploy::plan(&aws2, &target).await.unwrap();
    assert_eq!(plan.problems.len(), 1);
    assert!(plan.problems[0].contains("Glue job silver_transformation (stage silver_transformation) does not exist"));
}

/// Without --to, a rollback goes to the highest version below the live one (ListStateMachineVersions).
#[tokio::test]
async fn rollback_goes_to_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path());
    let current = target.definition.clone();
    let any = mock!(aws_sdk_sfn::Client::describe_state_machine)
        .then_compute_output(move |r| machine(r.state_machine_arn().unwrap_or_default(), &current));
    let alias = mock!(aws_sdk_sfn::Client::describe_state_machine_alias).then_output(|| alias_to(5));
    let versions = mock!(aws_sdk_sfn::Client::list_state_machine_versions).then_output(|| {
        let item = |v: u64| {
            StateMachineVersionListItem::builder()
                .state_machine_version_arn(format!("{SM}:{v}"))
                .creation_date(DateTime::from_secs(1_700_000_000 + v as i64))
                .build()
                .unwrap()
        };
        ListStateMachineVersionsOutput::builder()
            .set_state_machine_versions(Some(vec![item(6), item(5), item(3), item(1)]))
            .build()
            .unwrap()
    });
    let moved = mock!(aws_sdk_sfn::Client::update_state_machine_alias)
        .match_requests(|r| {
            r.state_machine_alias_arn() == Some(&format!("{SM}:live"))
                && r.routing_configuration().first().map(|c| c.state_machine_version_arn()) == Some(&format!("{SM}:3"))
        })
        .then_output(|| UpdateStateMachineAliasOutput::builder().update_date(DateTime::from_secs(1)).build().unwrap());
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&any, &alias, &versions, &moved]);
    let aws = aws(sfn, sns(), lambda(&target), mock_client!(aws_sdk_glue, []));
    let done = operate::rollback(&aws, &target.env, None).await.unwrap();
    assert_eq!((done.from, done.to), (5, 3));
    assert_eq!(moved.num_calls(), 1);
}

/// `amali redrive ARN` calls RedriveExecution on that execution.
#[tokio::test]
async fn redrive_calls_redrive_execution() {
    let arn = "arn:aws:states:eu-west-1:123456789012:execution:amalimart-pipeline-mocked:run-2024-03-01";
    let redrive = mock!(aws_sdk_sfn::Client::redrive_execution)
        .match_requests(move |r| r.execution_arn() == Some(arn))
        .then_output(|| RedriveExecutionOutput::builder().redrive_date(DateTime::from_secs(1)).build().unwrap());
    let sfn = mock_client!(aws_sdk_sfn, [&redrive]);
    let aws = aws(sfn, mock_client!(aws_sdk_sns, []), mock_client!(aws_sdk_lambda, []), mock_client!(aws_sdk_glue, []));
    operate::redrive(&aws, arn).await.unwrap();
    assert_eq!(redrive.num_calls(), 1);
}
