//! The workspace index: the chunks of every Elixir file under the workspace roots, built in
//! parallel, persisted between runs, and kept current as files change.
//!
//! Architecture invariant: the index only reads files the walker lists (inside the roots,
//! ignore rules honoured, no symlinks followed) and never knows about LSP. Open documents
//! override it at the protocol layer, not here.

mod build;
mod cache;
mod packed;
mod relevance;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use sha2::{Digest, Sha256};

pub use build::{BuildReport, IndexOptions, Progress};
pub use cache::{default_cache_dir, IndexCache, RemoteCalls};
pub use packed::PackedChunks;

use crate::chunks::{self, FileChunks, FunctionChunk, ModuleChunk};

/// A hex digest of a file's content: the key of its cached chunks.
pub type ContentHash = String;

/// The hash of `text` as the index keys it.
pub fn content_hash(text: &str) -> ContentHash {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// One indexed file.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Path relative to its workspace root.
    pub relative: PathBuf,
    /// Hash of the content the chunks come from.
    pub hash: ContentHash,
    /// Where the content is: read from disk when asked for ([`Self::text`]), not held.
    content: Content,
    /// Its chunks, packed (see [`Self::chunks`]), without their call sites (every
    /// function's `calls` is empty: the index keeps what it needs of them, counted, in
    /// `remote_calls`).
    packed: PackedChunks,
    /// The file's remote calls by target: (module as the caller's aliases resolve it,
    /// function name, call sites). Once inserted, the names are the ones the index's call
    /// counts are keyed by, shared rather than copied per file.
    pub remote_calls: RemoteCalls,
}

/// Where an indexed file's content is.
#[derive(Debug, Clone)]
enum Content {
    /// Given by its text (an editor's saved buffer, a test): held.
    Held(Arc<str>),
    /// Read from disk by the walker: read again when needed, and only while the file's size
    /// and modification time are still the ones it was indexed at (a file changed since is
    /// reindexed by the watcher; until then its chunks' ranges do not fit its new text).
    OnDisk {
        len: usize,
        modified: Option<std::time::SystemTime>,
    },
}

impl IndexedFile {
    /// The file's chunks, unpacked for the caller (microseconds for a file of a few hundred
    /// lines): the index holds them packed, a third of their size as structs. A caller that
    /// looks at a file several times keeps what this returns.
    pub fn chunks(&self) -> Arc<FileChunks> {
        Arc::new(self.packed.unpack())
    }

    /// The file's chunks as the index holds them.
    pub fn packed(&self) -> &PackedChunks {
        &self.packed
    }

    /// The file's content as indexed: `None` when it is on disk and no longer the indexed
    /// version (or unreadable).
    pub fn text(&self) -> Option<Arc<str>> {
        match &self.content {
            Content::Held(text) => Some(Arc::clone(text)),
            Content::OnDisk { len, modified } => {
                let unchanged = |metadata: &std::fs::Metadata| {
                    metadata.len() == *len as u64 && metadata.modified().ok() == *modified
                };
                let mut file = std::fs::File::open(&self.path).ok()?;
                if !unchanged(&file.metadata().ok()?) {
                    return None;
                }
                let mut bytes = Vec::with_capacity(*len);
                std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
                if bytes.len() != *len {
                    return None;
                }
                String::from_utf8(bytes).ok().map(Arc::from)
            }
        }
    }

    /// Bytes of the content as indexed.
    pub fn len(&self) -> usize {
        match &self.content {
            Content::Held(text) => text.len(),
            Content::OnDisk { len, .. } => *len,
        }
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A file the walker read from disk: its text is not kept (8 MB with 300,000 lines
    /// indexed), only what tells whether the file is still the one indexed. `modified` is
    /// the modification time read *before* the text: a write in between leaves a time or a
    /// size that does not match, and the text is then refused rather than misread.
    pub fn from_disk(
        path: PathBuf,
        relative: PathBuf,
        hash: ContentHash,
        text: &str,
        modified: Option<std::time::SystemTime>,
        packed: PackedChunks,
        remote_calls: RemoteCalls,
    ) -> Self {
        Self {
            path,
            relative,
            hash,
            content: Content::OnDisk {
                len: text.len(),
                modified,
            },
            packed,
            remote_calls,
        }
    }

    /// A file from its text and its freshly extracted chunks: the call sites leave the chunks
    /// (counted into `remote_calls`) and the lists are trimmed to their length. The text is
    /// held.
    pub fn new(
        path: PathBuf,
        relative: PathBuf,
        hash: ContentHash,
        text: Arc<str>,
        chunks: FileChunks,
    ) -> Self {
        let (packed, remote_calls) = Self::compact(chunks);
        Self {
            path,
            relative,
            hash,
            content: Content::Held(text),
            packed,
            remote_calls,
        }
    }

    /// Chunks as the index keeps them: call sites taken out and counted, the rest packed.
    pub fn compact(mut chunks: FileChunks) -> (PackedChunks, RemoteCalls) {
        let remote_calls = chunks
            .take_remote_calls()
            .into_iter()
            .map(|(module, function, count)| (Arc::from(module), Arc::from(function), count))
            .collect();
        (PackedChunks::pack(&chunks), remote_calls)
    }
}

/// The index of a workspace.
#[derive(Debug, Default)]
pub struct WorkspaceIndex {
    files: DashMap<PathBuf, Arc<IndexedFile>>,
    /// Module name to the file defining it.
    modules: DashMap<String, PathBuf>,
    /// BM25 over the files' functions, following the files.
    relevance: Arc<relevance::Relevance>,
    /// Module name to how many call sites in the workspace call each of its functions (by
    /// name): which of a large module's functions a caller most likely wants.
    /// Its keys are the names files' `remote_calls` share.
    calls_into: DashMap<Arc<str>, HashMap<Arc<str>, u32>>,
    /// Bumped after every change to `files`: a request finds the relevance ranking still
    /// current without listing and fingerprinting every file.
    generation: AtomicU64,
    /// The files context requests read last.
    recently_read: RecentlyRead,
}

/// The files last read for context requests, most recent last: their chunks unpacked and
/// their text, bounded by their packed and text bytes. Completions while typing read the same
/// callees' and related functions' files request after request: unpacking them each time cost
/// ~0.5 ms of server time per completion, and reading a 280 KB file of callees from disk
/// ~0.15 ms (bench `typing_burst`).
#[derive(Debug, Default)]
struct RecentlyRead {
    files: parking_lot::Mutex<std::collections::VecDeque<ReadFile>>,
}

#[derive(Debug)]
struct ReadFile {
    /// The file as indexed: a file replaced in the index is never served from here.
    file: std::sync::Weak<IndexedFile>,
    chunks: Arc<FileChunks>,
    /// Kept once a request read it (`WorkspaceIndex::read`).
    text: Option<Arc<str>>,
    /// What the entry counts against [`RECENTLY_READ_BYTES`]: its packed chunks (about a
    /// third of them unpacked) and its text.
    bytes: usize,
}

/// Packed chunk bytes and text bytes of the files [`RecentlyRead`] keeps; the last file read
/// is kept whatever its size.
const RECENTLY_READ_BYTES: usize = 512 * 1024;

impl RecentlyRead {
    /// The chunks of `file`, and its text when `with_text` (`None` then when the file on disk
    /// is no longer the indexed version).
    fn read(
        &self,
        file: &Arc<IndexedFile>,
        with_text: bool,
    ) -> Option<(Arc<FileChunks>, Option<Arc<str>>)> {
        let this = Arc::downgrade(file);
        let known = {
            let mut files = self.files.lock();
            let at = files.iter().position(|known| known.file.ptr_eq(&this));
            match at.and_then(|at| files.remove(at)) {
                Some(entry) if entry.text.is_some() || !with_text => {
                    let found = (Arc::clone(&entry.chunks), entry.text.clone());
                    files.push_back(entry);
                    return Some(found);
                }
                Some(entry) => Some(entry.chunks),
                None => None,
            }
        };
        // Read and unpacked outside the lock: another request may do the same meanwhile.
        let text = if with_text { Some(file.text()?) } else { None };
        let chunks = known.unwrap_or_else(|| file.chunks());
        let mut files = self.files.lock();
        // A file replaced or removed since is of no use.
        files.retain(|known| known.file.strong_count() > 0 && !known.file.ptr_eq(&this));
        files.push_back(ReadFile {
            file: this,
            chunks: Arc::clone(&chunks),
            bytes: file.packed.byte_len() + text.as_ref().map_or(0, |t| t.len()),
            text: text.clone(),
        });
        let mut total: usize = files.iter().map(|f| f.bytes).sum();
        while total > RECENTLY_READ_BYTES && files.len() > 1 {
            if let Some(oldest) = files.pop_front() {
                total -= oldest.bytes;
            }
        }
        Some((chunks, text))
    }

    fn clear(&self) {
        self.files.lock().clear();
    }
}

/// A function the relevance ranking found.
#[derive(Debug, Clone)]
pub struct RelevantFunction {
    /// The file, as the ranking saw it (compare its hash with the index's current one).
    pub file: Arc<IndexedFile>,
    /// The module's position among the file's modules (`FileChunks::all_modules`): its name
    /// is read where the file's chunks are unpacked anyway, not once per ranked function.
    pub module: usize,
    /// The function's position among the module's functions.
    pub function: usize,
}

impl RelevantFunction {
    /// The module's full name (unpacks the file's chunks).
    pub fn module_name(&self) -> Option<String> {
        let chunks = self.file.chunks();
        Some(chunks.all_modules().get(self.module)?.name.clone())
    }
}

/// What the index holds, in numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexCounts {
    /// Files indexed.
    pub files: usize,
    /// Modules, nested ones included.
    pub modules: usize,
    /// Functions and macros (grouped by name and arity).
    pub functions: usize,
    /// Bytes of source.
    pub bytes: usize,
}

impl WorkspaceIndex {
    /// Builds the relevance ranking of the files now if it is missing or out of date (about
    /// 0.25 s for 300,000 lines): call it after indexing, off the request path.
    pub fn warm_relevance(&self) {
        self.relevance.warm(&self.files());
    }

    /// The functions most relevant to `query`, best first (BM25 over their words), drawn as
    /// the caller reads them. Runs on completion requests: the ranking is reused until the
    /// files change, then rebuilt in the background while the previous one answers.
    ///
    /// The functions of the files at the workspace-relative paths `shown_elsewhere` (the
    /// document being edited, the open ones: shown from their editors' text) are left out.
    pub fn relevant(
        &self,
        query: &str,
        shown_elsewhere: &[&Path],
    ) -> impl Iterator<Item = RelevantFunction> {
        let generation = self.generation.load(Ordering::Acquire);
        let bm25 = self.relevance.for_index(generation, || self.files());
        let ranking = bm25.as_ref().map(|bm25| {
            let mut left_out: Vec<_> = shown_elsewhere
                .iter()
                .map(|relative| bm25.documents_of(relative))
                .filter(|range| !range.is_empty())
                .collect();
            left_out.sort_by_key(|range| range.start);
            left_out.dedup();
            bm25.rank(query, &left_out)
        });
        ranking.into_iter().flatten().filter_map(move |id| {
            let document = bm25.as_ref()?.document(id)?;
            Some(RelevantFunction {
                file: Arc::clone(&document.file),
                module: document.module as usize,
                function: document.function as usize,
            })
        })
    }

    /// The chunks of `file` for a context request: unpacked, or kept from a recent request
    /// while the file is the index's current one (bounded in bytes, see [`RecentlyRead`]).
    pub fn chunks_of(&self, file: &Arc<IndexedFile>) -> Arc<FileChunks> {
        match self.recently_read.read(file, false) {
            Some((chunks, _)) => chunks,
            None => file.chunks(),
        }
    }

    /// The text and chunks of `file` for a context request: read from disk and unpacked, or
    /// kept from a recent request while the file is the index's current one. `None` when the
    /// file on disk is no longer the version indexed.
    pub fn read(&self, file: &Arc<IndexedFile>) -> Option<(Arc<str>, Arc<FileChunks>)> {
        let (chunks, text) = self.recently_read.read(file, true)?;
        Some((text?, chunks))
    }

    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file from its current text.
    pub fn update_file(&self, path: &Path, relative: &Path, text: &str) -> Arc<IndexedFile> {
        let hash = content_hash(text);
        if let Some(existing) = self.files.get(path) {
            if existing.hash == hash {
                return Arc::clone(&existing);
            }
        }
        let file_chunks = match crate::syntax::parse_str(text) {
            Ok(tree) => chunks::extract(&tree, text),
            Err(_) => FileChunks::default(),
        };
        self.insert(IndexedFile::new(
            path.to_owned(),
            relative.to_owned(),
            hash,
            Arc::from(text),
            file_chunks,
        ))
    }

    /// Adds a file whose chunks are already known.
    pub fn insert(&self, mut file: IndexedFile) -> Arc<IndexedFile> {
        self.count_calls(&mut file.remote_calls);
        let file = Arc::new(file);
        if let Some(old) = self.files.insert(file.path.clone(), Arc::clone(&file)) {
            self.forget_modules(&old);
            self.uncount_calls(&old.remote_calls);
        }
        for module in file.chunks().all_modules() {
            self.modules.insert(module.name.clone(), file.path.clone());
        }
        self.generation.fetch_add(1, Ordering::Release);
        file
    }

    /// Removes a file (deleted or renamed away); true if it was indexed.
    pub fn remove_file(&self, path: &Path) -> bool {
        match self.files.remove(path) {
            Some((_, old)) => {
                self.forget_modules(&old);
                self.uncount_calls(&old.remote_calls);
                self.generation.fetch_add(1, Ordering::Release);
                true
            }
            None => false,
        }
    }

    fn forget_modules(&self, old: &IndexedFile) {
        for module in old.chunks().all_modules() {
            self.modules
                .remove_if(&module.name, |_, path| path == &old.path);
        }
    }

    /// Adds a file's calls to the counts, and makes its names the counts' own (one copy of
    /// each name, however many files call it).
    fn count_calls(&self, calls: &mut [(Arc<str>, Arc<str>, u32)]) {
        for (module, function, count) in calls.iter_mut() {
            let mut counts = match self.calls_into.get_mut(&**module) {
                Some(counts) => counts,
                None => self.calls_into.entry(Arc::clone(module)).or_default(),
            };
            *module = Arc::clone(counts.key());
            if let Some((name, _)) = counts.get_key_value(&**function) {
                *function = Arc::clone(name);
            }
            let total = counts.entry(Arc::clone(function)).or_insert(0);
            *total = total.saturating_add(*count);
        }
    }

    fn uncount_calls(&self, calls: &[(Arc<str>, Arc<str>, u32)]) {
        for (module, function, count) in calls {
            if let Some(mut counts) = self.calls_into.get_mut(&**module) {
                if let Some(total) = counts.get_mut(&**function) {
                    *total = total.saturating_sub(*count);
                }
            }
        }
    }

    /// How many call sites of the indexed workspace call each function of `module`, by name.
    pub fn calls_into(&self, module: &str) -> HashMap<String, u32> {
        self.calls_into
            .get(module)
            .map(|counts| {
                counts
                    .iter()
                    .map(|(name, count)| (name.to_string(), *count))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The indexed file at `path`.
    pub fn file(&self, path: &Path) -> Option<Arc<IndexedFile>> {
        self.files.get(path).map(|f| Arc::clone(&f))
    }

    /// Every indexed file.
    pub fn files(&self) -> Vec<Arc<IndexedFile>> {
        self.files.iter().map(|f| Arc::clone(f.value())).collect()
    }

    /// The file defining module `name`.
    pub fn module_file(&self, name: &str) -> Option<Arc<IndexedFile>> {
        let path = self.modules.get(name)?.clone();
        self.file(&path)
    }

    /// The function `module.name/arity` with the file it lives in.
    pub fn function(
        &self,
        module: &str,
        name: &str,
        arity: usize,
    ) -> Option<(Arc<IndexedFile>, FunctionChunk)> {
        let file = self.module_file(module)?;
        let found = file
            .chunks()
            .all_modules()
            .into_iter()
            .find(|m| m.name == module)
            .and_then(|m: &ModuleChunk| m.function(name, arity).cloned())?;
        Some((file, found))
    }

    /// Counts of what is indexed.
    pub fn counts(&self) -> IndexCounts {
        let mut counts = IndexCounts::default();
        for file in self.files.iter() {
            counts.files += 1;
            counts.bytes += file.len();
            counts.modules += file.packed.module_count();
            counts.functions += file.packed.function_count();
        }
        counts
    }

    /// Rebuilds the index from the files under `options.roots`, reusing `cache` for files
    /// whose content it knows. `progress` is called from worker threads.
    pub fn rebuild(
        &self,
        options: &IndexOptions,
        cache: Option<&IndexCache>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<BuildReport, crate::walk::WalkError> {
        build::build(self, options, cache, progress)
    }

    /// Removes every file.
    pub fn clear(&self) {
        self.recently_read.clear();
        self.files.clear();
        self.modules.clear();
        self.calls_into.clear();
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// Adds (`sign` 1) or removes (-1) one call of `function` in per-function call counts.
pub(crate) fn add_call(counts: &mut HashMap<String, u32>, function: &str, sign: i64) {
    let count = counts.entry(function.to_owned()).or_default();
    *count = (i64::from(*count) + sign).max(0) as u32;
}

/// Resolves `path` against the workspace roots: its canonical form and its path relative to
/// the root holding it, or `None` when it lies outside every root (after following `..` and
/// symlinks), is not an Elixir file, or sits in a directory the walker skips.
pub fn resolve_in_roots(path: &Path, roots: &[PathBuf]) -> Option<(PathBuf, PathBuf)> {
    if !crate::walk::is_elixir_path(path, false) {
        return None;
    }
    // A deleted file cannot be canonicalized: canonicalize its directory instead.
    let canonical = match path.canonicalize() {
        Ok(canonical) => canonical,
        Err(_) => path.parent()?.canonicalize().ok()?.join(path.file_name()?),
    };
    roots.iter().find_map(|root| {
        let root = root.canonicalize().ok()?;
        let relative = canonical.strip_prefix(&root).ok()?.to_path_buf();
        let skipped = relative.components().any(|part| {
            crate::walk::SKIPPED_DIRS
                .iter()
                .any(|dir| part.as_os_str() == *dir)
        });
        (!skipped).then(|| (canonical.clone(), relative))
    })
}

/// `path` with `//` and `.` segments dropped and `..` resolved lexically (never above the
/// root); `None` when it is relative or holds a NUL byte. Symlinks are not followed.
pub fn normalize_path(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() || path.as_os_str().as_encoded_bytes().contains(&0) {
        return None;
    }
    Some(crate::document::key::normalize(path))
}

/// A symbol found by a workspace-wide search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolMatch {
    /// `MyApp.Accounts` or `register/1`.
    pub name: String,
    /// The module a function belongs to.
    pub container: Option<String>,
    /// True for modules, false for functions.
    pub is_module: bool,
    /// The file.
    pub file: PathBuf,
    /// The name's byte range in the file.
    pub range: crate::chunks::ByteRange,
    /// How well it matched (lower is better).
    pub score: usize,
}

impl WorkspaceIndex {
    /// Modules and functions whose qualified name matches `query` as a case-insensitive
    /// subsequence, best first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SymbolMatch> {
        self.search_within(query, limit, &|| false).0
    }

    /// [`Self::search`] that stops when `should_stop` says so (asked once per file), returning
    /// the best of what it found and `true` for a cut result.
    pub fn search_within(
        &self,
        query: &str,
        limit: usize,
        should_stop: &dyn Fn() -> bool,
    ) -> (Vec<SymbolMatch>, bool) {
        let query = query.to_lowercase();
        let mut matches = Vec::new();
        let mut cut = false;
        for file in self.files.iter() {
            if should_stop() {
                cut = true;
                break;
            }
            let chunks = file.chunks();
            for module in chunks.all_modules() {
                if let Some(score) = fuzzy_score(&query, &module.name) {
                    matches.push(SymbolMatch {
                        name: module.name.clone(),
                        container: None,
                        is_module: true,
                        file: file.path.clone(),
                        range: module.name_range,
                        score,
                    });
                }
                for function in &module.functions {
                    let qualified = format!("{}.{}", module.name, function.label());
                    if let Some(score) = fuzzy_score(&query, &qualified) {
                        let name_range = function
                            .clauses
                            .first()
                            .map_or(function.range, |c| c.name_range);
                        matches.push(SymbolMatch {
                            name: function.label(),
                            container: Some(module.name.clone()),
                            is_module: false,
                            file: file.path.clone(),
                            range: name_range,
                            score,
                        });
                    }
                }
            }
        }
        matches.sort_by(|a, b| a.score.cmp(&b.score).then_with(|| a.name.cmp(&b.name)));
        matches.truncate(limit);
        (matches, cut)
    }
}

/// Scores `candidate` against a lowercase query: `None` if the query is not a subsequence;
/// otherwise smaller is better (a match at a word start and a short candidate win).
fn fuzzy_score(query: &str, candidate: &str) -> Option<usize> {
    if query.is_empty() {
        return Some(candidate.len());
    }
    let lower = candidate.to_lowercase();
    // A subsequence is never longer than what holds it: a 1 MB query is rejected here at
    // once instead of being scanned for in every symbol.
    if query.len() > lower.len() {
        return None;
    }
    if let Some(at) = lower.rfind(query) {
        // A contiguous match in the last segment scores best.
        let in_last_segment = lower[at..].find('.').is_none();
        return Some(if in_last_segment { 0 } else { 100 } + lower.len() - query.len());
    }
    let mut gaps = 0;
    let mut chars = lower.chars();
    for wanted in query.chars() {
        loop {
            let next = chars.next()?;
            if next == wanted {
                break;
            }
            gaps += 1;
        }
    }
    Some(1_000 + gaps)
}

#[cfg(test)]
mod tests;
