//! The set of open documents, shared between the protocol handlers and background work.
//!
//! Architecture invariant: the per-document text lock is only ever held for a splice or a
//! snapshot (microseconds), never across an await or a parse, so an edit never waits for a
//! feature. Parses run on the blocking pool, one at a time per document.
//!
//! A document whose tree is in use is reparsed in the background once its edits pause, so a
//! request that follows a pause in typing (a completion after its debounce, a hover, the
//! outline) finds the tree current instead of parsing on its own path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;

use super::{
    parse_snapshot, ChangeRejected, ChangeReport, Document, DocumentKey, Language,
    PositionEncoding, SyntaxSnapshot, TextChange,
};
use crate::chunks::{self, FileChunks};
use crate::syntax::SyntaxUnavailable;

/// One open document and what is derived from it.
pub struct DocumentHandle {
    /// The document's key, for what is said about it.
    key: DocumentKey,
    /// Where to tell the user that the document went past a limit for syntax features.
    limit_notices: Option<LimitNotices>,
    document: Mutex<Document>,
    /// Serialises parses of this document (held across the parse, never by edits).
    parse_permit: tokio::sync::Mutex<()>,
    /// The chunks of the last parsed version.
    chunks: Mutex<Option<CachedChunks>>,
    /// When the last edit arrived, and whether a background reparse is already waiting.
    background: Mutex<BackgroundParse>,
    /// The text of a recent version, with the chunks around a place in it: what a completion
    /// builds its context from, prepared after a background reparse (see [`PreparedText`]).
    prepared: Mutex<Option<PreparedText>>,
    /// Whether a completion asked for [`DocumentStore::prepared_text`]: only then does a
    /// background reparse prepare the next version's text and chunks.
    wants_prepared: std::sync::atomic::AtomicBool,
}

/// The text of one version of a document as one string, and the chunks of the top-level form
/// around one place in it ([`chunks::extract_around`]).
///
/// Invariant: `text` is the document's text at `version`, and `around` holds the chunks
/// `extract_around` gives for that text and the tree of that version, for any place whose
/// top-level form ([`chunks::top_level_at`]) is `around.0`. A new version makes it stale (it is
/// only used when the versions match), it is replaced by the next version's once a background
/// reparse prepares that, and [`DocumentStore::release_memory`] drops it when the server is
/// quiet (no copy of the text at rest, and it never outlives the tree it was extracted from:
/// a tree parsed afresh could recover from errors differently than the incremental one).
#[derive(Debug, Clone)]
pub struct PreparedText {
    /// The document version.
    pub version: i32,
    /// Its text.
    pub text: Arc<str>,
    /// The top-level form the chunks were extracted around, and the chunks.
    around: Option<(Option<chunks::ByteRange>, Arc<FileChunks>)>,
}

/// How long a document's edits must pause before its tree is brought up to date in the
/// background: a burst of edits (a paste, a storm of changes) coalesces into one parse, and a
/// completion's debounce (30 ms or more) is long enough for the parse to finish within it.
const QUIET_BEFORE_PARSE: Duration = Duration::from_millis(2);

#[derive(Debug)]
struct BackgroundParse {
    last_edit: Instant,
    /// Where the last edit ended, in bytes of the text after it: where the next completion
    /// most likely asks, so where the background reparse prepares the chunks.
    last_edit_at: Option<usize>,
    scheduled: bool,
}

/// The chunks of one version of a document, with the text their byte ranges refer to.
#[derive(Debug, Clone)]
pub struct CachedChunks {
    /// The document version.
    pub version: i32,
    /// The chunks.
    pub chunks: Arc<FileChunks>,
    /// The text of that version.
    pub text: Arc<str>,
}

/// What receives the notices of documents that an edit took past a limit for syntax features
/// (their key and the message): the protocol layer shows them to the user.
pub type LimitNotices = Arc<dyn Fn(&DocumentKey, String) + Send + Sync>;

impl std::fmt::Debug for DocumentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentHandle")
            .field("key", &self.key)
            .field("document", &self.document)
            .finish_non_exhaustive()
    }
}

impl DocumentHandle {
    fn new(key: DocumentKey, document: Document, limit_notices: Option<LimitNotices>) -> Self {
        Self {
            key,
            limit_notices,
            document: Mutex::new(document),
            parse_permit: tokio::sync::Mutex::new(()),
            chunks: Mutex::new(None),
            background: Mutex::new(BackgroundParse {
                last_edit: Instant::now(),
                last_edit_at: None,
                scheduled: false,
            }),
            prepared: Mutex::new(None),
            wants_prepared: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Keeps the chunks of `version` unless newer ones are already there.
    fn cache_chunks(&self, version: i32, chunks: &Arc<FileChunks>, text: Arc<str>) {
        let mut cached = self.chunks.lock();
        if cached.as_ref().is_some_and(|c| c.version > version) {
            return;
        }
        *cached = Some(CachedChunks {
            version,
            chunks: Arc::clone(chunks),
            text,
        });
    }

    /// The text of `version` as the cached chunks hold it, if they are of that version: shared
    /// rather than copied again (a third copy of a 300 KB text at the peak of a large file).
    fn cached_text(&self, version: i32) -> Option<Arc<str>> {
        let cached = self.chunks.lock();
        cached
            .as_ref()
            .filter(|c| c.version == version)
            .map(|c| Arc::clone(&c.text))
    }

    /// Runs `f` on the document under its lock. `f` must be quick: it delays edits.
    pub fn with_document<R>(&self, f: impl FnOnce(&Document) -> R) -> R {
        f(&self.document.lock())
    }
}

/// Why a store operation did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No open document has this key.
    #[error("no open document {0}")]
    UnknownDocument(DocumentKey),
    /// The change was refused.
    #[error(transparent)]
    Rejected(#[from] ChangeRejected),
}

/// The largest document whose tree is kept while the server is quiet. A tree costs 40 to 70
/// bytes per source byte (tree-sitter allocates each node): 26.5 MB for a 383 KB file of small
/// modules, which alone broke the budget of resident memory (10 × the file + 50 MB over a
/// 35 MB server). Up to 128 KiB (a tree of at most ~9 MB) the tree is kept, and edits reparse
/// incrementally; a larger document's tree is freed once the server has been quiet for
/// 500 ms, and the next feature that needs it parses afresh (tens of milliseconds at the
/// 320 KiB tree limit), after which edits are incremental again until the next quiet spell.
pub const KEEP_TREE_BYTES: usize = 128 * 1024;

/// All open documents, by key (their path, or an unsaved buffer's name).
#[derive(Default)]
pub struct DocumentStore {
    documents: DashMap<DocumentKey, Arc<DocumentHandle>>,
    limit_notices: parking_lot::RwLock<Option<LimitNotices>>,
}

impl std::fmt::Debug for DocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentStore")
            .field("documents", &self.documents)
            .finish_non_exhaustive()
    }
}

impl DocumentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends the notices of documents that a parse finds past a limit for syntax features,
    /// once per crossing, to `notices` (documents opened from now on). Called from a parse, on
    /// the runtime or the blocking pool: it must not block.
    pub fn on_limit_notices(&self, notices: LimitNotices) {
        *self.limit_notices.write() = Some(notices);
    }

    /// Opens (or reopens, replacing) a document; returns what to tell the user when its text
    /// is past a limit for syntax features (size, nesting).
    pub fn open(
        &self,
        key: &DocumentKey,
        text: &str,
        version: i32,
        language: Language,
    ) -> Option<String> {
        let (document, notice) = Document::opened(text, version, language);
        let notices = self.limit_notices.read().clone();
        let handle = Arc::new(DocumentHandle::new(key.clone(), document, notices));
        self.documents.insert(key.clone(), handle);
        notice
    }

    /// Closes a document and frees everything derived from it; false if it was not open.
    pub fn close(&self, key: &DocumentKey) -> bool {
        self.documents.remove(key).is_some()
    }

    /// Gives memory back to the system: the trees of documents over [`KEEP_TREE_BYTES`]
    /// (their chunks stay cached), every prepared text (the next keystroke's background
    /// reparse prepares one again), the map's spare capacity, and the allocator's free pages
    /// (glibc keeps them in per-thread arenas otherwise: 5,000 opened-then-closed documents
    /// left 674 MB resident). Takes milliseconds: call it once the server is quiet, on the
    /// blocking pool.
    pub fn release_memory(&self) {
        for entry in self.documents.iter() {
            let freed = entry
                .value()
                .document
                .lock()
                .free_tree_if_larger_than(KEEP_TREE_BYTES);
            // A copy of the text is not kept at rest; and a tree parsed afresh could recover
            // from errors differently than the incremental one the chunks came from.
            entry.value().prepared.lock().take();
            if freed {
                tracing::debug!(document = %entry.key(), "tree freed while quiet");
            }
        }
        self.documents.shrink_to_fit();
        crate::memory::give_back_free_pages();
        crate::memory::give_back_code_pages();
    }

    /// The handle of an open document.
    pub fn get(&self, key: &DocumentKey) -> Option<Arc<DocumentHandle>> {
        self.documents
            .get(key)
            .map(|entry| Arc::clone(entry.value()))
    }

    /// The keys of all open documents.
    pub fn keys(&self) -> Vec<DocumentKey> {
        self.documents
            .iter()
            .map(|entry| entry.key().clone())
            .collect()
    }

    /// Applies changes to an open document. Runs on every keystroke.
    pub fn change(
        &self,
        key: &DocumentKey,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
    ) -> Result<ChangeReport, StoreError> {
        let handle = self
            .get(key)
            .ok_or_else(|| StoreError::UnknownDocument(key.clone()))?;
        let (report, has_tree) = {
            let mut document = handle.document.lock();
            let report = document.apply_changes(version, changes, encoding)?;
            (report, document.has_tree())
        };
        if has_tree {
            reparse_when_quiet(&handle, report.last_edit);
        }
        Ok(report)
    }

    /// The document's text and tree, parsing first if the tree is stale.
    ///
    /// The result may be a few edits behind if the user typed during the parse; text and tree
    /// in it always agree with each other.
    pub async fn syntax(&self, key: &DocumentKey) -> Option<SyntaxSnapshot> {
        let handle = self.get(key)?;
        Some(syntax_of(&handle).await)
    }

    /// The chunks of a document, computed from a fresh tree and cached per version.
    ///
    /// The extraction runs on the blocking pool and caches its result itself, so a caller
    /// that stops waiting (a request cut at its budget, or cancelled) does not waste it.
    pub async fn chunks(&self, key: &DocumentKey) -> Option<(SyntaxSnapshot, Arc<FileChunks>)> {
        let handle = self.get(key)?;
        let snapshot = syntax_of(&handle).await;
        if let Some(cached) = handle.chunks.lock().as_ref() {
            if cached.version == snapshot.version {
                return Some((snapshot, Arc::clone(&cached.chunks)));
            }
        }
        let file_chunks = match &snapshot.tree {
            Ok(tree) => {
                let (tree, rope, version) = (tree.clone(), snapshot.rope.clone(), snapshot.version);
                let owner = Arc::clone(&handle);
                let extracted = tokio::task::spawn_blocking(move || {
                    let text: Arc<str> = Arc::from(rope.to_string());
                    let chunks = Arc::new(chunks::extract(&tree, &text));
                    owner.cache_chunks(version, &chunks, text);
                    chunks
                })
                .await;
                extracted.unwrap_or_default()
            }
            Err(_) => {
                let empty = Arc::new(FileChunks::default());
                let text: Arc<str> = Arc::from(snapshot.rope.to_string());
                handle.cache_chunks(snapshot.version, &empty, text);
                empty
            }
        };
        Some((snapshot, file_chunks))
    }

    /// The chunks last computed for a document, whatever its version now: no parse, no wait.
    pub fn cached_chunks(&self, key: &DocumentKey) -> Option<CachedChunks> {
        let handle = self.get(key)?;
        let cached = handle.chunks.lock().clone();
        cached
    }
}

impl DocumentStore {
    /// The text of `version` of a document as one string: the prepared one when a background
    /// reparse made it, otherwise copied from `rope` (the text of that version) now and kept for
    /// [`DocumentStore::chunks_around`]. From now on the document's background reparses prepare
    /// the text and chunks of each new version (a completion asked once, more will follow).
    pub fn prepared_text(&self, key: &DocumentKey, version: i32, rope: &ropey::Rope) -> Arc<str> {
        let Some(handle) = self.get(key) else {
            return Arc::from(rope.to_string());
        };
        handle
            .wants_prepared
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(ready) = handle
            .prepared
            .lock()
            .as_ref()
            .filter(|p| p.version == version)
        {
            return Arc::clone(&ready.text);
        }
        // Copied outside the lock: the background preparation never waits for it.
        let text = handle
            .cached_text(version)
            .unwrap_or_else(|| Arc::from(rope.to_string()));
        let mut prepared = handle.prepared.lock();
        if let Some(ready) = prepared.as_ref().filter(|p| p.version == version) {
            // The background prepared it meanwhile: its chunks go with its copy.
            return Arc::clone(&ready.text);
        }
        // Kept unless a newer version is already prepared (a request that raced an edit).
        if prepared.as_ref().is_none_or(|p| p.version < version) {
            *prepared = Some(PreparedText {
                version,
                text: Arc::clone(&text),
                around: None,
            });
        }
        text
    }

    /// The version and top-level form a document's chunks are prepared for, if any.
    #[cfg(test)]
    pub(crate) fn prepared_around(
        &self,
        key: &DocumentKey,
    ) -> Option<(i32, Option<chunks::ByteRange>)> {
        let handle = self.get(key)?;
        let prepared = handle.prepared.lock();
        let prepared = prepared.as_ref()?;
        Some((prepared.version, prepared.around.as_ref()?.0))
    }

    /// The chunks of the top-level form around `cursor` ([`chunks::extract_around`]) in `text`,
    /// version `version` of the document, whose tree is `tree`: the prepared ones when they
    /// were extracted around the same form of the same version, otherwise extracted now (and
    /// kept for the next request at that version).
    pub fn chunks_around(
        &self,
        key: &DocumentKey,
        version: i32,
        text: &Arc<str>,
        tree: &tree_sitter::Tree,
        cursor: usize,
    ) -> Arc<FileChunks> {
        let form = chunks::top_level_at(tree, cursor);
        let handle = self.get(key);
        if let Some(handle) = &handle {
            let prepared = handle.prepared.lock();
            let ready = prepared
                .as_ref()
                .filter(|p| p.version == version && Arc::ptr_eq(&p.text, text))
                .and_then(|p| p.around.as_ref())
                .filter(|(around, _)| *around == form);
            if let Some((_, chunks)) = ready {
                return Arc::clone(chunks);
            }
        }
        let extracted = Arc::new(chunks::extract_around(tree, text, cursor));
        if let Some(handle) = handle {
            let mut prepared = handle.prepared.lock();
            if let Some(same) = prepared
                .as_mut()
                .filter(|p| p.version == version && Arc::ptr_eq(&p.text, text))
            {
                same.around = Some((form, Arc::clone(&extracted)));
            }
        }
        extracted
    }
}

/// After a background reparse of a document a completion asked about: its text as one string
/// and the chunks around the last edit, on the blocking pool, so the completion that follows
/// the pause finds them ready instead of copying and extracting on its own path.
async fn prepare_in_background(handle: Arc<DocumentHandle>, snapshot: SyntaxSnapshot, at: usize) {
    if !handle
        .wants_prepared
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return;
    }
    let Ok(tree) = snapshot.tree else {
        return;
    };
    // Already prepared (a request got there first), or the user typed on: nothing to do. A
    // request that copied the text of this version already leaves it to be reused.
    let version = snapshot.version;
    let copied = {
        let prepared = handle.prepared.lock();
        match prepared.as_ref().filter(|p| p.version == version) {
            Some(p) if p.around.is_some() => return,
            Some(p) => Some(Arc::clone(&p.text)),
            None => None,
        }
    };
    if handle.document.lock().version() != version {
        return;
    }
    let rope = snapshot.rope;
    let _ = tokio::task::spawn_blocking(move || {
        let text = copied
            .or_else(|| handle.cached_text(version))
            .unwrap_or_else(|| Arc::from(rope.to_string()));
        let at = at.min(text.len());
        let form = chunks::top_level_at(&tree, at);
        let around = Arc::new(chunks::extract_around(&tree, &text, at));
        if handle.document.lock().version() != version {
            return;
        }
        let mut prepared = handle.prepared.lock();
        match prepared.as_mut().filter(|p| p.version == version) {
            // A request extracted around its own place meanwhile: keep that.
            Some(p) if p.around.is_some() => {}
            Some(p) if Arc::ptr_eq(&p.text, &text) => p.around = Some((form, around)),
            _ => {
                *prepared = Some(PreparedText {
                    version,
                    text,
                    around: Some((form, around)),
                })
            }
        }
    })
    .await;
}

/// Brings the document's tree up to date once its edits pause for [`QUIET_BEFORE_PARSE`], on
/// the runtime the edit came from (none on the command line, which parses when it asks).
/// Only documents that have a tree get one kept current: a document too large or binary to
/// parse, or whose tree no feature asked for, is left alone.
fn reparse_when_quiet(handle: &Arc<DocumentHandle>, edited_at: Option<usize>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    {
        let mut background = handle.background.lock();
        background.last_edit = Instant::now();
        background.last_edit_at = edited_at;
        if background.scheduled {
            return;
        }
        background.scheduled = true;
    }
    // Held weakly while waiting: closing the document frees it without waiting for this.
    let waiting = Arc::downgrade(handle);
    runtime.spawn(async move {
        loop {
            let Some(handle) = waiting.upgrade() else {
                return;
            };
            let quiet = handle.background.lock().last_edit.elapsed();
            if quiet >= QUIET_BEFORE_PARSE {
                let edited_at = {
                    let mut background = handle.background.lock();
                    background.scheduled = false;
                    background.last_edit_at
                };
                let snapshot = syntax_of(&handle).await;
                if let Some(at) = edited_at {
                    prepare_in_background(handle, snapshot, at).await;
                }
                return;
            }
            drop(handle);
            tokio::time::sleep(QUIET_BEFORE_PARSE - quiet).await;
        }
    });
}

async fn syntax_of(handle: &DocumentHandle) -> SyntaxSnapshot {
    let _permit = handle.parse_permit.lock().await;
    let (snapshot, language) = {
        let mut document = handle.document.lock();
        if let Some(fresh) = document.fresh_syntax() {
            return fresh;
        }
        (document.parse_snapshot(), document.language())
    };
    let result = if language == Language::Elixir {
        let parsed = snapshot.clone();
        tokio::task::spawn_blocking(move || parse_snapshot(&parsed, language))
            .await
            .unwrap_or(Err(SyntaxUnavailable::ParserFailed))
    } else {
        Err(SyntaxUnavailable::NotElixir)
    };
    let notice = handle.document.lock().install_tree(&snapshot, &result);
    if let (Some(notice), Some(notices)) = (notice, &handle.limit_notices) {
        tracing::warn!(document = %handle.key, "{notice}");
        notices(&handle.key, notice);
    }
    SyntaxSnapshot {
        rope: snapshot.rope,
        version: snapshot.version,
        tree: result,
    }
}
