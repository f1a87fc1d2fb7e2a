//! AI completions over standard LSP: `textDocument/completion` items for every client and
//! `textDocument/inlineCompletion` for those with ghost text, with the latency machinery:
//! adaptive debounce, supersession (a newer request for a document answers the older one at
//! once and drops its provider call), reuse of suggestions the user types into, and early
//! stop of the stream once the suggestion is decided.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use tracing::{debug, warn};

use crate::ai::completion::{self, Mode, Site};
use crate::ai::rhythm::TypingRhythm;
use crate::ai::suggestions::SuggestionCache;
use crate::config::{CompletionConfig, Config};
use crate::document::store::DocumentStore;
use crate::llm::{LlmOptions, LlmRequest, Providers, StreamEvent};

/// The commands `workspace/executeCommand` accepts.
pub const COMMANDS: &[&str] = &["aiex.status", "aiex.usage"];

/// The wait before the first keystrokes of a document give a rhythm.
const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(75);

/// What a completion may draw on besides the document: the index, the other open
/// documents, the document's workspace-relative path, and where to record requests.
pub struct Workspace<'a> {
    /// The workspace index.
    pub index: &'a crate::index::WorkspaceIndex,
    /// The document's path relative to its workspace root (`None` outside any root: no
    /// workspace context is assembled).
    pub path: Option<std::path::PathBuf>,
    /// The audit log of provider requests.
    pub audit: Option<&'a crate::context::audit::AuditLog>,
    /// The workspace roots, to make open documents' paths relative as the index has them.
    pub roots: &'a [std::path::PathBuf],
}

impl Workspace<'_> {
    /// The other open documents, as last parsed (never waiting for a parse).
    fn open_documents(
        &self,
        documents: &DocumentStore,
        except: &str,
    ) -> Vec<crate::context::OpenDocument> {
        documents
            .keys()
            .into_iter()
            .filter(|key| key != except)
            .filter_map(|key| {
                let cached = documents.cached_chunks(&key)?;
                let absolute = key
                    .parse::<tower_lsp_server::ls_types::Uri>()
                    .ok()?
                    .to_file_path()?
                    .into_owned();
                // A .aiexignored document never reaches a prompt, even while it is open.
                if !crate::index::may_send_to_model(&absolute, self.roots) {
                    return None;
                }
                let path = self
                    .roots
                    .iter()
                    .find_map(|root| absolute.strip_prefix(root).ok())?
                    .to_path_buf();
                Some(crate::context::OpenDocument {
                    path,
                    text: cached.text,
                    chunks: cached.chunks,
                })
            })
            .collect()
    }
}

/// A suggestion for a cursor, in bytes of the text it was computed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The text to insert at the cursor.
    pub text: String,
    /// The cursor.
    pub cursor: usize,
    /// The start of the word being typed before the cursor (for completion items' ranges).
    pub word_start: usize,
    /// The version of the document it was computed for.
    pub version: i32,
    /// The rope it was computed on, for position conversion.
    pub rope: ropey::Rope,
}

/// The per-document completion state.
#[derive(Debug, Default)]
struct DocumentCompletions {
    generation: AtomicU64,
    superseded: Notify,
    rhythm: Mutex<TypingRhythm>,
    suggestions: Mutex<Option<SuggestionCache>>,
}

/// Everything AI features share: the providers, the per-document completion state, and the
/// explanations shown on hover.
#[derive(Debug, Default)]
pub struct AiState {
    providers: RwLock<Option<Arc<Providers>>>,
    documents: DashMap<String, Arc<DocumentCompletions>>,
    said_unavailable: AtomicBool,
    /// Set when no provider can be reached (the implicit local Ollama is not running): AI
    /// features then answer at once instead of waiting on a connection that cannot succeed.
    offline: AtomicBool,
    explanations: Arc<Explanations>,
    recent_edits: Mutex<std::collections::VecDeque<crate::context::RecentEdit>>,
}

/// Explanations by a hash of what they explain, and the ones being written.
#[derive(Debug, Default)]
struct Explanations {
    done: Mutex<Option<lru::LruCache<String, String>>>,
    pending: DashMap<String, Arc<Notify>>,
}

impl Explanations {
    fn get(&self, key: &str) -> Option<String> {
        self.done
            .lock()
            .as_mut()
            .and_then(|cache| cache.get(key).cloned())
    }

    fn put(&self, key: String, text: String) {
        let mut done = self.done.lock();
        let capacity = std::num::NonZeroUsize::new(256).unwrap_or(std::num::NonZeroUsize::MIN);
        done.get_or_insert_with(|| lru::LruCache::new(capacity))
            .put(key, text);
    }
}

/// A hover explanation: ready, or still being written (ready for the next hover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoverExplanation {
    /// The explanation.
    Ready(String),
    /// The model has not answered yet; it keeps going in the background.
    Pending,
    /// No model could explain it.
    Unavailable,
}

/// What the client should be told once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Nothing.
    None,
    /// No provider could answer; AI features wait for one.
    Unavailable(String),
}

impl AiState {
    /// (Re)builds the providers from the configuration; returns the problems found.
    pub fn configure(&self, config: &Config) -> Vec<String> {
        let wanted = config.effective_providers();
        let existing = self.providers.read().clone();
        let (providers, problems) = match existing {
            Some(current) => current.reconfigure(wanted.iter()),
            None => Providers::from_config(wanted.iter(), LlmOptions::default()),
        };
        *self.providers.write() = Some(Arc::new(providers));
        self.offline.store(false, Ordering::Relaxed);
        self.said_unavailable.store(false, Ordering::Relaxed);
        problems
    }

    /// Checks that the implicit local provider listens, when nothing is configured; returns
    /// the notice to show once if it does not. A connection to localhost is refused at once,
    /// so this costs nothing when Ollama is absent.
    pub async fn probe_implicit_provider(&self, config: &Config) -> Option<String> {
        if !config.providers.is_empty() {
            return None;
        }
        let providers = config.effective_providers();
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
        self.said_unavailable.store(true, Ordering::Relaxed);
        Some(format!(
            "Aiex: no model provider is configured and no local Ollama answers at {base_url}, so AI \
             features are off. Symbols, hover docs and checks work offline. Configure `providers` \
             (see `aiex doctor`) to turn AI features on."
        ))
    }

    /// True when AI features should not try a provider now.
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// The providers, once configured.
    pub fn providers(&self) -> Option<Arc<Providers>> {
        self.providers.read().clone()
    }

    fn document(&self, key: &str) -> Arc<DocumentCompletions> {
        Arc::clone(&self.documents.entry(key.to_owned()).or_default())
    }

    /// Notes a keystroke in a document, for the typing rhythm and the "recently edited"
    /// context; `at` is the workspace-relative path and byte offset of the edit, when known.
    /// Runs on every keystroke.
    pub fn record_edit(&self, key: &str, at: Option<crate::context::RecentEdit>) {
        self.document(key).rhythm.lock().record(Instant::now());
        let Some(edit) = at else { return };
        let mut recent = self.recent_edits.lock();
        // One entry per file: the latest place edited there.
        recent.retain(|e| e.path != edit.path);
        recent.push_front(edit);
        recent.truncate(8);
    }

    /// The places edited lately, most recent first.
    fn recent_edits(&self) -> Vec<crate::context::RecentEdit> {
        self.recent_edits.lock().iter().cloned().collect()
    }

    /// Forgets a closed document, answering its pending completion.
    pub fn forget(&self, key: &str) {
        if let Some((_, state)) = self.documents.remove(key) {
            state.generation.fetch_add(1, Ordering::SeqCst);
            state.superseded.notify_waiters();
        }
    }

    /// The suggestion at `cursor` of document `key`, or `None` (superseded, nothing useful,
    /// provider unavailable). Dropping the returned future drops the provider call.
    pub async fn complete(
        &self,
        documents: &DocumentStore,
        workspace: &Workspace<'_>,
        key: &str,
        cursor_at: impl FnOnce(&ropey::Rope) -> usize,
        settings: &CompletionConfig,
        config: &Config,
    ) -> (Option<Suggestion>, Notice) {
        let state = self.document(key);
        // Supersede the previous request for this document: it answers empty at once.
        let generation = state.generation.fetch_add(1, Ordering::SeqCst) + 1;
        state.superseded.notify_waiters();
        let superseded = async {
            loop {
                let notified = state.superseded.notified();
                if state.generation.load(Ordering::SeqCst) != generation {
                    return;
                }
                notified.await;
            }
        };
        tokio::select! {
            biased;
            () = superseded => (None, Notice::None),
            result = self.complete_now(documents, workspace, key, cursor_at, settings, config, &state) => result,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn complete_now(
        &self,
        documents: &DocumentStore,
        workspace: &Workspace<'_>,
        key: &str,
        cursor_at: impl FnOnce(&ropey::Rope) -> usize,
        settings: &CompletionConfig,
        config: &Config,
        state: &DocumentCompletions,
    ) -> (Option<Suggestion>, Notice) {
        let Some(handle) = documents.get(key) else {
            return (None, Notice::None);
        };
        let (rope, version) = handle.with_document(|d| (d.rope().clone(), d.version()));
        let cursor = cursor_at(&rope);
        let text = rope.to_string();
        let site = Site {
            text: &text,
            cursor,
        };
        let word_start = word_start(&text, cursor);

        // A suggestion the user is typing into, or asked for again: no provider call.
        let reused = {
            let mut cache = state.suggestions.lock();
            let cache =
                cache.get_or_insert_with(|| SuggestionCache::new(100, Duration::from_secs(300)));
            cache.lookup(&text[..cursor], &text[cursor..])
        };
        if let Some(text_left) = reused {
            debug!(uri = key, "completion served from earlier suggestion");
            return (
                Some(Suggestion {
                    text: text_left,
                    cursor,
                    word_start,
                    version,
                    rope,
                }),
                Notice::None,
            );
        }

        let wait = state.rhythm.lock().debounce(
            Duration::from_millis(settings.debounce_min_ms),
            Duration::from_millis(settings.debounce_max_ms.max(settings.debounce_min_ms)),
            DEFAULT_DEBOUNCE,
        );
        // Parse while waiting: when the wait ends, the tree is ready.
        let (_, syntax) = tokio::join!(tokio::time::sleep(wait), documents.syntax(key));
        let Some(syntax) = syntax else {
            return (None, Notice::None);
        };
        if syntax.version != version {
            // The user typed on: a newer request is coming.
            return (None, Notice::None);
        }
        let Ok(tree) = &syntax.tree else {
            return (None, Notice::None);
        };
        let mut mode = completion::decide_mode(tree, &site);
        if !settings.multiline {
            mode = Mode::Line;
        }
        if self.is_offline() {
            return (None, Notice::None);
        }
        let Some(providers) = self.providers() else {
            return (None, Notice::None);
        };
        let names = config.feature_providers(&settings.providers);
        let (chain, _unknown) = providers.chain(&names);
        if chain.is_empty() {
            return (None, Notice::None);
        }
        let timeout = Duration::from_millis(settings.timeout_ms);
        let request = match &workspace.path {
            Some(path) => {
                // The context engine: the enclosing function, the module header, the callees'
                // definitions and specs from the whole workspace, within the token budget.
                let chunks = crate::chunks::extract_around(tree, &text, cursor);
                let open = workspace.open_documents(documents, key);
                let recent = self.recent_edits();
                let context_request = crate::context::ContextRequest {
                    task: crate::context::Task::Completion,
                    path,
                    text: &text,
                    tree,
                    chunks: &chunks,
                    cursor,
                    budget_tokens: settings.context_tokens,
                    recent_edits: &recent,
                };
                let context = crate::context::assemble(&context_request, workspace.index, &open);
                let request = completion::fim_request_with_context(&context, mode, timeout);
                record_audit(
                    workspace.audit.cloned(),
                    AuditEntry {
                        feature: "completion",
                        provider: names.first().cloned().unwrap_or_default(),
                        files: context.files(path),
                        tokens: context.tokens,
                        redactions: context.redactions,
                        prompt: request.prompt_text(),
                    },
                );
                request
            }
            None => completion::fim_request(&site, mode, timeout),
        };
        let raw = match chain.stream(&request).await {
            Ok(mut stream) => {
                let mut raw = String::new();
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(StreamEvent::Delta(delta)) => {
                            raw.push_str(&delta);
                            // Stop reading (and drop the connection) once the suggestion is decided.
                            if completion::is_decided(&raw, &site, mode) {
                                break;
                            }
                        }
                        Ok(StreamEvent::Done(_)) => break,
                        Err(error) => {
                            warn!(uri = key, "completion stream failed: {error}");
                            break;
                        }
                    }
                }
                raw
            }
            Err(error) => {
                warn!(uri = key, "completion failed: {error}");
                return (None, self.unavailable_once(&names, &error.to_string()));
            }
        };
        self.said_unavailable.store(false, Ordering::Relaxed);
        let Some(cleaned) = completion::clean(&raw, &site, mode) else {
            return (None, Notice::None);
        };
        // An incremental reparse of the document with the suggestion in place: on the blocking
        // pool, never on the message loop.
        let (parsed_rope, tree_copy) = (syntax.rope.clone(), tree.clone());
        let fitted = tokio::task::spawn_blocking(move || {
            completion::fit_to_syntax(&parsed_rope, &tree_copy, cursor, &cleaned, mode)
        })
        .await
        .ok()
        .flatten();
        let Some(fitted) = fitted else {
            debug!(uri = key, "completion dropped: it does not parse in place");
            return (None, Notice::None);
        };
        if let Some(cache) = state.suggestions.lock().as_mut() {
            cache.insert(&text[..cursor], &text[cursor..], &fitted);
        }
        (
            Some(Suggestion {
                text: fitted,
                cursor,
                word_start,
                version,
                rope,
            }),
            Notice::None,
        )
    }

    /// The explanation of `subject` (a function's source and module), asked of the providers
    /// `names` with `request` unless known; waits at most `wait`, then lets the model finish in
    /// the background so the next hover has it.
    pub async fn explanation(
        &self,
        subject: &str,
        names: &[String],
        request: LlmRequest,
        wait: Duration,
    ) -> HoverExplanation {
        let key = crate::index::content_hash(subject);
        if let Some(text) = self.explanations.get(&key) {
            return HoverExplanation::Ready(text);
        }
        if self.is_offline() {
            return HoverExplanation::Unavailable;
        }
        let Some(providers) = self.providers() else {
            return HoverExplanation::Unavailable;
        };
        let (chain, _) = providers.chain(names);
        if chain.is_empty() {
            return HoverExplanation::Unavailable;
        }
        let notify = match self.explanations.pending.entry(key.clone()) {
            dashmap::mapref::entry::Entry::Occupied(entry) => Arc::clone(entry.get()),
            dashmap::mapref::entry::Entry::Vacant(entry) => {
                let notify = Arc::new(Notify::new());
                entry.insert(Arc::clone(&notify));
                let explanations = Arc::clone(&self.explanations);
                let (task_key, task_notify) = (key.clone(), Arc::clone(&notify));
                tokio::spawn(async move {
                    match chain.complete(&request).await {
                        Ok(response) => {
                            explanations.put(task_key.clone(), response.text.trim().to_owned())
                        }
                        Err(error) => warn!("hover explanation failed: {error}"),
                    }
                    explanations.pending.remove(&task_key);
                    task_notify.notify_waiters();
                });
                notify
            }
        };
        let finished = notify.notified();
        if let Some(text) = self.explanations.get(&key) {
            return HoverExplanation::Ready(text);
        }
        if tokio::time::timeout(wait, finished).await.is_err() {
            return HoverExplanation::Pending;
        }
        self.explanations
            .get(&key)
            .map_or(HoverExplanation::Unavailable, HoverExplanation::Ready)
    }

    /// The "no provider" notice, the first time only (until a provider answers again).
    fn unavailable_once(&self, names: &[String], error: &str) -> Notice {
        if self.said_unavailable.swap(true, Ordering::Relaxed) {
            return Notice::None;
        }
        Notice::Unavailable(format!(
            "Aiex: AI completions need a model provider, and none answered (tried {}: {error}). \
             Symbols, hover docs and checks keep working offline; `aiex doctor` shows the setup.",
            names.join(", ")
        ))
    }
}

/// The start of the identifier being typed before `cursor`.
fn word_start(text: &str, cursor: usize) -> usize {
    let before = &text[..cursor];
    before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '?' || *c == '!')
        .last()
        .map_or(cursor, |(at, _)| at)
}

/// One provider request, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// `completion`, `explain`, `actions`.
    pub feature: &'static str,
    /// The first provider of the chain.
    pub provider: String,
    /// Workspace-relative paths the prompt draws on.
    pub files: Vec<std::path::PathBuf>,
    /// Tokens sent (estimated).
    pub tokens: usize,
    /// Secrets replaced in the prompt.
    pub redactions: usize,
    /// The prompt as sent: hashed, and written only when `audit.record_prompts` is on.
    pub prompt: String,
}

/// Appends a request to the audit log, on the blocking pool (a file append never runs on the
/// message loop).
pub fn record_audit(log: Option<crate::context::audit::AuditLog>, entry: AuditEntry) {
    let Some(log) = log else { return };
    tokio::task::spawn_blocking(move || {
        let request = crate::context::audit::AuditRequest {
            feature: entry.feature,
            provider: &entry.provider,
            model: "",
            files: &entry.files,
            prompt_tokens: entry.tokens,
            completion_tokens: None,
            redactions: entry.redactions,
            prompt: &entry.prompt,
        };
        if let Err(error) = log.record(&request) {
            warn!("could not write the audit log: {error}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_being_typed_is_found_across_unicode() {
        assert_eq!(word_start("x = grö", "x = grö".len()), 4);
        assert_eq!(word_start("x = ", 4), 4);
        assert_eq!(word_start("valid?", 6), 0);
    }
}
