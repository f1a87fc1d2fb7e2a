//! The command line: `aiex` (the language server) and its subcommands over the same core.

pub mod check;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line arguments of the `aiex` binary.
#[derive(Debug, Parser)]
#[command(name = "aiex", version, about = "An AI assistant for Elixir, served as a language server")]
pub struct Cli {
    /// Serve LSP over stdio (the default when no subcommand is given).
    #[arg(long, global = false)]
    pub stdio: bool,
    /// Also write logs to this file (logs always go to stderr; stdout is the LSP channel).
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve LSP over stdio.
    Lsp,
    /// Run the built-in checks over files or directories.
    Check(check::CheckArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Lsp) => ExitCode::SUCCESS,
        Some(Command::Check(args)) => check::run(args),
    }
}
