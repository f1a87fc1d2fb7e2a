//! Token counts for packing: the cl100k BPE of [`crate::llm::tokens`], counted line by line with
//! a cache, so that a keystroke only re-tokenizes the line it changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use parking_lot::Mutex;

/// Lines remembered before the cache starts over.
const CACHE_LINES: usize = 100_000;

static LINE_TOKENS: Mutex<Option<HashMap<u64, u32>>> = Mutex::new(None);

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
    let count = crate::llm::tokens::estimate_tokens(line);
    let mut cache = LINE_TOKENS.lock();
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= CACHE_LINES {
        cache.clear();
    }
    cache.insert(key, u32::try_from(count).unwrap_or(u32::MAX));
    count as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sums_stay_close_to_the_whole_count() {
        let text = include_str!("../../../fixtures/sample_app/lib/sample_app/accounts.ex");
        let whole = crate::llm::tokens::estimate_tokens(text) as usize;
        let summed = count_tokens(text);
        assert!(summed >= whole, "{summed} < {whole}");
        assert!(summed <= whole + whole / 10, "{summed} vs {whole}");
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens(text), summed, "cached counts are the same");
    }
}
