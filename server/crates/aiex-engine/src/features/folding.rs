//! Folding ranges: blocks, multi-line literals, heredocs and runs of comments.

use ropey::Rope;
use tree_sitter::{Node, Tree};

/// What a fold hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldKind {
    /// Code: a block or a literal.
    Region,
    /// A run of comment lines.
    Comment,
}

/// A foldable line range (zero-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    /// First line, which stays visible.
    pub start_line: usize,
    /// Last hidden line.
    pub end_line: usize,
    /// What is folded.
    pub kind: FoldKind,
}

/// The folding ranges of a document.
pub fn folding_ranges(tree: &Tree, rope: &Rope) -> Vec<Fold> {
    let line_of = |byte: usize| rope.byte_to_line(byte.min(rope.len_bytes()));
    let mut folds = Vec::new();
    let mut comment_run: Option<(usize, usize)> = None;
    let mut stack = vec![tree.root_node()];
    let mut comments = Vec::new();
    while let Some(node) = stack.pop() {
        let start = line_of(node.start_byte());
        let end = line_of(node.end_byte().saturating_sub(1));
        match node.kind() {
            "comment" => comments.push(start),
            // Keep the `end` line visible.
            "do_block" | "anonymous_function" => {
                push(&mut folds, start, end.saturating_sub(1), FoldKind::Region)
            }
            "list" | "map" | "tuple" | "keywords" | "arguments" | "string" | "sigil"
            | "charlist"
                if !is_nested_literal(node) =>
            {
                push(
                    &mut folds,
                    start,
                    end.saturating_sub(1).max(start),
                    FoldKind::Region,
                );
            }
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    comments.sort_unstable();
    for line in comments {
        comment_run = match comment_run {
            Some((first, last)) if line == last + 1 => Some((first, line)),
            Some((first, last)) => {
                push(&mut folds, first, last, FoldKind::Comment);
                Some((line, line))
            }
            None => Some((line, line)),
        };
    }
    if let Some((first, last)) = comment_run {
        push(&mut folds, first, last, FoldKind::Comment);
    }
    // One fold per start line (the outermost), in order, as clients expect.
    folds.sort_by_key(|f| (f.start_line, std::cmp::Reverse(f.end_line)));
    folds.dedup_by_key(|f| f.start_line);
    folds
}

fn push(folds: &mut Vec<Fold>, start_line: usize, end_line: usize, kind: FoldKind) {
    if end_line > start_line {
        folds.push(Fold {
            start_line,
            end_line,
            kind,
        });
    }
}

/// Literals inside literals fold with their parent only.
fn is_nested_literal(node: Node<'_>) -> bool {
    node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            "list" | "map_content" | "tuple" | "keywords" | "pair"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_str;

    #[test]
    fn folds_blocks_heredocs_and_comment_runs() {
        let source = "# one\n# two\ndefmodule A do\n  @doc \"\"\"\n  Doc.\n  \"\"\"\n  def f(x) do\n    x\n  end\nend\n";
        let tree = parse_str(source).expect("parse");
        let folds = folding_ranges(&tree, &Rope::from_str(source));
        let lines: Vec<(usize, usize, FoldKind)> = folds
            .iter()
            .map(|f| (f.start_line, f.end_line, f.kind))
            .collect();
        assert_eq!(
            lines,
            vec![
                (0, 1, FoldKind::Comment),
                (2, 8, FoldKind::Region),
                (3, 4, FoldKind::Region),
                (6, 7, FoldKind::Region),
            ]
        );
    }
}
