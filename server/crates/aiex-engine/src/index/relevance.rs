//! Relevance over the workspace index: BM25 over its function chunks (their names, signatures,
//! specs, docs and bodies, split into identifier words). It belongs to the index and follows it:
//! built once per state of the index (a fingerprint of its files' paths and content hashes)
//! and shared by the requests that follow. When the index changes, requests keep using the
//! previous inverted index while a background thread builds the new one, so a save never puts a
//! rebuild on a completion's path; [`WorkspaceIndex::warm_relevance`] builds it up front.

use std::collections::{BinaryHeap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::IndexedFile;
#[cfg(doc)]
use super::WorkspaceIndex;

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

/// One function chunk of the index (16 bytes: one per function of the workspace).
pub(crate) struct Document {
    pub file: Arc<IndexedFile>,
    /// Position of the module in its file's `all_modules()` (its name is read from there, not
    /// copied per function).
    pub module: u32,
    /// Position of the function in its module.
    pub function: u32,
}

/// The inverted index.
///
/// Invariant: a word's postings are one range of `posting_documents` and, at the same
/// positions, `posting_frequencies`, its documents in increasing order; the two arrays hold
/// every posting once with no spare capacity (6 bytes a posting, against 8 and up to twice
/// that in spare capacity as a list per word).
pub(crate) struct Bm25 {
    fingerprint: u64,
    documents: Vec<Document>,
    /// BM25's length normalisation of each document, `K1 * (1 - B + B * length / average)`:
    /// the same for every query, so computed once when the index is built; apart from the
    /// documents, as scoring reads it for every posting.
    length_norms: Box<[f32]>,
    /// The weight of one occurrence in each document, `(K1 + 1) / (1 + length_norm)`: most
    /// postings are a word's one occurrence in a function, and this spares their division
    /// (the same float operations as the formula, so the same scores).
    once_weights: Box<[f32]>,
    /// Word to the start and length of its postings.
    words: HashMap<Box<str>, (u32, u32)>,
    posting_documents: Box<[u32]>,
    posting_frequencies: Box<[u16]>,
}

/// The inverted index of an index, rebuilt as the index changes.
#[derive(Default)]
pub(crate) struct Relevance {
    current: Mutex<Option<Current>>,
    rebuilding: AtomicBool,
}

/// The inverted index requests use.
struct Current {
    bm25: Arc<Bm25>,
    /// A generation of the workspace index whose files `bm25` was found to match: while the
    /// index is at that generation, requests use it without fingerprinting the files again.
    /// `None` until a request checks.
    verified_at: Option<u64>,
}

impl std::fmt::Debug for Relevance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let documents = self
            .current
            .lock()
            .as_ref()
            .map(|current| current.bm25.documents.len());
        f.debug_struct("Relevance")
            .field("documents", &documents)
            .finish()
    }
}

impl Relevance {
    /// Builds the inverted index of `files` now if it is missing or out of date. Slow on a
    /// large workspace (about 0.25 s for 300,000 lines): call it off the request path.
    pub fn warm(&self, files: &[Arc<IndexedFile>]) {
        let fingerprint = fingerprint(files);
        let fresh = self
            .current
            .lock()
            .as_ref()
            .is_some_and(|c| c.bm25.fingerprint == fingerprint);
        if !fresh {
            let built = Arc::new(build(files, fingerprint));
            *self.current.lock() = Some(Current {
                bm25: built,
                verified_at: None,
            });
        }
    }

    /// The inverted index for the files of the workspace index at `generation` (`files` lists
    /// them; none: no ranking): the current one, even if out of date (a background rebuild is
    /// then started); built here only when there is none. Once the current one is found to
    /// match the files of a generation, requests at that generation take it at once.
    pub fn for_index(
        self: &Arc<Self>,
        generation: u64,
        files: impl FnOnce() -> Vec<Arc<IndexedFile>>,
    ) -> Option<Arc<Bm25>> {
        if let Some(current) = &*self.current.lock() {
            if current.verified_at == Some(generation) {
                return Some(Arc::clone(&current.bm25));
            }
        }
        let files = files();
        if files.is_empty() {
            return None;
        }
        let fingerprint = fingerprint(&files);
        let mut current = self.current.lock();
        match current.as_mut() {
            Some(fresh) if fresh.bm25.fingerprint == fingerprint => {
                fresh.verified_at = Some(generation);
                Some(Arc::clone(&fresh.bm25))
            }
            Some(stale) => {
                let stale = Arc::clone(&stale.bm25);
                drop(current);
                self.rebuild_in_background(files, fingerprint);
                Some(stale)
            }
            None => {
                drop(current);
                let built = Arc::new(build(&files, fingerprint));
                *self.current.lock() = Some(Current {
                    bm25: Arc::clone(&built),
                    verified_at: Some(generation),
                });
                Some(built)
            }
        }
    }

    fn rebuild_in_background(self: &Arc<Self>, files: Vec<Arc<IndexedFile>>, fingerprint: u64) {
        if self.rebuilding.swap(true, Ordering::SeqCst) {
            return;
        }
        let relevance = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("aiex-bm25".to_owned())
            .spawn(move || {
                let built = Arc::new(build(&files, fingerprint));
                *relevance.current.lock() = Some(Current {
                    bm25: built,
                    verified_at: None,
                });
                relevance.rebuilding.store(false, Ordering::SeqCst);
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot start the retrieval index rebuild: {error}");
            self.rebuilding.store(false, Ordering::SeqCst);
        }
    }
}

impl Bm25 {
    /// The documents relevant to `query`, best first (highest score, then first numbered),
    /// drawn one at a time: a request reads the few it shows, not a sorted list of the
    /// thousands a common word touches. The documents numbered in `left_out` (sorted, as
    /// [`Bm25::documents_of`] gives them) are not scored: the files a request shows from
    /// elsewhere. The others rank as if none were left out.
    pub fn rank(&self, query: &str, left_out: &[std::ops::Range<u32>]) -> Ranking {
        let mut query_words: Vec<String> = Vec::new();
        words(query, &mut |word| {
            if !query_words.iter().any(|w| w == word) {
                query_words.push(word.to_owned());
            }
        });
        // Rarest words first, and no more than MAX_POSTINGS postings scored in all: common words
        // say little and would make a request's cost grow with the workspace.
        let mut lists: Vec<(&[u32], &[u16])> = query_words
            .iter()
            .filter_map(|word| self.postings(word))
            .collect();
        lists.sort_by_key(|(documents, _)| documents.len());
        let total = self.documents.len() as f32;
        // Scores by document, dense: a posting costs an add, not a hash-map entry. A document
        // is ranked once a posting touched it (NEG_INFINITY marks the untouched).
        let mut scores = vec![f32::NEG_INFINITY; self.documents.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut scanned = 0;
        for (documents, frequencies) in lists {
            // The bound and the weight count every posting, those left out too: the scores of
            // the others do not depend on what a request leaves out.
            scanned += documents.len();
            if scanned > MAX_POSTINGS {
                break;
            }
            let df = documents.len() as f32;
            let idf = ((total - df + 0.5) / (df + 0.5) + 1.0).ln();
            let kept = kept_postings(documents, left_out)
                .flat_map(|range| documents[range.clone()].iter().zip(&frequencies[range]));
            for (&document, &frequency) in kept {
                let norm = if frequency == 1 {
                    self.once_weights[document as usize]
                } else {
                    let tf = f32::from(frequency);
                    tf * (K1 + 1.0) / (tf + self.length_norms[document as usize])
                };
                let score = &mut scores[document as usize];
                if *score == f32::NEG_INFINITY {
                    *score = 0.0;
                    touched.push(document);
                }
                *score += idf * norm;
            }
        }
        Ranking {
            heap: touched
                .into_iter()
                .map(|document| Scored {
                    score: scores[document as usize],
                    document,
                })
                .collect(),
        }
    }

    /// The postings of `word`: its documents in increasing order and their frequencies.
    fn postings(&self, word: &str) -> Option<(&[u32], &[u16])> {
        let &(start, length) = self.words.get(word)?;
        let range = start as usize..(start + length) as usize;
        Some((
            self.posting_documents.get(range.clone())?,
            self.posting_frequencies.get(range)?,
        ))
    }

    /// The numbers of the documents of the files at workspace-relative path `relative` (one
    /// range: documents are numbered in path order).
    pub fn documents_of(&self, relative: &std::path::Path) -> std::ops::Range<u32> {
        let start = self
            .documents
            .partition_point(|d| d.file.relative.as_path() < relative);
        let end = self
            .documents
            .partition_point(|d| d.file.relative.as_path() <= relative);
        start as u32..end as u32
    }

    /// The document numbered `id` by a [`Ranking`].
    pub fn document(&self, id: u32) -> Option<&Document> {
        self.documents.get(id as usize)
    }
}

/// The positions in a postings list (`documents`, increasing) outside the ranges of document
/// numbers `left_out` (sorted, disjoint): found by binary search, so the postings of a file
/// left out cost nothing.
fn kept_postings<'a>(
    documents: &'a [u32],
    left_out: &'a [std::ops::Range<u32>],
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut from = 0;
    left_out
        .iter()
        .map(Some)
        .chain(std::iter::once(None))
        .filter_map(move |range| {
            let start = from;
            let end = match range {
                Some(range) => {
                    let end = documents.partition_point(|&d| d < range.start);
                    from = documents.partition_point(|&d| d < range.end).max(end);
                    end
                }
                None => documents.len(),
            };
            (start < end).then_some(start..end)
        })
}

/// The documents a query touched, best first: a heap built in linear time, popped as the caller
/// reads (the order of a full sort by score, then document number).
pub(crate) struct Ranking {
    heap: BinaryHeap<Scored>,
}

impl Iterator for Ranking {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        self.heap.pop().map(|scored| scored.document)
    }
}

/// A document's score; the greatest is the best: higher score, then lower number.
#[derive(Clone, Copy)]
struct Scored {
    score: f32,
    document: u32,
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.document.cmp(&self.document))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Scored {}

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
    // Numbered in the order of the files' workspace-relative paths: a file's functions are one
    // range of numbers that a request can find (`Bm25::documents_of`) and leave out, and equal
    // scores rank in an order that does not depend on the index's map.
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.relative.cmp(&b.relative).then(a.path.cmp(&b.path)));
    let mut documents = Vec::new();
    let mut lengths: Vec<f32> = Vec::new();
    let mut postings: HashMap<String, Vec<(u32, u16)>> = HashMap::new();
    let mut total_length = 0.0;
    let mut counts: HashMap<String, u16> = HashMap::new();
    for file in &files {
        if crate::secrets::is_secret_path(&file.relative) {
            continue;
        }
        // Read once per file (the index does not hold the texts); a file changed since it was
        // indexed is ranked by its names alone until it is reindexed.
        let file_text = file.text().unwrap_or_default();
        let chunks = file.chunks();
        for (module_position, module) in chunks.all_modules().into_iter().enumerate() {
            for (position, function) in module.functions.iter().enumerate() {
                counts.clear();
                let mut length = 0usize;
                let mut add = |word: &str| {
                    length += 1;
                    let count = counts.entry(word.to_owned()).or_insert(0);
                    *count = count.saturating_add(1);
                };
                let text = file_text
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
                    module: module_position as u32,
                    function: position as u32,
                });
                lengths.push(length as f32);
            }
        }
    }
    let average_length = if documents.is_empty() {
        0.0
    } else {
        total_length / documents.len() as f32
    };
    let length_norms: Box<[f32]> = lengths
        .iter()
        .map(|length| K1 * (1.0 - B + B * length / average_length.max(1.0)))
        .collect();
    let once_weights = length_norms
        .iter()
        .map(|norm| 1.0 * (K1 + 1.0) / (1.0 + norm))
        .collect();
    documents.shrink_to_fit();
    // One pass into the flat arrays; the lists per word are freed as they are copied.
    let total_postings = postings.values().map(Vec::len).sum();
    let mut words = HashMap::with_capacity(postings.len());
    let mut posting_documents = Vec::with_capacity(total_postings);
    let mut posting_frequencies = Vec::with_capacity(total_postings);
    for (word, list) in postings {
        words.insert(
            word.into_boxed_str(),
            (posting_documents.len() as u32, list.len() as u32),
        );
        for (document, frequency) in list {
            posting_documents.push(document);
            posting_frequencies.push(frequency);
        }
    }
    Bm25 {
        fingerprint,
        documents,
        length_norms,
        once_weights,
        words,
        posting_documents: posting_documents.into_boxed_slice(),
        posting_frequencies: posting_frequencies.into_boxed_slice(),
    }
}

/// Calls `emit` with the words of `text`: each identifier lowercased, and its parts when it is
/// written in snake_case or CamelCase (`register_user` → `register_user`, `register`, `user`).
fn words(text: &str, emit: &mut dyn FnMut(&str)) {
    // Reused for every identifier: the whole workspace goes through here when the index is
    // built, and each completion's query.
    let mut lower = String::new();
    let mut parts = String::new();
    let mut ends: Vec<usize> = Vec::new();
    for identifier in
        text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '?' || c == '!'))
    {
        let identifier = identifier.trim_matches(|c| c == '_' || c == '?' || c == '!');
        if identifier.len() < 2 || identifier.as_bytes()[0].is_ascii_digit() {
            continue;
        }
        lower.clear();
        if identifier.is_ascii() {
            lower.push_str(identifier);
            lower.make_ascii_lowercase();
        } else {
            // `str::to_lowercase`, not per character: a final sigma lowers to `ς`.
            lower.push_str(&identifier.to_lowercase());
        }
        if !STOP_WORDS.contains(&lower.as_str()) {
            emit(&lower);
        }
        // The parts, one after the other in `parts`, each ending where `ends` says.
        parts.clear();
        ends.clear();
        for c in identifier.chars() {
            if c == '_' || (c.is_uppercase() && parts.len() > ends.last().copied().unwrap_or(0)) {
                if parts.len() > ends.last().copied().unwrap_or(0) {
                    ends.push(parts.len());
                }
                if c == '_' {
                    continue;
                }
            }
            parts.extend(c.to_lowercase());
        }
        if parts.len() > ends.last().copied().unwrap_or(0) {
            ends.push(parts.len());
        }
        if ends.len() > 1 {
            let mut start = 0;
            for &end in &ends {
                let part = &parts[start..end];
                if part.len() >= 2 && !STOP_WORDS.contains(&part) {
                    emit(part);
                }
                start = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CART: (&str, &str) = ("lib/a.ex", "defmodule Shop.Cart do\n  def total(cart), do: Enum.sum(cart.prices)\n  def add(cart, item), do: [item | cart]\nend\n");
    const ORDERS: (&str, &str) = ("lib/b.ex", "defmodule Shop.Orders do\n  def place(cart), do: Shop.Cart.total(cart)\n  def cancel(order), do: order\nend\n");
    const PRICES: (&str, &str) = ("lib/c.ex", "defmodule Shop.Prices do\n  def total(prices), do: Enum.sum(prices)\n  def add(a, b), do: a + b\nend\n");
    const ITEMS: (&str, &str) = (
        "lib/d.ex",
        "defmodule Shop.Items do\n  def add(item, cart), do: [item | cart]\nend\n",
    );
    const QUERY: &str = "def total(cart) do Enum.sum(cart.prices) end add item order";

    /// The ranking of these files (workspace-relative path, text).
    fn ranking_of(files: &[(&str, &str)]) -> Bm25 {
        let index = crate::index::WorkspaceIndex::new();
        for (name, text) in files {
            index.update_file(
                std::path::Path::new(&format!("/w/{name}")),
                std::path::Path::new(name),
                text,
            );
        }
        build(&index.files(), 0)
    }

    #[test]
    fn a_ranking_pops_every_touched_function_best_score_first_then_in_path_order() {
        let bm25 = ranking_of(&[CART, ORDERS, PRICES]);
        let query = QUERY;
        // The rule, written plainly: every document a query word's postings reach, scored by
        // BM25, sorted by score (highest first) and then by number.
        let mut words_of_query: Vec<String> = Vec::new();
        words(query, &mut |w| {
            if !words_of_query.iter().any(|seen| seen == w) {
                words_of_query.push(w.to_owned());
            }
        });
        let total = bm25.documents.len() as f32;
        // A document's length: the words of its function's name, its module's name and its text.
        let lengths: Vec<f32> = bm25
            .documents
            .iter()
            .map(|d| {
                let text = d.file.text().expect("held");
                let chunks = d.file.chunks();
                let module = chunks.all_modules()[d.module as usize];
                let function = &module.functions[d.function as usize];
                let mut length = 0;
                for part in [
                    &function.name,
                    &module.name,
                    &text[function.range.start..function.range.end],
                ] {
                    words(part, &mut |_| length += 1);
                }
                length as f32
            })
            .collect();
        let average = lengths.iter().sum::<f32>() / total;
        let mut lists: Vec<(&[u32], &[u16])> = words_of_query
            .iter()
            .filter_map(|w| bm25.postings(w))
            .collect();
        lists.sort_by_key(|(documents, _)| documents.len());
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (documents, frequencies) in lists {
            let df = documents.len() as f32;
            let idf = ((total - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (&document, &frequency) in documents.iter().zip(frequencies) {
                let length = lengths[document as usize];
                let tf = f32::from(frequency);
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / average.max(1.0)));
                *scores.entry(document).or_insert(0.0) += idf * norm;
            }
        }
        let mut expected: Vec<(u32, f32)> = scores.into_iter().collect();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let expected: Vec<u32> = expected.into_iter().map(|(document, _)| document).collect();
        assert!(
            expected.len() >= 4,
            "the query touches most functions: {expected:?}"
        );
        assert_eq!(bm25.rank(query, &[]).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn files_left_out_are_not_ranked_and_the_others_rank_as_if_none_were() {
        // Given out of path order: numbered in it all the same.
        let bm25 = ranking_of(&[PRICES, CART, ORDERS, ITEMS]);
        let query = QUERY;
        let all: Vec<u32> = bm25.rank(query, &[]).collect();
        let path_of = |id: u32| bm25.documents[id as usize].file.relative.clone();
        // Numbered in path order: each file one range.
        let paths: Vec<_> = (0..bm25.documents.len() as u32).map(path_of).collect();
        assert!(paths.is_sorted(), "{paths:?}");
        for left_out in [
            vec!["lib/b.ex"],
            vec!["lib/a.ex", "lib/d.ex"],
            vec!["lib/a.ex", "lib/b.ex", "lib/c.ex", "lib/d.ex"],
            vec!["lib/none.ex"],
        ] {
            let mut ranges: Vec<_> = left_out
                .iter()
                .map(|p| bm25.documents_of(std::path::Path::new(p)))
                .filter(|r| !r.is_empty())
                .collect();
            ranges.sort_by_key(|r| r.start);
            let expected: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&id| {
                    !left_out
                        .iter()
                        .any(|p| path_of(id) == std::path::Path::new(p))
                })
                .collect();
            assert_eq!(
                bm25.rank(query, &ranges).collect::<Vec<_>>(),
                expected,
                "{left_out:?}"
            );
        }
    }

    /// The words as a plain reading finds them, one allocation per identifier and part: what
    /// `words` must emit, in the same order.
    fn words_read_plainly(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for identifier in
            text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '?' || c == '!'))
        {
            let identifier = identifier.trim_matches(|c| c == '_' || c == '?' || c == '!');
            if identifier.len() < 2 || identifier.as_bytes()[0].is_ascii_digit() {
                continue;
            }
            let lower = identifier.to_lowercase();
            if !STOP_WORDS.contains(&lower.as_str()) {
                out.push(lower);
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
                out.extend(
                    parts
                        .into_iter()
                        .filter(|p| p.len() >= 2 && !STOP_WORDS.contains(&p.as_str())),
                );
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn words_are_those_a_plain_reading_finds(text in "([a-zA-Z_?!. ]|İ|Σ|ß|é|É|[0-9]){0,60}") {
            let mut out = Vec::new();
            words(&text, &mut |w| out.push(w.to_owned()));
            proptest::prop_assert_eq!(out, words_read_plainly(&text));
        }
    }

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
