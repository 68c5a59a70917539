//! `amali iam-policy`: the policy of each integration (golden files, checked against what AWS CDK grants), the
//! pipeline's own policy, and the errors a reader needs.

#[path = "../common/mod.rs"]
mod common;

use amali::iam::{Context, policy};
use assert_cmd::Command;
use serde_json::{Value, json};

fn cx() -> Context {
    Context {
        partition: "aws".into(),
        region: "eu-west-1".into(),
        account: "123456789012".into(),
        ecs_roles: vec!["stages-task".into(), "stages-execution".into()],
    }
}

fn task(resource: &str, parameters: Value) -> Value {
    json!({"StartAt": "Stage", "States": {"Stage": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}})
}

/// One golden policy per integration and mode.
#[test]
fn every_integration_gets_what_cdk_grants() {
    let cases = [
        (
            "lambda_invoke",
            task("arn:aws:states:::lambda:invoke", json!({"FunctionName": "pause_clusters", "Payload.$": "$"})),
        ),
        ("lambda_arn", task("arn:aws:lambda:eu-west-1:123456789012:function:pause_clusters", json!({}))),
        (
            "sns_publish",
            task(
                "arn:aws:states:::sns:publish",
                json!({"TopicArn": "arn:aws:sns:eu-west-1:123456789012:ok", "Message": "hi"}),
            ),
        ),
        ("glue_start_job_run", task("arn:aws:states:::glue:startJobRun", json!({"JobName": "silver"}))),
        ("glue_start_job_run_sync", task("arn:aws:states:::glue:startJobRun.sync", json!({"JobName": "silver"}))),
        ("ecs_run_task", task("arn:aws:states:::ecs:runTask", json!({"Cluster": "c", "TaskDefinition": "stages"}))),
        (
            "ecs_run_task_sync",
            task("arn:aws:states:::ecs:runTask.sync", json!({"Cluster": "c", "TaskDefinition": "stages:7"})),
        ),
        (
            "states_start_execution_sync",
            task(
                "arn:aws:states:::states:startExecution.sync:2",
                json!({"StateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:child", "Input.$": "$"}),
            ),
        ),
    ];
    for (name, definition) in cases {
        let p = policy(&definition, &cx()).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.contains(r#""Action":"*""#) && !text.contains(r#""*:*""#), "{name}: no wildcard action");
        insta::assert_json_snapshot!(name, p);
    }
}

#[test]
fn the_prod_pipeline_policy_covers_every_task_and_nothing_else() {
    let out = Command::cargo_bin("amali")
        .unwrap()
        .current_dir(common::root())
        .env_remove("AMALI_CONFIG")
        .args(["iam-policy", "--env", "prod", "--explain"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!("prod_pipeline", p);
    let explained = String::from_utf8(out.stderr).unwrap();
    assert!(explained.contains("RunGlueJobsAndWait") && explained.contains("Read from app database"), "{explained}");
}

#[test]
fn an_ecs_task_without_roles_in_the_configuration_says_what_to_add() {
    let mut context = cx();
    context.ecs_roles.clear();
    let e =
        policy(&task("arn:aws:states:::ecs:runTask.sync", json!({"TaskDefinition": "stages"})), &context).unwrap_err();
    assert!(e.to_string().contains("task_role"), "{e}");
}
