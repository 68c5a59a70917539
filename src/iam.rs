//! The least-privilege IAM policy a state machine's role needs, derived from its definition.
//!
//! Every Task state's `Resource` names an integration; each integration needs the actions AWS documents for it, on
//! the resources its parameters name. The actions per integration are those AWS CDK grants (aws-stepfunctions-tasks):
//!
//! | integration                           | actions                                                               |
//! |---------------------------------------|-----------------------------------------------------------------------|
//! | `lambda:invoke` (and a function ARN)  | lambda:InvokeFunction on the function and its versions/aliases        |
//! | `sns:publish`                         | sns:Publish on the topic                                              |
//! | `glue:startJobRun`                    | glue:StartJobRun on the job                                           |
//! | `glue:startJobRun.sync`               | + glue:GetJobRun, glue:GetJobRuns, glue:BatchStopJobRun               |
//! | `ecs:runTask`                         | ecs:RunTask on the task definition family; iam:PassRole on its roles  |
//! | `ecs:runTask.sync`                    | + ecs:StopTask, ecs:DescribeTasks, and the EventBridge rule Step Functions manages |
//! | `states:startExecution[.sync[:2]]`    | states:StartExecution (+ DescribeExecution, StopExecution, the rule)  |
//!
//! A parameter given by a path (`"FunctionName.$"`) is only known at run time: its resource becomes every resource
//! of that kind in the account and region, and the policy says so in the statement's Sid. An integration it does not
//! know is an error naming the state: a policy that silently lacks a permission fails at 3 a.m.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// Where the policy applies and what the definition cannot say.
#[derive(Debug, Clone)]
pub struct Context {
    /// The AWS partition (`aws`).
    pub partition: String,
    /// The region of the state machine.
    pub region: String,
    /// The account id.
    pub account: String,
    /// The IAM roles ECS tasks run with (task role and execution role, names or ARNs): the state machine passes
    /// them to ECS.
    pub ecs_roles: Vec<String>,
}

/// A Task the definition cannot be derived for.
#[derive(Debug, thiserror::Error)]
#[error("state {state:?}: {message}")]
pub struct PolicyError {
    /// The state's name.
    pub state: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Statements being gathered: (sid, actions) -> resources, and the states that need each sid.
#[derive(Default)]
struct Grants {
    statements: BTreeMap<(String, Vec<&'static str>), BTreeSet<String>>,
    states: BTreeMap<String, BTreeSet<String>>,
    current: String,
}

impl Grants {
    fn add(&mut self, sid: &str, actions: &[&'static str], resources: impl IntoIterator<Item = String>) {
        let mut actions = actions.to_vec();
        actions.sort_unstable();
        self.statements.entry((sid.to_string(), actions)).or_default().extend(resources);
        self.states.entry(sid.to_string()).or_default().insert(self.current.clone());
    }

    fn gather(definition: &Value, context: &Context) -> Result<Grants, PolicyError> {
        let mut grants = Grants::default();
        let mut tasks = Vec::new();
        collect_tasks(definition, &mut tasks);
        for (name, state) in tasks {
            grants.current = name.clone();
            grant(&name, state, context, &mut grants)?;
        }
        Ok(grants)
    }
}

impl Context {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{resource}", self.partition, self.region, self.account)
    }

    fn role_arn(&self, role: &str) -> String {
        crate::config::role_arn(&self.partition, &self.account, role)
    }
}

/// The policy document for `definition`: one statement per integration and kind of access, resources sorted.
pub fn policy(definition: &Value, context: &Context) -> Result<Value, PolicyError> {
    let statements: Vec<Value> = Grants::gather(definition, context)?
        .statements
        .into_iter()
        .map(|((sid, actions), resources)| {
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": resources.into_iter().collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// Which states need each statement (by Sid), for a reader checking the policy.
pub fn explain(definition: &Value, context: &Context) -> Result<Vec<(String, Vec<String>)>, PolicyError> {
    Ok(Grants::gather(definition, context)?.states.into_iter().map(|(sid, s)| (sid, s.into_iter().collect())).collect())
}

/// Every Task state, with its name, in branches and item processors too.
fn collect_tasks<'a>(definition: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    let Some(states) = definition.get("States").and_then(Value::as_object) else { return };
    for (name, state) in states {
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => out.push((name.clone(), state)),
            Some("Parallel") => {
                for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
                    collect_tasks(branch, out);
                }
            }
            Some("Map") => {
                if let Some(inner) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
                    collect_tasks(inner, out);
                }
            }
            _ => {}
        }
    }
}

/// A parameter of a Task: `Some(value)` when static, `None` when given by a path or JSONata (known at run time).
fn param<'a>(state: &'a Value, key: &str) -> Result<Option<&'a str>, ()> {
    let holder = state.get("Parameters").or_else(|| state.get("Arguments"));
    let Some(holder) = holder else { return Err(()) };
    if holder.get(format!("{key}.$")).is_some() {
        return Ok(None);
    }
    match holder.get(key).and_then(Value::as_str) {
        Some(v) if v.starts_with("{%") => Ok(None),
        Some(v) => Ok(Some(v)),
        None => Err(()),
    }
}

fn grant(name: &str, state: &Value, cx: &Context, grants: &mut Grants) -> Result<(), PolicyError> {
    let fail = |message: String| PolicyError { state: name.to_string(), message };
    let resource = state.get("Resource").and_then(Value::as_str).ok_or_else(|| fail("has no Resource".into()))?;
    let required = |key: &str| {
        param(state, key).map_err(|()| fail(format!("{resource} needs the parameter {key} to derive its permission")))
    };
    // A Lambda function's ARN as the Resource itself.
    if resource.contains(":lambda:") && resource.contains(":function:") {
        grants.add("InvokeLambdaFunctions", &["lambda:InvokeFunction"], lambda_arns(resource, cx));
        return Ok(());
    }
    if resource.contains(":states:") && resource.contains(":activity:") {
        // An activity: its workers call GetActivityTask; the state machine's role needs nothing.
        return Ok(());
    }
    let Some(integration) = resource.split(":::").nth(1) else {
        return Err(fail(format!("{resource} is not an AWS service integration or a Lambda function ARN")));
    };
    let (service_action, mode) = match integration.split_once('.') {
        Some((a, m)) => (a, m),
        None => (integration, ""),
    };
    match service_action {
        "lambda:invoke" => {
            let resources = match required("FunctionName")? {
                Some(f) => lambda_arns(f, cx),
                None => vec![cx.arn("lambda", "function:*")],
            };
            grants.add("InvokeLambdaFunctions", &["lambda:InvokeFunction"], resources);
        }
        "sns:publish" => {
            let topic = match param(state, "TopicArn") {
                Ok(Some(t)) => t.to_string(),
                Ok(None) => cx.arn("sns", "*"),
                Err(()) => match required("TargetArn")? {
                    Some(t) => t.to_string(),
                    None => cx.arn("sns", "*"),
                },
            };
            grants.add("PublishNotifications", &["sns:Publish"], [topic]);
        }
        "glue:startJobRun" => {
            let job = match required("JobName")? {
                Some(j) => cx.arn("glue", &format!("job/{j}")),
                None => cx.arn("glue", "job/*"),
            };
            if mode == "sync" {
                grants.add(
                    "RunGlueJobsAndWait",
                    &["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                    [job],
                );
            } else {
                grants.add("StartGlueJobs", &["glue:StartJobRun"], [job]);
            }
        }
        "ecs:runTask" => {
            let family = match required("TaskDefinition")? {
                Some(t) if t.starts_with("arn:") => {
                    t.rsplit_once(':').filter(|(_, rev)| rev.parse::<u32>().is_ok()).map_or(t, |(f, _)| f).to_string()
                }
                Some(t) => cx.arn("ecs", &format!("task-definition/{}", t.split(':').next().unwrap_or(t))),
                None => cx.arn("ecs", "task-definition/*"),
            };
            grants.add("RunEcsTasks", &["ecs:RunTask"], [family.clone(), format!("{family}:*")]);
            if cx.ecs_roles.is_empty() {
                return Err(fail(
                    "runs an ECS task, so the policy must let it pass the task's roles: set task_role and \
                     execution_role in [env.NAME.ecs]"
                        .into(),
                ));
            }
            grants.add("PassEcsTaskRoles", &["iam:PassRole"], cx.ecs_roles.iter().map(|r| cx.role_arn(r)));
            if mode == "sync" {
                grants.add("WatchEcsTasks", &["ecs:DescribeTasks", "ecs:StopTask"], ["*".to_string()]);
                grants.add(
                    "ManageEcsTaskEventRule",
                    &["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                    [cx.arn("events", "rule/StepFunctionsGetEventsForECSTaskRule")],
                );
            }
        }
        "states:startExecution" => {
            let machine = match required("StateMachineArn")? {
                Some(m) => m.to_string(),
                None => cx.arn("states", "stateMachine:*"),
            };
            grants.add("StartChildExecutions", &["states:StartExecution"], [machine.clone()]);
            if mode.starts_with("sync") {
                let executions = machine.replacen(":stateMachine:", ":execution:", 1);
                grants.add(
                    "WatchChildExecutions",
                    &["states:DescribeExecution", "states:StopExecution"],
                    [format!("{executions}*")],
                );
                grants.add(
                    "ManageChildExecutionEventRule",
                    &["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                    [cx.arn("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")],
                );
            }
        }
        other => {
            return Err(fail(format!(
                "amali cannot derive the permissions of {other} yet; write them by hand and leave this state out"
            )));
        }
    }
    Ok(())
}

/// A function (name, partial or full ARN) and its versions and aliases.
fn lambda_arns(function: &str, cx: &Context) -> Vec<String> {
    let base = if function.starts_with("arn:") {
        // Drop a version or alias qualifier: the grant covers them all.
        let parts: Vec<&str> = function.splitn(8, ':').collect();
        parts.iter().take(7).copied().collect::<Vec<_>>().join(":")
    } else {
        cx.arn("lambda", &format!("function:{function}"))
    };
    vec![base.clone(), format!("{base}:*")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context {
        Context {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            ecs_roles: vec!["stages-task".into(), "arn:aws:iam::123456789012:role/stages-exec".into()],
        }
    }

    fn machine(resource: &str, parameters: Value) -> Value {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}})
    }

    #[test]
    fn a_qualified_function_arn_grants_the_function_and_its_qualifiers() {
        let p = policy(
            &machine(
                "arn:aws:states:::lambda:invoke",
                json!({"FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:f:live"}),
            ),
            &cx(),
        )
        .unwrap();
        assert_eq!(
            p["Statement"][0]["Resource"],
            json!([
                "arn:aws:lambda:eu-west-1:123456789012:function:f",
                "arn:aws:lambda:eu-west-1:123456789012:function:f:*"
            ])
        );
    }

    #[test]
    fn an_unknown_integration_is_an_error_naming_the_state() {
        let e = policy(&machine("arn:aws:states:::dynamodb:putItem", json!({"TableName": "t"})), &cx()).unwrap_err();
        assert_eq!(e.state, "T");
        assert!(e.message.contains("dynamodb:putItem"));
    }

    #[test]
    fn a_path_parameter_grants_the_kind_not_a_wildcard_action() {
        let p = policy(&machine("arn:aws:states:::glue:startJobRun", json!({"JobName.$": "$.job"})), &cx()).unwrap();
        assert_eq!(p["Statement"][0]["Action"], json!(["glue:StartJobRun"]));
        assert_eq!(p["Statement"][0]["Resource"], json!(["arn:aws:glue:eu-west-1:123456789012:job/*"]));
    }
}
