//! The prefix and suffix around the cursor: whole lines within a token allowance, cut at
//! syntactic boundaries — never inside a multi-line string, and never in the middle of another
//! function.

use tree_sitter::Tree;

use super::tokens::TokenCounter;
use crate::chunks::{ByteRange, FileChunks};

/// The byte range of the text shown around the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: usize,
    pub end: usize,
}

/// `offset` moved back to a character boundary and into the text.
pub(crate) fn clamp_to_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The window around `cursor`: the cursor's line always, then whole lines before it within
/// `prefix_tokens` and after it within `suffix_tokens`, trimmed to syntactic boundaries.
pub(crate) fn cut(
    tokens: &TokenCounter,
    text: &str,
    tree: &Tree,
    chunks: &FileChunks,
    cursor: usize,
    prefix_tokens: usize,
    suffix_tokens: usize,
) -> Window {
    let line_start = text[..cursor].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[cursor..]
        .find('\n')
        .map_or(text.len(), |at| cursor + at + 1);

    let mut start = line_start;
    let mut used = tokens.line(&text[line_start..cursor]);
    while start > 0 {
        let previous = text[..start - 1].rfind('\n').map_or(0, |at| at + 1);
        let tokens = tokens.line(&text[previous..start]);
        if used + tokens > prefix_tokens {
            break;
        }
        used += tokens;
        start = previous;
    }

    let mut end = line_end;
    let mut used = tokens.line(&text[cursor..line_end]);
    while end < text.len() {
        let next = text[end..].find('\n').map_or(text.len(), |at| end + at + 1);
        let tokens = tokens.line(&text[end..next]);
        if used + tokens > suffix_tokens {
            break;
        }
        used += tokens;
        end = next;
    }

    let functions = function_ranges(chunks, cursor);
    let start = boundary_after(text, tree, &functions, start, line_start);
    let end = boundary_before(text, tree, &functions, end, line_end);
    Window { start, end }
}

/// The ranges of the functions that do not hold the cursor.
fn function_ranges(chunks: &FileChunks, cursor: usize) -> Vec<ByteRange> {
    let modules = chunks.all_modules();
    modules
        .iter()
        .flat_map(|m| m.functions.iter())
        .chain(chunks.functions.iter())
        .map(|f| f.range)
        .filter(|range| !range.contains(cursor))
        .collect()
}

/// Moves a prefix start forward past what it would cut: a string or another function. Never
/// past `limit` (the cursor's line).
fn boundary_after(
    text: &str,
    tree: &Tree,
    functions: &[ByteRange],
    start: usize,
    limit: usize,
) -> usize {
    let mut cut_end = None;
    if let Some(node) = string_around(tree, start) {
        cut_end = Some(node.end);
    }
    if let Some(function) = functions.iter().find(|f| f.start < start && start < f.end) {
        cut_end = Some(cut_end.map_or(function.end, |e: usize| e.max(function.end)));
    }
    let Some(cut_end) = cut_end else {
        return start;
    };
    let after = text[cut_end..]
        .find('\n')
        .map_or(text.len(), |at| cut_end + at + 1);
    after.min(limit)
}

/// Moves a suffix end back before what it would cut: a string or another function. Never
/// before `limit` (the end of the cursor's line).
fn boundary_before(
    text: &str,
    tree: &Tree,
    functions: &[ByteRange],
    end: usize,
    limit: usize,
) -> usize {
    let probe = end.saturating_sub(1);
    let mut cut_start = None;
    if let Some(node) = string_around(tree, probe).filter(|n| n.end > end) {
        cut_start = Some(node.start);
    }
    if let Some(function) = functions.iter().find(|f| f.start < end && end < f.end) {
        cut_start = Some(cut_start.map_or(function.start, |s: usize| s.min(function.start)));
    }
    let Some(cut_start) = cut_start else {
        return end;
    };
    let line = text[..cut_start].rfind('\n').map_or(0, |at| at + 1);
    line.max(limit)
}

/// The outermost multi-line string, sigil or charlist strictly around `byte`.
fn string_around(tree: &Tree, byte: usize) -> Option<ByteRange> {
    let mut node = tree.root_node().descendant_for_byte_range(byte, byte)?;
    let mut found = None;
    loop {
        if matches!(node.kind(), "string" | "sigil" | "charlist")
            && node.start_byte() < byte
            && byte < node.end_byte()
        {
            found = Some(ByteRange::of(node));
        }
        match node.parent() {
            Some(parent) => node = parent,
            None => return found,
        }
    }
}

/// The window redacted as a whole, split at the cursor: the prefix, the suffix and the number
/// of secrets replaced (the privacy gate's rule, so a key the cursor sits in is still found).
pub(crate) fn redact_around(window: &str, cursor: usize) -> (String, String, usize) {
    crate::engine::privacy::redact_split(window, cursor)
}

/// Up to `radius` lines each side of `cursor`.
pub(crate) fn lines_around(text: &str, cursor: usize, radius: usize) -> &str {
    let mut start = cursor;
    for _ in 0..=radius {
        match text[..start].rfind('\n') {
            Some(at) => start = at,
            None => {
                start = 0;
                break;
            }
        }
    }
    let mut end = cursor;
    for _ in 0..=radius {
        match text[end..].find('\n') {
            Some(at) => end += at + 1,
            None => {
                end = text.len();
                break;
            }
        }
    }
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_split_by_the_cursor_is_redacted_whole() {
        let text = "@a \"AKIAIOSFODNN7EXAMPLE\"\n@b \"AKIAIOSFODNN7EXAMPLF\"\nx\n";
        let inside = text.find("ODNN7EXAMPLE").expect("key");
        let (prefix, suffix, count) = redact_around(text, inside);
        assert_eq!(count, 2);
        assert_eq!(prefix, "@a \"<redacted:aws-access-key>");
        assert_eq!(suffix, "\"\n@b \"<redacted:aws-access-key>\"\nx\n");
        let between = text.find("@b").expect("second");
        let (prefix, suffix, _) = redact_around(text, between);
        assert_eq!(prefix, "@a \"<redacted:aws-access-key>\"\n");
        assert_eq!(suffix, "@b \"<redacted:aws-access-key>\"\nx\n");
        let (prefix, suffix, count) = redact_around("plain", 2);
        assert_eq!((prefix.as_str(), suffix.as_str(), count), ("pl", "ain", 0));
    }
}
