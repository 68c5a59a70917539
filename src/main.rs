//! The `amali` command: parse the arguments, run the subcommand, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = amali::cli::Cli::parse();
    match amali::cli::run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            // A closed pipe (`amali render --out - | head`) is not a failure.
            if err
                .chain()
                .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            amali::cli::ExitStatus::Error.into()
        }
    }
}
