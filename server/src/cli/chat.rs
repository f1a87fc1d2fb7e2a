//! `aiex chat`, `aiex sessions ...`, `aiex checkpoints ...`: conversations and the way back
//! from AI edits, from a terminal. Everything is an engine call; this module parses arguments
//! and prints.

use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::{bail, Context};

use super::workspace::{self, FileWorkspace};
use super::{out, outln};
use crate::engine::{ChatRequest, Engine, IndexCacheUse};
use crate::sessions::{Role, SessionStore};

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
}

/// `aiex checkpoints ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CheckpointsCommand {
    /// The checkpoints, newest first.
    List,
    /// What changed in each file since the checkpoint.
    Diff { id: i64 },
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
        for (id, edit) in &turn.proposals {
            outln!("[proposed edit {id}: {}]", edit.label)?;
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

fn store() -> anyhow::Result<std::sync::Arc<SessionStore>> {
    Ok(Engine::new().sessions()?)
}

/// Runs `aiex sessions ...`.
pub fn sessions(command: SessionsCommand) -> anyhow::Result<()> {
    let store = store()?;
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
    }
    Ok(())
}

/// Runs `aiex checkpoints ...`.
pub fn checkpoints(command: CheckpointsCommand) -> anyhow::Result<()> {
    let engine = Engine::new();
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
        CheckpointsCommand::Diff { id } => {
            let checkpoint = store
                .checkpoints()?
                .into_iter()
                .find(|c| c.id == id)
                .with_context(|| format!("no checkpoint {id}"))?;
            for file in checkpoint.files {
                let now = engine
                    .current_text(std::path::Path::new(&file.path))
                    .unwrap_or_default();
                out!("{}", store.compare(id, &file.path, &now)?)?;
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
