//! The command line: one module per subcommand, each a clap struct and a `run` function.
//!
//! Arguments are parsed first (clap, no I/O) and resolved second (each command loads `amali.toml` and checks what
//! it needs), so `--help` always works and every error names the flag or file to fix.

mod aws;
mod datagen;
mod diff;
mod exec;
mod graph;
mod iam_policy;
mod render;
mod run;
mod seed;
mod tools;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use amali_core::telemetry::{self, Verbosity};
use clap::{Args, Parser, Subcommand};

/// What an `amali` process's exit code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command did what was asked (a check passed).
    Success,
    /// 1: the command ran and found a problem (a stale file, an invalid definition, a failed run).
    Failure,
    /// 2: the command could not run (bad arguments, unreadable input, broken configuration).
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

/// amali builds, checks and runs the AmaliMart data pipeline.
///
/// The pipeline is a Step Functions state machine written in Rust (the DSL) and rendered to Amazon States Language
/// in asl/, one file per environment of amali.toml. Its stages are Rust binaries that replace the original Glue jobs.
///
/// The commands that talk to AWS (deploy, rollback, status, and run, rerun, redrive, graph --run and diff against a
/// deployed environment) need amali built with AWS support: `cargo build --features aws` (the binaries CI builds
/// for deployment have it). The local build leaves the AWS SDKs out and says so when one of them is asked for.
#[derive(Debug, Parser)]
#[command(name = "amali", version, propagate_version = true, arg_required_else_help = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The configuration file [default: amali.toml in this directory or a parent, else the built-in one]
    #[arg(long, global = true, env = "AMALI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Say more about what is happening (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the pipeline's state machine to canonical ASL JSON, or check that asl/ is up to date.
    ///
    /// Without --env, every environment of amali.toml is rendered to asl/ENV.asl.json.
    /// With --check nothing is written: the command exits 1 and shows a diff when a
    /// committed file differs from what amali would render (run `amali render` and
    /// commit the result). CI runs the check.
    ///
    /// Examples:
    ///   amali render                       # refresh asl/*.asl.json
    ///   amali render --check               # CI: fail when asl/ is stale
    ///   amali render --env dev --out -     # print the dev definition
    #[command(verbatim_doc_comment)]
    Render(render::RenderArgs),
    /// Check ASL documents: structure, semantics and, with --lint, what breaks pipelines.
    ///
    /// Any state machine definition can be checked, not only amali's. Every problem is
    /// reported at once, each with a code (AWS's ValidateStateMachineDefinition code
    /// where one exists) and a JSON pointer to where it is.
    /// Exit status: 0 valid (warnings allowed), 1 invalid, 2 a file could not be read.
    ///
    /// Examples:
    ///   amali validate asl/*.asl.json
    ///   amali validate --lint original.asl.json
    ///   aws stepfunctions describe-state-machine --state-machine-arn ARN \
    ///     --query definition --output text | amali validate --format json -
    #[command(verbatim_doc_comment)]
    Validate(validate::ValidateArgs),
    /// Show what changed between two definitions, state by state.
    ///
    /// The comparison is semantic: key order and formatting do not count. States are
    /// matched by name across branches and item processors; a state that only changed
    /// name is reported as renamed. deployed:ENV is the definition live in AWS (the
    /// version its alias "live" points to); given alone, it is compared with what amali
    /// renders for ENV. Exit status: 0 same machine, 1 different, 2 a file could not be read.
    ///
    /// Examples:
    ///   amali diff asl/dev.asl.json asl/prod.asl.json
    ///   git show HEAD~1:asl/prod.asl.json | amali diff - asl/prod.asl.json
    ///   amali diff deployed:prod                 # what a deploy would change
    #[command(verbatim_doc_comment)]
    Diff(diff::DiffArgs),
    /// Draw a state machine as a Mermaid or Graphviz diagram, like the console's graph.
    ///
    /// Without a file, draws the pipeline of --env (default local). With --run, draws an
    /// execution as the console does: each state coloured by its outcome (succeeded,
    /// caught error, failed, in progress, not run) and labelled with its duration.
    ///
    /// Examples:
    ///   amali graph > pipeline.mmd
    ///   amali graph --format dot original.asl.json | dot -Tsvg > original.svg
    ///   amali graph --run local-20240301T020000Z --format dot | dot -Tsvg > run.svg
    ///   amali graph --run arn:aws:states:eu-west-1:123456789012:execution:amalimart:run-2024-03-01
    #[command(verbatim_doc_comment)]
    Graph(graph::GraphArgs),
    /// Run a state machine locally and print its outcome as one JSON object.
    ///
    /// Any definition runs with AWS Step Functions' semantics: paths, payload templates,
    /// intrinsic functions, JSONata, variables, Choice, Wait (virtual time unless
    /// --real-time), Parallel, Map, Retry and Catch. Tasks are answered by mocked
    /// responses in Step Functions Local's MockConfigFile format.
    ///
    /// Output: {"status": "SUCCEEDED"|"FAILED"|"TIMED_OUT"|"ABORTED", "output": ...,
    /// "error": ..., "cause": ...} (+ "history" with --history).
    /// Exit status: 0 SUCCEEDED, 1 otherwise, 2 unusable definition, input or mock file.
    ///
    /// Examples:
    ///   amali exec flow.asl.json --input '{"n": 3}'
    ///   amali exec flow.asl.json --input @input.json --mock-config mocks.json --test-case HappyPath
    #[command(verbatim_doc_comment)]
    Exec(exec::ExecArgs),
    /// Load the sample data (or another directory of CSVs) into an app database.
    ///
    /// Valid rows are loaded; columns a file lacks are derived or defaulted where the
    /// schema allows; every rejected row is counted with its reason.
    ///
    /// Examples:
    ///   amali seed --target sqlite://.amali/app.db
    ///   amali seed --target sqlite:///tmp/app.db --from ../shared/fixtures/amalimart/csv
    #[command(verbatim_doc_comment)]
    Seed(seed::SeedArgs),
    /// Generate a synthetic app database at scale, or apply a change batch to one.
    ///
    /// The data is deterministic for a seed and has realistic dirt (NULLs, orphaned keys,
    /// negative quantities, updated_at before created_at). --changes PCT changes that share of an
    /// existing database's rows instead, for incremental runs.
    ///
    /// Examples:
    ///   amali datagen --target sqlite://.amali/app.db --scale 0.01
    ///   amali datagen --target mysql://root@127.0.0.1:3306/app --scale 1 --seed 7
    ///   amali datagen --target mysql://root@127.0.0.1:3306/app --changes 1
    #[command(verbatim_doc_comment)]
    Datagen(datagen::DatagenArgs),
    /// Run the whole pipeline on this machine, or start an execution in AWS.
    ///
    /// Locally the state machine runs through amali's interpreter, every stage as a process, with
    /// SQLite databases and a Delta lake in the work directory (.amali/). The app database is seeded from the sample data on first use. Progress is shown per stage;
    /// the run is kept in .amali/runs/RUN_ID/ (definition, input, history, outcome, stage calls and
    /// logs) and notifications go to .amali/notifications.jsonl. Exit 0 when the run succeeded.
    ///
    /// With --env ENV of an environment in AWS, starts an execution of its deployed state
    /// machine on the alias "live", named run-LOGICAL_DATE (one per date unless --force);
    /// --follow shows it state by state until it ends.
    ///
    /// Examples:
    ///   amali run --local
    ///   amali run --local --logical-date 2024-03-01 --name backfill-0301
    ///   amali run --local --fail-stage write_to_rds_rs      (see the failure path)
    ///   amali run --env prod --logical-date 2024-03-01 --follow
    #[command(verbatim_doc_comment)]
    Run(run::RunArgs),
    /// Run one stage again with the arguments it had in a run (default: the latest run).
    ///
    /// Stages are idempotent per run id: rerunning one writes nothing twice. With --env ENV
    /// of an environment in AWS, the stage runs there (a Glue job run, an ECS task or a Lambda
    /// invoke) with the parameters its Task had in the execution, and is followed to its end.
    ///
    /// Examples:
    ///   amali rerun ingestion_from_rds --local
    ///   amali rerun silver_transformation --local --run local-20240301T020000Z
    ///   amali rerun gold_transformation --env prod --execution arn:aws:states:...:execution:amalimart-pipeline:run-2024-03-01
    #[command(verbatim_doc_comment)]
    Rerun(run::RerunArgs),
    /// Resume a failed run from the stage that failed, as AWS's RedriveExecution does.
    ///
    /// The run keeps its definition, input and run id; the stages that succeeded are not run
    /// again (their results are replayed).
    ///
    /// Examples:
    ///   amali redrive --local local-20240301T020000Z
    ///   amali redrive --follow arn:aws:states:eu-west-1:050451375647:execution:amalimart-pipeline:run-2024-03-01
    #[command(verbatim_doc_comment)]
    Redrive(run::RedriveArgs),
    /// Print the least-privilege IAM policy the state machine's role needs, derived from its definition.
    ///
    /// Each Task's integration gets the actions AWS CDK grants for it, on the resources its
    /// parameters name (Lambda functions and their aliases, SNS topics, Glue jobs, the ECS
    /// task definition family and the task roles it passes, the EventBridge rule of .sync
    /// tasks). Never "Action": "*". A parameter set from a path at run time widens only the
    /// resource, to that kind in the account. Exit 1 when an integration cannot be derived.
    ///
    /// Examples:
    ///   amali iam-policy --env prod > policy.json
    ///   amali iam-policy --env dev --explain
    ///   amali iam-policy --env prod --definition original.asl.json
    #[command(verbatim_doc_comment)]
    IamPolicy(iam_policy::IamPolicyArgs),
    /// Plan, then apply, the pipeline's AWS resources for an environment, idempotently.
    ///
    /// The plan lists every resource as create, update or unchanged, with what differs:
    /// SNS topics and subscriptions, the pause_clusters Lambda (and stages on the lambda
    /// runner: the stage binary zipped as bootstrap for provided.al2023), the ECS cluster
    /// and task definition of the stages image, the Glue jobs of stages still on Glue
    /// (kept, their default arguments managed, passwords removed), the state machine
    /// (with the semantic diff of its definition) and its alias "live". Applying updates
    /// the state machine with publish (a new version) and moves "live" to it. With
    /// nothing to change, no mutating call is made. Credentials and region come from the
    /// standard AWS chain; the region is the environment's.
    /// Exit status: 0 deployed or nothing to do, 1 the plan has problems, 2 an error.
    ///
    /// Examples:
    ///   amali deploy --env dev --dry-run
    ///   amali deploy --env dev --yes --image "$REGISTRY/amalimart-stages:$GIT_SHA"
    ///   amali deploy --env prod --artifacts target/x86_64-unknown-linux-musl/dist
    #[command(verbatim_doc_comment)]
    Deploy(aws::DeployArgs),
    /// Move the alias "live" back to an earlier version of the state machine.
    ///
    /// New executions (amali run --env) start on the alias, so this is a rollback of the
    /// pipeline's definition; running executions finish on their version.
    ///
    /// Examples:
    ///   amali rollback --env prod             # to the version before the live one
    ///   amali rollback --env prod --to 12
    #[command(verbatim_doc_comment)]
    Rollback(aws::RollbackArgs),
    /// Show recent executions in AWS with the status of each stage.
    ///
    /// Examples:
    ///   amali status --env prod
    ///   amali status --limit 30 --format json
    #[command(verbatim_doc_comment)]
    Status(aws::StatusArgs),
    /// Print the shell completion script of amali (bash, zsh, fish, elvish, powershell).
    ///
    /// Examples:
    ///   amali completions bash > ~/.local/share/bash-completion/completions/amali
    ///   amali completions zsh > ~/.zfunc/_amali       # with fpath+=~/.zfunc before compinit
    ///   amali completions fish > ~/.config/fish/completions/amali.fish
    #[command(verbatim_doc_comment)]
    Completions(CompletionsArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    telemetry::init(LOG_FILTER, Verbosity::from_flags(cli.global.quiet, cli.global.verbose));
    tracing::debug!(config = ?cli.global.config, "amali {}", env!("CARGO_PKG_VERSION"));
    match cli.command {
        Command::Render(args) => render::run(&cli.global, args),
        Command::Validate(args) => validate::run(args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::Graph(args) => graph::run(&cli.global, args),
        Command::Exec(args) => exec::run(args),
        Command::Seed(args) => seed::run(&cli.global, args),
        Command::Datagen(args) => datagen::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Rerun(args) => run::rerun(&cli.global, args),
        Command::Redrive(args) => run::redrive(&cli.global, args),
        Command::IamPolicy(args) => iam_policy::run(&cli.global, args),
        Command::Deploy(args) => aws::deploy(&cli.global, args),
        Command::Rollback(args) => aws::rollback(&cli.global, args),
        Command::Status(args) => aws::status(&cli.global, args),
        Command::Completions(args) => completions(args),
    }
}

/// What the command logs by default: warnings (`-v` adds amali's debug events, `-vv` its trace, `-q` only errors;
/// `AMALI_LOG` overrides). Progress and results are printed, not logged.
const LOG_FILTER: &str = "warn";

/// Arguments of `amali completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

fn completions(args: CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(args.shell, &mut command, "amali", &mut std::io::stdout());
    Ok(ExitStatus::Success)
}
