//! The engine: the one object every entry point talks to (the shape of rust-analyzer's
//! `AnalysisHost`). It owns the open documents (keyed by path, see [`DocumentKey`]), the
//! workspace roots and index, the configuration, the providers, the privacy gate and the audit
//! log, and answers with plain calls and plain results: [`Engine::complete`],
//! [`Engine::hover_explanation`], [`Engine::action`], [`Engine::context`].
//!
//! Architecture invariants:
//! - every byte bound for a model leaves through `gateway` (one privacy gate, one audit line per
//!   request); no entry point assembles context, calls a provider or writes the audit log itself;
//! - a file reaches a prompt only if [`PrivacyGate::admit`] let it through;
//! - no protocol types: positions come in as [`Cursor`]s, edits go out as byte ranges.

pub mod actions;
mod alternatives;
pub mod audit;
mod chat;
mod checkpoints;
mod completion;
mod error;
mod explain;
mod gateway;
pub mod mix_runner;
mod persist;
pub mod privacy;
mod ranking;
mod workspace;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::config::{Config, LoadedConfig};
use crate::context::{OpenDocument, RecentEdit, TokenCounter};
use crate::document::store::{DocumentStore, StoreError};
use crate::document::{
    position, ChangeReport, DocumentKey, Language, Position, PositionEncoding, TextChange,
};
use crate::index::WorkspaceIndex;
use crate::llm::{LlmOptions, ProviderChain, Providers};

pub use actions::{ActionKind, ActionOutcome, ActionRequest, FileEdit, GeneratedTests};
pub use audit::AuditLog;
pub use chat::{ChatProposal, ChatRequest, ChatTurn};
pub use checkpoints::{AiEditFile, CheckpointDiff, PendingCheckpoint};
pub use completion::{CompletionOptions, CompletionOutcome, Suggestion};
pub use error::AiError;
pub use explain::{ExternalFunction, HoverExplanation};
pub use mix_runner::{FailedTests, RunProjectCode, TestsVerdict};
pub use persist::Persisted;
pub use privacy::{Admitted, PrivacyGate, Refusal};
pub use workspace::IndexCacheUse;

/// How much of a document the gate reads to recognise a secret file by its content.
const SECRET_SNIFF_BYTES: usize = 8 * 1024;

/// How long before a feature's deadline its wait for the model ends: the time to build and
/// write the answer (its text, its JSON, the pipe), with room for a loaded machine (measured:
/// hover answered 0.03 s past its 1.5 s deadline when it waited the full 1.5 s, ten servers at
/// once on 2 cores). Hover, completion and the actions count their deadline from the
/// request's arrival.
pub const REPLY_MARGIN: std::time::Duration = std::time::Duration::from_millis(100);

/// Where in a document a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// A byte offset into the document's text (clamped to a character boundary).
    Byte(usize),
    /// A line and column in the client's encoding, resolved against the text the request
    /// sees (clamped when past the end).
    Position(Position, PositionEncoding),
}

impl Cursor {
    /// The byte offset of the cursor in `rope`.
    pub fn offset_in(self, rope: &ropey::Rope) -> usize {
        match self {
            // The start of the character holding the byte.
            Self::Byte(byte) => rope.char_to_byte(rope.byte_to_char(byte.min(rope.len_bytes()))),
            Self::Position(at, encoding) => position::offset_of(rope, at, encoding).byte,
        }
    }
}

/// The engine of one workspace. Share it behind an `Arc`; every method takes `&self`.
#[derive(Debug, Default)]
pub struct Engine {
    documents: DocumentStore,
    roots: RwLock<Vec<PathBuf>>,
    gate: RwLock<Arc<PrivacyGate>>,
    index: Arc<WorkspaceIndex>,
    config: RwLock<Arc<LoadedConfig>>,
    providers: RwLock<Option<Arc<Providers>>>,
    /// Team mode's shared state, with the settings it was built from (rebuilt only when they
    /// change, so a reconfiguration keeps the connection).
    team: RwLock<Option<(aiex_team::TeamConfig, Arc<aiex_team::Team>)>>,
    audit: RwLock<Option<AuditLog>>,
    tokens: RwLock<Arc<TokenCounter>>,
    completions: completion::Completions,
    /// The other versions of multi-version AI edits, per document.
    edit_alternatives: alternatives::EditAlternatives,
    /// Whether each open document's text reads as a secret file, by version: judged once per
    /// version, not per keystroke.
    secret_text: dashmap::DashMap<DocumentKey, (i32, bool)>,
    explanations: Arc<explain::Explanations>,
    /// Set when no provider can be reached (the implicit local Ollama is not running): AI
    /// features then answer at once instead of waiting on a connection that cannot succeed.
    offline: AtomicBool,
    /// The user's session database, opened on first use (see [`Engine::sessions`]).
    sessions: parking_lot::Mutex<Option<Arc<crate::sessions::SessionStore>>>,
    /// Audit lines queued for writing; shutdown waits for them.
    audit_writes: audit::PendingWrites,
    /// The spans of finished model requests, kept while an OTLP exporter runs.
    pub(crate) spans: Arc<crate::metrics::SpanBuffer>,
}

impl Engine {
    /// An engine with no workspace, no documents and the default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    // ---- the workspace -------------------------------------------------------------------

    /// Sets the workspace roots (the folders the editor opened); rebuilds the privacy gate.
    pub fn set_roots(&self, roots: Vec<PathBuf>) {
        *self.gate.write() = Arc::new(PrivacyGate::new(&roots));
        *self.roots.write() = roots;
    }

    /// Re-reads the roots' `.aiexignore` files (call when one changes).
    pub fn reload_ignore_rules(&self) {
        let roots = self.roots();
        *self.gate.write() = Arc::new(PrivacyGate::new(&roots));
    }

    /// The workspace roots.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.roots.read().clone()
    }

    /// The privacy gate of the workspace.
    pub fn gate(&self) -> Arc<PrivacyGate> {
        Arc::clone(&self.gate.read())
    }

    /// The workspace index.
    pub fn index(&self) -> Arc<WorkspaceIndex> {
        Arc::clone(&self.index)
    }

    /// Whether the document may reach a model (its file admitted by the gate; an unsaved
    /// buffer has no file and may).
    pub fn may_send(&self, key: &DocumentKey) -> Result<(), Refusal> {
        let gate = self.gate();
        if let Some(path) = key.path() {
            gate.admit(path)?;
        }
        let Some(handle) = self.documents.get(key) else {
            return Ok(());
        };
        let version = handle.with_document(|d| d.version());
        let secret = self.reads_as_secret(key, version, || {
            handle.with_document(|d| {
                let rope = d.rope();
                let end = rope.len_bytes().min(SECRET_SNIFF_BYTES);
                rope.byte_slice(..rope.char_to_byte(rope.byte_to_char(end)))
                    .to_string()
            })
        });
        if secret {
            let name = key
                .path()
                .map_or_else(|| "this document".into(), Path::to_path_buf);
            return Err(Refusal::SecretFile(name));
        }
        Ok(())
    }

    /// Whether the text of version `version` of a document reads as a secret file (dotenv
    /// lines, a key): judged on the head `head` gives, once per version.
    fn reads_as_secret(
        &self,
        key: &DocumentKey,
        version: i32,
        head: impl FnOnce() -> String,
    ) -> bool {
        if let Some((seen, secret)) = self.secret_text.get(key).map(|v| *v) {
            if seen == version {
                return secret;
            }
        }
        let secret = crate::secrets::is_secret_text(&head());
        self.secret_text.insert(key.clone(), (version, secret));
        secret
    }

    // ---- configuration ---------------------------------------------------------------------

    /// Applies a configuration: providers, audit log, tokenizer. Returns the problems found
    /// (a provider that cannot be built, a tokenizer that cannot be read), to show the user.
    pub fn configure(&self, loaded: LoadedConfig) -> Vec<String> {
        let mut problems = self.configure_providers(&loaded.config);
        let audit = &loaded.config.audit;
        *self.audit.write() = AuditLog::default_path()
            .filter(|_| audit.enabled)
            .map(|path| AuditLog {
                record_prompts: audit.record_prompts,
                ..AuditLog::new(path)
            });
        let tokenizer = loaded
            .config
            .features
            .completion
            .tokenizer
            .as_ref()
            .map(|path| {
                let root = self.roots().first().cloned().unwrap_or_default();
                root.join(path)
            });
        if self.tokens().tokenizer_path() != tokenizer.as_deref() {
            let counter = match tokenizer.as_deref().map(TokenCounter::from_file) {
                None => TokenCounter::cl100k(),
                Some(Ok(counter)) => counter,
                Some(Err(problem)) => {
                    problems.push(format!(
                        "features.completion.tokenizer: {problem}; counting with cl100k"
                    ));
                    TokenCounter::cl100k()
                }
            };
            *self.tokens.write() = Arc::new(counter);
        }
        *self.config.write() = Arc::new(loaded);
        problems
    }

    /// The configuration in effect.
    pub fn config(&self) -> Arc<LoadedConfig> {
        Arc::clone(&self.config.read())
    }

    fn audit_log(&self) -> Option<AuditLog> {
        self.audit.read().clone()
    }

    fn configure_providers(&self, config: &Config) -> Vec<String> {
        let wanted = config.effective_providers();
        let existing = self.providers.read().clone();
        let (providers, problems) = match existing {
            Some(current) => current.reconfigure(wanted.iter()),
            None => Providers::from_config(wanted.iter(), LlmOptions::default()),
        };
        let mut problems = problems;
        let team = self.configure_team(&config.team, &mut problems);
        providers.set_team(team.map(|team| team as Arc<dyn crate::llm::TeamHooks>));
        *self.providers.write() = Some(Arc::new(providers));
        self.offline.store(false, Ordering::Relaxed);
        self.completions.reset_notice();
        problems
    }

    /// The team of `settings` (the one already built when they did not change); `None` without
    /// team mode or when the settings cannot work (then said in `problems`: local limits apply).
    fn configure_team(
        &self,
        settings: &aiex_team::TeamConfig,
        problems: &mut Vec<String>,
    ) -> Option<Arc<aiex_team::Team>> {
        if !settings.enabled() {
            *self.team.write() = None;
            return None;
        }
        if let Some((built_from, team)) = &*self.team.read() {
            if built_from == settings {
                return Some(Arc::clone(team));
            }
        }
        let user = aiex_team::current_user();
        match aiex_team::Team::new(settings, user, &|var| std::env::var(var).ok()) {
            Ok(team) => {
                *self.team.write() = Some((settings.clone(), Arc::clone(&team)));
                Some(team)
            }
            Err(problem) => {
                problems.push(format!("team mode is off: {problem}"));
                *self.team.write() = None;
                None
            }
        }
    }

    /// Team mode's shared state, when it is on.
    pub fn team(&self) -> Option<Arc<aiex_team::Team>> {
        self.team.read().as_ref().map(|(_, team)| Arc::clone(team))
    }

    /// Tokens of `text` in the configured tokenizer (cl100k without one).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokens().count(text)
    }

    /// The token counter of the configured model.
    pub fn tokens(&self) -> Arc<TokenCounter> {
        Arc::clone(&self.tokens.read())
    }

    /// The providers, once configured.
    pub fn providers(&self) -> Option<Arc<Providers>> {
        self.providers.read().clone()
    }

    /// True when AI features should not try a provider now.
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// Checks that the implicit local provider listens, when nothing is configured; returns
    /// the notice to show once if it does not. A connection to localhost is refused at once,
    /// so this costs nothing when Ollama is absent.
    pub async fn probe_implicit_provider(&self) -> Option<String> {
        let config = self.config();
        if !config.config.providers.is_empty() {
            return None;
        }
        let providers = config.config.effective_providers();
        let base_url = providers.values().next().and_then(|p| p.base_url.clone())?;
        let authority = base_url
            .split("://")
            .nth(1)
            .unwrap_or(&base_url)
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let reachable = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(authority),
        )
        .await
        .is_ok_and(|connected| connected.is_ok());
        if reachable {
            return None;
        }
        self.offline.store(true, Ordering::Relaxed);
        self.completions.mark_notice_given();
        Some(format!(
            "Aiex: no model provider is configured and no local Ollama answers at {base_url}, so AI \
             features are off. Symbols, hover docs and checks work offline. Configure `providers` \
             (see `aiex doctor`) to turn AI features on."
        ))
    }

    /// The provider chain of a feature, or why there is none.
    fn chain(
        &self,
        listed: &[String],
        feature: &'static str,
        section: &'static str,
    ) -> Result<(ProviderChain, Vec<String>), AiError> {
        let no_provider = || AiError::NoProvider { feature, section };
        if self.is_offline() {
            return Err(no_provider());
        }
        let providers = self.providers().ok_or_else(no_provider)?;
        let names = self.config().config.feature_providers(listed);
        let (chain, _unknown) = providers.chain(&names);
        if chain.is_empty() {
            return Err(no_provider());
        }
        Ok((chain, names))
    }

    // ---- documents -------------------------------------------------------------------------

    /// The open documents.
    pub fn documents(&self) -> &DocumentStore {
        &self.documents
    }

    /// Opens (or reopens) a document; returns what to tell the user when its text is past a
    /// limit for syntax features (size, nesting). An edit that takes it past one later is told
    /// through [`DocumentStore::on_limit_notices`].
    pub fn open(
        &self,
        key: &DocumentKey,
        text: &str,
        version: i32,
        language: Language,
    ) -> Option<String> {
        self.documents.open(key, text, version, language)
    }

    /// Applies an edit to an open document, and notes it for the typing rhythm and the
    /// "recently edited" context. Runs on every keystroke.
    pub fn change(
        &self,
        key: &DocumentKey,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
    ) -> Result<ChangeReport, StoreError> {
        let report = self.documents.change(key, version, changes, encoding)?;
        let at = self
            .workspace_path(key)
            .zip(report.last_edit)
            .map(|(path, offset)| RecentEdit { path, offset });
        self.completions.record_edit(key, at);
        Ok(report)
    }

    /// Closes a document: its text, tree and completion state are dropped.
    pub fn close(&self, key: &DocumentKey) -> bool {
        self.completions.forget(key);
        self.edit_alternatives.forget(key);
        self.secret_text.remove(key);
        self.documents.close(key)
    }

    /// The document's path relative to the workspace root holding it; `None` for an unsaved
    /// buffer or a file outside every root. No check of secrets or ignore rules: see
    /// [`Engine::may_send`].
    pub fn workspace_path(&self, key: &DocumentKey) -> Option<PathBuf> {
        self.workspace_location(key).map(|(_, path)| path)
    }

    /// The name of the workspace folder holding the document (its last component), and the
    /// document's path relative to it.
    pub fn workspace_location(&self, key: &DocumentKey) -> Option<(String, PathBuf)> {
        let path = key.path()?;
        let roots = self.roots.read();
        roots.iter().find_map(|root| {
            let root = crate::document::key::normalize(root);
            let relative = path.strip_prefix(&root).ok()?.to_path_buf();
            let name = root
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            Some((name, relative))
        })
    }

    /// The other open documents the gate admits, as last parsed (never waiting for a parse),
    /// with their workspace-relative paths: they override the index's copies in a prompt.
    fn open_documents_for_context(&self, except: &DocumentKey) -> Vec<OpenDocument> {
        let gate = self.gate();
        self.documents
            .keys()
            .into_iter()
            .filter(|key| key != except)
            .filter_map(|key| {
                let admitted = gate.admit(key.path()?).ok()?;
                admitted.root.as_ref()?;
                let cached = self.documents.cached_chunks(&key)?;
                let secret = self.reads_as_secret(&key, cached.version, || {
                    let mut end = cached.text.len().min(SECRET_SNIFF_BYTES);
                    while !cached.text.is_char_boundary(end) {
                        end -= 1;
                    }
                    cached.text[..end].to_owned()
                });
                if secret {
                    return None;
                }
                Some(OpenDocument {
                    path: admitted.relative,
                    text: cached.text,
                    chunks: cached.chunks,
                })
            })
            .collect()
    }

    /// The places edited lately, most recent first.
    fn recent_edits(&self) -> Vec<RecentEdit> {
        self.completions.recent_edits()
    }
}

#[cfg(test)]
mod tests;
