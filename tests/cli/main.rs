//! The `amali` command line, run as a user would.

#[path = "../common/mod.rs"]
mod common;

use assert_cmd::Command;
use predicates::prelude::*;

fn amali() -> Command {
    let mut cmd = Command::cargo_bin("amali").unwrap();
    cmd.current_dir(common::root()).env_remove("AMALI_CONFIG");
    cmd
}

/// A copy of the project's configuration and rendered files in a temporary directory.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::root().join("amali.toml"), dir.path().join("amali.toml")).unwrap();
    std::fs::create_dir(dir.path().join("asl")).unwrap();
    for file in common::rendered() {
        std::fs::copy(&file, dir.path().join("asl").join(file.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn render_check_passes_on_the_committed_files() {
    amali().args(["render", "--check"]).assert().success().stderr(predicate::str::contains("up to date").count(3));
}

#[test]
fn render_check_fails_with_a_diff_when_a_file_is_stale() {
    let dir = project();
    let file = dir.path().join("asl/dev.asl.json");
    let text = std::fs::read_to_string(&file).unwrap().replace("\"TimeoutSeconds\": 3600", "\"TimeoutSeconds\": 60");
    std::fs::write(&file, text).unwrap();
    amali()
        .current_dir(dir.path())
        .args(["render", "--check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("asl/dev.asl.json is stale"))
        .stderr(predicate::str::contains("-      \"TimeoutSeconds\": 60,"))
        .stderr(predicate::str::contains("+      \"TimeoutSeconds\": 3600,"))
        .stderr(predicate::str::contains("run `amali render`"));
}

#[test]
fn render_check_fails_when_a_file_is_missing_or_orphaned() {
    let dir = project();
    std::fs::remove_file(dir.path().join("asl/prod.asl.json")).unwrap();
    std::fs::write(dir.path().join("asl/old.asl.json"), "{}").unwrap();
    amali()
        .current_dir(dir.path())
        .args(["render", "--check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("asl/prod.asl.json is missing"))
        .stderr(predicate::str::contains("old.asl.json belongs to no environment"));
}

#[test]
fn render_writes_every_environment_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::root().join("amali.toml"), dir.path().join("amali.toml")).unwrap();
    amali().current_dir(dir.path()).arg("render").assert().success();
    for file in common::rendered() {
        let ours = std::fs::read_to_string(dir.path().join("asl").join(file.file_name().unwrap())).unwrap();
        assert_eq!(ours, common::read(&file));
    }
    amali().current_dir(dir.path()).arg("render").assert().success().stderr(predicate::str::contains("unchanged"));
}

#[test]
fn render_to_stdout() {
    let expected = common::read(&common::root().join("asl/local.asl.json"));
    amali().args(["render", "--env", "local", "--out", "-"]).assert().success().stdout(expected);
}

#[test]
fn an_unknown_environment_is_a_usage_error_that_names_the_known_ones() {
    amali()
        .args(["render", "--env", "staging"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no environment \"staging\""))
        .stderr(predicate::str::contains("dev, local, prod"));
}

#[test]
fn a_broken_configuration_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        common::read(&common::root().join("amali.toml")).replace("account = \"050451375647\"", "account = \"12\"");
    std::fs::write(dir.path().join("amali.toml"), text).unwrap();
    amali()
        .current_dir(dir.path())
        .arg("render")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("account \"12\" is not a 12-digit AWS account id"));
}

#[test]
fn every_command_is_summed_up_in_one_line() {
    // `amali --help` lists each command by the first paragraph of its doc: a line break there shows up as a
    // sentence cut in the middle of the list.
    use clap::CommandFactory;
    for command in amali::cli::Cli::command().get_subcommands() {
        let about = command.get_about().map(|a| a.to_string()).unwrap_or_default();
        assert!(!about.is_empty() && !about.contains('\n'), "{}: {about:?}", command.get_name());
    }
}

#[test]
fn completions_and_verbosity() {
    let bash = amali().args(["completions", "bash"]).assert().success().get_output().stdout.clone();
    let bash = String::from_utf8(bash).unwrap();
    assert!(bash.contains("_amali()") && bash.contains("redrive"), "a bash completion of every command");
    let zsh = amali().args(["completions", "zsh"]).assert().success().get_output().stdout.clone();
    assert!(String::from_utf8(zsh).unwrap().starts_with("#compdef amali"));
    amali().args(["completions", "tcsh"]).assert().code(2);
    // -v shows amali's debug events on standard error (here: where the configuration came from); by default and
    // with -q they are not shown.
    amali()
        .args(["-v", "render", "--check"])
        .env_remove("AMALI_LOG")
        .env_remove("RUST_LOG")
        .assert()
        .success()
        .stderr(predicate::str::contains("configuration loaded"));
    for quiet in [&["render", "--check"][..], &["-q", "render", "--check"][..]] {
        amali()
            .args(quiet)
            .env_remove("AMALI_LOG")
            .env_remove("RUST_LOG")
            .assert()
            .success()
            .stderr(predicate::str::contains("configuration loaded").not());
    }
}

#[test]
fn a_bad_run_name_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let workdir = dir.path().join("w");
    amali()
        .args(["run", "--local", "--name", "a run/../x", "--workdir"])
        .arg(&workdir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("run id"));
    assert!(!workdir.exists(), "nothing was written");
}

#[test]
fn help_teaches() {
    let out = amali().args(["render", "--help"]).assert().success().get_output().stdout.clone();
    insta::assert_snapshot!("render_help", String::from_utf8(out).unwrap());
    amali().assert().code(2).stderr(predicate::str::contains("Usage: amali"));
}

#[test]
fn diff_reports_changes_state_by_state() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    std::fs::write(&old, r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Wait", "Seconds": 5, "End": true}, "Gone": {"Type": "Succeed"}}}"#).unwrap();
    std::fs::write(&new, r#"{"States": {"A": {"Next": "C", "Type": "Pass"}, "C": {"Type": "Wait", "Seconds": 5, "End": true}, "New": {"Type": "Fail"}}, "StartAt": "A", "TimeoutSeconds": 60}"#).unwrap();
    let out = amali().arg("diff").arg(&old).arg(&new).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for line in [
        "~ machine /TimeoutSeconds: (absent) -> 60",
        "- Succeed \"Gone\"",
        "+ Fail \"New\"",
        "> \"B\" renamed to \"C\"",
        "~ Pass \"A\"",
        "    /Next: \"B\" -> \"C\"",
        "1 added, 1 removed, 1 renamed, 1 changed, machine fields changed",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let json =
        amali().args(["diff", "--format", "json"]).arg(&old).arg(&new).assert().code(1).get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["identical"], false);
    assert_eq!(json["renamed"][0], serde_json::json!({"from": "B", "to": "C"}));
    amali()
        .args(["diff", "asl/dev.asl.json", "asl/dev.asl.json"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no semantic difference"));
    amali().args(["diff", "asl/dev.asl.json", "missing.json"]).assert().code(2);
}

#[test]
fn graph_draws_the_pipeline() {
    let out = amali().args(["graph", "--env", "local"]).assert().success().get_output().stdout.clone();
    insta::assert_snapshot!("graph_local_mermaid", String::from_utf8(out).unwrap());
    let dot = amali()
        .args(["graph", "--format", "dot"])
        .arg(common::original_definition())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let dot = String::from_utf8(dot).unwrap();
    assert!(dot.starts_with("digraph state_machine {"));
    assert!(dot.contains("subgraph cluster_"), "the Parallel is drawn as a box around its branches");
    assert!(dot.contains("style=dashed"), "catchers are dashed");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    amali()
        .args(["graph", "tests/fixtures/invalid/state-type.asl.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("amali validate"));
}

/// A definition written for CloudFormation (`AWS::StepFunctions::StateMachine` with DefinitionSubstitutions, as AWS's
/// sample templates ship them): its `${Name}` placeholders pass `validate` with a warning, and `--substitute` /
/// `--substitutions` give them values the way CloudFormation replaces them, as text, before Step Functions reads it.
#[test]
fn definition_substitutions_are_placeholders_until_given_values() {
    let dir = tempfile::tempdir().unwrap();
    let definition = dir.path().join("template.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": "${CheckFunctionArn}",
            "ResultPath": "$.checked", "Next": "Done"}, "Done": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap();
    let file = definition.to_str().unwrap();
    amali().args(["validate", file]).assert().success().stdout(
        predicate::str::contains("valid (1 warning)")
            .and(predicate::str::contains("--substitute CheckFunctionArn=ARN")),
    );
    amali()
        .args([
            "validate",
            file,
            "--substitute",
            "CheckFunctionArn=arn:aws:lambda:eu-west-1:123456789012:function:check",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid").and(predicate::str::contains("warning").not()));
    // A value that is not an ARN is checked like any Resource.
    amali()
        .args(["validate", file, "--substitute", "CheckFunctionArn=not-an-arn"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("INVALID_RESOURCE"));
    // The file form, DefinitionSubstitutions' shape; exec runs the substituted definition with a mocked task.
    let subs = dir.path().join("subs.json");
    std::fs::write(&subs, r#"{"CheckFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:check"}"#).unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(
        &mocks,
        r#"{"StateMachines": {"T": {"TestCases": {"ok": {"Check": "Fine"}}}},
            "MockedResponses": {"Fine": {"0": {"Return": {"ok": true}}}}}"#,
    )
    .unwrap();
    amali()
        .args(["exec", file, "--substitutions", subs.to_str().unwrap(), "--input", r#"{"id": 1}"#])
        .args(["--mock-config", mocks.to_str().unwrap(), "--test-case", "ok"])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""output":{"id":1,"checked":{"ok":true}}"#));
    amali()
        .args(["validate", file, "--substitute", "novalue"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("NAME=VALUE"));
}

/// The local build (no `aws` feature) keeps every AWS command in `--help` and refuses it before reading anything,
/// naming the build that has it: a usage error (2), never a half-done deploy.
#[cfg(not(feature = "aws"))]
#[test]
fn aws_commands_in_the_local_build_say_how_to_get_them() {
    for args in [
        &["deploy", "--env", "dev", "--dry-run"][..],
        &["status", "--env", "dev"],
        &["run", "--env", "dev"],
        &["diff", "deployed:dev", "asl/dev.asl.json"],
    ] {
        amali()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("built without AWS support"))
            .stderr(predicate::str::contains("--features aws"));
    }
    amali().args(["deploy", "--help"]).assert().success().stdout(predicate::str::contains("--dry-run"));
}
