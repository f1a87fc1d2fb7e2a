//! Recent suggestions, reused without a new provider call when the user asks again at the same
//! place, or types the start of what was suggested.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

/// How much of the text before the cursor identifies a place.
const PREFIX_KEY_BYTES: usize = 512;
/// How much of the text after the cursor must be unchanged.
const SUFFIX_KEY_BYTES: usize = 256;

/// One suggestion shown at a place.
#[derive(Debug, Clone)]
struct Entry {
    /// The text before the cursor when it was made (its last bytes).
    prefix: String,
    /// The text after the cursor (its first bytes).
    suffix: String,
    completion: String,
    made: Instant,
}

/// Recent suggestions, most recent first.
#[derive(Debug)]
pub struct SuggestionCache {
    entries: LruCache<u64, Entry>,
    ttl: Duration,
    next_key: u64,
}

impl SuggestionCache {
    /// A cache of `capacity` suggestions, each valid for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            entries: LruCache::new(capacity),
            ttl,
            next_key: 0,
        }
    }

    /// Remembers a suggestion made with `prefix` before and `suffix` after the cursor.
    pub fn insert(&mut self, prefix: &str, suffix: &str, completion: &str) {
        let entry = Entry {
            prefix: tail(prefix, PREFIX_KEY_BYTES).to_owned(),
            suffix: head(suffix, SUFFIX_KEY_BYTES).to_owned(),
            completion: completion.to_owned(),
            made: Instant::now(),
        };
        self.next_key += 1;
        self.entries.put(self.next_key, entry);
    }

    /// A suggestion that still fits: one made at this exact place, or one the user has since
    /// typed the start of (the rest of it is returned).
    pub fn lookup(&mut self, prefix: &str, suffix: &str) -> Option<String> {
        let suffix = head(suffix, SUFFIX_KEY_BYTES);
        let now = Instant::now();
        let mut found = None;
        for (key, entry) in self.entries.iter() {
            if now.duration_since(entry.made) > self.ttl || entry.suffix != suffix {
                continue;
            }
            // What was typed since the suggestion was made, if the old prefix still leads.
            let Some(typed) = typed_since(&entry.prefix, prefix) else {
                continue;
            };
            if let Some(rest) = entry.completion.strip_prefix(typed) {
                if !rest.is_empty() {
                    found = Some((*key, rest.to_owned()));
                    break;
                }
            }
        }
        let (key, rest) = found?;
        self.entries.promote(&key);
        Some(rest)
    }
}

/// The text typed after `old` to reach `new`, comparing the tails that both keep.
fn typed_since<'n>(old: &str, new: &'n str) -> Option<&'n str> {
    // `old` is a tail of the prefix; find where it ends inside the new prefix.
    let at = new.rfind(old)?;
    let typed = &new[at + old.len()..];
    // The typed text must not hold a line break the suggestion did not foresee... it may,
    // when the suggestion is a block; the completion check below decides.
    Some(typed)
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn head(text: &str, bytes: usize) -> &str {
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_place_and_typing_ahead_reuse_the_suggestion() {
        let mut cache = SuggestionCache::new(100, Duration::from_secs(300));
        cache.insert("def f(x) do\n  y = ", "\nend\n", "x * 2 + 1");
        assert_eq!(
            cache.lookup("def f(x) do\n  y = ", "\nend\n").as_deref(),
            Some("x * 2 + 1")
        );
        assert_eq!(
            cache.lookup("def f(x) do\n  y = x *", "\nend\n").as_deref(),
            Some(" 2 + 1")
        );
        assert_eq!(
            cache.lookup("def f(x) do\n  y = x -", "\nend\n"),
            None,
            "typed something else"
        );
        assert_eq!(
            cache.lookup("def f(x) do\n  y = ", "\nother\n"),
            None,
            "the suffix changed"
        );
        assert_eq!(
            cache.lookup("def f(x) do\n  y = x * 2 + 1", "\nend\n"),
            None,
            "typed it all"
        );
    }

    #[test]
    fn old_suggestions_expire_and_unicode_boundaries_are_respected() {
        let mut cache = SuggestionCache::new(2, Duration::from_millis(0));
        cache.insert(&"é".repeat(400), "", "x");
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(cache.lookup(&"é".repeat(400), ""), None);
    }
}
