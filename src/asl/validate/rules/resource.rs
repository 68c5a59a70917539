//! A Task's `Resource` is an ARN: a service integration (`arn:aws:states:::lambda:invoke`), a Lambda function or an
//! activity.

use serde_json::Value;

use crate::asl::validate::rules::is_jsonata;
use crate::asl::validate::{Context, Diagnostic, Rule};

const RULE: &str = "resource";

/// Task resources.
pub struct ResourceArn;

/// Why `arn` is not an ARN Step Functions can call, if it is not.
pub fn arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        let hint = if arn.contains("${") { "; give its placeholders values with --substitute NAME=VALUE" } else { "" };
        return Some(format!("{arn:?} is not an ARN (arn:partition:service:region:account:resource){hint}"));
    }
    if !parts[1].starts_with("aws") {
        return Some(format!("{arn:?} has partition {:?}; expected aws, aws-cn or aws-us-gov", parts[1]));
    }
    if parts[2].is_empty() || parts[5].is_empty() {
        return Some(format!("{arn:?} names no service or resource"));
    }
    let resource = parts[5];
    if resource.ends_with(':') || resource.chars().any(|c| !(c.is_ascii_alphanumeric() || "-_./:$+=,@".contains(c))) {
        return Some(format!("{arn:?} has an invalid resource part {resource:?}"));
    }
    if !parts[4].bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("{arn:?} has account {:?}; an account id is digits", parts[4]));
    }
    None
}

impl Rule for ResourceArn {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Task")) {
            let Some(Value::String(resource)) = state.field("Resource") else { continue };
            if state.is_jsonata() && is_jsonata(&Value::String(resource.clone())) {
                continue;
            }
            if crate::asl::substitutions::is_placeholder(resource) {
                // A CloudFormation template's definition: DefinitionSubstitutions fills it in at deploy time.
                out.push(Diagnostic::warning(
                    "INVALID_RESOURCE",
                    RULE,
                    state.at(&["Resource"]),
                    format!(
                        "{resource} is a DefinitionSubstitutions placeholder; pass --substitute {}=ARN to check the \
                         ARN it stands for",
                        &resource[2..resource.len() - 1]
                    ),
                ));
            } else if let Some(message) = arn_problem(resource) {
                out.push(Diagnostic::error("INVALID_RESOURCE", RULE, state.at(&["Resource"]), message));
            }
        }
        out
    }
}
