//! `amali deploy`, `rollback`, `run --env --follow`, `status`, `rerun --env` and `diff deployed:ENV` against a
//! moto_server started per test on loopback (each test its own server: moto fails a second StartExecution in one
//! region, and the tests run in parallel).
//!
//! What moto lacks is worked around here, not in amali: executions start on the latest revision (`run --on latest`;
//! moto cannot start one on an alias or a version), and nothing here needs PublishStateMachineVersion, ListStateMachineVersions,
//! RedriveExecution or Glue UpdateJob (tests/deploy/mocks.rs covers those).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use amali::stage::SERVES_LAMBDA;
use assert_cmd::Command;
use serde_json::{Value, json};

/// A moto_server on a free loopback port, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Process::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is not installed: pip install 'moto[server]' (.ci/test does)");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port} within a minute");
            std::thread::sleep(Duration::from_millis(200));
        }
        // Execute state machines for real, and answer Lambda invokes without Docker.
        let config = json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}});
        moto.post("/moto-api/config", "application/json", None, &config.to_string());
        // The role the functions run as must exist: Lambda checks it.
        moto.post(
            "/",
            "application/x-www-form-urlencoded",
            Some("iam"),
            "Action=CreateRole&Version=2010-05-08&RoleName=moto-lambda&AssumeRolePolicyDocument=%7B%7D",
        );
        moto
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A plain HTTP POST; `service` signs it (unverified) so moto routes it to that service.
    fn post(&self, path: &str, content_type: &str, service: Option<&str>, body: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let auth = service
            .map(|s| {
                format!(
                    "Authorization: AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{s}/aws4_request, \
                     SignedHeaders=host, Signature=0\r\n"
                )
            })
            .unwrap_or_default();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: {content_type}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 2") || response.starts_with("HTTP/1.0 2"), "{path}: {response}");
        response
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CONFIG: &str = r#"
[pipeline]
name = "amalimart"
comment = "AmaliMart analytics (moto test)"

[env.moto]
region = "us-east-1"
account = "123456789012"
state_machine = "amalimart-pipeline-moto"
execution_timeout_seconds = 3600
runner = "lambda"
pause_function = "moto-pause_clusters"
topics = { success = "moto-success", failure = "moto-failure" }
lambda = { function_prefix = "moto-" }

[env.moto.deploy]
role = "moto-pipeline"
lambda_role = "moto-lambda"
subscriptions = { failure = ["email:oncall@example.com"] }

[env.motoecs]
region = "us-west-2"
account = "123456789012"
state_machine = "amalimart-pipeline-motoecs"
execution_timeout_seconds = 3600
runner = "ecs"
pause_function = "motoecs-pause_clusters"
topics = { success = "motoecs-success", failure = "motoecs-failure" }

[env.motoecs.ecs]
cluster = "amalimart-motoecs"
task_definition = "amalimart-stages-motoecs"
container = "stages"
subnets = ["subnet-0a1b2c3d4e5f60001"]
security_groups = ["sg-0a1b2c3d4e5f60001"]
task_role = "motoecs-stages"
execution_role = "motoecs-stages-execution"

[env.motoecs.deploy]
role = "motoecs-pipeline"
lambda_role = "moto-lambda"
image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/amalimart-stages:1"
"#;

/// A directory with a config file and stand-in stage binaries to package.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("amali.toml"), config).unwrap();
        let artifacts = dir.path().join("artifacts");
        std::fs::create_dir(&artifacts).unwrap();
        for stage in amali::stage::Stage::ALL {
            std::fs::write(artifacts.join(stage.name()), format!("\x7fELF stand-in for {stage} {SERVES_LAMBDA}"))
                .unwrap();
        }
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn artifacts(&self) -> PathBuf {
        self.path().join("artifacts")
    }

    fn amali(&self, moto: &Moto, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("amali")
            .unwrap()
            .current_dir(self.path())
            .args(args)
            .env("AMALI_CONFIG", self.path().join("amali.toml"))
            .env("AMALI_ARTIFACTS", self.artifacts())
            .env("AWS_ENDPOINT_URL", moto.url())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_CONFIG_FILE", self.path().join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path().join("no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `amali deploy ... --format json`, which must succeed.
    fn deploy_json(&self, moto: &Moto, env: &str, extra: &[&str]) -> Value {
        let mut args = vec!["deploy", "--env", env, "--format", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = self.amali(moto, &args);
        assert_eq!(code, 0, "deploy {extra:?} failed:\n{out}\n{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }
}

fn actions(report: &Value) -> Vec<(String, String, String)> {
    report["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["resource"].as_str().unwrap().into(),
                c["name"].as_str().unwrap().into(),
                c["action"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn changed(report: &Value) -> Vec<(String, String, String)> {
    actions(report).into_iter().filter(|(_, _, a)| a != "unchanged").collect()
}

#[test]
fn deploy_is_idempotent_publishes_versions_and_rolls_back() {
    let moto = Moto::start();
    let project = Project::new(CONFIG);

    // The plan of a first deploy creates everything, and a dry run changes nothing.
    let (code, plan, err) = project.amali(&moto, &["deploy", "--env", "moto", "--dry-run"]);
    assert_eq!(code, 0, "{plan}\n{err}");
    for line in [
        "Plan for moto (account 123456789012, us-east-1):",
        "+ create    SNS topic",
        "moto-failure -> email:oncall@example.com",
        "moto-pause_clusters",
        "moto-silver_transformation",
        "publishes version 1",
        "Dry run: nothing was changed.",
    ] {
        assert!(plan.contains(line), "the plan lacks {line:?}:\n{plan}");
    }
    let dry = project.deploy_json(&moto, "moto", &["--dry-run"]);
    assert_eq!(dry["calls"]["mutating"], 0, "{:#}", dry["calls"]);
    // Without --yes and without a terminal to ask at, nothing is applied.
    let (code, _, err) = project.amali(&moto, &["deploy", "--env", "moto"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pass --yes to apply"), "{err}");
    let (code, _, err) = project.amali(&moto, &["diff", "deployed:moto"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("amalimart-pipeline-moto is not deployed in us-east-1"), "{err}");

    // The first deploy creates all of it: 2 topics, 1 subscription, 7 functions, the state machine, the alias.
    let first = project.deploy_json(&moto, "moto", &["--yes"]);
    assert_eq!(changed(&first).len(), 12, "{:#?}", actions(&first));
    assert!(first["applied"]["version_arn"].as_str().unwrap().ends_with(":amalimart-pipeline-moto:1"));
    assert!(first["calls"]["mutating"].as_u64().unwrap() >= 12, "{:#}", first["calls"]);

    // Deploying again: every resource unchanged, not one mutating call.
    let second = project.deploy_json(&moto, "moto", &["--yes"]);
    assert_eq!(changed(&second), vec![], "a second deploy must change nothing");
    assert_eq!(second["calls"]["mutating"], 0, "mutating calls: {:#}", second["calls"]["mutating_calls"]);
    assert!(second["calls"]["total"].as_u64().unwrap() > 0);
    let (code, out, _) = project.amali(&moto, &["deploy", "--env", "moto", "--yes"]);
    assert_eq!(code, 0);
    assert!(out.contains("Nothing to change: moto is as amali.toml and the rendered definition say."), "{out}");
    assert!(out.contains("= unchanged Alias"), "{out}");
    let (code, out, _) = project.amali(&moto, &["diff", "deployed:moto"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no semantic difference"), "{out}");

    // A changed definition: the diff shows it, the plan updates the state machine alone and moves the alias.
    std::fs::write(
        project.path().join("amali.toml"),
        CONFIG.replacen("execution_timeout_seconds = 3600", "execution_timeout_seconds = 7200", 1),
    )
    .unwrap();
    let (code, out, _) = project.amali(&moto, &["diff", "deployed:moto"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TimeoutSeconds: 3600 -> 7200"), "{out}");
    let (code, plan, _) = project.amali(&moto, &["deploy", "--env", "moto", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(plan.contains("~ update    State machine"), "{plan}");
    assert!(plan.contains("definition, against the live version:"), "{plan}");
    assert!(plan.contains("TimeoutSeconds: 3600 -> 7200"), "{plan}");
    assert!(plan.contains("version 1 -> the new version"), "{plan}");
    let update = project.deploy_json(&moto, "moto", &["--yes"]);
    let expected: Vec<(String, String, String)> = vec![
        ("State machine".into(), "amalimart-pipeline-moto".into(), "update".into()),
        ("Alias".into(), "amalimart-pipeline-moto:live".into(), "update".into()),
    ];
    assert_eq!(changed(&update), expected);
    assert!(update["applied"]["version_arn"].as_str().unwrap().ends_with(":2"));
    let mutating: Vec<String> = serde_json::from_value(update["calls"]["mutating_calls"].clone()).unwrap();
    assert_eq!(mutating, ["SFN.UpdateStateMachine", "SFN.UpdateStateMachineAlias"]);

    // A new pause_clusters binary: only that function's code is uploaded.
    std::fs::write(project.artifacts().join("pause_clusters"), format!("\x7fELF a newer one {SERVES_LAMBDA}")).unwrap();
    let code_change = project.deploy_json(&moto, "moto", &["--yes"]);
    assert_eq!(changed(&code_change), vec![("Lambda function".into(), "moto-pause_clusters".into(), "update".into())]);
    let mutating: Vec<String> = serde_json::from_value(code_change["calls"]["mutating_calls"].clone()).unwrap();
    assert_eq!(mutating, ["Lambda.UpdateFunctionCode"]);
    assert_eq!(project.deploy_json(&moto, "moto", &["--yes"])["calls"]["mutating"], 0);

    // Rollback moves the alias back; status shows it.
    let (code, out, err) = project.amali(&moto, &["rollback", "--env", "moto", "--to", "1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("moved from version 2 to version 1"), "{out}");
    let (code, out, err) = project.amali(&moto, &["status", "--env", "moto"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("alias live -> version 1"), "{out}");
    let (code, _, err) = project.amali(&moto, &["rollback", "--env", "moto", "--to", "9"]);
    assert_ne!(code, 0);
    assert!(err.contains("version 9 of amalimart-pipeline-moto"), "{err}");
}

#[test]
fn an_execution_started_by_run_follow_completes() {
    let moto = Moto::start();
    let project = Project::new(CONFIG);
    project.deploy_json(&moto, "moto", &["--yes"]);

    // moto's Lambda without Docker answers each invoke with the next queued result: a stage summary.
    let summary = json!({"headline": "stage: SUCCEEDED (moto)", "status": "SUCCEEDED", "tables": []}).to_string();
    let results = json!({"results": vec![summary; 7], "region": "us-east-1"});
    moto.post("/moto-api/static/lambda-simple/response", "application/json", None, &results.to_string());

    let (code, out, err) =
        project.amali(&moto, &["run", "--env", "moto", "--logical-date", "2024-03-01", "--on", "latest", "--follow"]);
    assert_eq!(code, 0, "the execution did not succeed:\n{out}\n{err}");
    assert!(out.contains("started run-2024-03-01"), "{out}");
    assert!(out.contains("run-2024-03-01: SUCCEEDED"), "{out}");
    for state in ["▶ Read from app database", "▶ Gold transformation", "▶ Load gold to Redshift", "▶ Notify success"]
    {
        assert!(err.contains(state), "{state:?} not shown:\n{err}");
    }

    // One execution per logical date: a second run finds it.
    let (code, out, _) =
        project.amali(&moto, &["run", "--env", "moto", "--logical-date", "2024-03-01", "--on", "latest"]);
    assert_eq!(code, 0);
    assert!(out.contains("run-2024-03-01 exists (SUCCEEDED): not starting another"), "{out}");

    let (code, out, err) = project.amali(&moto, &["status", "--env", "moto", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    let execution = &status[0]["executions"][0];
    assert_eq!(execution["name"], "run-2024-03-01");
    assert_eq!(execution["status"], "SUCCEEDED");
    let stages: Vec<(String, String)> = serde_json::from_value(execution["stages"].clone()).unwrap();
    assert!(stages.iter().all(|(_, s)| s == "succeeded"), "{stages:?}");

    // Rerun one stage with the arguments it had in that execution.
    let (code, out, err) = project.amali(&moto, &["rerun", "gold_transformation", "--env", "moto"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("gold_transformation: SUCCEEDED (moto-gold_transformation)"), "{out}");
    assert!(err.contains("with the arguments it had in run-2024-03-01"), "{err}");
}

#[test]
fn ecs_stages_get_a_task_definition_that_follows_the_image() {
    let moto = Moto::start();
    let project = Project::new(CONFIG);
    let first = project.deploy_json(&moto, "motoecs", &["--yes"]);
    let created: Vec<String> = changed(&first).into_iter().map(|(r, n, _)| format!("{r} {n}")).collect();
    for expected in [
        "ECS cluster amalimart-motoecs",
        "ECS task definition amalimart-stages-motoecs",
        "Lambda function motoecs-pause_clusters",
        "State machine amalimart-pipeline-motoecs",
    ] {
        assert!(created.contains(&expected.to_string()), "{expected} not created: {created:?}");
    }
    assert_eq!(project.deploy_json(&moto, "motoecs", &["--yes"])["calls"]["mutating"], 0);

    // A new image is a new revision of the task definition, and nothing else.
    let image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/amalimart-stages:2";
    let update = project.deploy_json(&moto, "motoecs", &["--yes", "--image", image]);
    assert_eq!(
        changed(&update),
        vec![("ECS task definition".into(), "amalimart-stages-motoecs:1".into(), "update".into())]
    );
    let details =
        &update["plan"]["changes"].as_array().unwrap().iter().find(|c| c["action"] == "update").unwrap()["details"];
    assert!(
        details.to_string().contains("image: 123456789012.dkr.ecr.us-west-2.amazonaws.com/amalimart-stages:1 -> "),
        "{details}"
    );
    assert_eq!(project.deploy_json(&moto, "motoecs", &["--yes", "--image", image])["calls"]["mutating"], 0);
}
