//! Elixir syntax: tree-sitter-elixir trees built from ropes, kept current with exact edits.
//!
//! The parser reads the rope chunk by chunk (no copy of the text), and reparses incrementally
//! from a tree that has seen every edit through [`tree_sitter::Tree::edit`]. Parsing is never
//! done per keystroke: documents record edits and parse lazily when a feature needs the tree.

mod nesting;

use ropey::Rope;
use tree_sitter::{InputEdit, Language, Node, Parser, Point, Tree};

pub use nesting::{edit_keeps_depth, nesting_depth, rope_nesting_depth, MAX_NESTING_DEPTH};

/// Files larger than this keep their text but get no syntax tree (no outline, folding, checks
/// or syntax-aware AI context for them; [`size_notice`] says so to the user).
///
/// The limit follows from the memory budget of a document: the server may grow by at most
/// 10 × its size + 50 MB for it. A tree-sitter-elixir tree costs 40 to 70 bytes per byte of
/// source (27 MB for 383 KB of small modules, 32 MB for a 383 KB pipeline), held while its
/// chunks, checks and outline are computed. Measured in the release server with a provider
/// (`cargo bench --bench hostile_memory`), the densest shapes at 384 KiB peaked at 55-57 MB
/// resident against their 53.7 MB budget; at 320 KiB the tree and what is derived from it are a
/// sixth smaller. Hand-written Elixir stays well below (the largest file of Elixir's own
/// standard library, `kernel.ex`, is about 200 KB); files past it are generated, not edited by
/// hand. The workspace index skips them too.
pub const MAX_PARSE_BYTES: usize = 320 * 1024;

/// What to tell the user about a document of `bytes` bytes that gets no tree for its size,
/// or `None` when its size is fine.
pub fn size_notice(bytes: usize) -> Option<String> {
    (bytes > MAX_PARSE_BYTES).then(|| {
        format!(
            "Aiex: this file is {} KB, over the {} KB limit for syntax features, so it gets no \
             outline, folding, checks or syntax-aware AI context (files this large are \
             usually generated)",
            bytes / 1024,
            MAX_PARSE_BYTES / 1024
        )
    })
}

/// What to tell the user about a document that gets no tree for its size or its nesting, or
/// `None` when it gets one (as far as its text can say: binary content is not reported here).
pub fn syntax_notice(text: &str) -> Option<String> {
    size_notice(text.len()).or_else(|| nesting_notice(text.as_bytes()))
}

/// What to tell the user about a text nested past [`MAX_NESTING_DEPTH`], or `None`.
pub fn nesting_notice(text: &[u8]) -> Option<String> {
    (nesting_depth(text, MAX_NESTING_DEPTH) > MAX_NESTING_DEPTH).then(too_deep_notice)
}

fn too_deep_notice() -> String {
    format!(
        "Aiex: this file nests deeper than the {MAX_NESTING_DEPTH}-level limit for syntax \
         features (brackets, `do`/`end` and `fn` blocks), so it gets no outline, folding, \
         checks or syntax-aware AI context (code nested this deep is usually generated)"
    )
}

/// What to tell the user about a document that got no tree because it is past one of the
/// limits for syntax features (its size, its nesting), or `None` for any other reason (not
/// Elixir, binary: nothing the user would want to hear about on every file).
pub fn limit_notice(unavailable: &SyntaxUnavailable) -> Option<String> {
    match unavailable {
        SyntaxUnavailable::TooLarge { bytes } => size_notice(*bytes),
        SyntaxUnavailable::TooDeep => Some(too_deep_notice()),
        SyntaxUnavailable::NotElixir
        | SyntaxUnavailable::Binary
        | SyntaxUnavailable::ParserFailed => None,
    }
}

/// Whether `rope` nests past [`MAX_NESTING_DEPTH`] (it then gets no tree).
pub fn too_deep(rope: &Rope) -> bool {
    rope_nesting_depth(rope, MAX_NESTING_DEPTH) > MAX_NESTING_DEPTH
}

/// Why a document has no syntax tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxUnavailable {
    /// The document is not Elixir source.
    #[error("not an Elixir source file")]
    NotElixir,
    /// The document is over [`MAX_PARSE_BYTES`].
    #[error("the file is too large to parse ({bytes} bytes, limit {MAX_PARSE_BYTES})")]
    TooLarge {
        /// Size of the document.
        bytes: usize,
    },
    /// The document nests deeper than [`MAX_NESTING_DEPTH`].
    #[error("the file nests deeper than {MAX_NESTING_DEPTH} levels")]
    TooDeep,
    /// The document holds NUL bytes, so it is not source code.
    #[error("the file looks binary (it contains NUL bytes)")]
    Binary,
    /// tree-sitter gave up (it only does so when cancelled).
    #[error("the parser gave up")]
    ParserFailed,
}

/// The tree-sitter grammar for Elixir.
pub fn elixir_language() -> Language {
    tree_sitter_elixir::LANGUAGE.into()
}

/// Decides whether a text of this size and content can get a tree.
pub fn check_parseable(rope: &Rope) -> Result<(), SyntaxUnavailable> {
    let bytes = rope.len_bytes();
    if bytes > MAX_PARSE_BYTES {
        tracing::warn!(
            "a {bytes}-byte document gets no syntax features: the limit is {MAX_PARSE_BYTES} bytes"
        );
        return Err(SyntaxUnavailable::TooLarge { bytes });
    }
    if rope
        .chunks()
        .any(|chunk| memchr::memchr(0, chunk.as_bytes()).is_some())
    {
        return Err(SyntaxUnavailable::Binary);
    }
    // Read in place, chunk by chunk: no copy of the text per parse.
    if too_deep(rope) {
        tracing::warn!("a document nested deeper than {MAX_NESTING_DEPTH} levels gets no tree");
        return Err(SyntaxUnavailable::TooDeep);
    }
    Ok(())
}

/// Parses `rope`, reusing `old_tree` when it has been edited to match the rope.
pub fn parse(rope: &Rope, old_tree: Option<&Tree>) -> Result<Tree, SyntaxUnavailable> {
    check_parseable(rope)?;
    parse_unchecked(rope, old_tree)
}

/// [`parse`] for a text whose content is known to pass [`check_parseable`]: an earlier text
/// passed it and every edit since kept its nesting ([`edit_keeps_depth`]). Only the size is
/// checked (it costs nothing); the scans of the whole text, a millisecond or more on a large
/// file, are not repeated at every keystroke's reparse.
pub fn reparse_known_parseable(
    rope: &Rope,
    old_tree: Option<&Tree>,
) -> Result<Tree, SyntaxUnavailable> {
    let bytes = rope.len_bytes();
    if bytes > MAX_PARSE_BYTES {
        return Err(SyntaxUnavailable::TooLarge { bytes });
    }
    parse_unchecked(rope, old_tree)
}

fn parse_unchecked(rope: &Rope, old_tree: Option<&Tree>) -> Result<Tree, SyntaxUnavailable> {
    let mut parser = Parser::new();
    parser
        .set_language(&elixir_language())
        .map_err(|_| SyntaxUnavailable::ParserFailed)?;
    let mut read_chunk = |byte: usize, _: Point| -> &[u8] {
        if byte >= rope.len_bytes() {
            return &[];
        }
        let (chunk, chunk_start, _, _) = rope.chunk_at_byte(byte);
        &chunk.as_bytes()[byte - chunk_start..]
    };
    parser
        .parse_with_options(&mut read_chunk, old_tree, None)
        .ok_or(SyntaxUnavailable::ParserFailed)
}

/// Parses a plain string (for the command line and tests).
pub fn parse_str(text: &str) -> Result<Tree, SyntaxUnavailable> {
    parse(&Rope::from_str(text), None)
}

/// The tree-sitter point (row, byte column) of `byte` in `rope`.
///
/// Rows follow the rope's lines (`\n`, `\r\n`, lone `\r`); tree-sitter itself only counts `\n`,
/// so after a lone `\r` rows differ. Aiex reads byte offsets from trees, never points.
pub fn point_of(rope: &Rope, byte: usize) -> Point {
    let row = rope.byte_to_line(byte);
    Point::new(row, byte - rope.line_to_byte(row))
}

/// The edit that replaced bytes `start..old_end` of `before` by `new_len` bytes, giving `after`.
pub fn input_edit(
    before: &Rope,
    after: &Rope,
    start: usize,
    old_end: usize,
    new_len: usize,
) -> InputEdit {
    InputEdit {
        start_byte: start,
        old_end_byte: old_end,
        new_end_byte: start + new_len,
        start_position: point_of(before, start),
        old_end_position: point_of(before, old_end),
        new_end_position: point_of(after, start + new_len),
    }
}

/// The text of `node` in `source`.
pub fn node_text<'a>(node: Node<'_>, source: &'a str) -> &'a str {
    source.get(node.byte_range()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_module() {
        let tree = parse_str("defmodule A do\n  def f(x), do: x\nend\n").expect("parse");
        assert!(!tree.root_node().has_error());
        assert_eq!(tree.root_node().child(0).map(|n| n.kind()), Some("call"));
    }

    #[test]
    fn refuses_binary_and_huge_texts() {
        assert_eq!(parse_str("a\0b").err(), Some(SyntaxUnavailable::Binary));
        let huge = Rope::from_str(&"x".repeat(MAX_PARSE_BYTES + 1));
        assert!(matches!(
            parse(&huge, None),
            Err(SyntaxUnavailable::TooLarge { .. })
        ));
    }

    #[test]
    fn a_text_nested_past_the_limit_gets_no_tree_and_a_notice_and_one_at_it_gets_both() {
        let nested = |levels: usize| {
            format!(
                "defmodule Deep do\n{}x{}\nend\n",
                "f(".repeat(levels),
                ")".repeat(levels)
            )
        };
        // The module's `do` is one level.
        let at_limit = nested(MAX_NESTING_DEPTH - 1);
        assert!(parse_str(&at_limit).is_ok());
        assert_eq!(syntax_notice(&at_limit), None);
        let past = nested(MAX_NESTING_DEPTH);
        assert_eq!(parse_str(&past).err(), Some(SyntaxUnavailable::TooDeep));
        let notice = syntax_notice(&past).expect("a notice");
        assert!(
            notice.contains(&format!("{MAX_NESTING_DEPTH}-level limit")),
            "{notice}"
        );
        assert!(notice.contains("no outline"), "{notice}");
    }

    #[test]
    fn only_a_document_over_the_limit_gets_a_size_notice() {
        assert_eq!(size_notice(MAX_PARSE_BYTES), None);
        let notice = size_notice(MAX_PARSE_BYTES + 1).expect("a notice");
        assert!(notice.contains("320 KB limit"), "{notice}");
        assert!(notice.contains("no outline"), "{notice}");
    }

    #[test]
    fn reads_text_across_rope_chunks() {
        // Ropes split long texts into chunks of about 1 KB: the parser must see all of them.
        let body: String = (0..500)
            .map(|i| format!("  def f{i}(x), do: x + {i}\n"))
            .collect();
        let text = format!("defmodule Big do\n{body}end\n");
        let rope = Rope::from_str(&text);
        assert!(rope.chunks().count() > 1);
        let tree = parse(&rope, None).expect("parse");
        assert!(!tree.root_node().has_error());
        assert_eq!(tree.root_node().end_byte(), text.len());
    }
}
