//! Compiles cl100k's vocabulary (`assets/cl100k_base.tiktoken`: a base64 token, a space and its
//! rank, one token a line, rank = line number) into three tables the counter reads in place
//! from the binary, so counting needs no parsing at start and no heap:
//! - `cl100k_bytes.bin`: every token's bytes, in rank order;
//! - `cl100k_ends.bin`: where each token ends in those bytes (u32, little-endian);
//! - `cl100k_slots.bin`: an open-addressing table (linear probing) of `index + 1` and a tag.

use std::path::PathBuf;

use base64::Engine as _;

#[path = "src/tokens/hash.rs"]
mod hash;

const VOCABULARY: &str = "assets/cl100k_base.tiktoken";

fn main() {
    println!("cargo::rerun-if-changed={VOCABULARY}");
    println!("cargo::rerun-if-changed=src/tokens/hash.rs");
    let source = std::fs::read_to_string(VOCABULARY)
        .unwrap_or_else(|error| panic!("reading {VOCABULARY}: {error}"));
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = Vec::with_capacity(source.len() / 2);
    let mut ends = Vec::new();
    let mut slots = vec![0u32; hash::SLOTS];
    for (line_number, line) in source.lines().enumerate() {
        let (token, rank) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{VOCABULARY}:{}: not `token rank`", line_number + 1));
        assert_eq!(
            rank.parse::<usize>().ok(),
            Some(line_number),
            "{VOCABULARY}:{}: ranks are expected to be line numbers",
            line_number + 1
        );
        let token = base64
            .decode(token)
            .unwrap_or_else(|error| panic!("{VOCABULARY}:{}: {error}", line_number + 1));
        let index = ends.len() as u32;
        assert!(
            index + 1 < 1 << hash::INDEX_BITS,
            "the vocabulary outgrew its table"
        );
        let hashed = hash::hash(&token);
        let mut slot = hash::first_slot(hashed);
        while slots[slot] != 0 {
            slot = (slot + 1) & (hash::SLOTS - 1);
        }
        slots[slot] = (index + 1) | (hash::tag(hashed) << hash::INDEX_BITS);
        bytes.extend_from_slice(&token);
        ends.push(u32::try_from(bytes.len()).expect("under 4 GB of tokens"));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let little_endian = |words: &[u32]| {
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    for (name, contents) in [
        ("cl100k_bytes.bin", bytes),
        ("cl100k_ends.bin", little_endian(&ends)),
        ("cl100k_slots.bin", little_endian(&slots)),
    ] {
        std::fs::write(out.join(name), contents)
            .unwrap_or_else(|error| panic!("writing {name}: {error}"));
    }
}
