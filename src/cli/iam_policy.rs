//! `amali iam-policy`: the least-privilege policy of the state machine's role, derived from its definition.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{ExitStatus, GlobalArgs};
use crate::config::Config;
use crate::iam;

/// Arguments of `amali iam-policy`.
#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The environment: its definition, region, account and ECS task roles
    #[arg(long, short, value_name = "ENV")]
    pub env: String,
    /// Derive from this ASL file instead of the environment's pipeline ("-" reads standard input)
    #[arg(long, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    /// Also print, on standard error, which states need each statement
    #[arg(long)]
    pub explain: bool,
}

/// Runs `amali iam-policy`.
pub fn run(global: &GlobalArgs, args: IamPolicyArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(global.config.as_deref())?;
    let env = config.env(&args.env)?;
    let text = match &args.definition {
        Some(path) if path.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())?,
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => super::render::render_env(&config, &args.env)?,
    };
    let definition: serde_json::Value = serde_json::from_str(&text).context("the definition is not JSON")?;
    let context = iam::Context {
        partition: env.partition().to_string(),
        region: env.region.clone(),
        account: env.account.clone(),
        ecs_roles: env.ecs.iter().flat_map(|e| [e.task_role.clone(), e.execution_role.clone()]).flatten().collect(),
    };
    let policy = match iam::policy(&definition, &context) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitStatus::Failure);
        }
    };
    if args.explain {
        for (sid, states) in iam::explain(&definition, &context)? {
            eprintln!("{sid:<32} {}", states.join(", "));
        }
    }
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(ExitStatus::Success)
}
