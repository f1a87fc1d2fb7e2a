//! Complexity of function clauses: nesting depth, cyclomatic complexity, arity and length,
//! each against a configurable threshold (`checks.thresholds`).
//!
//! Counted during the main walk (no second walk of function bodies): [`start`] when a clause is
//! entered, [`construct`] and [`operator`] as its body is walked, [`leave`] and [`finish`] on
//! the way out.

use tree_sitter::Node;

use super::syntax::{self, DefInfo};
use super::{CheckId, Ctx};

/// Control structures that nest (besides `fn`).
pub(crate) const NESTING: &[&str] = &[
    "if", "unless", "case", "cond", "with", "for", "receive", "try",
];

/// The counters of the function clause being walked.
pub(crate) struct Metrics<'a> {
    name: &'a str,
    arity: usize,
    head: Node<'a>,
    /// Nodes before this byte are the head, not the body.
    body_start: usize,
    complexity: u32,
    /// Ids of the nesting constructs currently open, innermost last.
    open: Vec<usize>,
    too_deep: Option<(Node<'a>, u32)>,
}

/// Starts measuring a function clause; reports arity and length at once.
pub(crate) fn start<'a>(ctx: &mut Ctx<'a>, def: &DefInfo<'a>) -> Metrics<'a> {
    let limits = &ctx.config.thresholds;
    let (max_arity, max_lines) = (limits.arity, limits.function_lines);
    let arity = def.params.len();
    if arity > max_arity as usize {
        let msg = format!(
            "{}/{arity} has {arity} parameters (max {max_arity})",
            def.name
        );
        ctx.emit(CheckId::Arity, def.head, msg, vec![]);
    }
    let lines = def.node.end_position().row - def.node.start_position().row + 1;
    if lines > max_lines as usize {
        let msg = format!(
            "{}/{arity} is {lines} lines long (max {max_lines})",
            def.name
        );
        ctx.emit(CheckId::FunctionLength, def.head, msg, vec![]);
    }
    Metrics {
        name: def.name,
        arity,
        head: def.head,
        body_start: def.body.map_or(usize::MAX, |b| b.start_byte()),
        complexity: 1,
        open: Vec::new(),
        too_deep: None,
    }
}

/// A control structure (`if`, `case`, ..., or `fn` for an anonymous function) is entered.
pub(crate) fn construct<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, keyword: &str) {
    let k = ctx.k;
    let max_depth = ctx.config.thresholds.nesting;
    let added = if keyword == "fn" {
        clauses(node, k).saturating_sub(1)
    } else {
        decisions(ctx, node, keyword)
    };
    let Some(metrics) = ctx.functions.last_mut().map(|f| &mut f.metrics) else {
        return;
    };
    if node.start_byte() < metrics.body_start {
        return;
    }
    metrics.complexity += added;
    metrics.open.push(node.id());
    let depth = u32::try_from(metrics.open.len()).unwrap_or(u32::MAX);
    if depth > max_depth && metrics.too_deep.is_none() {
        let keyword_node = node.child(0).unwrap_or(node);
        metrics.too_deep = Some((keyword_node, depth));
    }
}

/// A binary operator is entered: `&&`, `||`, `and`, `or` add a path.
pub(crate) fn operator(ctx: &mut Ctx, node: Node, op: &str) {
    if !matches!(op, "&&" | "||" | "and" | "or") {
        return;
    }
    if let Some(metrics) = ctx.functions.last_mut().map(|f| &mut f.metrics) {
        if node.start_byte() >= metrics.body_start {
            metrics.complexity += 1;
        }
    }
}

/// A node is left: closes a nesting construct.
pub(crate) fn leave(metrics: &mut Metrics, node_id: usize) {
    if metrics.open.last() == Some(&node_id) {
        metrics.open.pop();
    }
}

/// The clause is left: reports complexity and nesting.
pub(crate) fn finish(ctx: &mut Ctx, metrics: Metrics) {
    let limits = &ctx.config.thresholds;
    let (max_complexity, max_depth) = (limits.cyclomatic, limits.nesting);
    let label = format!("{}/{}", metrics.name, metrics.arity);
    if metrics.complexity > max_complexity {
        let msg = format!(
            "{label} has cyclomatic complexity {} (max {max_complexity})",
            metrics.complexity
        );
        ctx.emit(CheckId::Cyclomatic, metrics.head, msg, vec![]);
    }
    if let Some((node, depth)) = metrics.too_deep {
        let msg = format!("Nesting depth {depth} in {label} (max {max_depth})");
        ctx.emit(CheckId::Nesting, node, msg, vec![]);
    }
}

/// Stab clauses (`pattern -> body`) directly inside a node.
fn clauses(node: Node, k: &syntax::Kinds) -> u32 {
    let count = (0..node.child_count())
        .filter(|&i| node.child(i).is_some_and(|c| c.kind_id() == k.stab_clause))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Decision points a control structure adds.
fn decisions(ctx: &Ctx, node: Node, keyword: &str) -> u32 {
    let k = ctx.k;
    let Some(block) = syntax::do_block(node, k) else {
        // Keyword form: `if c, do: a, else: b`.
        return u32::from(matches!(keyword, "if" | "unless" | "for" | "with"));
    };
    let mut sub_clauses = 0;
    for i in 0..block.child_count() {
        let Some(child) = block.child(i) else {
            continue;
        };
        let kind = child.kind_id();
        if kind == k.else_block || kind == k.rescue_block || kind == k.catch_block {
            sub_clauses += clauses(child, k);
        }
    }
    match keyword {
        "if" | "unless" | "for" => 1,
        "with" => 1 + sub_clauses,
        "try" => sub_clauses,
        // case, cond, receive: one decision per clause after the first.
        _ => clauses(block, k).saturating_sub(1),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{ChecksConfig, Thresholds};
    use expect_test::expect;

    #[test]
    fn nesting_over_two_is_reported_once_at_the_first_deep_construct() {
        let src = r#"def f(a, b) do
  if a do
    case b do
      :x ->
        Enum.map(b, fn y -> y end)
      _ ->
        if b, do: 1
    end
  end
end
def ok(a) do
  if a do
    case a do
      _ -> 1
    end
  end
end
"#;
        expect![[r#"
            5:21 info complexity/nesting: Nesting depth 3 in f/2 (max 2) `fn`
        "#]]
        .assert_eq(&render(src));
    }

    #[test]
    fn cyclomatic_complexity() {
        let src = r#"def f(a) do
  case a do
    1 -> :one
    2 -> :two
    3 -> :three
    4 -> :four
    5 -> :five
  end
  if a > 1 && a < 10 or a == 20, do: :x
  cond do
    a -> 1
    true -> 2
  end
  try do
    a
  rescue
    e in RuntimeError -> e
  end
end
"#;
        expect![[r#"
            1:5 info complexity/cyclomatic: f/1 has cyclomatic complexity 10 (max 9) `f(a)`
            10:3 info refactor/cond-statements: cond with a single condition: use if [fix: Rewrite as if/else] `cond`
        "#]]
        .assert_eq(&render(src));
        let relaxed = ChecksConfig {
            thresholds: Thresholds {
                cyclomatic: 10,
                ..Thresholds::default()
            },
            disabled: vec!["refactor".into()],
            ..ChecksConfig::default()
        };
        assert_eq!(render_with(src, Some("lib/a.ex"), &relaxed), "");
    }

    #[test]
    fn arity_and_length() {
        let long_body = "  :ok\n".repeat(50);
        let src = format!(
            "def many(a, b, c, d, e, f, g, h, i), do: a\ndef eight(a, b, c, d, e, f, g, h), do: a\ndef long do\n{long_body}end\ndef short do\n{}end\n",
            "  :ok\n".repeat(47)
        );
        expect![[r#"
            1:5 info complexity/arity: many/9 has 9 parameters (max 8) `many(a, b, c, d, e, f, g, h, i)`
            3:5 info complexity/function-length: long/0 is 52 lines long (max 50) `long`
        "#]]
        .assert_eq(&render(&src));
    }
}
