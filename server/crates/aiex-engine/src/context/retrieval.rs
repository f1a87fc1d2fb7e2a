//! Retrieval by relevance: BM25 over the workspace's function chunks (their names, signatures,
//! specs, docs and bodies, split into identifier words).
//!
//! The inverted index is built once per state of the workspace index (a fingerprint of its
//! files' paths and content hashes) and shared by the requests that follow. When the workspace
//! changes, requests keep using the previous inverted index while a background thread builds
//! the new one (a hit is shown only if its file is unchanged in the index), so a save never
//! puts a rebuild on a completion's path; [`warm`] builds it up front.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::sources::{SourceFile, Sources};
use crate::chunks::FunctionChunk;
use crate::index::IndexedFile;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// The most postings one query scores (a bound on its cost in a large workspace).
const MAX_POSTINGS: usize = 20_000;

/// Words too common in Elixir to say anything about relevance.
const STOP_WORDS: &[&str] = &[
    "def", "defp", "do", "end", "fn", "when", "and", "or", "not", "in", "nil", "true", "false",
    "ok", "error", "if", "else", "case", "cond", "with", "the", "a", "an", "of", "to", "is", "it",
    "spec", "doc", "t", "term", "any", "x", "_",
];

/// A function chunk found relevant.
pub(crate) struct Hit<'a> {
    pub file: SourceFile<'a>,
    pub module: String,
    pub function: FunctionChunk,
}

/// One function chunk of the index.
struct Document {
    file: Arc<IndexedFile>,
    module: String,
    /// Position of the function in its module.
    function: usize,
    length: f32,
}

/// The inverted index.
struct Bm25 {
    fingerprint: u64,
    documents: Vec<Document>,
    /// Word to (document, frequency).
    postings: HashMap<String, Vec<(u32, u16)>>,
    average_length: f32,
}

static CACHE: Mutex<Option<Arc<Bm25>>> = Mutex::new(None);
static REBUILDING: AtomicBool = AtomicBool::new(false);

/// Builds the inverted index of the workspace now if it is missing or out of date. Slow on a
/// large workspace (about 0.25 s for 300,000 lines): call it off the request path.
pub(crate) fn warm(files: Vec<Arc<IndexedFile>>) {
    let fingerprint = fingerprint(&files);
    let fresh = CACHE
        .lock()
        .as_ref()
        .is_some_and(|c| c.fingerprint == fingerprint);
    if !fresh {
        let built = Arc::new(build(&files, fingerprint));
        *CACHE.lock() = Some(built);
    }
}

/// The `limit` function chunks of the workspace most relevant to `query`, best first.
pub(crate) fn search<'a>(sources: &Sources<'a>, query: &str, limit: usize) -> Vec<Hit<'a>> {
    let files = sources.all_indexed_files();
    if files.is_empty() {
        return Vec::new();
    }
    let bm25 = index_for(files);
    let mut query_words: Vec<String> = Vec::new();
    words(query, &mut |word| {
        if !query_words.iter().any(|w| w == word) {
            query_words.push(word.to_owned());
        }
    });
    // Rarest words first, and no more than MAX_POSTINGS postings scored in all: common words
    // say little and would make a request's cost grow with the workspace.
    let mut lists: Vec<&Vec<(u32, u16)>> = query_words
        .iter()
        .filter_map(|word| bm25.postings.get(word))
        .collect();
    lists.sort_by_key(|postings| postings.len());
    let total = bm25.documents.len() as f32;
    let mut scores: HashMap<u32, f32> = HashMap::new();
    let mut scanned = 0;
    for postings in lists {
        scanned += postings.len();
        if scanned > MAX_POSTINGS {
            break;
        }
        let df = postings.len() as f32;
        let idf = ((total - df + 0.5) / (df + 0.5) + 1.0).ln();
        for &(document, frequency) in postings {
            let length = bm25.documents[document as usize].length;
            let tf = f32::from(frequency);
            let norm =
                tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / bm25.average_length.max(1.0)));
            *scores.entry(document).or_insert(0.0) += idf * norm;
        }
    }
    let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .filter_map(|(document, _)| {
            let document = &bm25.documents[document as usize];
            if !sources.shows_indexed(&document.file.relative) {
                return None;
            }
            // The inverted index may be older than the workspace index: show a hit only from
            // the file's current version.
            let current = sources.indexed_file(&document.file.path)?;
            if current.hash != document.file.hash {
                return None;
            }
            let function = current
                .chunks
                .all_modules()
                .into_iter()
                .find(|m| m.name == document.module)?
                .functions
                .get(document.function)?
                .clone();
            Some(Hit {
                file: sources.indexed(&current),
                module: document.module.clone(),
                function,
            })
        })
        .take(limit)
        .collect()
}

/// The inverted index for these files: the cached one, even if out of date (a background
/// rebuild is then started); built here only when there is none.
fn index_for(files: Vec<Arc<IndexedFile>>) -> Arc<Bm25> {
    let fingerprint = fingerprint(&files);
    let cached = CACHE.lock().clone();
    match cached {
        Some(cached) if cached.fingerprint == fingerprint => cached,
        Some(stale) => {
            rebuild_in_background(files, fingerprint);
            stale
        }
        None => {
            let built = Arc::new(build(&files, fingerprint));
            *CACHE.lock() = Some(Arc::clone(&built));
            built
        }
    }
}

fn rebuild_in_background(files: Vec<Arc<IndexedFile>>, fingerprint: u64) {
    if REBUILDING.swap(true, Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("aiex-bm25".to_owned())
        .spawn(move || {
            let built = Arc::new(build(&files, fingerprint));
            *CACHE.lock() = Some(built);
            REBUILDING.store(false, Ordering::SeqCst);
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start the retrieval index rebuild: {error}");
        REBUILDING.store(false, Ordering::SeqCst);
    }
}

/// An order-independent sum over the files' paths and content hashes: no sorting per request.
fn fingerprint(files: &[Arc<IndexedFile>]) -> u64 {
    files.iter().fold(files.len() as u64, |sum, file| {
        let mut hasher = DefaultHasher::new();
        file.path.as_os_str().hash(&mut hasher);
        file.hash.hash(&mut hasher);
        sum.wrapping_add(hasher.finish())
    })
}

fn build(files: &[Arc<IndexedFile>], fingerprint: u64) -> Bm25 {
    let mut documents = Vec::new();
    let mut postings: HashMap<String, Vec<(u32, u16)>> = HashMap::new();
    let mut total_length = 0.0;
    let mut counts: HashMap<String, u16> = HashMap::new();
    for file in files {
        if !super::sources::is_allowed(&file.relative) {
            continue;
        }
        for module in file.chunks.all_modules() {
            for (position, function) in module.functions.iter().enumerate() {
                counts.clear();
                let mut length = 0usize;
                let mut add = |word: &str| {
                    length += 1;
                    let count = counts.entry(word.to_owned()).or_insert(0);
                    *count = count.saturating_add(1);
                };
                let text = file
                    .text
                    .get(function.range.start..function.range.end)
                    .unwrap_or("");
                words(&function.name, &mut add);
                words(&module.name, &mut add);
                words(text, &mut add);
                let id = documents.len() as u32;
                for (word, count) in counts.drain() {
                    postings.entry(word).or_default().push((id, count));
                }
                total_length += length as f32;
                documents.push(Document {
                    file: Arc::clone(file),
                    module: module.name.clone(),
                    function: position,
                    length: length as f32,
                });
            }
        }
    }
    let average_length = if documents.is_empty() {
        0.0
    } else {
        total_length / documents.len() as f32
    };
    Bm25 {
        fingerprint,
        documents,
        postings,
        average_length,
    }
}

/// Calls `emit` with the words of `text`: each identifier lowercased, and its parts when it is
/// written in snake_case or CamelCase (`register_user` → `register_user`, `register`, `user`).
fn words(text: &str, emit: &mut dyn FnMut(&str)) {
    for identifier in
        text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '?' || c == '!'))
    {
        let identifier = identifier.trim_matches(|c| c == '_' || c == '?' || c == '!');
        if identifier.len() < 2 || identifier.as_bytes()[0].is_ascii_digit() {
            continue;
        }
        let lower = identifier.to_lowercase();
        if !STOP_WORDS.contains(&lower.as_str()) {
            emit(&lower);
        }
        let mut parts = Vec::new();
        let mut part = String::new();
        for c in identifier.chars() {
            if c == '_' || (c.is_uppercase() && !part.is_empty()) {
                if !part.is_empty() {
                    parts.push(std::mem::take(&mut part));
                }
                if c == '_' {
                    continue;
                }
            }
            part.extend(c.to_lowercase());
        }
        if !part.is_empty() {
            parts.push(part);
        }
        if parts.len() > 1 {
            for part in parts {
                if part.len() >= 2 && !STOP_WORDS.contains(&part.as_str()) {
                    emit(&part);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_snake_and_camel_case() {
        let mut out = Vec::new();
        words("Repo.insert_all(UserToken, x) do end", &mut |w| {
            out.push(w.to_owned())
        });
        assert_eq!(
            out,
            [
                "repo",
                "insert_all",
                "insert",
                "all",
                "usertoken",
                "user",
                "token"
            ]
        );
    }
}
