//! The Credo default checks that are mechanical on a syntax tree: unused results of pure
//! functions, operations on the same values, `raise` inside `rescue`, expensive emptiness checks,
//! conditions (`if {:ok, x} = ...`, negations with `else` or in `unless`, one-condition `cond`),
//! `Enum.filter`/`reject` twice, `with` shapes, implicit `try`, predicate names, large numbers and
//! parentheses on zero-arity defs. Each has a quick fix where the rewrite is mechanical.

use tree_sitter::Node;

use super::syntax::{self, CallName};
use super::{ByteEdit, CheckId, Ctx, Fix};

/// Modules whose functions only compute a value (Credo's `Unused*Operation`).
const PURE_MODULES: &[&str] = &[
    "Enum", "String", "List", "Keyword", "Map", "Tuple", "Path", "Regex",
];

/// Ancestors looked at when climbing the tree (bounded: `parent()` costs the depth).
const MAX_CLIMB: usize = 64;

/// Dispatches one call node.
pub(crate) fn call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, name: &CallName<'a>) {
    match (name.module, name.fun) {
        (Some(m), fun) if PURE_MODULES.contains(&m) => {
            if ctx.on(CheckId::UnusedOperation) && !(m == "Enum" && fun == "each") {
                unused_operation(ctx, node, m, fun);
            }
            if m == "Enum" && matches!(fun, "filter" | "reject") {
                twice(ctx, node, fun);
            }
        }
        (None | Some("Kernel"), "raise") if ctx.on(CheckId::RaiseInsideRescue) => {
            raise_inside_rescue(ctx, node)
        }
        (None, "if") => {
            match_in_condition(ctx, node);
            negated_with_else(ctx, node);
        }
        (None, "unless") => {
            match_in_condition(ctx, node);
            negated_in_unless(ctx, node);
        }
        (None, "cond") if ctx.on(CheckId::CondStatements) => cond_statements(ctx, node),
        (None, "with") => with_shapes(ctx, node),
        (None, "def" | "defp" | "defmacro" | "defmacrop") => def_shapes(ctx, node),
        _ => {}
    }
}

/// Dispatches one binary operator node.
pub(crate) fn operator<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, op: &str) {
    let k = ctx.k;
    let (Some(left), Some(right)) = (
        node.child_by_field_id(k.f_left),
        node.child_by_field_id(k.f_right),
    ) else {
        return;
    };
    match op {
        "==" | "!=" | "===" | "!==" | "<" | ">" | "<=" | ">=" | "-" | "/" => {
            if ctx.on(CheckId::ExpensiveEmptyEnumCheck) {
                expensive_empty_check(ctx, node, op, left, right);
            }
            if ctx.on(CheckId::OperationOnSameValues) && same_values(ctx, left, right) {
                let msg =
                    format!("Operation `{op}` on the same values always gives the same result");
                ctx.emit(CheckId::OperationOnSameValues, node, msg, vec![]);
            }
        }
        "and" | "or" | "&&" | "||"
            if ctx.on(CheckId::BoolOperationOnSameValues) && same_values(ctx, left, right) =>
        {
            let msg = format!("`{op}` on the same values is just the value");
            ctx.emit(CheckId::BoolOperationOnSameValues, node, msg, vec![]);
        }
        _ => {}
    }
}

/// The same expression on both sides, ignoring whitespace; numbers alone are left out (`1 - 1`
/// in a test, or `0 / 0` on purpose).
fn same_values<'a>(ctx: &Ctx<'a>, left: Node<'a>, right: Node<'a>) -> bool {
    let k = ctx.k;
    if left.kind_id() == k.integer || left.kind_id() == k.float {
        return false;
    }
    if left.kind_id() != right.kind_id() {
        return false;
    }
    // Runs on every comparison: equal texts first, then whitespace-insensitive, no allocation.
    let (a, b) = (ctx.text(left), ctx.text(right));
    let significant = |t: &'a str| t.bytes().filter(|c| !c.is_ascii_whitespace());
    a == b || (a.len().abs_diff(b.len()) < 8 && significant(a).eq(significant(b)))
}

/// A pure call whose value is dropped: a statement that is not the last of its block.
fn unused_operation<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, module: &str, fun: &str) {
    let k = ctx.k;
    if ctx.functions.is_empty() {
        // Outside a function the enclosing block is the module's, beyond this form: whether the
        // call is its last statement is not this form's to know (and module bodies run at
        // compile time).
        return;
    }
    // In a pipe, the chain's value is the last call's: climb to the outermost pipe only when
    // this call is its last step.
    let mut expr = node;
    if let Some(pipe) = syntax::pipe_parent(ctx, node) {
        expr = pipe;
        if ctx.parent_of(pipe).is_some_and(|p| {
            p.kind_id() == k.binary_operator && syntax::operator(p, ctx.src) == "|>"
        }) {
            return; // an inner step: its value flows on
        }
    }
    let Some(parent) = ctx.parent_of(expr) else {
        return;
    };
    let block = parent.kind_id() == k.do_block
        || parent.kind_id() == k.body
        || parent.kind_id() == k.else_block
        || parent.kind() == "after_block";
    if !block {
        return;
    }
    let mut cursor = parent.walk();
    let last = parent
        .named_children(&mut cursor)
        .filter(|c| {
            c.kind_id() != k.comment
                && c.kind_id() != k.stab_clause
                && c.kind_id() != k.else_block
                && c.kind_id() != k.rescue_block
                && c.kind_id() != k.catch_block
                && c.kind() != "after_block"
        })
        .last();
    if last == Some(expr) {
        return;
    }
    let msg = format!("The result of {module}.{fun} is not used: bind it or return it");
    ctx.emit(CheckId::UnusedOperation, node, msg, vec![]);
}

/// `Enum.filter(Enum.filter(x, f), g)` or `x |> Enum.filter(f) |> Enum.filter(g)`.
fn twice<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, fun: &str) {
    let id = if fun == "filter" {
        CheckId::FilterFilter
    } else {
        CheckId::RejectReject
    };
    if !ctx.on(id) {
        return;
    }
    let k = ctx.k;
    let (args, _) = syntax::effective_args(ctx, node);
    let Some(mut first) = args.first().copied() else {
        return;
    };
    if first.kind_id() == k.binary_operator && syntax::operator(first, ctx.src) == "|>" {
        match first.child_by_field_id(k.f_right) {
            Some(right) => first = right,
            None => return,
        }
    }
    let same = first.kind_id() == k.call
        && syntax::call_name(first, ctx.src, k)
            .is_some_and(|n| n.module == Some("Enum") && n.fun == fun);
    if same {
        let msg = format!("Enum.{fun} twice in a row: combine the conditions in one Enum.{fun}");
        ctx.emit(id, node, msg, vec![]);
    }
}

fn raise_inside_rescue<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let mut current = node;
    for _ in 0..MAX_CLIMB {
        let Some(parent) = ctx.parent_of(current) else {
            return;
        };
        let kind = parent.kind_id();
        if kind == k.rescue_block {
            let msg = "raise inside rescue loses the original stack trace: use reraise/2 with __STACKTRACE__";
            ctx.emit(CheckId::RaiseInsideRescue, node, msg, vec![]);
            return;
        }
        if kind == k.anonymous_function || kind == k.do_block {
            // A `do` block inside the rescue (`if`, `case`) still is in it; a function is not.
            if kind == k.anonymous_function {
                return;
            }
        }
        current = parent;
    }
}

/// The collection whose size a `length(x)`/`Enum.count(x)` (or piped) expression measures, and
/// whether it is `Enum.count`.
fn measured<'a>(ctx: &Ctx<'a>, node: Node<'a>) -> Option<(Node<'a>, bool)> {
    let k = ctx.k;
    let (call, piped) =
        if node.kind_id() == k.binary_operator && syntax::operator(node, ctx.src) == "|>" {
            (
                node.child_by_field_id(k.f_right)?,
                node.child_by_field_id(k.f_left),
            )
        } else {
            (node, None)
        };
    if call.kind_id() != k.call {
        return None;
    }
    let name = syntax::call_name(call, ctx.src, k)?;
    let is_count = match (name.module, name.fun) {
        (None | Some("Kernel"), "length") => false,
        (Some("Enum"), "count") => true,
        _ => return None,
    };
    let args = syntax::args(call, k);
    match (piped, args.as_slice()) {
        (Some(p), []) => Some((p, is_count)),
        (None, [x]) => Some((*x, is_count)),
        _ => None,
    }
}

fn expensive_empty_check<'a>(
    ctx: &mut Ctx<'a>,
    node: Node<'a>,
    op: &str,
    left: Node<'a>,
    right: Node<'a>,
) {
    let zero = |n: Node| ctx.text(n) == "0";
    // Normalise to `measure OP 0`.
    let (measure, op) = if zero(right) {
        (left, op)
    } else if zero(left) {
        let flipped = match op {
            "<" => ">",
            ">" => "<",
            other => other,
        };
        (right, flipped)
    } else {
        return;
    };
    let Some((collection, is_count)) = measured(ctx, measure) else {
        return;
    };
    let empty = match op {
        "==" | "===" => true,
        "!=" | "!==" | ">" => false,
        _ => return,
    };
    let x = ctx.text(collection);
    let x = if collection.kind_id() == ctx.k.binary_operator {
        format!("({x})")
    } else {
        x.to_owned()
    };
    let replacement = match (is_count, empty) {
        (false, true) => format!("{x} == []"),
        (false, false) => format!("{x} != []"),
        (true, true) => format!("Enum.empty?({x})"),
        (true, false) => format!("not Enum.empty?({x})"),
    };
    let what = if is_count { "Enum.count" } else { "length" };
    let msg = format!("{what} walks the whole collection to check emptiness: use `{replacement}`");
    let fix = Fix::replace(
        format!("Rewrite as {replacement}"),
        node.start_byte(),
        node.end_byte(),
        replacement,
    );
    ctx.emit(CheckId::ExpensiveEmptyEnumCheck, node, msg, vec![fix]);
}

/// The condition of an `if`/`unless`.
fn condition<'a>(ctx: &Ctx<'a>, node: Node<'a>) -> Option<Node<'a>> {
    syntax::args(node, ctx.k)
        .first()
        .copied()
        .filter(|c| c.kind_id() != ctx.k.keywords)
}

fn match_in_condition<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::MatchInCondition) {
        return;
    }
    let k = ctx.k;
    let Some(cond) = condition(ctx, node) else {
        return;
    };
    let is_match = cond.kind_id() == k.binary_operator && syntax::operator(cond, ctx.src) == "=";
    let plain = cond
        .child_by_field_id(k.f_left)
        .is_some_and(|l| l.kind_id() == k.identifier);
    if is_match && !plain {
        let msg = "Pattern match in a condition: a failed match raises; use case or with";
        ctx.emit(CheckId::MatchInCondition, cond, msg, vec![]);
    }
}

/// `!x` or `not x`: the operand.
fn negated<'a>(ctx: &Ctx<'a>, cond: Node<'a>) -> Option<Node<'a>> {
    if cond.kind_id() != ctx.k.unary_operator {
        return None;
    }
    let op = syntax::operator(cond, ctx.src);
    if op != "!" && op != "not" {
        return None;
    }
    cond.child_by_field_id(ctx.k.f_operand)
}

/// The byte ranges of the `do` and `else` branches of an `if`/`unless`, when it has both.
pub(crate) fn branches(ctx: &Ctx, node: Node) -> Option<((usize, usize), (usize, usize))> {
    let k = ctx.k;
    if let Some(block) = syntax::do_block(node, k) {
        let children = syntax::named_children(block, k);
        let else_block = children.iter().find(|c| c.kind_id() == k.else_block)?;
        let then_body: Vec<Node> = children
            .iter()
            .copied()
            .filter(|c| c.kind_id() != k.else_block)
            .collect();
        let else_body = syntax::named_children(*else_block, k);
        return span(&then_body).zip(span(&else_body));
    }
    let keywords = syntax::args(node, k)
        .into_iter()
        .find(|a| a.kind_id() == k.keywords)?;
    let value = |key: &str| {
        syntax::named_children(keywords, k)
            .into_iter()
            .find(|p| syntax::pair_key(*p, ctx.src, k) == Some(key))
            .and_then(|p| p.child_by_field_id(k.f_value))
    };
    let (d, e) = (value("do")?, value("else")?);
    Some((
        (d.start_byte(), d.end_byte()),
        (e.start_byte(), e.end_byte()),
    ))
}

fn span(nodes: &[Node]) -> Option<(usize, usize)> {
    Some((nodes.first()?.start_byte(), nodes.last()?.end_byte()))
}

fn edit(start_byte: usize, end_byte: usize, replacement: &str) -> ByteEdit {
    ByteEdit {
        start_byte,
        end_byte,
        replacement: replacement.to_owned(),
    }
}

fn negated_with_else<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::NegatedConditionsWithElse) {
        return;
    }
    let Some(cond) = condition(ctx, node) else {
        return;
    };
    let Some(operand) = negated(ctx, cond) else {
        return;
    };
    let Some((a, b)) = branches(ctx, node) else {
        return;
    };
    let fix = Fix {
        title: "Remove the negation and swap the branches".to_owned(),
        edits: vec![
            edit(cond.start_byte(), cond.end_byte(), ctx.text(operand)),
            edit(a.0, a.1, &ctx.src[b.0..b.1]),
            edit(b.0, b.1, &ctx.src[a.0..a.1]),
        ],
    };
    let msg = "Negated condition with else: drop the negation and swap the branches";
    ctx.emit(CheckId::NegatedConditionsWithElse, cond, msg, vec![fix]);
}

fn negated_in_unless<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::NegatedConditionsInUnless) {
        return;
    }
    let k = ctx.k;
    let (Some(target), Some(cond)) = (node.child_by_field_id(k.f_target), condition(ctx, node))
    else {
        return;
    };
    let Some(operand) = negated(ctx, cond) else {
        return;
    };
    let fix = Fix {
        title: "Rewrite as if without the negation".to_owned(),
        edits: vec![
            edit(target.start_byte(), target.end_byte(), "if"),
            edit(cond.start_byte(), cond.end_byte(), ctx.text(operand)),
        ],
    };
    let msg = "Negated condition in unless: write if without the negation";
    ctx.emit(CheckId::NegatedConditionsInUnless, cond, msg, vec![fix]);
}

/// The indentation of the line a byte is on.
fn indentation(src: &str, at: usize) -> &str {
    let start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &src[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn cond_statements<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let Some(block) = syntax::do_block(node, k) else {
        return;
    };
    let clauses: Vec<Node> = syntax::named_children(block, k)
        .into_iter()
        .filter(|c| c.kind_id() == k.stab_clause)
        .collect();
    let condition_of = |c: &Node<'a>| {
        c.child_by_field_id(k.f_left)
            .and_then(|args| syntax::named_children(args, k).first().copied())
    };
    let is_true = |c: &Node<'a>| condition_of(c).is_some_and(|n| ctx.text(n) == "true");
    let single = match clauses.as_slice() {
        [only] => !is_true(only),
        [_, last] => is_true(last),
        _ => false,
    };
    if !single {
        return;
    }
    let fixes = match clauses.as_slice() {
        [first, last] => {
            let body = |c: &Node<'a>| {
                c.child_by_field_id(k.f_right)
                    .map(|b| ctx.text(b).trim_end())
            };
            match (condition_of(first), body(first), body(last)) {
                (Some(c), Some(b1), Some(b2)) if !b1.contains('\n') && !b2.contains('\n') => {
                    let ind = indentation(ctx.src, node.start_byte());
                    let text = format!(
                        "if {} do\n{ind}  {b1}\n{ind}else\n{ind}  {b2}\n{ind}end",
                        ctx.text(c)
                    );
                    vec![Fix::replace(
                        "Rewrite as if/else",
                        node.start_byte(),
                        node.end_byte(),
                        text,
                    )]
                }
                _ => vec![],
            }
        }
        _ => vec![],
    };
    let target = node.child_by_field_id(k.f_target).unwrap_or(node);
    let msg = "cond with a single condition: use if";
    ctx.emit(CheckId::CondStatements, target, msg, fixes);
}

/// `with` with one clause and `else` (a `case`), and a last clause whose pattern is the result.
fn with_shapes<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let args = syntax::args(node, k);
    let is_arrow =
        |n: &Node| n.kind_id() == k.binary_operator && syntax::operator(*n, ctx.src) == "<-";
    let clauses: Vec<Node> = args.iter().copied().filter(is_arrow).collect();
    let others = args
        .iter()
        .filter(|a| !is_arrow(a) && a.kind_id() != k.keywords)
        .count();
    let Some(block) = syntax::do_block(node, k) else {
        return;
    };
    let children = syntax::named_children(block, k);
    let else_block = children
        .iter()
        .find(|c| c.kind_id() == k.else_block)
        .copied();
    let body: Vec<Node> = children
        .iter()
        .copied()
        .filter(|c| c.kind_id() != k.else_block)
        .collect();
    let target = node.child_by_field_id(k.f_target).unwrap_or(node);
    if let (Some(else_block), [clause], 0) = (else_block, clauses.as_slice(), others) {
        if ctx.on(CheckId::WithSingleClause) {
            let fixes = with_to_case(ctx, node, *clause, &body, else_block)
                .into_iter()
                .collect();
            let msg = "with with a single clause and else: use case";
            ctx.emit(CheckId::WithSingleClause, target, msg, fixes);
        }
    }
    if else_block.is_some() || !ctx.on(CheckId::RedundantWithClauseResult) {
        return;
    }
    let (Some(last), [result]) = (clauses.last(), body.as_slice()) else {
        return;
    };
    let (Some(pattern), Some(expr)) = (
        last.child_by_field_id(k.f_left),
        last.child_by_field_id(k.f_right),
    ) else {
        return;
    };
    let squash =
        |n: Node| -> String { ctx.text(n).chars().filter(|c| !c.is_whitespace()).collect() };
    if squash(pattern) != squash(*result) {
        return;
    }
    let fixes = if clauses.len() == 1 && others == 0 {
        vec![Fix::replace(
            "Replace the with by its expression",
            node.start_byte(),
            node.end_byte(),
            ctx.text(expr),
        )]
    } else {
        vec![]
    };
    let msg = "The last with clause's pattern is the result: return its expression instead";
    ctx.emit(CheckId::RedundantWithClauseResult, *last, msg, fixes);
}

/// `with pat <- expr do body else clauses end` as `case expr do pat -> body; clauses end`.
fn with_to_case(
    ctx: &Ctx,
    node: Node,
    clause: Node,
    body: &[Node],
    else_block: Node,
) -> Option<Fix> {
    let k = ctx.k;
    let pattern = clause.child_by_field_id(k.f_left)?;
    let expr = clause.child_by_field_id(k.f_right)?;
    let (body_start, body_end) = span(body)?;
    let arms = syntax::named_children(else_block, k);
    let (arms_start, arms_end) = span(&arms)?;
    let ind = indentation(ctx.src, node.start_byte());
    let line_start = |at: usize| ctx.src[..at].rfind('\n').map_or(0, |i| i + 1);
    let body_text: String = ctx.src[line_start(body_start)..body_end]
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let arms_text = ctx.src[line_start(arms_start)..arms_end].trim_end();
    let text = format!(
        "case {} do\n{ind}  {} ->\n{body_text}\n\n{arms_text}\n{ind}end",
        ctx.text(expr),
        ctx.text(pattern)
    );
    Some(Fix::replace(
        "Rewrite as case",
        node.start_byte(),
        node.end_byte(),
        text,
    ))
}

/// Predicate names, parentheses on zero-arity heads, and an explicit `try` as the whole body.
fn def_shapes<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let Some(def) = syntax::def_info(node, ctx.src, k) else {
        return;
    };
    if ctx.on(CheckId::PredicateFunctionNames)
        && matches!(def.keyword, "def" | "defp")
        && def.name.starts_with("is_")
        && def.name.len() > 3
    {
        let suggestion = format!(
            "{}?",
            def.name.trim_start_matches("is_").trim_end_matches('?')
        );
        let msg = format!(
            "Predicate function {} should be named {suggestion} (is_ is for guards)",
            def.name
        );
        let name_end = def.head.start_byte() + def.name.len();
        ctx.emit_range(
            CheckId::PredicateFunctionNames,
            def.head.start_byte(),
            name_end,
            msg,
            vec![],
        );
    }
    if ctx.on(CheckId::ParenthesesOnZeroArityDefs) && def.params.is_empty() {
        if let Some(parens) = (def.head.kind_id() == k.call)
            .then(|| syntax::arguments_node(def.head, k))
            .flatten()
        {
            let msg = format!(
                "Zero-arity {} {} is written without parentheses",
                def.keyword, def.name
            );
            let fix = Fix::replace(
                "Remove the parentheses",
                parens.start_byte(),
                parens.end_byte(),
                "",
            );
            ctx.emit(CheckId::ParenthesesOnZeroArityDefs, parens, msg, vec![fix]);
        }
    }
    if ctx.on(CheckId::PreferImplicitTry) {
        prefer_implicit_try(ctx, node);
    }
}

fn prefer_implicit_try<'a>(ctx: &mut Ctx<'a>, def: Node<'a>) {
    let k = ctx.k;
    let Some(block) = syntax::do_block(def, k) else {
        return;
    };
    let children = syntax::named_children(block, k);
    let [only] = children.as_slice() else {
        return;
    };
    let is_try = only.kind_id() == k.call
        && syntax::call_name(*only, ctx.src, k)
            .is_some_and(|n| n.module.is_none() && n.fun == "try");
    let Some(try_block) = is_try.then(|| syntax::do_block(*only, k)).flatten() else {
        return;
    };
    // The try's own `do ... end`, one level less indented, becomes the def's.
    let text = ctx.text(try_block);
    let mut lines = text.split('\n');
    let mut dedented = lines.next().unwrap_or("").to_owned();
    for line in lines {
        dedented.push('\n');
        dedented.push_str(line.strip_prefix("  ").unwrap_or(line));
    }
    let fix = Fix::replace(
        "Use the implicit try of def",
        block.start_byte(),
        block.end_byte(),
        dedented,
    );
    let target = only.child_by_field_id(k.f_target).unwrap_or(*only);
    let msg = "try as the whole function body: use the implicit try of def";
    ctx.emit(CheckId::PreferImplicitTry, target, msg, vec![fix]);
}

/// `86400` → `86_400` (integers and the integer part of floats of five digits or more).
pub(crate) fn large_number<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::LargeNumbers) {
        return;
    }
    let text = ctx.text(node);
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let digits = &text[..digits_end];
    if digits.len() < 5 || text[digits_end..].starts_with(['x', 'b', 'o', '_']) {
        return;
    }
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('_');
        }
        grouped.push(c);
    }
    let msg = format!("Large number {digits}: write {grouped}");
    let start = node.start_byte();
    let fix = Fix::replace(
        format!("Write {grouped}"),
        start,
        start + digits_end,
        grouped.clone(),
    );
    ctx.emit(CheckId::LargeNumbers, node, msg, vec![fix]);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::CheckId;
    use expect_test::expect;

    fn only(src: &str, id: CheckId) -> String {
        render_only(src, "lib/app.ex", id)
    }

    #[test]
    fn unused_results_of_pure_functions_are_reported() {
        let src = r#"def f(list, s) do
  Enum.map(list, &(&1 * 2))
  String.trim(s)
  list |> Enum.filter(& &1) |> Enum.sort()
  Map.put(%{}, :a, 1)
  Enum.each(list, &IO.puts/1)
  x = String.upcase(s)
  list |> Enum.map(&f/1) |> Enum.join()
  if s do
    Keyword.put([], :a, 1)
    :ok
  end
  Enum.count(list)
end
"#;
        expect![[r#"
            2:3 warning warning/unused-operation: The result of Enum.map is not used: bind it or return it `Enum.map(list, &(&1 * 2))`
            3:3 warning warning/unused-operation: The result of String.trim is not used: bind it or return it `String.trim(s)`
            4:32 warning warning/unused-operation: The result of Enum.sort is not used: bind it or return it `Enum.sort()`
            5:3 warning warning/unused-operation: The result of Map.put is not used: bind it or return it `Map.put(%{}, :a, 1)`
            8:29 warning warning/unused-operation: The result of Enum.join is not used: bind it or return it `Enum.join()`
            10:5 warning warning/unused-operation: The result of Keyword.put is not used: bind it or return it `Keyword.put([], :a, 1)`
        "#]]
        .assert_eq(&only(src, CheckId::UnusedOperation));
        // Module bodies run at compile time, and last expressions are results.
        let fine = "defmodule A do\n  Enum.map([1], & &1)\n  def g(x), do: String.trim(x)\n  def h(x) do\n    y = 1\n    Enum.map(x, & &1 + y)\n  end\nend\n";
        assert_eq!(only(fine, CheckId::UnusedOperation), "");
    }

    #[test]
    fn operations_on_the_same_values_are_reported() {
        let src = "def f(a, b) do\n  a == a\n  a.x - a.x\n  a and a\n  b || b\n  a == b\n  1 - 1\n  a <> a\nend\n";
        expect![[r#"
            2:3 warning warning/operation-on-same-values: Operation `==` on the same values always gives the same result `a == a`
            3:3 warning warning/operation-on-same-values: Operation `-` on the same values always gives the same result `a.x - a.x`
        "#]]
        .assert_eq(&only(src, CheckId::OperationOnSameValues));
        expect![[r#"
            4:3 warning warning/bool-operation-on-same-values: `and` on the same values is just the value `a and a`
            5:3 warning warning/bool-operation-on-same-values: `||` on the same values is just the value `b || b`
        "#]]
        .assert_eq(&only(src, CheckId::BoolOperationOnSameValues));
    }

    #[test]
    fn raise_inside_rescue_is_reported() {
        let src = r#"def f do
  try do
    g()
  rescue
    e in ArgumentError ->
      if e.message == "x", do: raise("again"), else: :ok
  end
end
def g do
  h()
rescue
  _ -> raise "wrapped"
end
def h, do: raise("plain")
def k do
  try do
    g()
  rescue
    e -> reraise e, __STACKTRACE__
  end
end
"#;
        expect![[r#"
            6:32 warning warning/raise-inside-rescue: raise inside rescue loses the original stack trace: use reraise/2 with __STACKTRACE__ `raise("again")`
            12:8 warning warning/raise-inside-rescue: raise inside rescue loses the original stack trace: use reraise/2 with __STACKTRACE__ `raise "wrapped"`
        "#]]
        .assert_eq(&only(src, CheckId::RaiseInsideRescue));
    }

    #[test]
    fn expensive_empty_checks_are_reported_and_fixed() {
        let src = "def f(l) do\n  length(l) == 0\n  0 < Enum.count(l)\n  l |> length() != 0\n  length(l) == 1\n  Enum.count(l, & &1) == 0\n  l == []\nend\n";
        expect![[r#"
            2:3 warning warning/expensive-empty-enum-check: length walks the whole collection to check emptiness: use `l == []` [fix: Rewrite as l == []] `length(l) == 0`
            3:3 warning warning/expensive-empty-enum-check: Enum.count walks the whole collection to check emptiness: use `not Enum.empty?(l)` [fix: Rewrite as not Enum.empty?(l)] `0 < Enum.count(l)`
            4:3 warning warning/expensive-empty-enum-check: length walks the whole collection to check emptiness: use `l != []` [fix: Rewrite as l != []] `l |> length() != 0`
        "#]]
        .assert_eq(&only(src, CheckId::ExpensiveEmptyEnumCheck));
        assert_eq!(
            apply_fix(
                "if length(xs) == 0, do: 1\n",
                CheckId::ExpensiveEmptyEnumCheck
            ),
            "if xs == [], do: 1\n"
        );
    }

    #[test]
    fn conditions_are_reported_and_fixed() {
        let src = r#"if {:ok, x} = f(), do: x
if x = f(), do: x
if !ok?, do: 1, else: 2
if not ok? do
  :no
else
  :yes
end
if !ok?, do: 1
unless !ok?, do: 1
unless ok?, do: 1
"#;
        expect![[r#"
            1:4 info refactor/match-in-condition: Pattern match in a condition: a failed match raises; use case or with `{:ok, x} = f()`
            3:4 info refactor/negated-conditions-with-else: Negated condition with else: drop the negation and swap the branches [fix: Remove the negation and swap the branches] `!ok?`
            4:4 info refactor/negated-conditions-with-else: Negated condition with else: drop the negation and swap the branches [fix: Remove the negation and swap the branches] `not ok?`
            10:8 info refactor/negated-conditions-in-unless: Negated condition in unless: write if without the negation [fix: Rewrite as if without the negation] `!ok?`
        "#]]
        .assert_eq(&render_with(
            src,
            Some("lib/a.ex"),
            &super::super::ChecksConfig {
                disabled: vec!["readability".into(), "complexity".into()],
                ..Default::default()
            },
        ));
        assert_eq!(
            apply_fix(
                "if !ok?, do: 1, else: 2\n",
                CheckId::NegatedConditionsWithElse
            ),
            "if ok?, do: 2, else: 1\n"
        );
        assert_eq!(
            apply_fix(
                "if not ok? do\n  :no\nelse\n  :yes\nend\n",
                CheckId::NegatedConditionsWithElse
            ),
            "if ok? do\n  :yes\nelse\n  :no\nend\n"
        );
        assert_eq!(
            apply_fix("unless !ok?, do: 1\n", CheckId::NegatedConditionsInUnless),
            "if ok?, do: 1\n"
        );
    }

    #[test]
    fn single_condition_conds_are_reported_and_fixed() {
        let src = "cond do\n  a > 1 -> :big\n  true -> :small\nend\ncond do\n  a -> 1\nend\ncond do\n  a -> 1\n  b -> 2\n  true -> 3\nend\n";
        expect![[r#"
            1:1 info refactor/cond-statements: cond with a single condition: use if [fix: Rewrite as if/else] `cond`
            5:1 info refactor/cond-statements: cond with a single condition: use if `cond`
        "#]]
        .assert_eq(&only(src, CheckId::CondStatements));
        assert_eq!(
            apply_fix(
                "  cond do\n    a > 1 -> :big\n    true -> :small\n  end\n",
                CheckId::CondStatements
            ),
            "  if a > 1 do\n    :big\n  else\n    :small\n  end\n"
        );
    }

    #[test]
    fn filter_twice_and_reject_twice_are_reported() {
        let src = "def f(l) do\n  l |> Enum.filter(&a/1) |> Enum.filter(&b/1)\n  Enum.reject(Enum.reject(l, &a/1), &b/1)\n  l |> Enum.filter(&a/1) |> Enum.reject(&b/1)\nend\n";
        let out = only(src, CheckId::FilterFilter) + &only(src, CheckId::RejectReject);
        expect![[r#"
            2:29 info refactor/filter-filter: Enum.filter twice in a row: combine the conditions in one Enum.filter `Enum.filter(&b/1)`
            3:3 info refactor/reject-reject: Enum.reject twice in a row: combine the conditions in one Enum.reject `Enum.reject(Enum.reject(l, &a/1), &b/1)`
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn with_shapes_are_reported_and_fixed() {
        let src = r#"def f do
  with {:ok, x} <- g() do
    x
  else
    {:error, e} -> e
  end
end
def h do
  with {:ok, x} <- g() do
    {:ok, x}
  end
end
def k do
  with {:ok, x} <- g(),
       {:ok, y} <- i(x) do
    {:ok, y}
  end
end
def fine do
  with {:ok, x} <- g(), {:ok, y} <- i(x) do
    x + y
  else
    _ -> :error
  end
end
"#;
        expect![[r#"
            2:3 info refactor/with-single-clause: with with a single clause and else: use case [fix: Rewrite as case] `with`
            9:8 info refactor/redundant-with-clause-result: The last with clause's pattern is the result: return its expression instead [fix: Replace the with by its expression] `{:ok, x} <- g()`
            15:8 info refactor/redundant-with-clause-result: The last with clause's pattern is the result: return its expression instead `{:ok, y} <- i(x)`
        "#]]
        .assert_eq(&(only(src, CheckId::WithSingleClause) + &only(src, CheckId::RedundantWithClauseResult)));
        assert_eq!(
            apply_fix(
                "def f do\n  with {:ok, x} <- g() do\n    x\n  else\n    {:error, e} -> e\n  end\nend\n",
                CheckId::WithSingleClause
            ),
            "def f do\n  case g() do\n    {:ok, x} ->\n      x\n\n    {:error, e} -> e\n  end\nend\n"
        );
        assert_eq!(
            apply_fix(
                "def h do\n  with {:ok, x} <- g() do\n    {:ok, x}\n  end\nend\n",
                CheckId::RedundantWithClauseResult
            ),
            "def h do\n  g()\nend\n"
        );
    }

    #[test]
    fn definitions_are_reported_and_fixed() {
        let src = r#"def is_valid?(x), do: x
defp is_admin(u), do: u.admin
defmacro is_even(n), do: n
def valid?(x), do: x
def run() do
  :ok
end
def run, do: :ok
def go(), do: :ok
"#;
        expect![[r#"
            1:5 info readability/predicate-function-names: Predicate function is_valid? should be named valid? (is_ is for guards) `is_valid?`
            2:6 info readability/predicate-function-names: Predicate function is_admin should be named admin? (is_ is for guards) `is_admin`
            5:8 info readability/parentheses-on-zero-arity-defs: Zero-arity def run is written without parentheses [fix: Remove the parentheses] `()`
            9:7 info readability/parentheses-on-zero-arity-defs: Zero-arity def go is written without parentheses [fix: Remove the parentheses] `()`
        "#]]
        .assert_eq(&(only(src, CheckId::PredicateFunctionNames) + &only(src, CheckId::ParenthesesOnZeroArityDefs)));
        assert_eq!(
            apply_fix(
                "def run() do\n  :ok\nend\n",
                CheckId::ParenthesesOnZeroArityDefs
            ),
            "def run do\n  :ok\nend\n"
        );
    }

    #[test]
    fn explicit_try_as_the_whole_body_is_reported_and_fixed() {
        let src = "def f do\n  try do\n    g()\n  rescue\n    _ -> :error\n  end\nend\n";
        assert_eq!(
            apply_fix(src, CheckId::PreferImplicitTry),
            "def f do\n  g()\nrescue\n  _ -> :error\nend\n"
        );
        let fine = "def f do\n  x = 1\n  try do\n    g(x)\n  rescue\n    _ -> :error\n  end\nend\n";
        assert_eq!(only(fine, CheckId::PreferImplicitTry), "");
    }

    #[test]
    fn large_numbers_are_reported_and_fixed() {
        let src = "def f, do: [86400, 10_000, 9999, 0xFFFFFF, 123456.5, 1.0e10, 1234567]\n";
        expect![[r#"
            1:13 info readability/large-numbers: Large number 86400: write 86_400 [fix: Write 86_400] `86400`
            1:44 info readability/large-numbers: Large number 123456: write 123_456 [fix: Write 123_456] `123456.5`
            1:62 info readability/large-numbers: Large number 1234567: write 1_234_567 [fix: Write 1_234_567] `1234567`
        "#]]
        .assert_eq(&only(src, CheckId::LargeNumbers));
        assert_eq!(
            apply_fix("x = 1234567.25\n", CheckId::LargeNumbers),
            "x = 1_234_567.25\n"
        );
    }
}
