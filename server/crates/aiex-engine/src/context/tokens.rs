//! Token counts for packing: the model's own tokenizer when the configuration names its
//! `tokenizer.json`, the cl100k BPE of [`crate::llm::tokens`] otherwise, counted line by line
//! with a cache, so that a keystroke only re-tokenizes the line it changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tokenizers::Tokenizer;

/// Lines remembered before the cache starts over.
const CACHE_LINES: usize = 100_000;

/// Counts tokens as the model will: with its own tokenizer when the configuration names one,
/// cl100k otherwise; line by line, with a cache of line counts. The engine owns one and hands
/// it to every context request (no process-wide state: two workspaces may use two models).
#[derive(Default)]
pub struct TokenCounter {
    /// The model's own tokenizer, with the file it came from.
    tokenizer: Option<(PathBuf, Arc<Tokenizer>)>,
    lines: Mutex<HashMap<u64, u32>>,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("tokenizer", &self.tokenizer.as_ref().map(|(path, _)| path))
            .field("cached_lines", &self.lines.lock().len())
            .finish()
    }
}

impl TokenCounter {
    /// Counts in cl100k.
    pub fn cl100k() -> Self {
        Self::default()
    }

    /// Counts with the tokenizer in `path` (a Hugging Face `tokenizer.json`).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        Ok(Self {
            tokenizer: Some((path.to_owned(), Arc::new(load_tokenizer(path)?))),
            lines: Mutex::default(),
        })
    }

    /// The file of the model's own tokenizer, when one is used.
    pub fn tokenizer_path(&self) -> Option<&Path> {
        self.tokenizer.as_ref().map(|(path, _)| path.as_path())
    }

    /// The tokens of `text`: the sum of its lines' counts (each line with its newline), which
    /// is the count of the whole text to within a few percent, never far below it.
    pub fn count(&self, text: &str) -> usize {
        text.split_inclusive('\n').map(|line| self.line(line)).sum()
    }

    /// The tokens of one line, from the cache when it was seen before. Runs per keystroke.
    pub fn line(&self, line: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        line.hash(&mut hasher);
        let key = hasher.finish();
        if let Some(count) = self.lines.lock().get(&key) {
            return *count as usize;
        }
        let own = self
            .tokenizer
            .as_ref()
            .and_then(|(_, tokenizer)| count_with(tokenizer, line));
        let count = own.unwrap_or_else(|| crate::llm::tokens::estimate_tokens(line) as usize);
        let mut cache = self.lines.lock();
        if cache.len() >= CACHE_LINES {
            cache.clear();
        }
        cache.insert(key, u32::try_from(count).unwrap_or(u32::MAX));
        count
    }
}

/// Loads a Hugging Face `tokenizer.json`.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer, String> {
    Tokenizer::from_file(path)
        .map_err(|error| format!("cannot load the tokenizer {}: {error}", path.display()))
}

/// The tokens of `text` under `tokenizer`.
pub fn count_with(tokenizer: &Tokenizer, text: &str) -> Option<usize> {
    tokenizer
        .encode(text, false)
        .ok()
        .map(|encoding| encoding.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sums_stay_close_to_the_whole_count() {
        let text = include_str!("../../../../../fixtures/sample_app/lib/sample_app/accounts.ex");
        let whole = crate::llm::tokens::estimate_tokens(text) as usize;
        let counter = TokenCounter::cl100k();
        let summed = counter.count(text);
        assert!(summed >= whole, "{summed} < {whole}");
        assert!(summed <= whole + whole / 10, "{summed} vs {whole}");
        assert_eq!(counter.count(""), 0);
        assert_eq!(counter.count(text), summed, "cached counts are the same");
    }

    #[test]
    fn a_models_own_tokenizer_counts_its_way() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../fixtures/tokenizers/whitespace-wordlevel.json");
        let tokenizer = load_tokenizer(&path).expect("loads");
        // Whitespace words: one token each, however long; cl100k splits long runs.
        let text = "def aaaaaaaaaaaaaaaaaaaaaaaaaaaa do";
        assert_eq!(count_with(&tokenizer, text), Some(3));
        let counter = TokenCounter::from_file(&path).expect("loads");
        assert_eq!(counter.count(text), 3);
        assert_eq!(counter.tokenizer_path(), Some(path.as_path()));
        assert!(crate::llm::tokens::estimate_tokens(text) > 3);
        let missing =
            load_tokenizer(Path::new("/nonexistent/tokenizer.json")).expect_err("missing");
        assert!(missing.contains("/nonexistent/tokenizer.json"), "{missing}");
    }
}
