//! `amali run --local`, `amali rerun` and `amali redrive` with the real stage binaries (built by
//! `cargo test --workspace`), in a temporary work directory seeded from the sample data.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// `amali ARGS --workdir WORKDIR`.
fn amali(workdir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("amali").unwrap();
    let exe = cmd.get_program().to_owned();
    let stage = Path::new(&exe).with_file_name("read_from_app_database");
    assert!(
        stage.is_file(),
        "the stage binaries are not built next to amali ({}): run the tests with `cargo test --workspace`",
        stage.display()
    );
    cmd.current_dir(common::root()).env_remove("AMALI_CONFIG").env("AMALI_LOG", "warn");
    cmd.args(args).arg("--workdir").arg(workdir);
    cmd
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_failed_run_notifies_then_rerun_and_redrive_resume_it() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let sample = common::root().join("jobs/sample-data").display().to_string();
    let out =
        amali(w, &["run", "--local", "--name", "r1", "--fail-stage", "ingestion_from_rds", "--sample-data", &sample])
            .output()
            .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a failed run exits 1:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("run r1: FAILED"), "{stdout}");
    assert!(stdout.contains("amali redrive --local r1"), "{stdout}");

    // The failure notice names the stage and the command that reruns it.
    let notices = lines(&w.join("notifications.jsonl"));
    let notice: Value = serde_json::from_str(notices.last().unwrap()["Message"].as_str().unwrap()).unwrap();
    assert_eq!(notice["status"], "FAILED");
    assert_eq!(notice["failed_stage"], "ingestion_from_rds");
    assert!(notice["rerun"].as_str().unwrap().starts_with("amali rerun ingestion_from_rds"), "{notice}");

    // The run is kept: what ran, with which arguments, and how it ended.
    let run = w.join("runs/r1");
    for file in ["definition.asl.json", "input.json", "history.json", "outcome.json", "tasks.jsonl"] {
        assert!(run.join(file).is_file(), "{file} is kept");
    }
    let history: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(run.join("history.json")).unwrap()).unwrap();
    assert_eq!(history.first().unwrap()["type"], "ExecutionStarted");
    assert_eq!(history.last().unwrap()["type"], "ExecutionFailed");
    let calls = lines(&run.join("tasks.jsonl"));
    assert_eq!(calls[0]["stage"], "read_from_app_database");
    assert_eq!(calls[0]["parameters"]["Payload"]["run_id"], "r1", "the run id is the execution's name");
    assert!(calls[0]["result"]["Payload"]["tables"].as_array().unwrap().len() > 30);
    assert_eq!(calls[1]["error"], "Amali.InternalError");

    // The run drawn as the console draws an execution: the first stage succeeded, the failed one's error was caught
    // (the failure path notified), the stages after it never ran, and the run ended in the Fail state.
    let out = amali(w, &["graph", "--run", "r1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let graph = String::from_utf8(out.stdout).unwrap();
    let node = |state: &str| graph.lines().find(|l| l.contains(&format!("[\"{state}"))).unwrap_or_default().to_string();
    assert!(
        node("Read from app database").ends_with(":::ran_ok") && node("Read from app database").contains(" s\""),
        "{graph}"
    );
    assert!(node("Ingest to bronze").ends_with(":::ran_caught"), "{graph}");
    assert!(node("Gold transformation").ends_with(":::ran_not"), "{graph}");
    assert!(node("Pipeline failed").ends_with(":::ran_failed"), "{graph}");

    // Rerun the failed stage with the arguments it had.
    let out = amali(w, &["rerun", "ingestion_from_rds", "--local", "--run", "r1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "SUCCEEDED");
    assert_eq!(summary["run_id"], "r1");
    assert!(w.join("lake/bronze/users/_delta_log").is_dir(), "bronze written under the work directory");

    // Redrive: what succeeded is replayed, not run again.
    let out = amali(w, &["redrive", "--local", "r1"]).output().unwrap();
    let calls = lines(&run.join("tasks.jsonl"));
    let redriven: Vec<&Value> = calls.iter().skip(3).collect();
    assert_eq!(redriven[0]["stage"], "read_from_app_database", "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(redriven[0]["replayed"], true);
    assert_eq!(redriven[1]["stage"], "ingestion_from_rds");
    assert_eq!(redriven[1]["replayed"], true, "the rerun's success counts");
    assert!(run.join("history.redrive-1.json").is_file());
}

#[test]
fn rerun_says_what_to_do_when_a_stage_never_ran() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let sample = common::root().join("jobs/sample-data").display().to_string();
    amali(w, &["run", "--local", "--name", "r2", "--fail-stage", "read_from_app_database", "--sample-data", &sample])
        .assert()
        .code(1);
    let out = amali(w, &["rerun", "ingestion_from_rds", "--local", "--run", "r2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amali redrive --local r2"));
}

/// An environment whose lake is in S3 is operated in AWS: `run --env prod` starts an execution there (here an
/// endpoint that refuses connections, so the error says what it tried); the local build, which has no AWS SDK,
/// says which build has it. Either way nothing local is created.
#[test]
fn run_of_an_environment_on_aws_starts_an_execution_there() {
    let dir = tempfile::tempdir().unwrap();
    let out = amali(dir.path(), &["run", "--env", "prod", "--logical-date", "2024-03-01"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    if cfg!(feature = "aws") {
        assert!(stderr.contains("cannot look for execution run-2024-03-01"), "{stderr}");
        assert!(stderr.contains("cannot reach AWS"), "{stderr}");
    } else {
        assert!(stderr.contains("built without AWS support") && stderr.contains("--features aws"), "{stderr}");
    }
    assert!(!dir.path().join(".amali").exists(), "nothing local is created for an environment on AWS");
}

#[test]
fn run_local_goes_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let sample = common::root().join("jobs/sample-data").display().to_string();
    let out = amali(w, &["run", "--local", "--name", "e2e", "--logical-date", "2024-06-30", "--sample-data", &sample])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("run e2e: SUCCEEDED"), "{stdout}");
    for layer in
        ["bronze/users", "silver/users", "silver/orders_data", "gold/daily_sales_metrics", "gold/fact_order_items"]
    {
        assert!(w.join("lake").join(layer).join("_delta_log").is_dir(), "{layer}");
    }
    let tables = |db: &str| -> Vec<String> {
        let c = rusqlite::Connection::open(w.join(db)).unwrap();
        let mut s = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").unwrap();
        s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let internal = tables("internal.db");
    assert!(internal.iter().any(|t| t == "users_data") && internal.iter().any(|t| t == "orders_data"), "{internal:?}");
    let warehouse = tables("warehouse.db");
    for t in ["daily_sales_metrics", "executive_dashboard_metrics", "dim_customer", "fact_order_items", "_amali_loads"]
    {
        assert!(warehouse.iter().any(|x| x == t), "{t} in the warehouse: {warehouse:?}");
    }
    // The success notice carries the run summary: per stage, per table rows and Delta versions.
    let notices = lines(&w.join("notifications.jsonl"));
    let notice: Value = serde_json::from_str(notices.last().unwrap()["Message"].as_str().unwrap()).unwrap();
    assert_eq!(notice["status"], "SUCCEEDED");
    let bronze = &notice["stages"]["ingestion_from_rds"]["summary"]["tables"];
    assert!(bronze.as_array().unwrap().iter().any(|t| t["table"] == "users" && t["delta_version"].is_i64()));
    assert!(notices.last().unwrap()["Message"].as_str().unwrap().len() < 256 * 1024, "within SNS's limit");
}

#[test]
fn a_failed_load_ends_in_a_failure_notice_not_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let sample = common::root().join("jobs/sample-data").display().to_string();
    let out =
        amali(w, &["run", "--local", "--name", "f1", "--fail-stage", "write_to_rds_rs", "--sample-data", &sample])
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let notices = lines(&w.join("notifications.jsonl"));
    assert_eq!(notices.len(), 1, "one notice, and it is the failure");
    let notice: Value = serde_json::from_str(notices[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(notice["status"], "FAILED");
    assert!(notice["rerun"].as_str().unwrap().starts_with("amali "), "{notice}");
    let calls = lines(&w.join("runs/f1/tasks.jsonl"));
    assert!(!calls.iter().any(|c| c["stage"] == "pause_clusters"), "nothing is paused after a failed load");
    // With the cause gone, a redrive completes the run without redoing what succeeded.
    let out = amali(w, &["redrive", "--local", "f1"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("run f1: SUCCEEDED"), "{stdout}");
    let calls = lines(&w.join("runs/f1/tasks.jsonl"));
    let redriven: Vec<&Value> = calls.iter().skip_while(|c| c["replayed"] != true).collect();
    assert!(redriven.iter().filter(|c| c["stage"] == "silver_transformation").all(|c| c["replayed"] == true));
    assert!(
        redriven.iter().any(|c| c["stage"] == "write_to_rds_rs" && c["replayed"] == false && c["result"].is_object())
    );
    let notices = lines(&w.join("notifications.jsonl"));
    let last: Value = serde_json::from_str(notices.last().unwrap()["Message"].as_str().unwrap()).unwrap();
    assert_eq!(last["status"], "SUCCEEDED");
}
