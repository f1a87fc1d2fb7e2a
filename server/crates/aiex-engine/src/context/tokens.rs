//! Token counts for packing: the model's own tokenizer when the configuration names its
//! `tokenizer.json`, the cl100k BPE of [`crate::llm::tokens`] otherwise, counted line by line
//! with a cache, so that a keystroke only re-tokenizes the line it changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokenizers::Tokenizer;

/// Lines remembered before the cache starts over.
const CACHE_LINES: usize = 100_000;

static LINE_TOKENS: Mutex<Option<HashMap<u64, u32>>> = Mutex::new(None);

/// The model's own tokenizer, when configured, with the file it came from.
static TOKENIZER: RwLock<Option<(PathBuf, Arc<Tokenizer>)>> = RwLock::new(None);

/// Loads a Hugging Face `tokenizer.json`.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer, String> {
    Tokenizer::from_file(path)
        .map_err(|error| format!("cannot load the tokenizer {}: {error}", path.display()))
}

/// Counts with the model's own tokenizer from now on (`None`: back to cl100k). The line cache
/// starts over, since its counts were another tokenizer's.
pub fn use_tokenizer(path: Option<&Path>) -> Result<(), String> {
    let current = TOKENIZER.read().as_ref().map(|(p, _)| p.clone());
    if current.as_deref() == path {
        return Ok(());
    }
    let loaded = match path {
        Some(path) => Some((path.to_owned(), Arc::new(load_tokenizer(path)?))),
        None => None,
    };
    *TOKENIZER.write() = loaded;
    *LINE_TOKENS.lock() = None;
    Ok(())
}

/// The tokens of `text` under `tokenizer`.
pub fn count_with(tokenizer: &Tokenizer, text: &str) -> Option<usize> {
    tokenizer
        .encode(text, false)
        .ok()
        .map(|encoding| encoding.len())
}

/// The tokens of `text`: the sum of its lines' cl100k counts (each line with its newline), which
/// is the count of the whole text to within a few percent, never far below it.
pub fn count_tokens(text: &str) -> usize {
    text.split_inclusive('\n').map(line_tokens).sum()
}

/// The tokens of one line, from the cache when it was seen before.
pub(crate) fn line_tokens(line: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    line.hash(&mut hasher);
    let key = hasher.finish();
    if let Some(count) = LINE_TOKENS.lock().as_ref().and_then(|c| c.get(&key)) {
        return *count as usize;
    }
    let own = TOKENIZER
        .read()
        .as_ref()
        .and_then(|(_, tokenizer)| count_with(tokenizer, line));
    let count = own.unwrap_or_else(|| crate::llm::tokens::estimate_tokens(line) as usize);
    let mut cache = LINE_TOKENS.lock();
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= CACHE_LINES {
        cache.clear();
    }
    cache.insert(key, u32::try_from(count).unwrap_or(u32::MAX));
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sums_stay_close_to_the_whole_count() {
        let text = include_str!("../../../../../fixtures/sample_app/lib/sample_app/accounts.ex");
        let whole = crate::llm::tokens::estimate_tokens(text) as usize;
        let summed = count_tokens(text);
        assert!(summed >= whole, "{summed} < {whole}");
        assert!(summed <= whole + whole / 10, "{summed} vs {whole}");
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens(text), summed, "cached counts are the same");
    }

    #[test]
    fn a_models_own_tokenizer_counts_its_way() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../fixtures/tokenizers/whitespace-wordlevel.json");
        let tokenizer = load_tokenizer(&path).expect("loads");
        // Whitespace words: one token each, however long; cl100k splits long runs.
        let text = "def aaaaaaaaaaaaaaaaaaaaaaaaaaaa do";
        assert_eq!(count_with(&tokenizer, text), Some(3));
        assert!(crate::llm::tokens::estimate_tokens(text) > 3);
        let missing =
            load_tokenizer(Path::new("/nonexistent/tokenizer.json")).expect_err("missing");
        assert!(missing.contains("/nonexistent/tokenizer.json"), "{missing}");
    }
}
