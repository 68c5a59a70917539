//! `amali validate`: check any ASL document, with the pipeline lints on request.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::ExitStatus;
use crate::asl::substitutions;
use crate::asl::validate::{self, Report, Severity};

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: one line per file, one per problem.
    Text,
    /// For programs: one JSON object.
    Json,
}

/// Arguments of `amali validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// ASL files to check ("-" reads standard input)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also run the pipeline lints (warnings): uncaught or unnotified failures, missing timeouts and retries,
    /// swallowed failures, pauses before use, history size
    #[arg(long)]
    pub lint: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A value for a CloudFormation `${NAME}` placeholder (DefinitionSubstitutions), replaced before checking;
    /// repeatable. Without one, a Resource that is a placeholder passes with a warning
    #[arg(long = "substitute", value_name = "NAME=VALUE")]
    pub substitute: Vec<String>,
    /// A JSON object of placeholder values (the shape of DefinitionSubstitutions); --substitute wins over it
    #[arg(long, value_name = "FILE")]
    pub substitutions: Option<PathBuf>,
}

#[derive(Serialize)]
struct FileReport {
    file: String,
    #[serde(flatten)]
    report: Report,
}

/// Runs `amali validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitStatus> {
    let values = substitutions::collect(args.substitutions.as_deref(), &args.substitute)?;
    let mut reports = Vec::new();
    let mut unreadable = false;
    for file in &args.files {
        let name = file.display().to_string();
        let text = if name == "-" {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s)
        } else {
            std::fs::read_to_string(file)
        };
        match text {
            Ok(text) => {
                let text = substitutions::apply(&text, &values);
                reports.push(FileReport { file: name, report: validate::validate(&text, args.lint) })
            }
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                unreadable = true;
            }
        }
    }
    let valid = reports.iter().all(|r| r.report.is_valid());
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut stdout,
                &serde_json::json!({"valid": valid && !unreadable, "files": reports}),
            )?;
            writeln!(stdout)?;
        }
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            for r in &reports {
                write_text(&mut stdout, r, color)?;
            }
        }
    }
    Ok(if unreadable {
        ExitStatus::Error
    } else if valid {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn write_text(out: &mut impl Write, r: &FileReport, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let errors = r.report.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = r.report.diagnostics.len() - errors;
    let verdict = if errors == 0 { paint("32", "valid") } else { paint("31", "invalid") };
    let mut counts = Vec::new();
    if errors > 0 {
        counts.push(format!("{errors} error{}", if errors == 1 { "" } else { "s" }));
    }
    if warnings > 0 {
        counts.push(format!("{warnings} warning{}", if warnings == 1 { "" } else { "s" }));
    }
    let counts = if counts.is_empty() { String::new() } else { format!(" ({})", counts.join(", ")) };
    writeln!(out, "{}: {verdict}{counts}", r.file)?;
    for d in &r.report.diagnostics {
        let label = match d.severity {
            Severity::Error => paint("31", "error"),
            Severity::Warning => paint("33", "warning"),
        };
        let location = if d.location.is_empty() { "/".to_string() } else { d.location.clone() };
        writeln!(out, "  {label} {} at {location}: {}", d.code, d.message)?;
    }
    Ok(())
}
