//! The `LanguageServer` implementation: one thin handler per LSP method.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::{Client, LanguageServer};
use tracing::{debug, info, warn};

use super::budget::{self, FEATURE_BUDGET};
use super::convert;
use super::diagnostics::{self, DiagnosticsState};
use super::workspace;
use crate::chunks::FileChunks;
use crate::config::{user_config_path, ConfigLayers, LoadedConfig};
use crate::document::store::DocumentStore;
use crate::document::{position, DocumentKey, PositionEncoding, SyntaxSnapshot};
use crate::engine::{CompletionOptions, Cursor, Engine, HoverExplanation};
use crate::features::{folding, hover, symbols};
use crate::index::WorkspaceIndex;

/// State shared by all handlers: the engine, and what only the protocol knows (the client's
/// capabilities, the configuration layers it sent, the diagnostics it was given).
#[derive(Debug, Default)]
pub struct ServerState {
    engine: Arc<Engine>,
    encoding: RwLock<PositionEncoding>,
    config_layers: Mutex<ConfigLayers>,
    /// Configuration problems already shown to the user, so each is shown once.
    reported_issues: Mutex<HashSet<String>>,
    shutdown_requested: AtomicBool,
    diagnostics: DiagnosticsState,
    /// The client pulls diagnostics (`textDocument/diagnostic`), so none are pushed.
    pull_diagnostics: AtomicBool,
    /// The client shows `$/progress` for server-created tokens.
    work_done_progress: AtomicBool,
    /// The client accepts a dynamically registered file watcher.
    dynamic_file_watching: AtomicBool,
    edit_support: RwLock<super::actions::EditSupport>,
    /// Completion and inline completion requests for one place share one suggestion.
    suggestions_in_flight: super::single_flight::SingleFlight<
        super::single_flight::SuggestionKey,
        Result<Option<crate::engine::Suggestion>>,
    >,
    /// Turns for background checks (one per core).
    background: BackgroundTurns,
    /// When work that leaves freed memory behind (edits, closes, completions) last ended, in
    /// milliseconds since the server started: the allocator's free pages go back to the
    /// system once the server has been quiet for [`QUIET`].
    last_activity_ms: std::sync::atomic::AtomicU64,
    /// The origin of `last_activity_ms`.
    started: Started,
    /// A task is waiting for the activity to stop, to release memory then.
    release_pending: AtomicBool,
    /// Edits proposed in chat, until the client applies or rejects them.
    chat_proposals: super::chat::Proposals,
    /// Serialises index updates from saves and file events, in arrival order.
    pub(super) index_updates: Arc<tokio::sync::Mutex<()>>,
    /// `GET /metrics` on `[telemetry] prometheus_addr`, when the user set it.
    metrics_endpoint: super::metrics_endpoint::MetricsEndpoint,
    /// Pushes the same metrics to `[telemetry] otlp_endpoint`, when the user set it.
    otlp_exporter: super::otlp_export::OtlpExporter,
}

/// When the server started.
#[derive(Debug)]
struct Started(std::time::Instant);

impl Default for Started {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

/// Turns for background work: as many as there are cores.
#[derive(Debug)]
struct BackgroundTurns(Arc<tokio::sync::Semaphore>);

impl BackgroundTurns {
    fn count() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

impl Default for BackgroundTurns {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(Self::count())))
    }
}

impl ServerState {
    /// True once the client has sent `shutdown`.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }

    /// Edits proposed in chat turns.
    pub(super) fn chat_proposals(&self) -> &super::chat::Proposals {
        &self.chat_proposals
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Sends the metrics to the OTLP collector one last time, if one is configured.
    pub async fn flush_telemetry(&self) {
        self.otlp_exporter.flush().await;
    }

    /// Releases freed memory once the server has been quiet for [`QUIET`]: the trees and
    /// text edits replaced, closed documents, completions' prompts, large responses (every
    /// request marks activity when it is answered), and the trees of large documents (see
    /// `DocumentStore::release_memory`). glibc
    /// keeps freed pages inside its heap otherwise. One task waits at a time, so each edit of
    /// a storm costs a store; a project switch closing hundreds of documents releases once.
    pub fn release_memory_when_quiet(self: &Arc<Self>) {
        let now = self.started.0.elapsed().as_millis() as u64;
        self.last_activity_ms.store(now, Ordering::Relaxed);
        if self.release_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = Arc::clone(self);
        tokio::spawn(async move {
            // Until QUIET has passed since the latest activity, however often it moved.
            loop {
                let last = state.last_activity_ms.load(Ordering::Relaxed);
                let quiet_at = state.started.0 + std::time::Duration::from_millis(last) + QUIET;
                if std::time::Instant::now() >= quiet_at {
                    break;
                }
                tokio::time::sleep_until(quiet_at.into()).await;
            }
            state.release_pending.store(false, Ordering::Release);
            // After the background work queued before: what it frees is released too (work
            // for closed documents skips at its turn).
            let turns = BackgroundTurns::count() as u32;
            let background = Arc::clone(&state.background.0);
            let Ok(_all) = background.acquire_many(turns).await else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || state.documents().release_memory()).await;
        });
    }

    /// The open documents.
    pub fn documents(&self) -> &DocumentStore {
        self.engine.documents()
    }

    /// The workspace index.
    pub fn index(&self) -> Arc<WorkspaceIndex> {
        self.engine.index()
    }

    /// The workspace roots from `initialize`.
    pub fn workspace_roots(&self) -> Vec<PathBuf> {
        self.engine.roots()
    }

    /// What the client can do with edits and documents.
    pub fn edit_support(&self) -> super::actions::EditSupport {
        *self.edit_support.read()
    }

    /// The position encoding negotiated with the client.
    pub fn encoding(&self) -> PositionEncoding {
        *self.encoding.read()
    }

    /// The configuration in effect.
    pub fn config(&self) -> Arc<LoadedConfig> {
        self.engine.config()
    }

    /// The findings of the built-in checks for a document, at its latest version.
    async fn findings(
        &self,
        uri: &lsp::Uri,
    ) -> Option<(SyntaxSnapshot, Arc<Vec<crate::checks::Finding>>)> {
        let key = convert::document_key(uri);
        let file = diagnostics::file_context(uri, &self.workspace_roots());
        let config = self.config();
        self.diagnostics
            .findings(self.documents(), &key, file, &config.config.checks)
            .await
    }

    /// [`Self::findings`] within the checks' budget: an unknown document is an invalid
    /// request, and checks still running past the budget answer `ServerCancelled` with
    /// `retriggerRequest`, so the client asks again once they are cached.
    async fn timely_findings(
        &self,
        uri: &lsp::Uri,
    ) -> Result<(SyntaxSnapshot, Arc<Vec<crate::checks::Finding>>)> {
        match tokio::time::timeout(budget::CHECKS_BUDGET, self.findings(uri)).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(unknown_document(uri)),
            Err(_) => {
                let mut error =
                    Error::new(tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32802));
                error.message = format!(
                    "Aiex: the checks of {} took longer than {} ms (a large file or a busy \
                     machine); they go on in the background, and asking again gets their \
                     result",
                    uri.as_str(),
                    budget::CHECKS_BUDGET.as_millis()
                )
                .into();
                error.data = Some(serde_json::json!({ "retriggerRequest": true }));
                Err(error)
            }
        }
    }

    /// Re-merges the configuration layers, hands them to the engine, and returns the problems
    /// not shown before.
    fn reload_config(&self) -> Vec<String> {
        let loaded = self.config_layers.lock().resolve();
        let issues: Vec<String> = loaded.issues.iter().map(ToString::to_string).collect();
        let provider_problems = self.engine.configure(loaded);
        // The configuration refused any address but a loopback one (and said so in `issues`).
        let metrics_address = self
            .engine
            .config()
            .config
            .telemetry
            .prometheus_socket()
            .ok()
            .flatten();
        let endpoint_problem = self.metrics_endpoint.apply(metrics_address, || {
            let engine = Arc::clone(&self.engine);
            Arc::new(move || engine.metrics_text().map_err(|error| error.to_string()))
        });
        let telemetry = &self.engine.config().config.telemetry;
        let otlp_problem = self.otlp_exporter.apply(
            telemetry.otlp_metrics_url().ok().flatten(),
            telemetry.otlp_interval(),
            &self.engine,
            || {
                let engine = Arc::clone(&self.engine);
                let start_unix_nano = crate::metrics::unix_nanos(std::time::SystemTime::now());
                Arc::new(move || {
                    engine
                        .metrics_otlp_json(start_unix_nano)
                        .map_err(|error| error.to_string())
                })
            },
        );
        let mut reported = self.reported_issues.lock();
        issues
            .into_iter()
            .chain(provider_problems)
            .chain(endpoint_problem)
            .chain(otlp_problem)
            .filter(|issue| reported.insert(issue.clone()))
            .collect()
    }
}

/// The language server as tower-lsp-server sees it.
pub struct Backend {
    client: Client,
    state: Arc<ServerState>,
}

impl Backend {
    /// A backend talking to `client`, over `state`.
    pub fn new(client: Client, state: Arc<ServerState>) -> Self {
        // An edit that takes a document past a limit for syntax features is found by the
        // parse that follows it, off any handler: shown from a task of its own.
        let notifier = client.clone();
        state
            .documents()
            .on_limit_notices(Arc::new(move |_key: &DocumentKey, notice: String| {
                let client = notifier.clone();
                tokio::spawn(async move {
                    client.show_message(lsp::MessageType::WARNING, notice).await;
                });
            }));
        Self { client, state }
    }

    /// Shows configuration problems once, and logs them.
    async fn report_config_issues(&self, issues: Vec<String>) {
        if issues.is_empty() {
            return;
        }
        for issue in &issues {
            warn!(target: "aiex::config", "{issue}");
        }
        let message = format!("Aiex configuration: {}", issues.join("; "));
        self.client
            .show_message(lsp::MessageType::WARNING, message)
            .await;
    }

    /// See [`ServerState::release_memory_when_quiet`].
    fn release_memory_when_quiet(&self) {
        ServerState::release_memory_when_quiet(&self.state);
    }

    /// Says that a result was cut at its time budget: in the log, and in the client's.
    async fn report_cut(&self, what: &str, uri: &lsp::Uri) {
        let message = format!(
            "Aiex: {what} of {} took longer than {} ms; the result is partial",
            uri.as_str(),
            FEATURE_BUDGET.as_millis()
        );
        warn!("{message}");
        self.client
            .log_message(lsp::MessageType::WARNING, message)
            .await;
    }

    /// The text and tree of a document, or an error naming the URI.
    async fn syntax(&self, uri: &lsp::Uri) -> Result<SyntaxSnapshot> {
        let key = convert::document_key(uri);
        self.state
            .documents()
            .syntax(&key)
            .await
            .ok_or_else(|| unknown_document(uri))
    }

    /// The byte offset of an LSP position in a snapshot, clamped and logged if out of range.
    fn offset(&self, uri: &lsp::Uri, snapshot: &SyntaxSnapshot, at: lsp::Position) -> usize {
        let resolved = position::offset_of(
            &snapshot.rope,
            convert::position_from_lsp(at),
            self.state.encoding(),
        );
        if resolved.clamped {
            warn!(
                uri = uri.as_str(),
                line = at.line,
                character = at.character,
                "position past the end of the document; clamped"
            );
        }
        resolved.byte
    }

    /// The AI explanation section of a hover on a function, when explanations on hover are
    /// on: the model's text, or a note that it is on its way.
    async fn hover_explanation(
        &self,
        key: &DocumentKey,
        doc: &hover::HoverDoc,
        chunks: &FileChunks,
        source: &str,
        arrived: tokio::time::Instant,
    ) -> Option<String> {
        match self
            .state
            .engine
            .hover_explanation(key, doc, chunks, source, arrived)
            .await?
        {
            HoverExplanation::Ready(text) => Some(format!("**Explanation** (AI)\n\n{text}")),
            HoverExplanation::Pending => {
                Some("*AI explanation on its way: hover again in a moment.*".to_owned())
            }
        }
    }

    /// Recomputes and pushes a document's diagnostics once typing pauses (push mode only).
    fn schedule_diagnostics(&self, uri: lsp::Uri) {
        if self.state.pull_diagnostics.load(Ordering::Relaxed) {
            return;
        }
        let key = convert::document_key(&uri);
        let generation = self.state.diagnostics.bump(&key);
        let (client, state) = (self.client.clone(), Arc::clone(&self.state));
        tokio::spawn(async move {
            tokio::time::sleep(diagnostics::PUSH_DEBOUNCE).await;
            // Background checks take turns, one per core: opening a whole project at once
            // must not parse thousands of documents in parallel, and a document closed (or
            // edited again) while waiting its turn costs nothing.
            let Ok(_turn) = state.background.0.acquire().await else {
                return;
            };
            if !state.diagnostics.is_current(&key, generation) {
                return;
            }
            let Some((snapshot, findings)) = state.findings(&uri).await else {
                return;
            };
            if !state.diagnostics.is_current(&key, generation) {
                return;
            }
            debug!(
                document = %key,
                findings = findings.len(),
                version = snapshot.version,
                "publishing diagnostics"
            );
            let encoding = state.encoding();
            let items = findings
                .iter()
                .map(|f| diagnostics::to_diagnostic(&snapshot.rope, f, encoding))
                .collect();
            client
                .publish_diagnostics(uri, items, Some(snapshot.version))
                .await;
        });
    }

    /// The files hover looks modules up in, except the document `except`: open documents as
    /// the editor holds them, and the index for the files that are not open.
    async fn other_files(&self, except: &DocumentKey) -> OtherFiles {
        let mut open = Vec::new();
        let mut open_paths = HashSet::new();
        // Other open documents are waited for only briefly: a huge one being parsed must not
        // hold up a hover elsewhere. Its chunks go on being computed and cached in the
        // background; meanwhile its indexed copy stands in.
        let patience = tokio::time::Instant::now() + OTHER_DOCUMENTS_PATIENCE;
        let path_of = |key: &DocumentKey| {
            key.path()
                .map(|path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
        };
        for key in self.state.documents().keys() {
            if &key == except {
                // The document itself is the caller's: its indexed copy is stale.
                open_paths.extend(path_of(&key));
                continue;
            }
            let chunks = match self.state.documents().cached_chunks(&key) {
                Some(cached) => Some(cached.chunks),
                None => tokio::time::timeout_at(patience, self.state.documents().chunks(&key))
                    .await
                    .ok()
                    .flatten()
                    .map(|(_, chunks)| chunks),
            };
            let Some(chunks) = chunks else {
                continue;
            };
            open_paths.extend(path_of(&key));
            open.push(chunks);
        }
        OtherFiles {
            open,
            open_paths,
            index: self.state.index(),
        }
    }
}

/// The files other than a hovered document: the open ones first, then the index's copies of
/// the files that are not open (the index holds its chunks packed: only the file defining a
/// module hover asks for is unpacked).
struct OtherFiles {
    open: Vec<Arc<FileChunks>>,
    open_paths: HashSet<PathBuf>,
    index: Arc<WorkspaceIndex>,
}

impl hover::ModuleLookup for OtherFiles {
    fn file_defining(&self, name: &str) -> Option<Arc<FileChunks>> {
        if let Some(open) = hover::ModuleLookup::file_defining(&self.open, name) {
            return Some(open);
        }
        let indexed = self.index.module_file(name)?;
        if self.open_paths.contains(&indexed.path) {
            return None;
        }
        Some(indexed.chunks())
    }
}

/// Parameters of `aiex/documentText`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentTextParams {
    /// The document.
    pub text_document: lsp::TextDocumentIdentifier,
}

/// Result of `aiex/documentText`: the server's copy of a document.
#[derive(Debug, serde::Serialize)]
pub struct DocumentText {
    /// The version of the last change applied.
    pub version: i32,
    /// The text as the server holds it.
    pub text: String,
}

impl Backend {
    /// `aiex/documentText`: the server's copy of a document, so clients and tests can check
    /// that it matches theirs.
    /// `aiex/chat`: one conversation turn (see `lsp::chat`).
    pub async fn chat(&self, params: super::chat::ChatParams) -> Result<serde_json::Value> {
        super::chat::chat(&self.client, &self.state, params).await
    }

    /// `aiex/applyChatEdit`: applies or rejects an edit a chat turn proposed.
    pub async fn apply_chat_edit(
        &self,
        params: super::chat::ApplyParams,
    ) -> Result<serde_json::Value> {
        super::chat::apply_chat_edit(&self.client, &self.state, params).await
    }

    /// `aiex/sessions`: the sessions, most recent first.
    pub async fn list_sessions(&self) -> Result<serde_json::Value> {
        super::chat::sessions(&self.state, "aiex/sessions", empty_session_params())
    }

    /// `aiex/session {sessionId}`: a session's state.
    pub async fn session(&self, params: super::chat::SessionParams) -> Result<serde_json::Value> {
        super::chat::sessions(&self.state, "aiex/session", params)
    }

    /// `aiex/exportSession {sessionId}`: a session as JSON lines.
    pub async fn export_session(
        &self,
        params: super::chat::SessionParams,
    ) -> Result<serde_json::Value> {
        super::chat::sessions(&self.state, "aiex/exportSession", params)
    }

    /// `aiex/importSession {jsonl}`: an export as a new session.
    pub async fn import_session(
        &self,
        params: super::chat::SessionParams,
    ) -> Result<serde_json::Value> {
        super::chat::sessions(&self.state, "aiex/importSession", params)
    }

    /// `aiex/deleteSession {sessionId}`: deletes a session for good.
    pub async fn delete_session(
        &self,
        params: super::chat::SessionParams,
    ) -> Result<serde_json::Value> {
        super::chat::sessions(&self.state, "aiex/deleteSession", params)
    }

    /// `aiex/checkpoints`: the checkpoints taken before AI edits, newest first. Its params are
    /// ignored: `null` and `{}` alike (Emacs's JSON-RPC sends an empty object for none).
    pub async fn list_checkpoints(&self, _params: serde_json::Value) -> Result<serde_json::Value> {
        super::chat::sessions(&self.state, "aiex/checkpoints", empty_session_params())
    }

    /// `aiex/compareCheckpoint {checkpoint, against?}`: what changed in each file of a
    /// checkpoint since (or between it and checkpoint `against`), as unified diffs.
    pub async fn compare_checkpoint(
        &self,
        params: super::chat::CompareParams,
    ) -> Result<serde_json::Value> {
        super::chat::compare_checkpoint(&self.state, params)
    }

    pub async fn document_text(&self, params: DocumentTextParams) -> Result<DocumentText> {
        let uri = &params.text_document.uri;
        let handle = self
            .state
            .documents()
            .get(&convert::document_key(uri))
            .ok_or_else(|| unknown_document(uri))?;
        Ok(handle.with_document(|document| DocumentText {
            version: document.version(),
            text: document.rope().to_string(),
        }))
    }
}

fn empty_session_params() -> super::chat::SessionParams {
    serde_json::from_value(serde_json::json!({})).expect("defaults")
}

/// Result of `aiex/health`: the binary's self-checks (as `aiex health` prints them) and what
/// this server holds.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerHealth {
    /// Version, commit, build date, target and self-checks.
    #[serde(flatten)]
    pub report: crate::lifecycle::health::HealthReport,
    /// Documents open.
    pub open_documents: usize,
    /// Files in the workspace index.
    pub indexed_files: usize,
    /// Whether the client has sent `shutdown`.
    pub shutdown_requested: bool,
}

impl Backend {
    /// `aiex/health`: whether this server works, for an editor package's status view or a
    /// supervisor. The self-checks touch the disk, so they run off the message loop.
    pub async fn health(&self) -> Result<ServerHealth> {
        let report =
            tokio::task::spawn_blocking(crate::lifecycle::health::HealthReport::for_this_process)
                .await
                .map_err(|error| Error {
                    message: format!("the health checks did not finish: {error}").into(),
                    ..Error::internal_error()
                })?;
        Ok(ServerHealth {
            report,
            open_documents: self.state.documents().keys().len(),
            indexed_files: self.state.index().files().len(),
            shutdown_requested: self.state.shutdown_requested(),
        })
    }
}

/// How long the server must be quiet before it gives freed memory back to the system.
const QUIET: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a hover waits for the chunks of other open documents not computed yet.
const OTHER_DOCUMENTS_PATIENCE: std::time::Duration = std::time::Duration::from_millis(300);

/// A request whose work outlived its budget; the work goes on and a later request gets it.
fn still_computing(what: &str, uri: &lsp::Uri) -> Error {
    let mut error = Error::new(tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32803));
    error.message = format!(
        "{what} of {} is taking longer than {} ms; it is still being computed, ask again shortly",
        uri.as_str(),
        FEATURE_BUDGET.as_millis()
    )
    .into();
    error
}

fn unknown_document(uri: &lsp::Uri) -> Error {
    Error::invalid_params(format!(
        "unknown document {}: it was not opened with didOpen",
        uri.as_str()
    ))
}

/// The workspace roots named by `initialize`.
fn workspace_roots(params: &lsp::InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|folder| convert::file_path(&folder.uri))
        .collect();
    #[allow(deprecated)]
    if roots.is_empty() {
        if let Some(path) = params.root_uri.as_ref().and_then(convert::file_path) {
            roots.push(path);
        }
    }
    roots
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        let encoding = convert::negotiate_encoding(&params.capabilities);
        *self.state.encoding.write() = encoding;
        let roots = workspace_roots(&params);
        let completion_enabled;
        let pull = params
            .capabilities
            .text_document
            .as_ref()
            .is_some_and(|t| t.diagnostic.is_some());
        self.state.pull_diagnostics.store(pull, Ordering::Relaxed);
        let window = params.capabilities.window.as_ref();
        let progress = window.and_then(|w| w.work_done_progress).unwrap_or(false);
        self.state
            .work_done_progress
            .store(progress, Ordering::Relaxed);
        let watching = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.state
            .dynamic_file_watching
            .store(watching, Ordering::Relaxed);

        *self.state.edit_support.write() =
            super::actions::EditSupport::from_capabilities(&params.capabilities);
        info!(?encoding, ?roots, "initialize");
        let mut initialization_options = params.initialization_options;
        let required_by_options =
            crate::lifecycle::version::take_requirement_option(&mut initialization_options);
        let experimental = params.capabilities.experimental.as_ref();
        if let Some(notice) = crate::lifecycle::version::client_requirement_notice(
            experimental,
            required_by_options.as_ref(),
        ) {
            warn!("{notice}");
            self.client
                .show_message(lsp::MessageType::ERROR, notice)
                .await;
        }
        {
            let mut layers = ConfigLayers::from_files(
                user_config_path().as_deref(),
                roots.first().map(PathBuf::as_path),
            );
            if let Some(options) = initialization_options {
                layers.set_editor(options);
            }
            completion_enabled = layers.resolve().config.features.completion.enabled;
            *self.state.config_layers.lock() = layers;
        }
        self.state.engine.set_roots(roots);
        let sync = lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
            save: Some(lsp::TextDocumentSyncSaveOptions::SaveOptions(
                lsp::SaveOptions {
                    include_text: Some(false),
                },
            )),
            ..lsp::TextDocumentSyncOptions::default()
        };
        Ok(lsp::InitializeResult {
            capabilities: lsp::ServerCapabilities {
                position_encoding: Some(convert::encoding_kind(encoding)),
                text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(sync)),
                document_symbol_provider: Some(lsp::OneOf::Left(true)),
                hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
                completion_provider: completion_enabled.then(|| lsp::CompletionOptions {
                    trigger_characters: Some(
                        super::completion_item::TRIGGER_CHARACTERS
                            .iter()
                            .map(|c| (*c).to_owned())
                            .collect(),
                    ),
                    ..lsp::CompletionOptions::default()
                }),
                inline_completion_provider: completion_enabled.then_some(lsp::OneOf::Left(true)),
                execute_command_provider: Some(lsp::ExecuteCommandOptions {
                    commands: super::ai::COMMANDS
                        .iter()
                        .copied()
                        .chain(
                            super::actions::AI_COMMANDS
                                .iter()
                                .map(|(command, _, _)| *command),
                        )
                        .chain(std::iter::once(super::actions::FIX_COMMAND))
                        .chain(std::iter::once(super::actions::ALTERNATIVE_COMMAND))
                        .chain(std::iter::once(super::availability::SET_UP_COMMAND))
                        .chain(super::chat::COMMANDS.iter().copied())
                        .map(str::to_owned)
                        .collect(),
                    ..lsp::ExecuteCommandOptions::default()
                }),
                workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
                workspace: Some(lsp::WorkspaceServerCapabilities {
                    workspace_folders: None,
                    file_operations: Some(lsp::WorkspaceFileOperationsServerCapabilities {
                        did_create: Some(workspace::file_operation_options()),
                        did_rename: Some(workspace::file_operation_options()),
                        did_delete: Some(workspace::file_operation_options()),
                        ..lsp::WorkspaceFileOperationsServerCapabilities::default()
                    }),
                }),
                folding_range_provider: Some(lsp::FoldingRangeProviderCapability::Simple(true)),
                code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
                    lsp::CodeActionOptions {
                        code_action_kinds: Some(vec![
                            lsp::CodeActionKind::QUICKFIX,
                            lsp::CodeActionKind::REFACTOR_REWRITE,
                            lsp::CodeActionKind::SOURCE,
                        ]),
                        ..lsp::CodeActionOptions::default()
                    },
                )),
                diagnostic_provider: pull.then(|| {
                    lsp::DiagnosticServerCapabilities::Options(lsp::DiagnosticOptions {
                        identifier: Some("aiex".to_owned()),
                        inter_file_dependencies: false,
                        workspace_diagnostics: false,
                        ..lsp::DiagnosticOptions::default()
                    })
                }),
                ..lsp::ServerCapabilities::default()
            },
            server_info: Some(lsp::ServerInfo {
                name: "aiex".to_owned(),
                version: Some(crate::lifecycle::version::VERSION.to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        let issues = self.state.reload_config();
        self.report_config_issues(issues).await;
        // What the user's `[sessions]` retention no longer keeps goes at start, on a blocking
        // thread; a user who never chatted gets no session database for it.
        if self.state.engine.session_database_exists() {
            self.state.engine.apply_session_retention_later();
        }
        if let Some(notice) = self.state.engine.probe_implicit_provider().await {
            info!("{notice}");
            self.client
                .show_message(lsp::MessageType::INFO, notice)
                .await;
        }
        if self.state.dynamic_file_watching.load(Ordering::Relaxed) {
            workspace::watch_files(&self.client).await;
        }
        let progress = self.state.work_done_progress.load(Ordering::Relaxed);
        tokio::spawn(workspace::index_workspace(
            self.client.clone(),
            Arc::clone(&self.state),
            progress,
        ));
    }

    async fn shutdown(&self) -> Result<()> {
        self.state.shutdown_requested.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let document = params.text_document;
        let language = convert::language_of(&document.language_id, &document.uri);
        debug!(
            uri = document.uri.as_str(),
            bytes = document.text.len(),
            "didOpen"
        );
        let notice = self.state.engine.open(
            &convert::document_key(&document.uri),
            &document.text,
            document.version,
            language,
        );
        if let Some(notice) = notice {
            warn!(uri = document.uri.as_str(), "{notice}");
            self.client
                .show_message(lsp::MessageType::WARNING, notice)
                .await;
        }
        self.release_memory_when_quiet();
        self.schedule_diagnostics(document.uri);
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        // No await before the edit is applied: handlers start in arrival order, so this keeps
        // edits in the order the client sent them.
        let key = convert::document_key(&params.text_document.uri);
        let changes: Vec<_> = params
            .content_changes
            .into_iter()
            .map(convert::change_from_lsp)
            .collect();
        match self.state.engine.change(
            &key,
            params.text_document.version,
            &changes,
            self.state.encoding(),
        ) {
            Ok(report) => {
                if report.clamped > 0 {
                    warn!(
                        document = %key,
                        clamped = report.clamped,
                        "change ranges past the end of the document were clamped"
                    );
                }
            }
            Err(error) => {
                warn!(document = %key, "didChange ignored: {error}");
                return;
            }
        }
        self.release_memory_when_quiet();
        self.schedule_diagnostics(params.text_document.uri);
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        let key = convert::document_key(&params.text_document.uri);
        if !self.state.engine.close(&key) {
            warn!(
                document = %key,
                "didClose for a document that is not open; ignored"
            );
            return;
        }
        self.state.diagnostics.forget(&key);
        self.release_memory_when_quiet();
        if !self.state.pull_diagnostics.load(Ordering::Relaxed) {
            self.client
                .publish_diagnostics(params.text_document.uri, Vec::new(), None)
                .await;
        }
    }

    async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
        self.state
            .config_layers
            .lock()
            .set_editor_change(params.settings);
        let issues = self.state.reload_config();
        info!("configuration changed");
        self.report_config_issues(issues).await;
        if let Some(notice) = self.state.engine.probe_implicit_provider().await {
            self.client
                .show_message(lsp::MessageType::INFO, notice)
                .await;
        }
        // The checks' settings may have changed: recompute every open document's findings.
        for key in self.state.documents().keys() {
            self.state.diagnostics.forget(&key);
            if let Some(uri) = convert::uri_of(&key) {
                self.schedule_diagnostics(uri);
            }
        }
    }

    async fn document_symbol(
        &self,
        params: lsp::DocumentSymbolParams,
    ) -> Result<Option<lsp::DocumentSymbolResponse>> {
        let uri = &params.text_document.uri;
        let key = convert::document_key(uri);
        // The chunks are computed on the blocking pool and cached even if this request gives
        // up waiting, so asking again later gets them at once.
        let (snapshot, chunks) =
            match tokio::time::timeout(FEATURE_BUDGET, self.state.documents().chunks(&key)).await {
                Ok(found) => found.ok_or_else(|| unknown_document(uri))?,
                Err(_) => return Err(still_computing("the outline", uri)),
            };
        let encoding = self.state.encoding();
        let (lsp_symbols, cut) =
            budget::offload("document symbols", FEATURE_BUDGET, move |budget| {
                let outline = symbols::document_symbols(&chunks);
                let mut converted = Vec::with_capacity(outline.len());
                for symbol in &outline {
                    if budget.expired() {
                        return (converted, true);
                    }
                    converted.push(convert::symbol_to_lsp(&snapshot.rope, symbol, encoding));
                }
                (converted, false)
            })
            .await?;
        if cut {
            self.report_cut("document symbols", uri).await;
        }
        Ok(Some(lsp::DocumentSymbolResponse::Nested(lsp_symbols)))
    }

    async fn hover(&self, params: lsp::HoverParams) -> Result<Option<lsp::Hover>> {
        let arrived = tokio::time::Instant::now();
        let uri = &params.text_document_position_params.text_document.uri;
        let key = convert::document_key(uri);
        let (snapshot, chunks) =
            match tokio::time::timeout(FEATURE_BUDGET, self.state.documents().chunks(&key)).await {
                Ok(found) => found.ok_or_else(|| unknown_document(uri))?,
                Err(_) => return Err(still_computing("the hover", uri)),
            };
        let Ok(tree) = &snapshot.tree else {
            return Ok(None);
        };
        let offset = self.offset(
            uri,
            &snapshot,
            params.text_document_position_params.position,
        );
        let workspace = self.other_files(&key).await;
        let source = snapshot.rope.to_string();
        let context = hover::HoverContext {
            source: &source,
            tree,
            chunks: &chunks,
            workspace: &workspace,
        };
        let symbol = hover::hover(&context, offset);
        // A finding under the cursor gets its check's explanation, above any documentation.
        let mut sections: Vec<String> = match self.state.timely_findings(uri).await {
            Ok((_, findings)) => findings
                .iter()
                .filter(|f| f.start_byte <= offset && offset <= f.end_byte)
                .map(|f| {
                    let info = f.check.info();
                    format!("**{}** ({})\n\n{}", f.message, info.name, info.explanation)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let explanation = match &symbol {
            Some(doc) => {
                self.hover_explanation(&key, doc, &chunks, &source, arrived)
                    .await
            }
            None => None,
        };
        let range = symbol
            .as_ref()
            .map(|doc| convert::range_to_lsp(&snapshot.rope, doc.range, self.state.encoding()));
        sections.extend(symbol.map(|doc| doc.markdown));
        sections.extend(explanation);
        if sections.is_empty() {
            return Ok(None);
        }
        Ok(Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: sections.join("\n\n---\n\n"),
            }),
            range,
        }))
    }

    async fn folding_range(
        &self,
        params: lsp::FoldingRangeParams,
    ) -> Result<Option<Vec<lsp::FoldingRange>>> {
        let uri = &params.text_document.uri;
        let snapshot = self.syntax(uri).await?;
        let Ok(tree) = snapshot.tree.clone() else {
            return Ok(None);
        };
        let rope = snapshot.rope.clone();
        let (folds, cut) = budget::offload("folding ranges", FEATURE_BUDGET, move |budget| {
            let (folds, cut) = folding::folding_ranges_within(&tree, &rope, &|| budget.expired());
            (folds.iter().map(convert::fold_to_lsp).collect(), cut)
        })
        .await?;
        if cut {
            self.report_cut("folding ranges", uri).await;
        }
        Ok(Some(folds))
    }

    async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> Result<Option<lsp::CodeActionResponse>> {
        let uri = &params.text_document.uri;
        let (snapshot, findings) = self.state.timely_findings(uri).await?;
        let encoding = self.state.encoding();
        let start = position::offset_of(
            &snapshot.rope,
            convert::position_from_lsp(params.range.start),
            encoding,
        );
        let end = position::offset_of(
            &snapshot.rope,
            convert::position_from_lsp(params.range.end),
            encoding,
        );
        let range = crate::chunks::ByteRange {
            start: start.byte,
            end: end.byte.max(start.byte),
        };
        let mut actions =
            diagnostics::code_actions(uri, &snapshot.rope, &findings, range, encoding);
        let config = self.state.config();
        let features = &config.config.features;
        if features.actions.enabled || features.explain.enabled {
            let chunks = tokio::time::timeout(
                FEATURE_BUDGET,
                self.state.documents().chunks(&convert::document_key(uri)),
            )
            .await;
            // Late chunks only cost the AI actions this time, not the quick fixes.
            if let Ok(Some((_, chunks))) = chunks {
                let target = crate::ai::actions::target_at(&chunks, start.byte);
                // AI actions only when a model may answer them; otherwise one action that
                // says how to get one, instead of actions that fail with a network error.
                if !self.ai_availability().offers_ai_actions() {
                    if target.is_some() {
                        actions.push(super::availability::set_up_action());
                    }
                    return Ok(Some(actions));
                }
                if features.actions.enabled {
                    actions.extend(super::actions::fixes_for(
                        uri,
                        &params.context.diagnostics,
                        target,
                    ));
                }
                actions.extend(super::actions::offered(uri, params.range.start, target));
                actions.extend(super::actions::alternatives(&self.state, uri, start.byte));
            }
        }
        Ok(Some(actions))
    }

    async fn diagnostic(
        &self,
        params: lsp::DocumentDiagnosticParams,
    ) -> Result<lsp::DocumentDiagnosticReportResult> {
        let uri = &params.text_document.uri;
        let (snapshot, findings) = self.state.timely_findings(uri).await?;
        let encoding = self.state.encoding();
        let items = findings
            .iter()
            .map(|f| diagnostics::to_diagnostic(&snapshot.rope, f, encoding))
            .collect();
        Ok(lsp::DocumentDiagnosticReportResult::Report(
            lsp::DocumentDiagnosticReport::Full(lsp::RelatedFullDocumentDiagnosticReport {
                related_documents: None,
                full_document_diagnostic_report: lsp::FullDocumentDiagnosticReport {
                    result_id: None,
                    items,
                },
            }),
        ))
    }

    async fn did_save(&self, params: lsp::DidSaveTextDocumentParams) {
        let uri = params.text_document.uri;
        if workspace::is_ignore_file(&uri) {
            workspace::ignore_rules_changed(self.client.clone(), &self.state);
            return;
        }
        let text = match params.text {
            Some(text) => text,
            None => match self.state.documents().get(&convert::document_key(&uri)) {
                Some(handle) => handle.with_document(|d| d.rope().to_string()),
                None => return,
            },
        };
        workspace::reindex_text(&self.state, &uri, text).await;
    }

    async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        for change in params.changes {
            if workspace::is_ignore_file(&change.uri) {
                workspace::ignore_rules_changed(self.client.clone(), &self.state);
            } else if change.typ == lsp::FileChangeType::DELETED {
                workspace::forget(&self.state, &change.uri).await;
            } else {
                workspace::reindex_from_disk(&self.state, &change.uri).await;
            }
        }
    }

    async fn did_create_files(&self, params: lsp::CreateFilesParams) {
        for file in params.files {
            if let Ok(uri) = file.uri.parse::<lsp::Uri>() {
                workspace::reindex_from_disk(&self.state, &uri).await;
            }
        }
    }

    async fn did_rename_files(&self, params: lsp::RenameFilesParams) {
        for rename in params.files {
            if let Ok(old) = rename.old_uri.parse::<lsp::Uri>() {
                workspace::forget(&self.state, &old).await;
            }
            if let Ok(new) = rename.new_uri.parse::<lsp::Uri>() {
                workspace::reindex_from_disk(&self.state, &new).await;
            }
        }
    }

    async fn did_delete_files(&self, params: lsp::DeleteFilesParams) {
        for file in params.files {
            if let Ok(uri) = file.uri.parse::<lsp::Uri>() {
                workspace::forget(&self.state, &uri).await;
            }
        }
    }

    async fn symbol(
        &self,
        params: lsp::WorkspaceSymbolParams,
    ) -> Result<Option<lsp::WorkspaceSymbolResponse>> {
        // Files the client reported changed before asking are in the index first: updates run
        // in arrival order behind this lock, which is fair.
        drop(self.state.index_updates.lock().await);
        let encoding = self.state.encoding();
        let index = self.state.index();
        let query = params.query;
        let (symbols, cut) = budget::offload("workspace symbols", FEATURE_BUDGET, move |budget| {
            let (matches, mut cut) = index.search_within(&query, 256, &|| budget.expired());
            let mut ropes: std::collections::HashMap<PathBuf, ropey::Rope> =
                std::collections::HashMap::new();
            let mut symbols = Vec::with_capacity(matches.len());
            for found in matches {
                if budget.expired() {
                    cut = true;
                    break;
                }
                let Some(file) = index.file(&found.file) else {
                    continue;
                };
                let Some(uri) = lsp::Uri::from_file_path(&found.file) else {
                    continue;
                };
                // The index reads the text from disk; a file changed since it was indexed
                // has no positions for its old ranges until it is reindexed.
                let rope = match ropes.entry(found.file.clone()) {
                    std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::hash_map::Entry::Vacant(entry) => {
                        let Some(text) = file.text() else {
                            continue;
                        };
                        entry.insert(ropey::Rope::from_str(&text))
                    }
                };
                #[allow(deprecated)]
                symbols.push(lsp::SymbolInformation {
                    name: found.name,
                    kind: if found.is_module {
                        lsp::SymbolKind::MODULE
                    } else {
                        lsp::SymbolKind::FUNCTION
                    },
                    tags: None,
                    deprecated: None,
                    location: lsp::Location {
                        uri,
                        range: convert::range_to_lsp(rope, found.range, encoding),
                    },
                    container_name: found.container,
                });
            }
            (symbols, cut)
        })
        .await?;
        if cut {
            warn!(
                budget_ms = FEATURE_BUDGET.as_millis() as u64,
                "workspace symbols cut at the time budget; the result is partial"
            );
            self.client
                .log_message(
                    lsp::MessageType::WARNING,
                    "Aiex: the workspace symbol search was cut at its time budget; the list is partial",
                )
                .await;
        }
        Ok(Some(lsp::WorkspaceSymbolResponse::Flat(symbols)))
    }

    async fn completion(
        &self,
        params: lsp::CompletionParams,
    ) -> Result<Option<lsp::CompletionResponse>> {
        let at = params.text_document_position;
        debug!(position = ?at.position, "completion request");
        // Completion lists are asked for as the user types, whatever the trigger kind says
        // (VS Code reports quick suggestions as invoked): always debounced.
        let Some(suggestion) = self
            .suggest(&at.text_document.uri, at.position, false, true)
            .await?
        else {
            return Ok(Some(lsp::CompletionResponse::List(lsp::CompletionList {
                is_incomplete: true,
                items: Vec::new(),
            })));
        };
        let encoding = self.state.encoding();
        let typed = suggestion
            .rope
            .byte_slice(suggestion.word_start..suggestion.cursor)
            .to_string();
        let replaced = crate::chunks::ByteRange {
            start: suggestion.word_start,
            end: suggestion.cursor,
        };
        // The best suggestion first and preselected; alternatives after it
        // (`features.completion.candidates`).
        let items = std::iter::once(&suggestion.text)
            .chain(&suggestion.alternatives)
            .enumerate()
            .map(|(rank, text)| {
                let shape = super::completion_item::item_text(&typed, text);
                let new_text = shape.new_text;
                lsp::CompletionItem {
                    label: shape.label,
                    label_details: Some(lsp::CompletionItemLabelDetails {
                        detail: None,
                        description: Some("✨ aiex".to_owned()),
                    }),
                    kind: Some(super::completion_item::KIND),
                    detail: Some(shape.detail),
                    documentation: Some(lsp::Documentation::MarkupContent(lsp::MarkupContent {
                        kind: lsp::MarkupKind::Markdown,
                        value: format!("```elixir\n{new_text}\n```"),
                    })),
                    sort_text: Some(rank.to_string()),
                    // The typed word is a prefix of the filter text, so clients keep the item.
                    filter_text: Some(shape.filter_text),
                    preselect: Some(rank == 0),
                    insert_text_format: Some(lsp::InsertTextFormat::PLAIN_TEXT),
                    text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit {
                        range: convert::range_to_lsp(&suggestion.rope, replaced, encoding),
                        new_text,
                    })),
                    ..lsp::CompletionItem::default()
                }
            })
            .collect();
        Ok(Some(lsp::CompletionResponse::List(lsp::CompletionList {
            is_incomplete: true,
            items,
        })))
    }

    async fn execute_command(
        &self,
        params: lsp::ExecuteCommandParams,
    ) -> Result<Option<lsp::LSPAny>> {
        let providers = self.state.engine.providers();
        match params.command.as_str() {
            "aiex.status" => {
                let mut value = match providers {
                    Some(providers) => serde_json::to_value(providers.status())
                        .map_err(|e| Error::invalid_params(e.to_string()))?,
                    None => serde_json::json!({ "providers": [] }),
                };
                value["index"] = serde_json::json!({ "files": self.state.index().counts().files });
                value["state"] = serde_json::json!(self.ai_availability().as_str());
                if let Some(team) = self.state.engine.team() {
                    value["team"] = serde_json::json!({ "connected": team.is_connected() });
                }
                Ok(Some(value))
            }
            "aiex.usage" => {
                let usage = providers.map(|p| p.usage());
                let mut value = serde_json::to_value(&usage)
                    .map_err(|e| Error::invalid_params(e.to_string()))?;
                if let (Some(team), Some(object)) =
                    (self.state.engine.team(), value.as_object_mut())
                {
                    // Bounded by the team's short Redis deadline; null while it is unreachable.
                    let team_usage = team.usage().await;
                    object.insert("team".to_owned(), serde_json::json!(team_usage));
                }
                Ok(Some(value))
            }
            super::availability::SET_UP_COMMAND => {
                let message = super::availability::set_up_message(user_config_path().as_deref());
                self.client
                    .show_message(lsp::MessageType::INFO, message)
                    .await;
                Ok(None)
            }
            command if super::chat::COMMANDS.contains(&command) => {
                super::chat::restore(&self.client, &self.state, command, params.arguments)
                    .await
                    .map(Some)
            }
            super::actions::ALTERNATIVE_COMMAND => {
                super::actions::use_alternative(&self.client, &self.state, params.arguments)
                    .await
                    .map(Some)
            }
            command if super::actions::runs(command) => {
                // Actions wait on a model for seconds: report progress when the client gave a token.
                let progress = match params.work_done_progress_params.work_done_token.clone() {
                    Some(token) => Some(
                        self.client
                            .progress(token, format!("Aiex: {command}"))
                            .begin()
                            .await,
                    ),
                    None => None,
                };
                let result =
                    super::actions::run(&self.client, &self.state, command, params.arguments).await;
                if let Some(progress) = progress {
                    let message = if result.is_ok() { "done" } else { "failed" };
                    progress.finish_with_message(message).await;
                }
                result.map(Some)
            }
            other => Err(Error::invalid_params(format!(
                "unknown command `{other}`; Aiex offers {}",
                super::ai::COMMANDS.join(", ")
            ))),
        }
    }
}

impl Backend {
    /// `textDocument/inlineCompletion` (LSP 3.18): the suggestion as ghost text.
    pub async fn inline_completion(
        &self,
        params: lsp::InlineCompletionParams,
    ) -> Result<Option<lsp::InlineCompletionResponse>> {
        let at = params.text_document_position;
        let explicit = params.context.trigger_kind == lsp::InlineCompletionTriggerKind::INVOKED;
        debug!(position = ?at.position, explicit, selected = ?params.context.selected_completion_info.as_ref().map(|s| &s.text), "inline completion request");
        let Some(suggestion) = self
            .suggest(&at.text_document.uri, at.position, explicit, false)
            .await?
        else {
            return Ok(Some(lsp::InlineCompletionResponse::List(
                lsp::InlineCompletionList { items: Vec::new() },
            )));
        };
        let encoding = self.state.encoding();
        let document = suggestion.rope.to_string();
        let selected = params
            .context
            .selected_completion_info
            .as_ref()
            .map(|selected| {
                let offset = |p: lsp::Position| {
                    position::offset_of(&suggestion.rope, convert::position_from_lsp(p), encoding)
                        .byte
                };
                (
                    offset(selected.range.start),
                    offset(selected.range.end),
                    selected.text.as_str(),
                )
            });
        // The best suggestion first, then the alternatives (`features.completion.candidates`):
        // editors cycle through the items.
        let items: Vec<lsp::InlineCompletionItem> = std::iter::once(&suggestion.text)
            .chain(&suggestion.alternatives)
            .filter_map(|text| {
                let (replaced, insert_text) = match selected {
                    // VS Code shows the item only when it extends the suggest widget's
                    // selected item.
                    Some((start, end, selected_text)) => {
                        let selected = super::completion_item::Selected {
                            start,
                            end,
                            text: selected_text,
                        };
                        let Some(edit) = super::completion_item::extend_selected(
                            &document,
                            suggestion.cursor,
                            text,
                            selected,
                        ) else {
                            debug!(
                                selected = %selected_text,
                                range = ?(start, end),
                                cursor = suggestion.cursor,
                                suggestion = %text,
                                "the suggestion does not extend the selected completion: not offered"
                            );
                            return None;
                        };
                        (
                            crate::chunks::ByteRange {
                                start: edit.start,
                                end: edit.end,
                            },
                            edit.text,
                        )
                    }
                    None => (
                        crate::chunks::ByteRange {
                            start: suggestion.cursor,
                            end: suggestion.cursor,
                        },
                        text.clone(),
                    ),
                };
                debug!(
                    position = ?at.position,
                    range = ?(replaced.start, replaced.end),
                    text = %insert_text,
                    "inline completion offered"
                );
                Some(lsp::InlineCompletionItem {
                    insert_text,
                    filter_text: None,
                    range: Some(convert::range_to_lsp(&suggestion.rope, replaced, encoding)),
                    command: None,
                    insert_text_format: Some(lsp::InsertTextFormat::PLAIN_TEXT),
                })
            })
            .collect();
        Ok(Some(lsp::InlineCompletionResponse::List(
            lsp::InlineCompletionList { items },
        )))
    }

    /// Whether a model may answer AI requests now: the implicit provider's probe and the
    /// configured providers' breakers.
    fn ai_availability(&self) -> super::availability::Availability {
        let engine = &self.state.engine;
        let breakers: Vec<_> = engine
            .providers()
            .map(|p| p.status().providers.iter().map(|s| s.breaker).collect())
            .unwrap_or_default();
        super::availability::Availability::of(engine.is_offline(), &breakers)
    }

    /// The AI suggestion at a position, shared by completion items and inline completions:
    /// requests for the same place and version join one computation. `explicit`: the user
    /// asked for it (no debounce); `for_completion_list`: a `textDocument/completion` request.
    async fn suggest(
        &self,
        uri: &lsp::Uri,
        position: lsp::Position,
        explicit: bool,
        for_completion_list: bool,
    ) -> Result<Option<crate::engine::Suggestion>> {
        // The deadline counts from here: the wait for an earlier list below is in it.
        let arrived = tokio::time::Instant::now();
        let document = convert::document_key(uri);
        let Some(handle) = self.state.documents().get(&document) else {
            return Err(unknown_document(uri));
        };
        let key = super::single_flight::SuggestionKey {
            version: handle.with_document(|d| d.version()),
            document: uri.as_str().to_owned(),
            position: (position.line, position.character),
        };
        // A completion list still being computed for an earlier keystroke is let finish (for a
        // moment) before an inline request supersedes it: VS Code asks for the list no more
        // once an answer came back empty, and then shows ghost text only if it extends a word.
        if !for_completion_list {
            self.state
                .suggestions_in_flight
                .settle(&key, std::time::Duration::from_millis(300))
                .await;
        }
        let backend = Backend::new(self.client.clone(), Arc::clone(&self.state));
        let uri = uri.clone();
        let suggestion = self
            .state
            .suggestions_in_flight
            .run(key, for_completion_list, move || async move {
                backend.suggest_now(&uri, position, explicit, arrived).await
            })
            .await;
        self.release_memory_when_quiet();
        suggestion
    }

    /// The AI suggestion at a position, computed now.
    async fn suggest_now(
        &self,
        uri: &lsp::Uri,
        position: lsp::Position,
        explicit: bool,
        arrived: tokio::time::Instant,
    ) -> Result<Option<crate::engine::Suggestion>> {
        let key = convert::document_key(uri);
        let cursor = Cursor::Position(convert::position_from_lsp(position), self.state.encoding());
        let options = CompletionOptions {
            explicit,
            timeout: None,
            arrived: Some(arrived),
        };
        let outcome = self
            .state
            .engine
            .complete(&key, cursor, options)
            .await
            .map_err(super::errors::to_lsp)?;
        if let Some(because) = &outcome.nothing_because {
            debug!(uri = uri.as_str(), ?position, "no suggestion: {because}");
        }
        if let Some(message) = outcome.notice {
            self.client
                .show_message(lsp::MessageType::WARNING, message)
                .await;
        }
        Ok(outcome.suggestion)
    }
}
