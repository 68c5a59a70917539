//! The interpreter's conformance suite: every case in `tests/fixtures/conformance/*.json` is a definition, an input,
//! optional mocked task responses and the outcome AWS gives (from the Step Functions documentation; `source` says
//! where). Plus the stable `amali exec` contract and a property test that nothing makes the interpreter panic.

#[path = "../common/mod.rs"]
mod common;

use std::sync::Arc;

use amali::asl;
use amali::interp::handlers::{Handlers, MockConfig, MockHandler};
use amali::interp::{Options, Outcome, execute};
use assert_cmd::Command;
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Mocks written per case as `{"State": [response, ...]}`, turned into a MockConfigFile.
fn handlers(mocks: Option<&Value>) -> Handlers {
    let Some(Value::Object(mocks)) = mocks else { return Handlers::new() };
    let mut cases = serde_json::Map::new();
    let mut responses = serde_json::Map::new();
    for (state, list) in mocks {
        let name = format!("{state}Response");
        cases.insert(state.clone(), json!(name));
        let table: serde_json::Map<String, Value> =
            list.as_array().unwrap().iter().enumerate().map(|(i, r)| (i.to_string(), r.clone())).collect();
        responses.insert(name, Value::Object(table));
    }
    let config: MockConfig = serde_json::from_value(json!({
        "StateMachines": {"Conformance": {"TestCases": {"Case": cases}}},
        "MockedResponses": responses,
    }))
    .unwrap();
    Handlers::new().with(Arc::new(MockHandler::new(&config, None, "Case").unwrap()))
}

fn run_case(case: &Value, rt: &tokio::runtime::Runtime) -> Outcome {
    let machine = asl::from_value(case["definition"].clone()).unwrap();
    let options =
        Options { handlers: handlers(case.get("mocks")), execution_name: "conformance".into(), ..Options::default() };
    rt.block_on(execute(&machine, case["input"].clone(), options))
}

fn check(case: &Value, outcome: &Outcome) -> Result<(), String> {
    let expect = &case["expect"];
    let got = serde_json::to_value(outcome).unwrap();
    if got["status"] != expect["status"] {
        return Err(format!("status {} (expected {}); got {got}", got["status"], expect["status"]));
    }
    for key in ["output", "error", "cause"] {
        if let Some(want) = expect.get(key)
            && got[key] != *want
        {
            return Err(format!("{key} {} (expected {want})", got[key]));
        }
    }
    if let Some(part) = expect.get("cause_contains").and_then(Value::as_str)
        && !got["cause"].as_str().unwrap_or_default().contains(part)
    {
        return Err(format!("cause {} does not contain {part:?}", got["cause"]));
    }
    Ok(())
}

#[test]
fn conformance_suite() {
    let dir = common::root().join("tests/fixtures/conformance");
    let rt = runtime();
    let mut total = 0;
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let cases: Vec<Value> = serde_json::from_str(&common::read(&file)).unwrap();
        let group = file.file_stem().unwrap().to_string_lossy().to_string();
        for case in &cases {
            total += 1;
            let name = format!("{group}/{}", case["name"].as_str().unwrap());
            // Every case is a valid definition: the suite tests execution, not validation.
            let report = asl::validate::validate(&case["definition"].to_string(), false);
            if !report.is_valid() {
                failures.push(format!("{name}: the definition is invalid: {:?}", report.diagnostics));
                continue;
            }
            if let Err(e) = check(case, &run_case(case, &rt)) {
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    assert!(total >= 150, "the suite has {total} cases");
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn history_has_aws_event_shape() {
    let rt = runtime();
    let machine = asl::parse(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}}}"#,
    )
    .unwrap();
    let options = Options { history: true, ..Options::default() };
    let outcome = rt.block_on(execute(&machine, json!([1, 2]), options));
    let history = outcome.history.unwrap();
    let types: Vec<&str> = history.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ] {
        assert!(types.contains(&t), "no {t} in {types:?}");
    }
    assert_eq!(history[0]["id"], 1);
    assert_eq!(history[1]["previousEventId"], 1);
    assert_eq!(history[1]["stateEnteredEventDetails"]["name"], "P");
    assert!(history[0]["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn a_map_starts_the_next_item_as_soon_as_any_running_one_ends() {
    let rt = runtime();
    // Two at a time; item 0 waits 2 s, item 1 none, items 2 and 3 one second each. As in Step Functions, item 2
    // starts when item 1 ends, not when item 0 does; the results keep the items' order.
    let machine = asl::parse(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2,
            "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$", "End": true}}},
            "End": true}}}"#,
    )
    .unwrap();
    let options = Options { history: true, clock: Arc::new(amali::interp::clock::RealClock), ..Options::default() };
    let outcome = rt.block_on(execute(&machine, json!([2, 0, 1, 1]), options));
    let got = serde_json::to_value(&outcome).unwrap();
    assert_eq!(got["output"], json!([2, 0, 1, 1]), "{got}");
    let history = outcome.history.unwrap();
    let at = |kind: &str, index: u64| {
        history
            .iter()
            .position(|e| {
                e["type"] == kind
                    && e.as_object().unwrap().values().any(|d| d.get("index").and_then(Value::as_u64) == Some(index))
            })
            .unwrap_or_else(|| panic!("no {kind} of item {index}"))
    };
    assert!(at("MapIterationStarted", 2) < at("MapIterationSucceeded", 0), "item 2 waited for item 0");
    assert!(at("MapIterationStarted", 3) < at("MapIterationSucceeded", 0), "item 3 waited for item 0");
}

#[test]
fn exec_contract() {
    let dir = tempfile::tempdir().unwrap();
    let def = dir.path().join("flow.asl.json");
    std::fs::write(&def, r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}"#).unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(&mocks, r#"{"StateMachines": {"flow": {"TestCases": {"Happy": {"T": "Ok"}, "Sad": {"T": "Err"}}}},
        "MockedResponses": {"Ok": {"0": {"Return": {"v": 1}}}, "Err": {"0": {"Throw": {"Error": "Boom", "Cause": "c"}}}}}"#).unwrap();
    let amali = || Command::cargo_bin("amali").unwrap();
    let out = amali()
        .arg("exec")
        .arg(&def)
        .args(["--mock-config"])
        .arg(&mocks)
        .args(["--test-case", "Happy"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v, json!({"status": "SUCCEEDED", "output": {"v": 1}, "error": null, "cause": null}));
    let out = amali()
        .arg("exec")
        .arg(&def)
        .args(["--mock-config"])
        .arg(&mocks)
        .args(["--test-case", "Sad", "--history"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["error"].as_str(), v["cause"].as_str()),
        (Some("FAILED"), Some("Boom"), Some("c"))
    );
    assert!(v["history"].as_array().unwrap().len() > 3);
    let input = dir.path().join("input.json");
    std::fs::write(&input, r#"{"a": 1}"#).unwrap();
    let pass = dir.path().join("pass.json");
    std::fs::write(&pass, r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#).unwrap();
    amali()
        .arg("exec")
        .arg(&pass)
        .arg("--input")
        .arg(format!("@{}", input.display()))
        .assert()
        .code(0)
        .stdout("{\"status\":\"SUCCEEDED\",\"output\":{\"a\":1},\"error\":null,\"cause\":null}\n");
    amali().arg("exec").arg(&pass).args(["--input", "{not json"]).assert().code(2).stdout("");
    std::fs::write(&pass, r#"{"StartAt": "Nope", "States": {"P": {"Type": "Pass", "End": true}}}"#).unwrap();
    amali().arg("exec").arg(&pass).assert().code(2).stderr(predicates::str::contains("MISSING_TRANSITION_TARGET"));
}

/// The original deploys a failed Redshift load as success; amali's definition fails the run and says why.
#[test]
fn redshift_load_failure_original_vs_amali() {
    let dir = tempfile::tempdir().unwrap();
    let mocks = common::root().join("tests/fixtures/mocks/amalimart.json");
    let notices = |file: &std::path::Path| -> Vec<Value> {
        common::read(file).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    // Runs a definition under the mock's RedshiftLoadFails case; returns the outcome and the notices sent.
    let run = |definition: std::path::PathBuf, machine: &str, code: i32| -> (Value, Vec<Value>) {
        let notes = dir.path().join(format!("{machine}.jsonl"));
        let out = Command::cargo_bin("amali")
            .unwrap()
            .arg("exec")
            .arg(definition)
            .arg("--mock-config")
            .arg(&mocks)
            .args(["--test-case", "RedshiftLoadFails", "--state-machine", machine, "--notifications"])
            .arg(&notes)
            .assert()
            .code(code)
            .get_output()
            .stdout
            .clone();
        (serde_json::from_slice(&out).unwrap(), notices(&notes))
    };
    let (v, sent) = run(common::original_definition(), "original", 0);
    assert_eq!(v["status"], "SUCCEEDED", "the original's flaw: a failed load still succeeds");
    assert_eq!(sent.last().unwrap()["State"], "Notify Final Load Complete", "and ends with the success notice");

    let (v, sent) = run(common::root().join("asl/local.asl.json"), "amali", 1);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["error"], "Amali.TablesFailed", "the run fails with the stage's own error");
    assert_eq!(sent.len(), 1, "one notice: the failure, no success notice");
    assert_eq!(sent[0]["State"], "Notify failure");
    let message: Value = serde_json::from_str(sent[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["failed_state"], "Load warehouses");
    assert_eq!(message["error"], "Amali.TablesFailed");
    assert!(message["rerun"].as_str().unwrap().starts_with("amali redrive --env local arn:aws:states:"));
}

#[path = "../asl/strategies.rs"]
#[allow(dead_code)]
mod strategies;

/// No definition and input make the interpreter panic: any model, valid or not, ends in some outcome.
#[test]
fn no_definition_makes_the_interpreter_panic() {
    use proptest::prelude::*;
    let run = || {
        let rt = runtime();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
        let input = prop_oneof![
            Just(json!({})),
            Just(json!([1, 2, 3])),
            Just(json!({"a": {"b": [1, "x", null]}, "n": 3})),
            Just(json!("text"))
        ];
        runner
            .run(&(strategies::state_machine(), input), |(machine, input)| {
                let options = Options { max_transitions: 2_000, ..Options::default() };
                let outcome = rt.block_on(execute(&machine, input, options));
                prop_assert!(
                    outcome.output.is_some()
                        || outcome.error.is_some()
                        || outcome.status != amali::interp::Status::Succeeded
                );
                Ok(())
            })
            .unwrap();
    };
    std::thread::Builder::new().stack_size(256 << 20).spawn(run).unwrap().join().unwrap();
}

/// A worker that answers after `delay` and never sends a heartbeat.
struct SlowWorker(std::time::Duration);

impl amali::interp::handlers::TaskHandler for SlowWorker {
    fn call<'a>(
        &'a self,
        _request: &'a amali::interp::handlers::TaskRequest,
    ) -> Option<amali::interp::handlers::TaskFuture<'a>> {
        let delay = self.0;
        Some(Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(json!({"done": true}))
        }))
    }
}

#[test]
fn a_callback_task_without_heartbeats_fails_with_heartbeat_timeout() {
    let rt = runtime();
    let definition = |resource: &str| {
        let token = if resource.ends_with(".waitForTaskToken") { r#""token.$": "$$.Task.Token""# } else { "" };
        format!(
            r#"{{"StartAt": "Wait for worker", "States": {{
                "Wait for worker": {{"Type": "Task", "Resource": "{resource}", "HeartbeatSeconds": 1,
                    "TimeoutSeconds": 30, "Parameters": {{{token}}},
                    "Catch": [{{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "Gave up"}}],
                    "End": true}},
                "Gave up": {{"Type": "Pass", "End": true}}}}}}"#
        )
    };
    let run = |resource: &str| {
        let machine = asl::parse(&definition(resource)).unwrap();
        let options = Options {
            handlers: Handlers::new().with(Arc::new(SlowWorker(std::time::Duration::from_millis(1500)))),
            ..Options::default()
        };
        rt.block_on(execute(&machine, json!({}), options))
    };
    // A callback task (and an activity) must hear from its worker every HeartbeatSeconds.
    let outcome = run("arn:aws:states:::sqs:sendMessage.waitForTaskToken");
    let out = outcome.output.as_ref().unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(out["error"]["Error"], "States.HeartbeatTimeout", "{outcome:?}");
    // A request-response task has no heartbeat: it finishes.
    let outcome = run("arn:aws:states:::lambda:invoke");
    assert_eq!(outcome.output.as_ref().unwrap()["done"], true, "{outcome:?}");
}
