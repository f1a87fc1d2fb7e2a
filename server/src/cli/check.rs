//! `aiex check`: the built-in checks from the command line, for CI.

use std::process::ExitCode;

/// Arguments of `aiex check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories to check (the current directory when none).
    pub paths: Vec<std::path::PathBuf>,
}

/// Runs `aiex check` and returns its exit code.
pub fn run(_args: CheckArgs) -> ExitCode {
    eprintln!("aiex check: not supported yet");
    ExitCode::from(2)
}
