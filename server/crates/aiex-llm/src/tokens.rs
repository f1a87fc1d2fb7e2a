//! Token estimates for providers that report no usage, for the tokens-per-minute limiter and
//! for packing context when the model's own tokenizer is not configured: counts in OpenAI's
//! cl100k byte-pair encoding, the same counts as `tiktoken`.
//!
//! Only counts are needed, so the vocabulary is kept compact: the 100,256 tokens' bytes in one
//! buffer and an open-addressing table of their indices, about 2.5 MB. (`tiktoken-rs` kept
//! the vocabulary three times over in hash maps of small vectors, about 25 MB, the largest
//! owner of the server's memory once a provider was configured.) The table is built from the
//! embedded `assets/cl100k_base.tiktoken` on the first count, in about 20 ms.

use std::collections::BinaryHeap;
use std::sync::OnceLock;

use base64::Engine as _;
use fancy_regex::Regex;

/// The cl100k vocabulary: base64 token, space, rank; one token a line (MIT, from OpenAI's
/// `tiktoken`).
const CL100K_BASE: &str = include_str!("../assets/cl100k_base.tiktoken");

/// How cl100k splits text into pieces before merging bytes (from `tiktoken`).
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// Pieces at least this long merge with a heap (n log n) rather than by rescanning (n²), as in
/// `tiktoken`.
const LARGE_PIECE: usize = 100;

/// Counts the tokens of `text` with the cl100k BPE (a close enough proxy for every provider's
/// own tokenizer). The vocabulary is built once, on first use: it is constant data, shared by
/// every engine in the process like a table compiled into the binary.
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
            vocabulary: Vocabulary::parse(CL100K_BASE),
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

/// Token bytes to rank, compactly: every token's bytes in one buffer, and an open-addressing
/// table (load under one half) of token indices.
struct Vocabulary {
    bytes: Vec<u8>,
    /// Where token `i` ends in `bytes` (it starts where token `i - 1` ends).
    ends: Vec<u32>,
    ranks: Vec<u32>,
    /// Token index + 1; 0 is an empty slot.
    slots: Vec<u32>,
}

impl Vocabulary {
    /// Reads `tiktoken`'s format: a base64 token, a space and its rank, one token a line.
    fn parse(source: &str) -> Self {
        let lines = source.lines().count();
        let mut vocabulary = Self {
            bytes: Vec::with_capacity(lines * 7),
            ends: Vec::with_capacity(lines),
            ranks: Vec::with_capacity(lines),
            slots: vec![0; (lines * 2).next_power_of_two()],
        };
        let base64 = base64::engine::general_purpose::STANDARD;
        for line in source.lines() {
            let parsed = line.split_once(' ').and_then(|(token, rank)| {
                Some((base64.decode(token).ok()?, rank.parse::<u32>().ok()?))
            });
            let Some((token, rank)) = parsed else {
                debug_assert!(false, "a malformed vocabulary line: {line}");
                continue;
            };
            vocabulary.insert(&token, rank);
        }
        vocabulary.bytes.shrink_to_fit();
        vocabulary
    }

    fn insert(&mut self, token: &[u8], rank: u32) {
        let index = self.ends.len() as u32;
        self.bytes.extend_from_slice(token);
        self.ends.push(self.bytes.len() as u32);
        self.ranks.push(rank);
        let mask = self.slots.len() - 1;
        let mut slot = hash(token) & mask;
        while self.slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = index + 1;
    }

    fn token(&self, index: usize) -> &[u8] {
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]) as usize;
        &self.bytes[start..self.ends[index] as usize]
    }

    fn rank(&self, piece: &[u8]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut slot = hash(piece) & mask;
        loop {
            let index = self.slots[slot].checked_sub(1)? as usize;
            if self.token(index) == piece {
                return Some(self.ranks[index]);
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// FNV-1a: tokens are short, so a simple byte hash is as fast as any.
fn hash(bytes: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as usize
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
            include_str!("../../../../fixtures/sample_app/lib/sample_app/accounts.ex").into(),
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
        let vocabulary = Vocabulary::parse(CL100K_BASE);
        assert_eq!(vocabulary.ends.len(), 100_256);
        assert_eq!(vocabulary.rank(b"hello"), Some(15339));
        assert_eq!(vocabulary.rank(b" world"), Some(1917));
        assert_eq!(vocabulary.rank(b"\xff\xfe\xfd no such token"), None);
        let bytes = vocabulary.bytes.capacity()
            + 4 * (vocabulary.ends.capacity()
                + vocabulary.ranks.capacity()
                + vocabulary.slots.capacity());
        assert!(bytes < 3 * 1024 * 1024, "{bytes} bytes");
    }
}
