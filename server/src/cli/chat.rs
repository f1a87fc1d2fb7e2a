//! `aiex chat`, `aiex sessions ...`, `aiex checkpoints ...`: conversations and the way back
//! from AI edits, from a terminal. Everything is an engine call; this module parses arguments
//! and prints.

use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::{bail, Context};

use super::workspace::{self, FileWorkspace};
use super::{out, outln};
use crate::config::{user_config_path, ConfigLayers};
use crate::engine::{ChatRequest, Engine, IndexCacheUse};
use crate::sessions::Role;

/// Arguments of `aiex chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Ask this and exit (for scripts); without it, each line of stdin is a question.
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Continue this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<i64>,
    /// The file the question is about (its workspace is the chat's).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// `aiex sessions ...`.
#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// The sessions, most recent first.
    List,
    /// A session's conversation.
    Show { id: i64 },
    /// A session as JSON lines (to stdout).
    Export { id: i64 },
    /// A session exported as JSON lines (from a file), as a new session.
    Import { file: PathBuf },
    /// Delete a session for good.
    Rm { id: i64 },
    /// Delete the sessions and checkpoints your `[sessions]` retention no longer keeps (also
    /// done when the language server or a sessions command starts).
    Prune,
}

/// `aiex checkpoints ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CheckpointsCommand {
    /// The checkpoints, newest first.
    List,
    /// What changed in each file since the checkpoint (or between it and another).
    Diff {
        id: i64,
        /// Compare with this checkpoint instead of the files as they are now.
        #[arg(long, value_name = "ID")]
        against: Option<i64>,
    },
    /// Put the files back as the checkpoint recorded them.
    Restore {
        id: i64,
        /// Restore even files changed since the AI edit (those changes are lost).
        #[arg(long)]
        force: bool,
    },
}

/// Runs `aiex chat`.
pub fn chat(args: ChatArgs) -> anyhow::Result<()> {
    let (engine, document) = match &args.file {
        Some(file) => {
            let FileWorkspace { engine, key, .. } =
                workspace::open(file, None, IndexCacheUse::ReadWrite)?;
            (engine, Some(key))
        }
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let root = workspace::directory_root(&cwd);
            (
                workspace::engine_for(&root, IndexCacheUse::ReadWrite)?,
                None,
            )
        }
    };
    retain(&engine)?;
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let mut session = args.session;
    let mut ask = |message: String| -> anyhow::Result<()> {
        let request = ChatRequest {
            session,
            message,
            document: document.clone(),
            selection: None,
        };
        let turn = runtime.block_on(engine.chat(request, |delta| {
            let _ = out!("{delta}");
        }))?;
        if !turn.text.ends_with('\n') {
            outln!()?;
        }
        for proposal in &turn.proposals {
            outln!("[proposed edit {}: {}]", proposal.id, proposal.label)?;
        }
        if session.is_none() {
            eprintln!(
                "aiex: session {} (continue with --session {})",
                turn.session, turn.session
            );
        }
        session = Some(turn.session);
        Ok(())
    };
    match args.message {
        Some(message) => ask(message),
        None => {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("cannot read stdin")?;
                if !line.trim().is_empty() {
                    ask(line)?;
                }
            }
            Ok(())
        }
    }
}

/// An engine with the user's configuration (no workspace: sessions and checkpoints are the
/// user's).
fn user_engine() -> anyhow::Result<Engine> {
    let engine = Engine::new();
    let loaded = ConfigLayers::from_files(user_config_path().as_deref(), None).resolve();
    for issue in loaded
        .issues
        .iter()
        .filter(|i| i.key.starts_with("sessions"))
    {
        eprintln!("aiex: {issue}");
    }
    for problem in engine.configure(loaded) {
        tracing::debug!("{problem}");
    }
    Ok(engine)
}

/// Applies the user's retention; says what it deleted.
fn retain(engine: &Engine) -> anyhow::Result<(usize, usize)> {
    let (sessions, checkpoints) = engine.apply_session_retention()?;
    if sessions + checkpoints > 0 {
        eprintln!(
            "aiex: deleted {sessions} session(s) and {checkpoints} checkpoint(s) past the \
             retention of [sessions] in your configuration"
        );
    }
    Ok((sessions, checkpoints))
}

/// Runs `aiex sessions ...`.
pub fn sessions(command: SessionsCommand) -> anyhow::Result<()> {
    let engine = user_engine()?;
    if !matches!(command, SessionsCommand::Prune) {
        retain(&engine)?;
    }
    let store = engine.sessions()?;
    match command {
        SessionsCommand::List => {
            for session in store.list()? {
                outln!(
                    "{}\t{} events\t{}",
                    session.id,
                    session.events,
                    session.title
                )?;
            }
        }
        SessionsCommand::Show { id } => {
            let session = store.session(id)?;
            outln!("# {}", session.title)?;
            for message in &session.messages {
                let who = match message.role {
                    Role::User => "you",
                    Role::Assistant => "aiex",
                };
                let mark = match (&message.stopped, message.interrupted) {
                    (Some(reason), _) => format!(" [stopped: {reason}]"),
                    (None, true) => " [interrupted]".to_owned(),
                    (None, false) => String::new(),
                };
                outln!("\n{who}{mark}:\n{}", message.text.trim_end())?;
            }
            for proposal in &session.proposals {
                outln!(
                    "\nedit {} ({:?}): {}",
                    proposal.id,
                    proposal.state,
                    proposal.files.join(", ")
                )?;
            }
        }
        SessionsCommand::Export { id } => out!("{}", store.export(id)?)?,
        SessionsCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let id = store.import(&text)?;
            outln!("imported as session {id}")?;
        }
        SessionsCommand::Rm { id } => {
            store.delete(id)?;
            outln!("deleted session {id}")?;
        }
        SessionsCommand::Prune => {
            let (sessions, checkpoints) = retain(&engine)?;
            outln!("{sessions} session(s) and {checkpoints} checkpoint(s) deleted")?;
        }
    }
    Ok(())
}

/// Runs `aiex checkpoints ...`.
pub fn checkpoints(command: CheckpointsCommand) -> anyhow::Result<()> {
    let engine = user_engine()?;
    retain(&engine)?;
    let store = engine.sessions()?;
    match command {
        CheckpointsCommand::List => {
            for checkpoint in store.checkpoints()? {
                let files: Vec<_> = checkpoint.files.iter().map(|f| f.path.as_str()).collect();
                outln!(
                    "{}\t{}\t{}",
                    checkpoint.id,
                    checkpoint.name,
                    files.join(", ")
                )?;
            }
        }
        CheckpointsCommand::Diff { id, against } => {
            for file in engine.checkpoint_diff(id, against)? {
                out!("{}", file.diff)?;
            }
        }
        CheckpointsCommand::Restore { id, force } => {
            for restored in engine.restore_plan(id, force)? {
                match &restored.text {
                    Some(text) => std::fs::write(&restored.path, text)
                        .with_context(|| format!("cannot write {}", restored.path))?,
                    None => std::fs::remove_file(&restored.path)
                        .with_context(|| format!("cannot remove {}", restored.path))?,
                }
                outln!("restored {}", restored.path)?;
            }
            engine.note_restored(id)?;
        }
    }
    Ok(())
}
