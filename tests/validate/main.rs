//! `amali validate`: one failing fixture per rule and per lint, the original's flaws, and no panics on any input.

#[path = "../common/mod.rs"]
mod common;

use amali::asl::validate::{self, Severity};
use assert_cmd::Command;
use proptest::prelude::*;
use rstest::rstest;
use serde_json::Value;

fn report(dir: &str, name: &str, lint: bool) -> validate::Report {
    let path = common::root().join(format!("tests/fixtures/{dir}/{name}.asl.json"));
    validate::validate(&common::read(&path), lint)
}

fn found(report: &validate::Report) -> Vec<String> {
    report.diagnostics.iter().map(|d| format!("{} {} {}", d.code, d.location, d.message)).collect()
}

#[rstest]
#[case::document("document", "SCHEMA_VALIDATION_FAILED", "")]
#[case::document_field("document", "SCHEMA_VALIDATION_FAILED", "/x-extra")]
#[case::document_timeout("document", "SCHEMA_VALIDATION_FAILED", "/TimeoutSeconds")]
#[case::state_schema("state-schema", "SCHEMA_VALIDATION_FAILED", "/States/A/Result")]
#[case::state_type("state-type", "SCHEMA_VALIDATION_FAILED", "/States/A/Type")]
#[case::exclusive_fields("exclusive-fields", "SCHEMA_VALIDATION_FAILED", "/States/A/TimeoutSecondsPath")]
#[case::missing_next("missing-next", "SCHEMA_VALIDATION_FAILED", "/States/A")]
#[case::dangling_next("dangling-next", "MISSING_TRANSITION_TARGET", "/States/A/Next")]
#[case::dangling_start("dangling-start", "MISSING_TRANSITION_TARGET", "/StartAt")]
#[case::branch_escape("branch-escape", "MISSING_TRANSITION_TARGET", "/States/P/Branches/0/States/In/Next")]
#[case::unreachable("unreachable", "SCHEMA_VALIDATION_FAILED", "/States/Island")]
#[case::missing_end("missing-end", "MISSING_END_STATE", "")]
#[case::duplicate_name("duplicate-name", "DUPLICATE_STATE_NAME", "/States/A/Branches/0/States/A")]
#[case::long_name(
    "long-name",
    "INVALID_STATE_NAME",
    "/States/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)]
#[case::resource("resource", "INVALID_RESOURCE", "/States/A/Resource")]
#[case::states_all_not_last("states-all-not-last", "SCHEMA_VALIDATION_FAILED", "/States/A/Retry/0")]
#[case::states_all_not_alone("states-all-not-alone", "SCHEMA_VALIDATION_FAILED", "/States/A/Catch/0/ErrorEquals")]
#[case::empty_error_equals("empty-error-equals", "SCHEMA_VALIDATION_FAILED", "/States/A/Retry/0/ErrorEquals")]
#[case::backoff_rate("backoff-rate", "SCHEMA_VALIDATION_FAILED", "/States/A/Retry/0/BackoffRate")]
#[case::max_delay("max-delay", "SCHEMA_VALIDATION_FAILED", "/States/A/Retry/0/MaxDelaySeconds")]
#[case::jitter("jitter", "SCHEMA_VALIDATION_FAILED", "/States/A/Retry/0/JitterStrategy")]
#[case::timeout("timeout", "SCHEMA_VALIDATION_FAILED", "/States/A/TimeoutSeconds")]
#[case::heartbeat("heartbeat", "SCHEMA_VALIDATION_FAILED", "/States/A/HeartbeatSeconds")]
#[case::wait_fields("wait-fields", "SCHEMA_VALIDATION_FAILED", "/States/A")]
#[case::wait_timestamp("wait-timestamp", "SCHEMA_VALIDATION_FAILED", "/States/A/Timestamp")]
#[case::choice_empty("choice-empty", "SCHEMA_VALIDATION_FAILED", "/States/C/Choices")]
#[case::choice_operand("choice-operand", "SCHEMA_VALIDATION_FAILED", "/States/C/Choices/0/NumericEquals")]
#[case::choice_nested_next("choice-nested-next", "SCHEMA_VALIDATION_FAILED", "/States/C/Choices/0/Not/Next")]
#[case::choice_two_operators("choice-two-operators", "SCHEMA_VALIDATION_FAILED", "/States/C/Choices/0")]
#[case::map_inline_reader("map-inline-reader", "SCHEMA_VALIDATION_FAILED", "/States/M/ItemReader")]
#[case::map_tolerance("map-tolerance", "SCHEMA_VALIDATION_FAILED", "/States/M/ToleratedFailurePercentage")]
#[case::result_path("result-path", "SCHEMA_VALIDATION_FAILED", "/States/A/ResultPath")]
#[case::input_path("input-path", "SCHEMA_VALIDATION_FAILED", "/States/A/InputPath")]
#[case::template_path("template-path", "SCHEMA_VALIDATION_FAILED", "/States/A/Parameters/x.$")]
#[case::intrinsic("intrinsic", "SCHEMA_VALIDATION_FAILED", "/States/A/Parameters/x.$")]
#[case::jsonpath_in_jsonata("jsonpath-in-jsonata", "SCHEMA_VALIDATION_FAILED", "/States/A/ResultPath")]
#[case::jsonata_in_jsonpath("jsonata-in-jsonpath", "SCHEMA_VALIDATION_FAILED", "/States/A/Output")]
#[case::jsonata_unclosed("jsonata-unclosed", "SCHEMA_VALIDATION_FAILED", "/States/A/Output")]
#[case::jsonata_syntax("jsonata-syntax", "SCHEMA_VALIDATION_FAILED", "/States/A/Output")]
#[case::label("label", "INVALID_LABEL_NAME", "/States/M/Label")]
#[case::terminal_next("terminal-next", "SCHEMA_VALIDATION_FAILED", "/States/A/Next")]
fn each_rule_reports_its_problem(#[case] fixture: &str, #[case] code: &str, #[case] location: &str) {
    let r = report("invalid", fixture, false);
    assert!(!r.is_valid(), "{fixture} passed validation");
    assert!(
        r.diagnostics.iter().any(|d| d.code == code && d.location == location && d.severity == Severity::Error),
        "{fixture}: no {code} at {location:?} in {:#?}",
        found(&r)
    );
}

/// Definitions Step Functions accepted and ran (issue 23: executions recorded on AWS) that amali used to refuse:
/// tolerated-failure fields on an inline Map, and the legacy `Iterator` beside a DISTRIBUTED processor config.
/// They pass with a warning, as AWS's validator never rejected them.
#[rstest]
#[case::tolerance_on_inline_map(
    r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": 1, "ToleratedFailurePercentage": 10,
       "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}, "End": true}}}"#,
    "/States/M/ToleratedFailureCount"
)]
#[case::iterator_in_distributed_mode(
    r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "Iterator": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
       "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}, "End": true}}}"#,
    "/States/M/Iterator"
)]
fn what_aws_runs_passes_with_a_warning(#[case] definition: &str, #[case] location: &str) {
    let r = validate::validate(definition, false);
    assert!(r.is_valid(), "{:#?}", found(&r));
    assert!(
        r.diagnostics.iter().any(|d| d.location == location && d.severity == Severity::Warning),
        "no warning at {location}: {:#?}",
        found(&r)
    );
}

#[rstest]
#[case::task_timeout("task-timeout", "LINT_TASK_WITHOUT_TIMEOUT", "/States/Job")]
#[case::task_retry("task-retry", "LINT_NO_RETRY", "/States/Job")]
#[case::uncaught_task("uncaught-task", "LINT_UNCAUGHT_TASK", "/States/Job")]
#[case::failure_not_notified("failure-not-notified", "LINT_FAILURE_NOT_NOTIFIED", "/States/Job")]
#[case::swallowed_failure(
    "swallowed-failure",
    "LINT_SWALLOWED_FAILURE",
    "/States/Loads/Branches/0/States/Load/Catch/0"
)]
#[case::pause_before_use("pause-before-use", "LINT_PAUSE_BEFORE_USE", "/States/Pause RDS")]
#[case::history_events("history-events", "LINT_HISTORY_LIMIT", "")]
fn each_lint_warns(#[case] fixture: &str, #[case] code: &str, #[case] location: &str) {
    let plain = report("lint", fixture, false);
    assert!(plain.diagnostics.is_empty(), "{fixture} is meant to be valid ASL: {:#?}", found(&plain));
    let r = report("lint", fixture, true);
    assert!(r.is_valid(), "lints only warn");
    assert!(
        r.diagnostics.iter().any(|d| d.code == code && d.location == location && d.severity == Severity::Warning),
        "{fixture}: no {code} at {location:?} in {:#?}",
        found(&r)
    );
}

#[test]
fn the_corpus_is_valid_asl() {
    for file in common::corpus() {
        if file.ends_with("31-unknown-fields.asl.json") {
            continue; // AWS rejects fields it does not define; the round trip keeps them
        }
        let r = validate::validate(&common::read(&file), false);
        assert!(r.is_valid(), "{}: {:#?}", file.display(), found(&r));
    }
}

#[test]
fn our_definitions_pass_validation_and_every_lint() {
    for file in common::rendered() {
        let r = validate::validate(&common::read(&file), true);
        assert!(r.diagnostics.is_empty(), "{}: {:#?}", file.display(), found(&r));
    }
}

#[test]
fn the_original_is_valid_but_flawed() {
    let r = validate::validate(&common::read(&common::original_definition()), true);
    assert!(r.is_valid());
    for code in ["LINT_NO_RETRY", "LINT_TASK_WITHOUT_TIMEOUT", "LINT_SWALLOWED_FAILURE", "LINT_PAUSE_BEFORE_USE"] {
        assert!(r.diagnostics.iter().any(|d| d.code == code), "the original's {code} flaw is not reported");
    }
    let summary: Vec<String> =
        r.diagnostics.iter().map(|d| format!("{} {} {}", d.code, d.location, d.message)).collect();
    insta::assert_snapshot!("original_lint", summary.join("\n"));
}

#[test]
fn bad_input_is_a_diagnostic_not_a_crash() {
    for (text, code) in [
        ("", "MISSING_DESCRIPTION"),
        ("{", "INVALID_JSON_DESCRIPTION"),
        ("[]", "SCHEMA_VALIDATION_FAILED"),
        ("null", "SCHEMA_VALIDATION_FAILED"),
    ] {
        let r = validate::validate(text, true);
        assert_eq!(r.diagnostics[0].code, code, "{text:?}");
    }
}

#[test]
fn cli_exit_codes_and_formats() {
    let amali = || {
        let mut c = Command::cargo_bin("amali").unwrap();
        c.current_dir(common::root());
        c
    };
    amali().args(["validate", "asl/dev.asl.json"]).assert().code(0).stdout("asl/dev.asl.json: valid\n");
    let out = amali()
        .args(["validate", "--format", "json", "tests/fixtures/invalid/dangling-next.asl.json"])
        .assert()
        .code(1);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["files"][0]["result"], "FAIL");
    let diagnostics = json["files"][0]["diagnostics"].as_array().unwrap();
    assert!(diagnostics.iter().any(|d| d["code"] == "MISSING_TRANSITION_TARGET"
        && d["location"] == "/States/A/Next"
        && d["severity"] == "ERROR"));
    amali()
        .args(["validate", "no/such/file.json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read no/such/file.json"));
    amali().args(["validate", "-"]).write_stdin("{\"StartAt\": 1}").assert().code(1);
}

/// JSON that looks like ASL: state-machine keys and values of every type, nested.
fn asl_like() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("StartAt"),
        Just("States"),
        Just("Type"),
        Just("Next"),
        Just("End"),
        Just("Choices"),
        Just("Branches"),
        Just("ItemProcessor"),
        Just("Iterator"),
        Just("Retry"),
        Just("Catch"),
        Just("ErrorEquals"),
        Just("Variable"),
        Just("And"),
        Just("Not"),
        Just("Parameters"),
        Just("x.$"),
        Just("ResultPath"),
        Just("InputPath"),
        Just("Seconds"),
        Just("Timestamp"),
        Just("Default"),
        Just("Resource"),
        Just("QueryLanguage"),
        Just("Label"),
        Just("ProcessorConfig"),
        Just("Mode"),
        Just("StringEquals"),
        Just("NumericEqualsPath"),
        Just("A"),
        Just("B"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("Task".to_string()),
            Just("Pass".to_string()),
            Just("Choice".to_string()),
            Just("Parallel".to_string()),
            Just("Map".to_string()),
            Just("Wait".to_string()),
            Just("A".to_string()),
            Just("B".to_string()),
            Just("$.a[".to_string()),
            Just("States.Format('{}', $.x)".to_string()),
            Just("States.ALL".to_string()),
            Just("JSONata".to_string()),
            Just("{% $x".to_string()),
            Just("DISTRIBUTED".to_string()),
            ".{0,8}".prop_map(|s| s),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_document_makes_validate_panic(doc in asl_like()) {
        let text = doc.to_string();
        let _ = validate::validate(&text, true);
    }

    #[test]
    fn no_text_makes_validate_panic(text in "\\PC{0,200}") {
        let _ = validate::validate(&text, true);
    }
}
