//! `pause_clusters` on AWS, against moto_server: the RDS instance stops and the Redshift cluster pauses, a second
//! call succeeds without doing anything, resume starts them, and nothing is paused while another execution runs.
#![cfg(feature = "aws")]

mod common;

use amali_jobs::settings::{Settings, StageArgs};
use amali_jobs::stages::pause::{self, Action, Cluster};
use common::{invoke_lambda, moto};

fn settings(dir: &std::path::Path) -> Settings {
    let config = r#"[pipeline]
name = "test"
comment = "test"

[env.aws]
region = "us-east-1"
account = "123456789012"
state_machine = "amalimart"
execution_timeout_seconds = 3600
runner = "lambda"
pause_function = "pause"
topics = { success = "ok", failure = "failed" }

[env.aws.data]
app_database = "mysql://etl@app.internal:3306/app"
landing_database = "mysql://etl@internal.internal:3306/landing"
internal_database = "mysql://etl@internal.internal:3306/analytics"
warehouse = "redshift://etl@dwh.internal:5439/analytics"
lake = "s3://lake/delta"
rds_instance = "amali-internal"
redshift_cluster = "amali-dwh"
"#;
    std::fs::write(dir.join("amali.toml"), config).unwrap();
    Settings::resolve(&StageArgs {
        env: "aws".into(),
        config: Some(dir.join("amali.toml")),
        run_id: "r1".into(),
        logical_date: None,
        workdir: Some(dir.to_path_buf()),
        tables: vec![],
        batch_rows: 1000,
        memory_limit: None,
    })
    .unwrap()
}

fn notes(outcome: &amali_jobs::stages::Outcome) -> Vec<String> {
    assert!(outcome.error().is_none(), "{:?}", outcome.error());
    outcome.tables.iter().map(|t| t.note.clone().unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_pause_and_resume_idempotently_and_wait_for_other_runs() {
    let aws = moto();
    let endpoint = format!("http://127.0.0.1:{}", aws.1);
    // SAFETY: this test binary has one test; nothing else reads the environment concurrently.
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        unsafe { std::env::set_var(k, v) };
    }
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let config = pause::aws::sdk_config(&s).await;
    let rds = aws_sdk_rds::Client::new(&config);
    rds.create_db_instance()
        .db_instance_identifier("amali-internal")
        .engine("mysql")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("password123")
        .send()
        .await
        .unwrap();
    let redshift = aws_sdk_redshift::Client::new(&config);
    redshift
        .create_cluster()
        .cluster_identifier("amali-dwh")
        .node_type("dc2.large")
        .cluster_type("single-node")
        .master_username("admin")
        .master_user_password("Password123")
        .send()
        .await
        .unwrap();
    let both = [Cluster::InternalRds, Cluster::Redshift];

    let first = notes(&pause::run(&s, Action::Pause, &both, None).await);
    assert_eq!(first, ["instance amali-internal is stopping", "cluster amali-dwh is pausing"]);
    let status = |id: &'static str| {
        let rds = rds.clone();
        async move {
            rds.describe_db_instances().db_instance_identifier(id).send().await.unwrap().db_instances()[0]
                .db_instance_status()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(status("amali-internal").await, "stopped");
    let again = notes(&pause::run(&s, Action::Pause, &both, None).await);
    assert!(again.iter().all(|n| n.ends_with("already")), "already stopped is a success: {again:?}");

    let resumed = notes(&pause::run(&s, Action::Resume, &both, None).await);
    assert_eq!(resumed, ["instance amali-internal is starting", "cluster amali-dwh is resuming"]);
    assert_eq!(status("amali-internal").await, "available");

    // Another execution of the pipeline is running: nothing is paused, and that is not a failure.
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = sfn
        .create_state_machine()
        .name("amalimart")
        .definition(r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/sfn")
        .send()
        .await
        .unwrap();
    let other =
        sfn.start_execution().state_machine_arn(machine.state_machine_arn()).name("other").send().await.unwrap();
    let mine = "arn:aws:states:us-east-1:123456789012:execution:amalimart:mine";
    let waited = notes(&pause::run(&s, Action::Pause, &both, Some(mine)).await);
    assert!(waited.iter().all(|n| n.starts_with("not paused") && n.contains(other.execution_arn())), "{waited:?}");
    assert_eq!(status("amali-internal").await, "available");
    // The caller's own execution does not count.
    let own = notes(&pause::run(&s, Action::Pause, &both, Some(other.execution_arn())).await);
    assert_eq!(own[0], "instance amali-internal is stopping");

    // The binary as the Lambda: one invocation through a stand-in of the Lambda runtime API.
    let config = dir.path().join("amali.toml");
    let vars = [("AMALI_CONFIG", config.as_os_str()), ("AMALI_ENV", "aws".as_ref())];
    let pause_clusters = env!("CARGO_BIN_EXE_pause_clusters");
    let (response, path) = invoke_lambda(
        pause_clusters,
        &vars,
        &serde_json::json!({"action": "resume", "targets": ["internal_rds"], "run_id": "r9"}).to_string(),
    );
    assert!(path.ends_with("/response"), "the invocation succeeded: {path} {response}");
    let result: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(result["status"], "SUCCEEDED");
    assert_eq!(result["tables"][0]["note"], "instance amali-internal is starting");
    let (error, path) =
        invoke_lambda(pause_clusters, &vars, &serde_json::json!({"action": "explode", "run_id": "r9"}).to_string());
    assert!(path.ends_with("/error"), "{path}");
    let error: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(error["errorType"], "Amali.ConfigError", "the stage's error name is the Lambda error type: {error}");
}
