//! Conversations: one turn of a chat about the code, recorded in the session log as it
//! happens. The engine gathers what the model may see (the current file or selection, `#file:`
//! and `#symbol:` references resolved through the gate and the index, workspace context under
//! a token budget), sends it through the gateway like every other request, streams the answer
//! to the caller and into the log, and turns fenced blocks that name a file into proposed
//! edits that parse.

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use crate::chunks::ByteRange;
use crate::context::{ContextRequest, Task};
use crate::document::DocumentKey;
use crate::llm::{LlmRequest, Message, Prompt, StreamEvent};
use crate::sessions::{ContextRef, Event, Role, SessionId, SessionStore};

use super::gateway::Outbound;
use super::mix_runner::RunProjectCode;
use super::{AiError, Cursor, Engine, FileEdit};

/// Tokens of workspace context a chat prompt may carry.
const CHAT_CONTEXT_TOKENS: usize = 2_048;
/// The most of one file (the current one, or a `#file:`) a prompt carries.
const MAX_FILE_BYTES: usize = 32 * 1024;
/// Earlier messages of the session sent again with a question.
const HISTORY_MESSAGES: usize = 8;
/// The most `#file:` and `#symbol:` references one message may resolve.
const MAX_REFERENCES: usize = 8;

const SYSTEM: &str = "You are Aiex, an assistant for Elixir developers, answering questions \
about the user's code. Be brief and precise. To propose a change to a file, answer with the \
file's complete new content in one fenced block whose info string is `elixir path=RELATIVE/PATH.ex`.";

/// One question in a conversation.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The session to continue; a new one when `None`.
    pub session: Option<SessionId>,
    /// What the user asks (may hold `#file:lib/a.ex` and `#symbol:MyApp.Accounts.register`).
    pub message: String,
    /// The document the user is in, when asked from an editor or for a file.
    pub document: Option<DocumentKey>,
    /// The selected range of that document.
    pub selection: Option<(Cursor, Cursor)>,
}

/// An edit an answer proposes: every file its fenced blocks rewrite (each parses), applied,
/// checkpointed and undone as one.
#[derive(Debug, Clone)]
pub struct ChatProposal {
    /// Its number within the session.
    pub id: u32,
    pub label: String,
    pub edits: Vec<FileEdit>,
}

impl ChatProposal {
    /// The files it changes, as the session log names them.
    pub fn files(&self) -> Vec<String> {
        self.edits.iter().map(|e| e.key.to_string()).collect()
    }
}

/// What a turn produced.
#[derive(Debug, Clone)]
pub struct ChatTurn {
    pub session: SessionId,
    pub turn: u32,
    /// The whole answer.
    pub text: String,
    /// What the model was shown.
    pub context: Vec<ContextRef>,
    /// The edit the answer proposes, if any (at most one a turn, over all the files it names).
    pub proposals: Vec<ChatProposal>,
}

/// Writes `assistant_stopped` when a turn ends before its answer completed (the caller
/// cancelled and dropped the future, or the provider failed).
struct OpenTurn {
    store: Arc<SessionStore>,
    session: SessionId,
    turn: u32,
    stopped: Option<String>,
}

impl Drop for OpenTurn {
    fn drop(&mut self) {
        if let Some(reason) = self.stopped.take() {
            let event = Event::AssistantStopped {
                turn: self.turn,
                reason,
            };
            if let Err(error) = self.store.append(self.session, &event) {
                tracing::warn!("could not record the end of a chat turn: {error}");
            }
        }
    }
}

fn store_error(error: impl std::fmt::Display) -> AiError {
    AiError::Io(format!("the session log: {error}"))
}

impl Engine {
    /// An open document's text and version.
    pub(crate) fn open_text(&self, key: &DocumentKey) -> Option<(ropey::Rope, i32)> {
        let handle = self.documents.get(key)?;
        Some(handle.with_document(|d| (d.rope().clone(), d.version())))
    }

    /// The user's session database, opened on first use under the data directory.
    pub fn sessions(&self) -> Result<Arc<SessionStore>, AiError> {
        let mut slot = self.sessions.lock();
        if let Some(store) = slot.as_ref() {
            return Ok(Arc::clone(store));
        }
        let path = session_database_path().ok_or_else(|| {
            AiError::Io(
                "there is no data directory for sessions (set AIEX_DATA_DIR or HOME)".to_owned(),
            )
        })?;
        let store = Arc::new(SessionStore::open(&path).map_err(store_error)?);
        *slot = Some(Arc::clone(&store));
        Ok(store)
    }

    /// Whether the session database is there (opened already, or written by an earlier run).
    pub fn session_database_exists(&self) -> bool {
        self.sessions.lock().is_some() || session_database_path().is_some_and(|p| p.exists())
    }

    /// Deletes the sessions and checkpoints the user's `[sessions]` settings no longer keep;
    /// returns how many of each went. Blocking (SQLite): call it off the message loop.
    pub fn apply_session_retention(&self) -> Result<(usize, usize), AiError> {
        let retention = self.config().config.sessions.retention();
        self.sessions()?.retain(retention).map_err(store_error)
    }

    /// [`Engine::apply_session_retention`] on a blocking thread, its failure logged.
    pub fn apply_session_retention_later(&self) {
        let retention = self.config().config.sessions.retention();
        let store = match self.sessions() {
            Ok(store) => store,
            Err(error) => return tracing::warn!("session retention: {error}"),
        };
        tokio::task::spawn_blocking(move || match store.retain(retention) {
            Ok((0, 0)) => {}
            Ok((sessions, checkpoints)) => tracing::info!(
                sessions,
                checkpoints,
                "deleted what the session retention no longer keeps"
            ),
            Err(error) => tracing::warn!("session retention: {error}"),
        });
    }

    /// Runs one chat turn: `on_delta` gets the answer as it streams. Every event is in the
    /// session log before the next piece is read, so a crash loses nothing already shown.
    /// Dropping the future cancels the turn: the provider connection closes and the log
    /// records the answer as stopped.
    pub async fn chat(
        &self,
        request: ChatRequest,
        mut on_delta: impl FnMut(&str) + Send,
    ) -> Result<ChatTurn, AiError> {
        let config = self.config();
        let actions = &config.config.features.actions;
        if !actions.enabled {
            return Err(AiError::Disabled {
                feature: "chat",
                section: "actions",
            });
        }
        let (chain, _) = self.chain(&actions.providers, "chat", "actions")?;
        if let Some(key) = &request.document {
            self.may_send(key)?;
        }
        let store = self.sessions()?;
        let session = match request.session {
            Some(id) => id,
            None => {
                let title: String = request.message.chars().take(80).collect();
                let id = store.create(title.trim()).map_err(store_error)?;
                // A new session may take the count past what the user keeps.
                self.apply_session_retention_later();
                id
            }
        };
        // The session's state is kept folded in the store: a turn reads only what was written
        // since the last one, and copies only the messages it sends again.
        let (turn, earlier_proposals, mut messages) = store
            .with_session(session, |history| {
                let earlier: Vec<_> = history
                    .messages
                    .iter()
                    .filter(|m| !m.text.is_empty())
                    .collect();
                let messages: Vec<Message> = earlier
                    [earlier.len().saturating_sub(HISTORY_MESSAGES)..]
                    .iter()
                    .map(|m| match m.role {
                        Role::User => Message::user(m.text.clone()),
                        Role::Assistant => Message::assistant(m.text.clone()),
                    })
                    .collect();
                (history.next_turn(), history.proposals.len(), messages)
            })
            .map_err(store_error)?;
        store
            .append(
                session,
                &Event::UserMessage {
                    turn,
                    text: request.message.clone(),
                },
            )
            .map_err(store_error)?;

        let gathered = self.chat_context(&request).await?;
        store
            .append(
                session,
                &Event::ContextAttached {
                    turn,
                    items: gathered.refs.clone(),
                },
            )
            .map_err(store_error)?;

        let question = if gathered.text.is_empty() {
            request.message.clone()
        } else {
            format!("{}\n\n{}", gathered.text, request.message)
        };
        messages.push(Message::user(question));
        let mut llm_request = LlmRequest::new(Prompt::Chat {
            system: Some(SYSTEM.to_owned()),
            messages,
        });
        llm_request.max_tokens = 1_024;
        llm_request.use_cache = false;
        let outbound = Outbound {
            feature: "chat",
            files: gathered.files,
            redactions: gathered.redactions,
        };

        let mut open = OpenTurn {
            store: Arc::clone(&store),
            session,
            turn,
            stopped: Some("cancelled".to_owned()),
        };
        let (mut stream, ticket) = match self.stream(&chain, llm_request, outbound).await {
            Ok(started) => started,
            Err(error) => {
                open.stopped = Some(format!("error: {error}"));
                return Err(AiError::Provider(error));
            }
        };
        let mut text = String::new();
        let mut response = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(StreamEvent::Delta(delta)) => {
                    store
                        .append(
                            session,
                            &Event::AssistantDelta {
                                turn,
                                text: delta.clone(),
                            },
                        )
                        .map_err(store_error)?;
                    text.push_str(&delta);
                    on_delta(&delta);
                }
                Ok(StreamEvent::Done(done)) => {
                    response = Some(done);
                    break;
                }
                Err(error) => {
                    ticket.fail(&error);
                    open.stopped = Some(format!("error: {error}"));
                    return Err(AiError::Provider(error));
                }
            }
        }
        ticket.finish("ok", response.as_ref());
        store
            .complete_answer(session, turn, &text)
            .map_err(store_error)?;
        open.stopped = None;

        let mut proposals = Vec::new();
        let edits = self.proposed_edits(&text).await;
        if !edits.is_empty() {
            let proposal = ChatProposal {
                id: u32::try_from(earlier_proposals).unwrap_or(u32::MAX - 1) + 1,
                label: proposal_label(&edits),
                edits,
            };
            store
                .append(
                    session,
                    &Event::EditProposed {
                        turn,
                        proposal: proposal.id,
                        files: proposal.files(),
                    },
                )
                .map_err(store_error)?;
            proposals.push(proposal);
        }
        Ok(ChatTurn {
            session,
            turn,
            text,
            context: gathered.refs,
            proposals,
        })
    }

    /// Records that the user applied (or rejected) a proposed edit.
    pub fn record_edit_decision(
        &self,
        session: SessionId,
        proposal: u32,
        applied: bool,
    ) -> Result<(), AiError> {
        let event = if applied {
            Event::EditApplied { proposal }
        } else {
            Event::EditRejected { proposal }
        };
        self.sessions()?
            .append(session, &event)
            .map(drop)
            .map_err(store_error)
    }

    /// What a chat message shows the model besides its words.
    async fn chat_context(&self, request: &ChatRequest) -> Result<Gathered, AiError> {
        let mut gathered = Gathered::default();
        if let Some(key) = &request.document {
            let (snapshot, chunks) = self
                .documents
                .chunks(key)
                .await
                .ok_or_else(|| AiError::UnknownDocument(key.clone()))?;
            let source = snapshot.rope.to_string();
            let name = self
                .workspace_path(key)
                .or_else(|| key.path()?.file_name().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(key.to_string()));
            let selection = request.selection.map(|(start, end)| {
                let (a, b) = (
                    start.offset_in(&snapshot.rope),
                    end.offset_in(&snapshot.rope),
                );
                ByteRange {
                    start: a.min(b),
                    end: a.max(b),
                }
            });
            let shown = name.display().to_string();
            match selection.filter(|range| range.end > range.start) {
                Some(range) => {
                    gathered.push_text(&format!(
                        "Selected in {shown}:\n```elixir\n{}\n```",
                        clip(&source[range.start..range.end])
                    ));
                    gathered.refs.push(ContextRef {
                        path: shown.clone(),
                        range: Some((range.start, range.end)),
                        reason: "selection".to_owned(),
                    });
                }
                None => {
                    gathered.push_text(&format!(
                        "The current file, {shown}:\n```elixir\n{}\n```",
                        clip(&source)
                    ));
                    gathered.refs.push(ContextRef {
                        path: shown.clone(),
                        range: None,
                        reason: "file".to_owned(),
                    });
                }
            }
            gathered.files.push(name.clone());
            // Workspace context around the selection (or the file's start).
            if let Ok(tree) = &snapshot.tree {
                let tokens = self.tokens();
                let context_request = ContextRequest {
                    task: Task::Explain,
                    path: &name,
                    text: &source,
                    tree,
                    chunks: &chunks,
                    cursor: selection.map_or(0, |r| r.start),
                    budget_tokens: CHAT_CONTEXT_TOKENS,
                    recent_edits: &[],
                    tokens: &tokens,
                };
                let open = self.open_documents_for_context(key);
                let assembled = crate::context::assemble(&context_request, &self.index, &open);
                gathered.redactions += assembled.redactions;
                let others: Vec<PathBuf> = assembled
                    .files(&name)
                    .into_iter()
                    .filter(|f| f != &name)
                    .collect();
                if !others.is_empty() {
                    gathered.push_text(&format!(
                        "Related code from the workspace:\n```elixir\n{}```",
                        assembled.snippets_as_comments()
                    ));
                    for file in others {
                        gathered.refs.push(ContextRef {
                            path: file.display().to_string(),
                            range: None,
                            reason: "workspace".to_owned(),
                        });
                        gathered.files.push(file);
                    }
                }
            }
        }
        for reference in references(&request.message) {
            match reference {
                Reference::File(path) => self.attach_file(&mut gathered, path)?,
                Reference::Symbol(name) => self.attach_symbol(&mut gathered, name),
            }
        }
        gathered.files.sort();
        gathered.files.dedup();
        Ok(gathered)
    }

    /// A `#file:` reference: a file inside a root the gate admits, the editor's text if open.
    fn attach_file(&self, gathered: &mut Gathered, path: &str) -> Result<(), AiError> {
        let roots = self.roots();
        let candidate = roots
            .iter()
            .map(|root| root.join(path))
            .find(|p| p.exists())
            .ok_or_else(|| {
                AiError::NotApplicable(format!("#file:{path} is not a file of the workspace"))
            })?;
        let admitted = self.gate().admit(&candidate)?;
        if admitted.root.is_none() {
            return Err(AiError::NotApplicable(format!(
                "#file:{path} is outside the workspace"
            )));
        }
        let key = DocumentKey::file(&admitted.absolute);
        let text = match self.open_text(&key) {
            Some((rope, _)) => rope.to_string(),
            None => read_bounded(&admitted.absolute)?,
        };
        self.gate()
            .admit_document(Some(&admitted.absolute), &text)?;
        let shown = admitted.relative.display().to_string();
        gathered.push_text(&format!("{shown}:\n```elixir\n{}\n```", clip(&text)));
        gathered.refs.push(ContextRef {
            path: shown,
            range: None,
            reason: "#file".to_owned(),
        });
        gathered.files.push(admitted.relative);
        Ok(())
    }

    /// A `#symbol:` reference: the best match in the index, as the module or function's code.
    fn attach_symbol(&self, gathered: &mut Gathered, name: &str) {
        let Some(found) = self.index.search(name, 1).into_iter().next() else {
            gathered.push_text(&format!("(#symbol:{name} was not found in the workspace)"));
            return;
        };
        let Some(file) = self.index.file(&found.file) else {
            return;
        };
        if self.gate().admit(&file.path).is_err() {
            return;
        }
        let chunks = file.chunks();
        let modules = chunks.all_modules();
        let range = modules
            .iter()
            .flat_map(|m| m.functions.iter().map(|f| f.range))
            .chain(modules.iter().map(|m| m.range))
            .filter(|r| r.start <= found.range.start && found.range.end <= r.end)
            .min_by_key(|r| r.end - r.start);
        let Some(range) = range else { return };
        let Some(text) = file.text() else { return };
        let Some(code) = text.get(range.start..range.end) else {
            return;
        };
        let shown = file.relative.display().to_string();
        gathered.push_text(&format!(
            "{name} ({shown}):\n```elixir\n{}\n```",
            clip(code)
        ));
        gathered.refs.push(ContextRef {
            path: shown,
            range: Some((range.start, range.end)),
            reason: "#symbol".to_owned(),
        });
        gathered.files.push(file.relative.clone());
    }

    /// The edits an answer proposes: fenced blocks tagged `path=...` naming a file of the
    /// workspace the gate admits, each the file's whole new text. All of them or none: a
    /// proposal with a block that does not parse is dropped whole (its other files would
    /// likely not work without it). In a workspace the user trusted, each file is then
    /// written as the project's `mix format` writes it, like the edits of code actions.
    async fn proposed_edits(&self, answer: &str) -> Vec<FileEdit> {
        let mut edits: Vec<FileEdit> = Vec::new();
        for (path, new_text) in fenced_files(answer) {
            let Some(candidate) = self
                .roots()
                .iter()
                .map(|r| r.join(&path))
                .find(|p| p.exists())
            else {
                continue;
            };
            let Ok(admitted) = self.gate().admit(&candidate) else {
                continue;
            };
            if admitted.root.is_none() {
                continue;
            }
            if !parses(&new_text) {
                tracing::info!(
                    path,
                    "a proposed edit with a file that does not parse was dropped"
                );
                return Vec::new();
            }
            let key = DocumentKey::file(&admitted.absolute);
            let (base, version) = match self.open_text(&key) {
                Some((rope, version)) => (rope, Some(version)),
                None => match read_bounded(&admitted.absolute) {
                    Ok(text) => (ropey::Rope::from_str(&text), None),
                    Err(_) => continue,
                },
            };
            // A file named twice: the last block wins.
            edits.retain(|e| e.key != key);
            edits.push(FileEdit {
                range: ByteRange {
                    start: 0,
                    end: base.len_bytes(),
                },
                key,
                version,
                base,
                new_text,
                needs_review: true,
                label: format!("Aiex chat: rewrite {path}"),
            });
        }
        if self.may_run_project_code(RunProjectCode::IfTrusted).is_ok() {
            let mut formatted = Vec::with_capacity(edits.len());
            for edit in edits {
                formatted.push(self.formatted(edit).await);
            }
            edits = formatted;
        }
        edits.retain(|edit| edit.base != edit.new_text.as_str());
        edits
    }
}

/// Where the user's session database is: under the data directory, never a workspace.
fn session_database_path() -> Option<PathBuf> {
    Some(crate::config::trust::default_data_dir()?.join("sessions.sqlite3"))
}

/// What a proposal is called: the one file it rewrites, or how many.
fn proposal_label(edits: &[FileEdit]) -> String {
    match edits {
        [one] => one.label.clone(),
        many => format!("Aiex chat: rewrite {} files", many.len()),
    }
}

/// What a message carries besides its words.
#[derive(Debug, Default)]
struct Gathered {
    text: String,
    refs: Vec<ContextRef>,
    files: Vec<PathBuf>,
    redactions: usize,
}

impl Gathered {
    fn push_text(&mut self, piece: &str) {
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.text.push_str(piece);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Reference<'a> {
    File(&'a str),
    Symbol(&'a str),
}

/// The `#file:PATH` and `#symbol:NAME` references of a message, at most [`MAX_REFERENCES`].
fn references(message: &str) -> Vec<Reference<'_>> {
    message
        .split_whitespace()
        .filter_map(|word| {
            let word = word.trim_end_matches([',', '.', ';', ':', ')', '?', '!']);
            if let Some(path) = word.strip_prefix("#file:") {
                Some(Reference::File(path))
            } else {
                word.strip_prefix("#symbol:").map(Reference::Symbol)
            }
        })
        .filter(|r| !matches!(r, Reference::File("") | Reference::Symbol("")))
        .take(MAX_REFERENCES)
        .collect()
}

/// Fenced blocks whose info string names a file (`elixir path=lib/a.ex`): (path, content).
fn fenced_files(answer: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = answer.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let Some(info) = line.trim().strip_prefix("```") else {
            continue;
        };
        let path = info
            .split_whitespace()
            .find_map(|word| word.strip_prefix("path="))
            .map(str::to_owned);
        let mut body = String::new();
        for inner in lines.by_ref() {
            if inner.trim() == "```" {
                break;
            }
            body.push_str(inner);
        }
        if let Some(path) = path.filter(|p| !p.contains("..")) {
            found.push((path, body));
        }
    }
    found
}

/// Whether `text` parses as Elixir with no error anywhere.
fn parses(text: &str) -> bool {
    crate::syntax::parse_str(text).is_ok_and(|tree| !tree.root_node().has_error())
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_FILE_BYTES {
        return text;
    }
    let mut end = MAX_FILE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn read_bounded(path: &std::path::Path) -> Result<String, AiError> {
    let too_big = std::fs::metadata(path).is_ok_and(|m| m.len() > 4 * MAX_FILE_BYTES as u64);
    if too_big {
        return Err(AiError::NotApplicable(format!(
            "{} is too large to attach",
            path.display()
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|error| AiError::Io(format!("could not read {}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_the_words_of_a_message() {
        assert_eq!(
            references("why does #file:lib/a.ex call #symbol:Cart.total? and #file:"),
            vec![Reference::File("lib/a.ex"), Reference::Symbol("Cart.total")]
        );
    }

    #[test]
    fn only_fenced_blocks_naming_a_file_are_proposals() {
        let answer = "Here:\n```elixir path=lib/a.ex\ndefmodule A do\nend\n```\n```elixir\nx\n```\n```elixir path=../etc/passwd\nx\n```\n";
        assert_eq!(
            fenced_files(answer),
            vec![("lib/a.ex".to_owned(), "defmodule A do\nend\n".to_owned())]
        );
        assert!(parses("defmodule A do\nend\n"));
        assert!(!parses("defmodule A do\n"));
    }
}
