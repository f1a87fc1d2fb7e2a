//! Packing pieces under a token budget: by priority, compressing before dropping.
//!
//! First every candidate, in priority order, gets its most compressed form if it still fits;
//! then, in the same order, each is upgraded to the fullest form the remaining budget allows.
//! So a budget fills with every callee's signature and spec before any body.

use std::path::{Path, PathBuf};

use super::tokens::TokenCounter;
use super::ContextPiece;

/// Where a piece goes in the prompt. Pieces are shown in this order, the most specific last,
/// right before the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    Related,
    Recent,
    Callee,
    Header,
    Enclosing,
}

/// A piece that may go in, with its forms from fullest to most compressed.
pub(crate) struct Candidate {
    path: PathBuf,
    reason: String,
    slot: Slot,
    forms: Vec<String>,
}

impl Candidate {
    /// A candidate; `forms` fullest first.
    pub fn new(path: &Path, reason: String, slot: Slot, forms: Vec<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            reason,
            slot,
            forms,
        }
    }
}

/// A piece chosen, with the number of secrets its text had redacted.
pub(crate) struct Packed {
    pub piece: ContextPiece,
    pub redactions: usize,
}

/// A form redacted and counted.
struct Form {
    text: String,
    tokens: usize,
    redactions: usize,
}

fn prepare(tokens: &TokenCounter, text: &str) -> Form {
    let redacted = crate::secrets::redact(text);
    Form {
        tokens: tokens.count(&redacted.text),
        redactions: redacted.spans.len(),
        text: redacted.text,
    }
}

/// Chooses pieces and forms within `budget` tokens; candidates come most important first.
/// Returns the pieces in the order to show them.
pub(crate) fn pack(
    tokens: &TokenCounter,
    candidates: Vec<Candidate>,
    budget: usize,
) -> Vec<Packed> {
    let mut left = budget;
    // Pass 1: the most compressed form of each candidate that fits.
    let mut chosen: Vec<(Candidate, usize, Form)> = Vec::new();
    for candidate in candidates {
        let Some(smallest) = candidate.forms.len().checked_sub(1) else {
            continue;
        };
        let form = prepare(tokens, &candidate.forms[smallest]);
        if form.tokens == 0 || form.tokens > left {
            continue;
        }
        left -= form.tokens;
        chosen.push((candidate, smallest, form));
    }
    // Pass 2: upgrade in priority order while the budget allows.
    for (candidate, level, form) in &mut chosen {
        for fuller in 0..*level {
            let upgrade = prepare(tokens, &candidate.forms[fuller]);
            let extra = upgrade.tokens.saturating_sub(form.tokens);
            if extra <= left {
                left -= extra;
                *form = upgrade;
                *level = fuller;
                break;
            }
        }
    }
    let mut packed: Vec<(Slot, usize, Packed)> = chosen
        .into_iter()
        .enumerate()
        .map(|(rank, (candidate, _, form))| {
            let piece = ContextPiece {
                path: candidate.path,
                reason: candidate.reason,
                text: form.text,
                tokens: form.tokens,
            };
            let packed = Packed {
                piece,
                redactions: form.redactions,
            };
            (candidate.slot, rank, packed)
        })
        .collect();
    // By slot; within a slot the most important last, nearest the code.
    packed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    packed.into_iter().map(|(_, _, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(reason: &str, slot: Slot, forms: &[&str]) -> Candidate {
        Candidate::new(
            Path::new("lib/a.ex"),
            reason.to_owned(),
            slot,
            forms.iter().map(|f| (*f).to_owned()).collect(),
        )
    }

    fn show(packed: &[Packed]) -> Vec<String> {
        packed
            .iter()
            .map(|p| format!("{} [{}] {}", p.piece.reason, p.piece.tokens, p.piece.text))
            .collect()
    }

    #[test]
    fn compresses_everything_before_dropping_anything_then_upgrades_by_priority() {
        let body = "def a(x) do\n  x + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9\nend\n";
        let candidates = || {
            vec![
                candidate("first", Slot::Callee, &[body, "def a(x)\n"]),
                candidate("second", Slot::Callee, &[body, "def b(x)\n"]),
                candidate("related", Slot::Related, &[body, "def c(x)\n"]),
            ]
        };
        let counter = TokenCounter::cl100k();
        let heads = counter.count("def a(x)\n");
        let full = counter.count(body);
        // Room for the three heads only.
        let tight = pack(&counter, candidates(), heads * 3);
        assert_eq!(
            show(&tight),
            [
                "related [4] def c(x)\n",
                "second [4] def b(x)\n",
                "first [4] def a(x)\n"
            ]
        );
        // Room for one body: the first candidate gets it.
        let one_body = pack(&counter, candidates(), full + heads * 2);
        assert_eq!(one_body.len(), 3);
        assert_eq!(one_body[2].piece.reason, "first");
        assert_eq!(one_body[2].piece.text, body);
        assert_eq!(one_body[1].piece.text, "def b(x)\n");
        // Not enough for all three heads: the least important goes.
        let short = pack(&counter, candidates(), heads * 2);
        assert_eq!(short.len(), 2);
        assert!(short.iter().all(|p| p.piece.reason != "related"));
        assert!(short.iter().map(|p| p.piece.tokens).sum::<usize>() <= heads * 2);
    }

    #[test]
    fn secrets_in_pieces_are_redacted_and_counted() {
        let text = "@key \"AKIAIOSFODNN7EXAMPLE\"\n";
        let packed = pack(
            &TokenCounter::cl100k(),
            vec![candidate("with key", Slot::Related, &[text])],
            100,
        );
        assert_eq!(packed.len(), 1);
        assert_eq!(packed[0].redactions, 1);
        assert!(
            !packed[0].piece.text.contains("AKIA"),
            "{}",
            packed[0].piece.text
        );
    }
}
