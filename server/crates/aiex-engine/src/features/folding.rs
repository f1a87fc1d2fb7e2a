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

/// The most folds returned for one document: editors show a few hundred at most, and the
/// answer must stay small on a generated file of thousands of modules.
pub const MAX_FOLDS: usize = 5_000;

/// The folding ranges of a document (at most [`MAX_FOLDS`], the first in the file).
pub fn folding_ranges(tree: &Tree, rope: &Rope) -> Vec<Fold> {
    folding_ranges_within(tree, rope, &|| false).0
}

/// [`folding_ranges`], stopping when `should_stop` says so (asked every few thousand nodes):
/// the folds found by then, and `true` for a cut result.
///
/// Linear in the tree: an explicit stack (no recursion, whatever the nesting) that carries
/// each node's parent kind, as asking tree-sitter for a parent walks down from the root.
pub fn folding_ranges_within(
    tree: &Tree,
    rope: &Rope,
    should_stop: &dyn Fn() -> bool,
) -> (Vec<Fold>, bool) {
    let line_of = |byte: usize| rope.byte_to_line(byte.min(rope.len_bytes()));
    let mut folds = Vec::new();
    let mut comment_run: Option<(usize, usize)> = None;
    let mut stack: Vec<(Node<'_>, &'static str)> = vec![(tree.root_node(), "")];
    let mut comments = Vec::new();
    let mut visited = 0usize;
    let mut cut = false;
    while let Some((node, parent_kind)) = stack.pop() {
        visited += 1;
        if visited % 4096 == 0 && should_stop() {
            cut = true;
            break;
        }
        // Lines are looked up only for the nodes that fold: a rope lookup per node would be
        // most of the time spent here.
        let lines = || {
            (
                line_of(node.start_byte()),
                line_of(node.end_byte().saturating_sub(1)),
            )
        };
        match node.kind() {
            "comment" => comments.push(line_of(node.start_byte())),
            // Keep the `end` line visible.
            "do_block" | "anonymous_function" => {
                let (start, end) = lines();
                push(&mut folds, start, end.saturating_sub(1), FoldKind::Region)
            }
            "list" | "map" | "tuple" | "keywords" | "arguments" | "string" | "sigil"
            | "charlist"
                if !is_nested_literal(parent_kind) =>
            {
                let (start, end) = lines();
                push(
                    &mut folds,
                    start,
                    end.saturating_sub(1).max(start),
                    FoldKind::Region,
                );
            }
            _ => {}
        }
        let kind = node.kind();
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor).map(|child| (child, kind)));
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
    folds.truncate(MAX_FOLDS);
    (folds, cut)
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
fn is_nested_literal(parent_kind: &str) -> bool {
    matches!(
        parent_kind,
        "list" | "map_content" | "tuple" | "keywords" | "pair"
    )
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
