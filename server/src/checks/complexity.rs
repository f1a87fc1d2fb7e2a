//! Complexity of function clauses: nesting depth, cyclomatic complexity, arity and length,
//! each against a configurable threshold (`checks.thresholds`).

use tree_sitter::Node;

use super::syntax::{self, DefInfo};
use super::{CheckId, Ctx};

/// Control structures that nest (besides `fn`).
const NESTING: &[&str] = &[
    "if", "unless", "case", "cond", "with", "for", "receive", "try",
];

/// Checks one function clause. Walks its body once more (the main walk does not keep
/// per-function counters), which keeps this family self-contained.
pub(crate) fn function<'a>(ctx: &mut Ctx<'a>, def: &DefInfo<'a>) {
    let limits = ctx.config.thresholds.clone();
    let label = format!("{}/{}", def.name, def.params.len());
    if def.params.len() > limits.arity as usize {
        let msg = format!(
            "{label} has {} parameters (max {})",
            def.params.len(),
            limits.arity
        );
        ctx.emit(CheckId::Arity, def.head, msg, vec![]);
    }
    let lines = def.node.end_position().row - def.node.start_position().row + 1;
    if lines > limits.function_lines as usize {
        let msg = format!(
            "{label} is {lines} lines long (max {})",
            limits.function_lines
        );
        ctx.emit(CheckId::FunctionLength, def.head, msg, vec![]);
    }
    if !ctx.on(CheckId::Nesting) && !ctx.on(CheckId::Cyclomatic) {
        return;
    }
    let Some(body) = def.body else { return };
    let (complexity, too_deep) = measure(ctx, body, limits.nesting);
    if complexity > limits.cyclomatic {
        let msg = format!(
            "{label} has cyclomatic complexity {complexity} (max {})",
            limits.cyclomatic
        );
        ctx.emit(CheckId::Cyclomatic, def.head, msg, vec![]);
    }
    if let Some((node, depth)) = too_deep {
        let msg = format!("Nesting depth {depth} in {label} (max {})", limits.nesting);
        ctx.emit(CheckId::Nesting, node, msg, vec![]);
    }
}

/// The cyclomatic complexity of a body, and the first construct nested deeper than `max_depth`
/// (its keyword node and depth).
fn measure<'a>(ctx: &Ctx<'a>, body: Node<'a>, max_depth: u32) -> (u32, Option<(Node<'a>, u32)>) {
    let k = ctx.k;
    let mut complexity = 1u32;
    let mut too_deep = None;
    let mut stack = vec![(body, 0u32)];
    while let Some((node, depth)) = stack.pop() {
        let kind = node.kind_id();
        let mut inner = depth;
        let mut keyword = None;
        if kind == k.call {
            if let Some(name) = syntax::call_name(node, ctx.src, k)
                .filter(|n| n.module.is_none() && NESTING.contains(&n.fun))
            {
                inner = depth + 1;
                keyword = node.child_by_field_id(k.f_target);
                complexity += decisions(ctx, node, name.fun);
            }
        } else if kind == k.anonymous_function {
            inner = depth + 1;
            keyword = node.child(0);
            complexity += clauses(node, k).saturating_sub(1);
        } else if kind == k.binary_operator
            && matches!(syntax::operator(node, ctx.src), "&&" | "||" | "and" | "or")
        {
            complexity += 1;
        }
        if inner > max_depth && too_deep.is_none() {
            too_deep = keyword.map(|kw| (kw, inner));
        }
        let mut cursor = node.walk();
        // Reverse so that the stack pops in source order and the first too-deep node is the
        // first in the text.
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev().map(|c| (c, inner)));
    }
    (complexity, too_deep)
}

/// Stab clauses (`pattern -> body`) directly inside a node.
fn clauses(node: Node, k: &syntax::Kinds) -> u32 {
    let mut cursor = node.walk();
    let count = node
        .named_children(&mut cursor)
        .filter(|c| c.kind_id() == k.stab_clause)
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
    let mut cursor = block.walk();
    for child in block.named_children(&mut cursor) {
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
        "#]]
        .assert_eq(&render(src));
        let relaxed = ChecksConfig {
            thresholds: Thresholds {
                cyclomatic: 10,
                ..Thresholds::default()
            },
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
