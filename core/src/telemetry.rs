//! Logging for the CLI and the stages, from one place: `tracing` events on standard error (standard output carries
//! only results: a stage's run summary, a command's output), human-readable on a terminal and JSON lines in AWS,
//! where CloudWatch collects them and the span fields (stage, run id, table) become searchable.
//!
//! What is shown: `AMALI_LOG` (or `RUST_LOG`) when set, in `EnvFilter` syntax; else the program's default filter,
//! made quieter by `-q` and louder by each `-v`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The crates whose events `-v` turns up.
const OWN_CRATES: [&str; 3] = ["amali", "amali_core", "amali_jobs"];

/// How much to say, from `-q` and `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// The program's default filter.
    Normal,
    /// `-v` (1: debug) or `-vv` and more (2: trace) for amali's own events.
    Verbose(u8),
}

impl Verbosity {
    /// From the CLI's `-q` flag and `-v` count.
    pub fn from_flags(quiet: bool, verbose: u8) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, n) => Verbosity::Verbose(n),
        }
    }

    /// The filter directives for a program whose default is `default`.
    pub fn directives(self, default: &str) -> String {
        let own = |level: &str| OWN_CRATES.map(|c| format!("{c}={level}")).join(",");
        match self {
            Verbosity::Quiet => "error".to_string(),
            Verbosity::Normal => default.to_string(),
            Verbosity::Verbose(1) => format!("{default},{}", own("debug")),
            Verbosity::Verbose(_) => format!("{default},{}", own("trace")),
        }
    }
}

/// Whether this process runs in AWS (ECS, Lambda, Glue), which makes the log JSON.
pub fn running_in_aws() -> bool {
    ["AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4", "AWS_LAMBDA_FUNCTION_NAME", "GLUE_VERSION"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// Installs the subscriber once (later calls do nothing): `AMALI_LOG`, else `RUST_LOG`, else `default` adjusted by
/// `verbosity`.
pub fn init(default: &str, verbosity: Verbosity) {
    let filter = EnvFilter::try_from_env("AMALI_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(verbosity.directives(default)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if running_in_aws() {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).with_target(false).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_the_filter() {
        assert_eq!(Verbosity::from_flags(true, 2).directives("warn"), "error");
        assert_eq!(Verbosity::from_flags(false, 0).directives("warn,x=info"), "warn,x=info");
        let debug = Verbosity::from_flags(false, 1).directives("warn");
        assert!(debug.contains("amali=debug") && debug.contains("amali_jobs=debug"), "{debug}");
        assert!(Verbosity::Verbose(3).directives("warn").contains("amali_core=trace"));
        for v in [Verbosity::Quiet, Verbosity::Normal, Verbosity::Verbose(1), Verbosity::Verbose(2)] {
            EnvFilter::try_new(v.directives("warn,amali_jobs=info")).expect("valid directives");
        }
    }
}
