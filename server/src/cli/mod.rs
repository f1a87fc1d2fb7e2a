//! The command line: `aiex` (the language server) and its subcommands over the same core.

mod ai;
mod chat;
pub mod check;
mod context;
mod doctor;
mod health;
mod index;
mod metrics;
mod symbols;
mod trust;
mod usage;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line arguments of the `aiex` binary.
#[derive(Debug, Parser)]
#[command(
    name = "aiex",
    version = crate::lifecycle::version::LONG,
    about = "An AI assistant for Elixir, served as a language server",
    long_about = "An AI assistant for Elixir, served as a language server.\n\nWith no subcommand, \
                  aiex serves the Language Server Protocol on stdin/stdout. Logs go to stderr; set \
                  AIEX_LOG (e.g. `debug`, `aiex=trace`) to change their level."
)]
pub struct Cli {
    /// Serve LSP over stdio (the default when no subcommand is given; accepted for editors
    /// that pass it).
    #[arg(long)]
    pub stdio: bool,
    /// Also append logs to this file.
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve LSP over stdio.
    Lsp,
    /// Print the modules and functions (chunks) of an Elixir file.
    Symbols(symbols::SymbolsArgs),
    /// Report the version, the configuration found, and what each feature will use.
    Doctor(doctor::DoctorArgs),
    /// Run the built-in checks over files or directories.
    Check(check::CheckArgs),
    /// Build the workspace index (as the server does) and summarise it.
    Index(index::IndexArgs),
    /// Ask the configured model for a completion at FILE:LINE:COL and print it.
    Complete(ai::CompleteArgs),
    /// Ask the configured model to explain a function (FILE:LINE or Module.fun/arity).
    Explain(ai::ExplainArgs),
    /// Ask the configured model for the @doc and @spec of a function, and print them.
    Docs(ai::DocsArgs),
    /// Ask the configured model for ExUnit tests of a function and write them to its test
    /// file; with --run (or in a trusted workspace) they are run and only the passing kept.
    Tests(ai::TestsArgs),
    /// Print the context a request at FILE:LINE:COL would send, piece by piece.
    Context(context::ContextArgs),
    /// Ask about the code in a conversation that is kept (`--message` for one turn).
    Chat(chat::ChatArgs),
    /// List, show, export, import or delete chat sessions.
    #[command(subcommand)]
    Sessions(chat::SessionsCommand),
    /// List, compare or restore the checkpoints taken before AI edits.
    #[command(subcommand)]
    Checkpoints(chat::CheckpointsCommand),
    /// Check that this binary works here (parser, checks, writable cache and data
    /// directories), offline; exit 1 if not.
    Health(health::HealthArgs),
    /// Trust this workspace's .aiex.toml (as it is now) to set providers, key variables and
    /// paths outside the workspace; `--revoke` forgets the decision.
    Trust(trust::TrustArgs),
    /// Print AI usage and cost: this machine's, or with `--team` the team's (team mode).
    Usage(usage::UsageArgs),
    /// Print Prometheus metrics of the AI requests made here (from the audit log): counts,
    /// latency, tokens, cost, cache hits, per provider and feature (`--format otlp-json`: OTLP).
    #[command(long_about = metrics::LONG_ABOUT)]
    Metrics(metrics::MetricsArgs),
}

/// Writes to standard output. When the reader has gone (`aiex check | head`), the rest of the
/// output is dropped quietly instead of panicking (which `print!` does, exiting with 101): the
/// command still finishes and returns its own exit code. Other write errors are returned.
pub(crate) fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    static READER_GONE: AtomicBool = AtomicBool::new(false);
    if READER_GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            READER_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// `print!` through [`write_stdout`]; evaluates to `std::io::Result<()>`.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!($($arg)*)) };
}

/// `println!` through [`write_stdout`]; evaluates to `std::io::Result<()>`.
macro_rules! outln {
    () => { $crate::cli::write_stdout("\n") };
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use {out, outln};

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, None | Some(Command::Lsp));
    // The server logs what it does; one-shot commands only what goes wrong.
    // One-shot commands say what went wrong themselves, once; their logs show only errors
    // unless AIEX_LOG asks for more.
    let default_level = if serving { "aiex=info,warn" } else { "error" };
    if let Err(error) = crate::logging::init(default_level, cli.log_file.as_deref()) {
        eprintln!("aiex: {error:#}");
        return ExitCode::from(2);
    }
    match cli.command {
        None | Some(Command::Lsp) => serve(),
        Some(Command::Symbols(args)) => report(symbols::run(args)),
        Some(Command::Doctor(args)) => report(doctor::run(args)),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Index(args)) => report(index::run(args)),
        Some(Command::Complete(args)) => report(ai::complete(args)),
        Some(Command::Explain(args)) => report(ai::explain(args)),
        Some(Command::Docs(args)) => report(ai::docs(args)),
        Some(Command::Tests(args)) => report(ai::tests(args)),
        Some(Command::Context(args)) => report(context::run(args)),
        Some(Command::Trust(args)) => report(trust::run(args)),
        Some(Command::Chat(args)) => report(chat::chat(args)),
        Some(Command::Sessions(command)) => report(chat::sessions(command)),
        Some(Command::Checkpoints(command)) => report(chat::checkpoints(command)),
        Some(Command::Usage(args)) => report(usage::run(args)),
        Some(Command::Metrics(args)) => report(metrics::run(args)),
        Some(Command::Health(args)) => report(health::run(args)),
    }
}

/// Prints a command's error as one line and turns it into exit code 1.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("aiex: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> ExitCode {
    // Says which binary serves: an editor package may carry its own, and PATH another.
    tracing::info!(
        version = crate::lifecycle::version::LONG,
        "serving LSP on stdio"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aiex: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let clean_exit = runtime.block_on(crate::lsp::serve_stdio());
    // The stdin reader sits in a blocking read that would hold a normal shutdown: after
    // `exit`, leave at once.
    runtime.shutdown_background();
    tracing::info!(clean_exit, "exiting");
    if clean_exit {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
