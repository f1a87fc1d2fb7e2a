//! A text as a Myers line diff against another: what a checkpoint stores for a file it saw
//! before. Lines keep their terminators (`\n`, `\r\n`, a lone `\r` inside a line), so applying
//! the diff gives the text back byte for byte.

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp, TextDiff};

/// One step from the base to the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    /// Keep this many lines of the base.
    #[serde(rename = "=")]
    Keep(usize),
    /// Skip this many lines of the base.
    #[serde(rename = "-")]
    Skip(usize),
    /// Insert this text.
    #[serde(rename = "+")]
    Insert(String),
}

/// The steps that turn `base` into `text`.
pub(crate) fn diff(base: &str, text: &str) -> Vec<Op> {
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .diff_lines(base, text);
    let new_lines = diff.new_slices();
    let mut ops = Vec::new();
    for op in diff.ops() {
        match *op {
            DiffOp::Equal { len, .. } => ops.push(Op::Keep(len)),
            DiffOp::Delete { old_len, .. } => ops.push(Op::Skip(old_len)),
            DiffOp::Insert {
                new_index, new_len, ..
            } => ops.push(Op::Insert(
                new_lines[new_index..new_index + new_len].concat(),
            )),
            DiffOp::Replace {
                old_len,
                new_index,
                new_len,
                ..
            } => {
                ops.push(Op::Skip(old_len));
                ops.push(Op::Insert(
                    new_lines[new_index..new_index + new_len].concat(),
                ));
            }
        }
    }
    ops
}

/// Applies `ops` to `base`; `None` when they do not fit it (a corrupt record).
pub(crate) fn apply(base: &str, ops: &[Op]) -> Option<String> {
    let lines = TextDiff::configure().diff_lines(base, "");
    let lines = lines.old_slices();
    let mut at = 0;
    let mut out = String::with_capacity(base.len());
    for op in ops {
        match op {
            Op::Keep(count) => {
                out.extend(lines.get(at..at + count)?.iter().copied());
                at += count;
            }
            Op::Skip(count) => {
                lines.get(at..at + count)?;
                at += count;
            }
            Op::Insert(text) => out.push_str(text),
        }
    }
    (at == lines.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_byte_for_byte() {
        let cases = [
            ("", "a\n"),
            ("a\nb\nc\n", "a\nB\nc\nd"),
            ("x\r\ny\r\n", "x\r\nz\r\ny"),
            ("one\rtwo\n", "one\rtwo\nthree\r"),
            ("no newline", "no newline at all"),
            ("é\n日本\n", "日本\né\n"),
            ("a\n", ""),
        ];
        for (base, text) in cases {
            let ops = diff(base, text);
            assert_eq!(
                apply(base, &ops).as_deref(),
                Some(text),
                "{base:?} -> {text:?}"
            );
        }
    }

    #[test]
    fn a_diff_that_does_not_fit_its_base_is_refused() {
        let ops = diff("a\nb\n", "a\nc\n");
        assert_eq!(apply("a\n", &ops), None);
    }
}
