//! Token estimates for providers that report no usage, for the tokens-per-minute limiter and
//! for packing context when the model's own tokenizer is not configured: counts in OpenAI's
//! cl100k byte-pair encoding, the same counts as `tiktoken`.
//!
//! Only counts are needed, so the vocabulary is kept compact and off the heap: the build
//! script (`build.rs`) compiles `assets/cl100k_base.tiktoken` into the 100,256 tokens' bytes
//! in one buffer, their ends, and an open-addressing table of their indices, about 1.6 MB of
//! constant data read in place from the binary. (`tiktoken-rs` kept the vocabulary three times
//! over in hash maps of small vectors, about 25 MB, the largest owner of the server's memory
//! once a provider was configured; parsing the base64 file at the first count kept 2.5 MB of
//! tables on the heap and the 1.7 MB file resident besides.)

use std::collections::BinaryHeap;
use std::sync::OnceLock;

use fancy_regex::Regex;

mod hash;

/// How cl100k splits text into pieces before merging bytes (from `tiktoken`).
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// Pieces at least this long merge with a heap (n log n) rather than by rescanning (n²), as in
/// `tiktoken`.
const LARGE_PIECE: usize = 100;

/// Counts the tokens of `text` with the cl100k BPE (a close enough proxy for every provider's
/// own tokenizer). The vocabulary is compiled into the binary; the pattern is compiled once, on
/// first use, and shared by every engine in the process.
pub fn estimate_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    static CL100K: OnceLock<Bpe> = OnceLock::new();
    CL100K.get_or_init(Bpe::cl100k).count(text) as u64
}

/// A byte-pair encoding that only counts.
struct Bpe {
    pattern: Regex,
    vocabulary: Vocabulary,
}

impl Bpe {
    fn cl100k() -> Self {
        Self {
            pattern: Regex::new(CL100K_PATTERN).expect("the cl100k pattern compiles"),
            vocabulary: Vocabulary::CL100K,
        }
    }

    /// The number of tokens `tiktoken`'s `encode_ordinary` gives for `text`.
    fn count(&self, text: &str) -> usize {
        let mut tokens = 0;
        let mut counted_to = 0;
        for found in self.pattern.find_iter(text) {
            let Ok(piece) = found else {
                // The pattern's backtracking limit (only hostile text reaches it): the rest
                // counts a token per byte, an overestimate, never an underestimate.
                return tokens + (text.len() - counted_to);
            };
            counted_to = piece.end();
            tokens += self.piece_tokens(piece.as_str().as_bytes());
        }
        tokens
    }

    fn piece_tokens(&self, piece: &[u8]) -> usize {
        // Every single byte is a token.
        if piece.len() <= 1 || self.vocabulary.rank(piece).is_some() {
            return usize::from(!piece.is_empty());
        }
        if piece.len() < LARGE_PIECE {
            self.merge_small(piece)
        } else {
            self.merge_large(piece)
        }
    }

    /// `tiktoken`'s `_byte_pair_merge`: repeatedly merges the adjacent pair of lowest rank.
    /// Returns the number of parts left.
    fn merge_small(&self, piece: &[u8]) -> usize {
        let rank = |range: std::ops::Range<usize>| self.vocabulary.rank(&piece[range]);
        // (start, rank of the pair starting there)
        let mut parts: Vec<(usize, u32)> = Vec::with_capacity(piece.len() + 1);
        for i in 0..piece.len() - 1 {
            parts.push((i, rank(i..i + 2).unwrap_or(u32::MAX)));
        }
        parts.push((piece.len() - 1, u32::MAX));
        parts.push((piece.len(), u32::MAX));
        let pair_rank = |parts: &[(usize, u32)], i: usize| {
            if i + 3 < parts.len() {
                rank(parts[i].0..parts[i + 3].0).unwrap_or(u32::MAX)
            } else {
                u32::MAX
            }
        };
        loop {
            let (min, i) = parts[..parts.len() - 1].iter().enumerate().fold(
                (u32::MAX, usize::MAX),
                |best, (i, &(_, r))| {
                    if r < best.0 {
                        (r, i)
                    } else {
                        best
                    }
                },
            );
            if min == u32::MAX {
                return parts.len() - 1;
            }
            if i > 0 {
                parts[i - 1].1 = pair_rank(&parts, i - 1);
            }
            parts[i].1 = pair_rank(&parts, i);
            parts.remove(i + 1);
        }
    }

    /// `tiktoken`'s `_byte_pair_merge_large`: the same merges in the same order, chosen from
    /// a heap. Returns the number of tokens.
    fn merge_large(&self, piece: &[u8]) -> usize {
        #[derive(PartialEq, Eq)]
        struct Merge {
            start: usize,
            rank: u32,
        }
        impl Ord for Merge {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                // Lowest rank first, then leftmost.
                other
                    .rank
                    .cmp(&self.rank)
                    .then_with(|| other.start.cmp(&self.start))
            }
        }
        impl PartialOrd for Merge {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        struct Part {
            prev: usize,
            end: usize,
            next_end: usize,
            next_rank: u32,
        }
        let rank = |range: std::ops::Range<usize>| self.vocabulary.rank(&piece[range]);
        let mut parts = Vec::with_capacity(piece.len());
        parts.push(Part {
            prev: usize::MAX,
            end: 1,
            next_end: 2,
            next_rank: u32::MAX,
        });
        let mut heap = BinaryHeap::with_capacity(piece.len());
        for i in 0..piece.len() - 1 {
            if let Some(r) = rank(i..i + 2) {
                heap.push(Merge { start: i, rank: r });
                parts[i].next_rank = r;
            }
            parts.push(Part {
                prev: i,
                end: i + 2,
                next_end: i + 3,
                next_rank: u32::MAX,
            });
        }
        let potential_merge =
            |parts: &mut Vec<Part>, heap: &mut BinaryHeap<Merge>, start: usize, next_end: usize| {
                parts[start].next_end = next_end;
                parts[start].next_rank = u32::MAX;
                if next_end <= piece.len() {
                    if let Some(r) = rank(start..next_end) {
                        heap.push(Merge { start, rank: r });
                        parts[start].next_rank = r;
                    }
                }
            };
        while let Some(left) = heap.pop() {
            if left.rank != parts[left.start].next_rank {
                continue; // invalidated by an earlier merge
            }
            let left_start = left.start;
            let right_start = parts[left_start].end;
            let right_end = parts[left_start].next_end;
            let right_next_end = parts[right_start].next_end;
            parts[left_start].end = right_end;
            potential_merge(&mut parts, &mut heap, left_start, right_next_end);
            if right_end < parts.len() {
                parts[right_end].prev = left_start;
            }
            if left_start > 0 {
                let prev_start = parts[left_start].prev;
                potential_merge(&mut parts, &mut heap, prev_start, right_end);
            }
            parts[right_start].next_rank = u32::MAX;
        }
        let (mut tokens, mut at) = (0, 0);
        while at < parts.len() {
            tokens += 1;
            at = parts[at].end;
        }
        tokens
    }
}

/// Token bytes to rank (the token's index: cl100k's ranks are its line numbers), compactly:
/// the tables `build.rs` lays out from the vocabulary file (MIT, from OpenAI's `tiktoken`).
struct Vocabulary {
    bytes: &'static [u8],
    /// Where token `i` ends in `bytes` (it starts where token `i - 1` ends); u32 little-endian.
    ends: &'static [u8],
    /// `index + 1` in the low [`hash::INDEX_BITS`] bits (0: an empty slot), a tag of the
    /// token's hash above; u32 little-endian.
    slots: &'static [u8],
}

impl Vocabulary {
    const CL100K: Self = Self {
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_bytes.bin")),
        ends: include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_ends.bin")),
        slots: include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_slots.bin")),
    };

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ends.len() / 4
    }

    fn token(&self, index: usize) -> &'static [u8] {
        let start = index
            .checked_sub(1)
            .map_or(0, |before| word(self.ends, before)) as usize;
        &self.bytes[start..word(self.ends, index) as usize]
    }

    fn rank(&self, piece: &[u8]) -> Option<u32> {
        let hashed = hash::hash(piece);
        let tag = hash::tag(hashed);
        let mut slot = hash::first_slot(hashed);
        loop {
            let entry = word(self.slots, slot);
            let index = (entry & ((1 << hash::INDEX_BITS) - 1)).checked_sub(1)?;
            if entry >> hash::INDEX_BITS == tag && self.token(index as usize) == piece {
                return Some(index);
            }
            slot = (slot + 1) & (hash::SLOTS - 1);
        }
    }
}

/// The `index`th little-endian u32 of `table`.
fn word(table: &[u8], index: usize) -> u32 {
    let at = index * 4;
    u32::from_le_bytes([table[at], table[at + 1], table[at + 2], table[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_real_tokens_not_characters() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("hello world"), 2);
        let elixir = "defmodule Foo do\n  def bar(x), do: x + 1\nend\n";
        let tokens = estimate_tokens(elixir);
        assert!((10..30).contains(&tokens), "{tokens}");
    }

    /// The counts are tiktoken's, on source, prose, Unicode, long runs (the heap merge) and
    /// random bytes.
    #[test]
    fn counts_as_tiktoken_does() {
        let reference = tiktoken_rs::cl100k_base().expect("tiktoken");
        let mut samples: Vec<String> = vec![
            include_str!("../../../../../fixtures/sample_app/lib/sample_app/accounts.ex").into(),
            "The quick brown fox — naïve café, 東京, emoji 🎉🎉 and CRLF\r\nlines\r\n".into(),
            "x".repeat(300),
            "aZ9_".repeat(80),
            " \t \n\n   \r\n".repeat(20),
            "0123456789".repeat(30),
            "'s 'LL 've Don't I'M".into(),
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200 {
            let length = (seed % 200) as usize;
            let text: String = (0..length)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet = "abcXYZ019 _\n\t()|>.:,é€𝄞'\"";
                    alphabet
                        .chars()
                        .nth((seed % alphabet.chars().count() as u64) as usize)
                        .unwrap_or('a')
                })
                .collect();
            samples.push(text);
        }
        for sample in &samples {
            assert_eq!(
                estimate_tokens(sample) as usize,
                reference.encode_ordinary(sample).len(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn the_vocabulary_is_whole_and_compact() {
        let vocabulary = Vocabulary::CL100K;
        assert_eq!(vocabulary.len(), 100_256);
        assert_eq!(vocabulary.token(0), b"!");
        assert_eq!(vocabulary.rank(b"!"), Some(0));
        assert_eq!(vocabulary.rank(b"hello"), Some(15339));
        assert_eq!(vocabulary.rank(b" world"), Some(1917));
        assert_eq!(vocabulary.rank(b"\xff\xfe\xfd no such token"), None);
        // Every token is found at its own rank.
        for index in 0..vocabulary.len() {
            assert_eq!(vocabulary.rank(vocabulary.token(index)), Some(index as u32));
        }
        let bytes = vocabulary.bytes.len() + vocabulary.ends.len() + vocabulary.slots.len();
        assert!(bytes < 2 * 1024 * 1024, "{bytes} bytes");
    }
}
