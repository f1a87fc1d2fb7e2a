//! Readability (Credo-style): missing `@doc`/`@spec`, `unless ... else`, pipe style,
//! `Enum.map |> Enum.join`, `Enum.filter |> Enum.count`, and TODO/FIXME tags, with mechanical
//! rewrites as fixes.

use tree_sitter::Node;

use super::syntax::{self, CallName};
use super::{ByteEdit, CheckId, Ctx, Fix};

/// What the `@doc`/`@spec` checks need to know of one form directly inside a module. Computed
/// once per form and cached with it, so that the module-level pass reads no tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DocItem {
    /// `@moduledoc ...`; `false` for `@moduledoc false`.
    Moduledoc(bool),
    /// `@doc ...` (including `@doc false`).
    Doc,
    /// `@impl ...`.
    Impl,
    /// `@spec name(args) :: ...`.
    Spec(String, usize),
    /// A function clause.
    Def {
        name: String,
        arity: usize,
        defaults: usize,
        public: bool,
        head: (usize, usize),
    },
    /// Anything else.
    Other,
}

impl DocItem {
    /// The same item for a form moved by `shift` bytes.
    pub fn moved(&self, shift: impl Fn(usize) -> usize) -> DocItem {
        match self {
            DocItem::Def {
                name,
                arity,
                defaults,
                public,
                head,
            } => DocItem::Def {
                name: name.clone(),
                arity: *arity,
                defaults: *defaults,
                public: *public,
                head: (shift(head.0), shift(head.1)),
            },
            other => other.clone(),
        }
    }
}

/// Reads a form for the module-level pass.
pub(crate) fn doc_item<'a>(ctx: &Ctx<'a>, item: Node<'a>) -> DocItem {
    let k = ctx.k;
    if item.kind_id() == k.unary_operator {
        return match syntax::attribute(ctx, item) {
            Some(("moduledoc", value)) => {
                DocItem::Moduledoc(value.is_some_and(|v| ctx.text(v) != "false"))
            }
            Some(("doc", _)) => DocItem::Doc,
            Some(("impl", _)) => DocItem::Impl,
            Some(("spec", Some(value))) => match spec_name(ctx, value) {
                Some((name, arity)) => DocItem::Spec(name.to_owned(), arity),
                None => DocItem::Other,
            },
            _ => DocItem::Other,
        };
    }
    if item.kind_id() != k.call {
        return DocItem::Other;
    }
    let is_def = matches!(
        syntax::call_name(item, ctx.src, k).map(|n| n.fun),
        Some("def" | "defp" | "defmacro" | "defmacrop")
    );
    match syntax::def_info(item, ctx.src, k).filter(|_| is_def) {
        Some(def) => DocItem::Def {
            name: def.name.to_owned(),
            arity: def.params.len(),
            defaults: def.defaults,
            public: def.is_public(),
            head: (def.head.start_byte(), def.head.end_byte()),
        },
        None => DocItem::Other,
    }
}

/// Checks `@doc` and `@spec` of the public functions of a module found inside a form (the
/// modules of a document are checked from cached [`DocItem`]s instead).
pub(crate) fn nested_module_docs<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::MissingDoc) && !ctx.on(CheckId::MissingSpec) {
        return;
    }
    let Some(block) = syntax::do_block(node, ctx.k) else {
        return;
    };
    let items: Vec<DocItem> = syntax::named_children(block, ctx.k)
        .into_iter()
        .map(|item| doc_item(ctx, item))
        .collect();
    module_docs(ctx, items.iter().map(|i| (i, 0)));
}

/// Checks `@doc` and `@spec` of the public functions of one module, from its items in order,
/// each with the offset to add to its positions.
pub(crate) fn module_docs<'i>(
    ctx: &mut Ctx,
    items: impl Iterator<Item = (&'i DocItem, usize)> + Clone,
) {
    if !ctx.on(CheckId::MissingDoc) && !ctx.on(CheckId::MissingSpec) {
        return;
    }
    let has_moduledoc = items
        .clone()
        .any(|(i, _)| matches!(i, DocItem::Moduledoc(true)));
    let specs: Vec<(&str, usize)> = items
        .clone()
        .filter_map(|(i, _)| match i {
            DocItem::Spec(name, arity) => Some((name.as_str(), *arity)),
            _ => None,
        })
        .collect();
    let (mut doc, mut implementation) = (false, false);
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (item, base) in items {
        let (name, arity, defaults, public, head) = match item {
            DocItem::Doc => {
                doc = true;
                continue;
            }
            DocItem::Impl => {
                implementation = true;
                continue;
            }
            DocItem::Def {
                name,
                arity,
                defaults,
                public,
                head,
            } => (
                name.as_str(),
                *arity,
                *defaults,
                *public,
                (head.0 + base, head.1 + base),
            ),
            _ => continue,
        };
        let first_clause = !seen.contains(&(name, arity));
        if first_clause {
            seen.push((name, arity));
        }
        if first_clause && public && !implementation {
            let label = format!("{name}/{arity}");
            if has_moduledoc && !doc {
                let msg = format!("Public function {label} has no @doc");
                ctx.emit_range(CheckId::MissingDoc, head.0, head.1, msg, vec![]);
            }
            let required = arity - defaults;
            if !specs
                .iter()
                .any(|(n, a)| *n == name && (required..=arity).contains(a))
            {
                let msg = format!("Public function {label} has no @spec");
                ctx.emit_range(CheckId::MissingSpec, head.0, head.1, msg, vec![]);
            }
        }
        doc = false;
        implementation = false;
    }
}

/// The name and arity a `@spec` describes.
fn spec_name<'a>(ctx: &Ctx<'a>, value: Node<'a>) -> Option<(&'a str, usize)> {
    let k = ctx.k;
    let mut node = value;
    if syntax::operator(node, ctx.src) == "when" {
        node = node.child_by_field_id(k.f_left)?;
    }
    if syntax::operator(node, ctx.src) != "::" {
        return None;
    }
    let head = node.child_by_field_id(k.f_left)?;
    if head.kind_id() == k.identifier {
        return Some((ctx.text(head), 0));
    }
    let name = syntax::call_name(head, ctx.src, k)?;
    Some((name.fun, syntax::args(head, k).len()))
}

/// Dispatches one call node: `unless ... else`, and nested `Enum.join(Enum.map(...))` /
/// `Enum.count(Enum.filter(...))`.
pub(crate) fn call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, name: &CallName<'a>) {
    match (name.module, name.fun) {
        (None, "unless") if ctx.on(CheckId::UnlessElse) => unless_else(ctx, node),
        (Some("Enum"), "join") if ctx.on(CheckId::MapJoin) => {
            nested_rewrite(ctx, node, "map", CheckId::MapJoin)
        }
        (Some("Enum"), "count") if ctx.on(CheckId::FilterCount) => {
            nested_rewrite(ctx, node, "filter", CheckId::FilterCount)
        }
        _ => {}
    }
}

fn unless_else<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let Some(target) = node.child_by_field_id(k.f_target) else {
        return;
    };
    let branches = if let Some(block) = syntax::do_block(node, k) {
        let mut cursor = block.walk();
        let children: Vec<Node> = block.named_children(&mut cursor).collect();
        let Some(else_block) = children
            .iter()
            .find(|c| c.kind_id() == k.else_block)
            .copied()
        else {
            return;
        };
        let then_body: Vec<Node> = children
            .into_iter()
            .filter(|c| c.kind_id() != k.else_block)
            .collect();
        let mut cursor = else_block.walk();
        let else_body: Vec<Node> = else_block.named_children(&mut cursor).collect();
        span(&then_body).zip(span(&else_body))
    } else {
        let keywords = syntax::args(node, k)
            .into_iter()
            .find(|a| a.kind_id() == k.keywords);
        let value = |key: &str| {
            keywords.and_then(|kw| {
                syntax::named_children(kw, k)
                    .into_iter()
                    .find(|p| syntax::pair_key(*p, ctx.src, k) == Some(key))
                    .and_then(|p| p.child_by_field_id(k.f_value))
            })
        };
        match (value("do"), value("else")) {
            (Some(d), Some(e)) => Some((
                (d.start_byte(), d.end_byte()),
                (e.start_byte(), e.end_byte()),
            )),
            (_, None) => return,
            _ => None,
        }
    };
    let fixes = match branches {
        Some((then_range, else_range)) if syntax::pipe_parent(ctx, node).is_none() => {
            let (a, b): ((usize, usize), (usize, usize)) = (then_range, else_range);
            vec![Fix {
                title: "Rewrite as if with swapped branches".to_owned(),
                edits: vec![
                    edit(target.start_byte(), target.end_byte(), "if"),
                    edit(a.0, a.1, &ctx.src[b.0..b.1]),
                    edit(b.0, b.1, &ctx.src[a.0..a.1]),
                ],
            }]
        }
        _ => vec![],
    };
    ctx.emit(
        CheckId::UnlessElse,
        target,
        "unless with else: use if with the branches swapped",
        fixes,
    );
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

/// `Enum.join(Enum.map(x, f), sep)` → `Enum.map_join(x, sep, f)`;
/// `Enum.count(Enum.filter(x, f))` → `Enum.count(x, f)`.
fn nested_rewrite<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, inner_fun: &str, id: CheckId) {
    let k = ctx.k;
    let args = syntax::args(node, k);
    let max_args = if id == CheckId::MapJoin { 2 } else { 1 };
    let Some(inner) = args.first().copied().filter(|_| args.len() <= max_args) else {
        return;
    };
    if inner.kind_id() != k.call
        || !syntax::call_name(inner, ctx.src, k)
            .is_some_and(|n| n.module == Some("Enum") && n.fun == inner_fun)
    {
        return;
    }
    let inner_args = syntax::args(inner, k);
    if inner_args.len() != 2 || syntax::pipe_parent(ctx, node).is_some() {
        return;
    }
    let (x, f) = (ctx.text(inner_args[0]), ctx.text(inner_args[1]));
    let replacement = if id == CheckId::MapJoin {
        match args.get(1) {
            Some(sep) => format!("Enum.map_join({x}, {}, {f})", ctx.text(*sep)),
            None => format!("Enum.map_join({x}, {f})"),
        }
    } else {
        format!("Enum.count({x}, {f})")
    };
    emit_rewrite(ctx, id, node.start_byte(), node.end_byte(), replacement);
}

fn emit_rewrite(ctx: &mut Ctx, id: CheckId, start: usize, end: usize, replacement: String) {
    let (message, title) = if id == CheckId::MapJoin {
        (
            "Enum.map then Enum.join: use Enum.map_join/3",
            "Rewrite as Enum.map_join",
        )
    } else {
        (
            "Enum.filter then Enum.count: use Enum.count/2",
            "Rewrite as Enum.count/2",
        )
    };
    ctx.emit_range(
        id,
        start,
        end,
        message,
        vec![Fix::replace(title, start, end, replacement)],
    );
}

/// Special forms and macros that are not "function calls" at the start of a pipe chain.
const NOT_FUNCTION_CALLS: &[&str] = &[
    "case",
    "cond",
    "if",
    "unless",
    "with",
    "for",
    "fn",
    "quote",
    "try",
    "receive",
    "super",
    "__MODULE__",
];

/// Checks a pipe chain, once, at its outermost `|>` node.
pub(crate) fn pipe<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let left = node.child_by_field_id(k.f_left);
    let is_pipe =
        |n: Node| n.kind_id() == k.binary_operator && syntax::operator(n, ctx.src) == "|>";
    let inner = ctx.inner_pipe == Some(node.id());
    ctx.inner_pipe = left.filter(|l| is_pipe(*l)).map(|l| l.id());
    if inner {
        return;
    }
    // The chain is walked down twice rather than listed (for a generated pipeline of 55,000
    // steps the list took 4 MB): first to its start, counting its steps (a chain missing a
    // side is not checked), then each step with the one before it (findings are sorted at
    // the end).
    let sides = |n: Node<'a>| {
        Some((
            n.child_by_field_id(k.f_left)?,
            n.child_by_field_id(k.f_right)?,
        ))
    };
    let mut steps = 0usize;
    let mut current = node;
    let start = loop {
        let Some((l, _)) = sides(current) else {
            return;
        };
        steps += 1;
        if is_pipe(l) {
            current = l;
        } else {
            break l;
        }
    };
    let mut rewritten = false;
    let mut last_step = None;
    if ctx.on(CheckId::MapJoin) || ctx.on(CheckId::FilterCount) {
        let mut current = node;
        while let Some((l, r)) = sides(current) {
            last_step.get_or_insert(r);
            let (prev, prev_piped) = match sides(l) {
                Some((_, piped)) if is_pipe(l) => (piped, true),
                _ => (l, false),
            };
            rewritten |= chain_rewrite(ctx, prev, prev_piped, r);
            if !prev_piped {
                break;
            }
            current = l;
        }
    }
    let last_step = last_step.or_else(|| sides(node).map(|(_, r)| r));
    if let (1, Some(step), false) = (steps, last_step, rewritten) {
        single_pipe(ctx, node, start, step);
    }
    if steps >= 2 && ctx.on(CheckId::PipeChainStart) && starts_with_call(ctx, start) {
        ctx.emit(
            CheckId::PipeChainStart,
            start,
            "Pipe chain starts with a function call: start with the value",
            vec![],
        );
    }
}

fn is_enum<'a>(ctx: &Ctx<'a>, node: Node<'a>, fun: &str) -> bool {
    node.kind_id() == ctx.k.call
        && syntax::call_name(node, ctx.src, ctx.k)
            .is_some_and(|n| n.module == Some("Enum") && n.fun == fun)
}

/// `... Enum.map(f) |> Enum.join(sep)` and `... Enum.filter(f) |> Enum.count()`; returns whether
/// it reported.
fn chain_rewrite<'a>(ctx: &mut Ctx<'a>, prev: Node<'a>, prev_piped: bool, cur: Node<'a>) -> bool {
    let k = ctx.k;
    // Names first: arguments are only read for the two pairs of interest.
    let pair_of_interest = (is_enum(ctx, cur, "join") && is_enum(ctx, prev, "map"))
        || (is_enum(ctx, cur, "count") && is_enum(ctx, prev, "filter"));
    if !pair_of_interest {
        return false;
    }
    let (cur_args, prev_args) = (syntax::args(cur, k), syntax::args(prev, k));
    let expected_prev_args = if prev_piped { 1 } else { 2 };
    if prev_args.len() != expected_prev_args {
        return false;
    }
    let texts: Vec<&str> = prev_args.iter().map(|a| ctx.text(*a)).collect();
    let f = texts[texts.len() - 1];
    let subject = if prev_piped {
        String::new()
    } else {
        format!("{}, ", texts[0])
    };
    let (id, replacement) =
        if is_enum(ctx, cur, "join") && is_enum(ctx, prev, "map") && cur_args.len() <= 1 {
            let sep = cur_args
                .first()
                .map(|s| format!("{}, ", ctx.text(*s)))
                .unwrap_or_default();
            (
                CheckId::MapJoin,
                format!("Enum.map_join({subject}{sep}{f})"),
            )
        } else if is_enum(ctx, cur, "count") && is_enum(ctx, prev, "filter") && cur_args.is_empty()
        {
            (CheckId::FilterCount, format!("Enum.count({subject}{f})"))
        } else {
            return false;
        };
    if !ctx.on(id) {
        return false;
    }
    emit_rewrite(ctx, id, prev.start_byte(), cur.end_byte(), replacement);
    true
}

fn is_debug_call(name: Option<CallName>) -> bool {
    matches!(
        name.map(|n| (n.module, n.fun)),
        Some((Some("IO"), "inspect") | (None | Some("Kernel"), "dbg"))
    )
}

fn single_pipe<'a>(ctx: &mut Ctx<'a>, pipe: Node<'a>, left: Node<'a>, right: Node<'a>) {
    let k = ctx.k;
    if !ctx.on(CheckId::SinglePipe) {
        return;
    }
    if right.kind_id() == k.identifier {
        let call = format!("{}({})", ctx.text(right), ctx.text(left));
        let fixes = vec![Fix::replace(
            "Rewrite as a plain call",
            pipe.start_byte(),
            pipe.end_byte(),
            call,
        )];
        ctx.emit(
            CheckId::SinglePipe,
            pipe,
            "Single-step pipe: use a plain call",
            fixes,
        );
        return;
    }
    if right.kind_id() != k.call {
        return;
    }
    let name = syntax::call_name(right, ctx.src, k);
    if is_debug_call(name) || syntax::do_block(right, k).is_some() {
        return;
    }
    let fixes = match (
        right.child_by_field_id(k.f_target),
        syntax::arguments_node(right, k),
    ) {
        (Some(target), Some(arguments)) if ctx.text(arguments).starts_with('(') => {
            let inner = ctx.text(arguments);
            let inner = inner[1..inner.len().saturating_sub(1)].trim();
            let target_text = ctx.text(target);
            let value = ctx.text(left);
            let call = if inner.is_empty() {
                format!("{target_text}({value})")
            } else {
                format!("{target_text}({value}, {inner})")
            };
            vec![Fix::replace(
                "Rewrite as a plain call",
                pipe.start_byte(),
                pipe.end_byte(),
                call,
            )]
        }
        (Some(target), None) if target.kind_id() == k.identifier || target.kind_id() == k.dot => {
            let call = format!("{}({})", ctx.text(target), ctx.text(left));
            vec![Fix::replace(
                "Rewrite as a plain call",
                pipe.start_byte(),
                pipe.end_byte(),
                call,
            )]
        }
        _ => vec![],
    };
    ctx.emit(
        CheckId::SinglePipe,
        pipe,
        "Single-step pipe: use a plain call",
        fixes,
    );
}

fn starts_with_call<'a>(ctx: &Ctx<'a>, start: Node<'a>) -> bool {
    let k = ctx.k;
    if start.kind_id() != k.call || syntax::do_block(start, k).is_some() {
        return false;
    }
    let Some(name) = syntax::call_name(start, ctx.src, k) else {
        return false;
    };
    if name.module.is_none() && NOT_FUNCTION_CALLS.contains(&name.fun) {
        return false;
    }
    !syntax::args(start, k).is_empty()
}

/// `TODO` and `FIXME` tags in a comment.
pub(crate) fn todo<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, text: &'a str) {
    if !ctx.on(CheckId::TodoTag) {
        return;
    }
    for tag in ["TODO", "FIXME"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(tag).map(|i| i + from) {
            from = i + tag.len();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word(text[..i].chars().next_back()) || word(text[from..].chars().next()) {
                continue;
            }
            let note: String = text[from..]
                .trim_start_matches([':', ' ', '(', ')'])
                .chars()
                .take(60)
                .collect();
            let message = if note.trim().is_empty() {
                format!("{tag} comment")
            } else {
                format!("{tag}: {}", note.trim())
            };
            let start = node.start_byte() + i;
            ctx.emit_range(CheckId::TodoTag, start, node.end_byte(), message, vec![]);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{CheckId, ChecksConfig};
    use expect_test::expect;

    #[test]
    fn missing_doc_and_spec() {
        let src = r#"defmodule App.Accounts do
  @moduledoc "Accounts."

  @doc "Gets a user."
  @spec get(integer) :: map
  def get(id), do: id

  def list(opts \\ []), do: opts
  def list(a, b), do: {a, b}
  def list(a, b) when is_nil(a), do: b

  @impl true
  def init(x), do: x

  @doc false
  def hidden, do: 1

  @spec count(keyword) :: integer when keyword: term
  def count(k), do: k

  defp private(x), do: x
  defmacro m(x), do: x

  defmodule Inner do
    def undocumented_inner, do: 1
  end
end

defmodule App.NoDocs do
  def anything, do: 1
end

defmodule App.Hidden do
  @moduledoc false
  def anything, do: 1
end
"#;
        let config = ChecksConfig {
            spec_required: true,
            ..ChecksConfig::default()
        };
        expect![[r#"
            8:7 info readability/missing-doc: Public function list/1 has no @doc `list(opts \\ [])`
            8:7 info readability/missing-spec: Public function list/1 has no @spec `list(opts \\ [])`
            9:7 info readability/missing-doc: Public function list/2 has no @doc `list(a, b)`
            9:7 info readability/missing-spec: Public function list/2 has no @spec `list(a, b)`
            16:7 info readability/missing-spec: Public function hidden/0 has no @spec `hidden`
            19:7 info readability/missing-doc: Public function count/1 has no @doc `count(k)`
            22:12 info readability/missing-doc: Public function m/1 has no @doc `m(x)`
            22:12 info readability/missing-spec: Public function m/1 has no @spec `m(x)`
            25:9 info readability/missing-spec: Public function undocumented_inner/0 has no @spec `undocumented_inner`
            30:7 info readability/missing-spec: Public function anything/0 has no @spec `anything`
            35:7 info readability/missing-spec: Public function anything/0 has no @spec `anything`
        "#]]
        .assert_eq(&render_with(src, Some("lib/app.ex"), &config));
        // Off by default.
        assert!(!render(src).contains("missing-spec"));
    }

    #[test]
    fn unless_else() {
        let src = "unless valid? do\n  :error\nelse\n  # fine\n  :ok\nend\nunless x, do: 1, else: 2\nunless x do\n  1\nend\nif x, do: 1, else: 2\n";
        expect![[r#"
            1:1 info readability/unless-else: unless with else: use if with the branches swapped [fix: Rewrite as if with swapped branches] `unless`
            7:1 info readability/unless-else: unless with else: use if with the branches swapped [fix: Rewrite as if with swapped branches] `unless`
        "#]]
        .assert_eq(&render_only(src, "lib/a.ex", CheckId::UnlessElse));
        assert_eq!(
            apply_fix(
                "unless valid? do\n  :error\nelse\n  # fine\n  :ok\nend\n",
                CheckId::UnlessElse
            ),
            "if valid? do\n  # fine\n  :ok\nelse\n  :error\nend\n"
        );
        assert_eq!(
            apply_fix("unless x, do: 1, else: 2\n", CheckId::UnlessElse),
            "if x, do: 2, else: 1\n"
        );
    }

    #[test]
    fn pipes() {
        let src = r#"def f(x, list) do
  x |> String.trim()
  list |> Enum.map(&f/1) |> Enum.sum()
  String.trim(x) |> String.downcase() |> String.upcase()
  conn.assigns |> Map.get(:user) |> to_string()
  case x do _ -> x end |> then(& &1) |> f()
  x |> IO.inspect()
  f(x) |> g()
  x |> Enum.at(0)
  String.trim(x)
  x |> f
end
"#;
        let config = ChecksConfig {
            disabled: vec!["debug".into(), "warning".into()],
            enabled: vec![
                "readability/single-pipe".into(),
                "readability/pipe-chain-start".into(),
            ],
            ..ChecksConfig::default()
        };
        expect![[r#"
            2:3 info readability/single-pipe: Single-step pipe: use a plain call [fix: Rewrite as a plain call] `x |> String.trim()`
            4:3 info readability/pipe-chain-start: Pipe chain starts with a function call: start with the value `String.trim(x)`
            8:3 info readability/single-pipe: Single-step pipe: use a plain call [fix: Rewrite as a plain call] `f(x) |> g()`
            9:3 info readability/single-pipe: Single-step pipe: use a plain call [fix: Rewrite as a plain call] `x |> Enum.at(0)`
            11:3 info readability/single-pipe: Single-step pipe: use a plain call [fix: Rewrite as a plain call] `x |> f`
        "#]]
        .assert_eq(&render_with(src, Some("lib/a.ex"), &config));
        assert_eq!(
            apply_fix("y = x |> Enum.at(0)\n", CheckId::SinglePipe),
            "y = Enum.at(x, 0)\n"
        );
        assert_eq!(
            apply_fix("y = a + b |> f()\n", CheckId::SinglePipe),
            "y = f(a + b)\n"
        );
        assert_eq!(apply_fix("y = x |> f\n", CheckId::SinglePipe), "y = f(x)\n");
    }

    #[test]
    fn map_join_and_filter_count() {
        let src = r#"def f(xs) do
  xs |> Enum.map(&to_string/1) |> Enum.join(", ")
  Enum.map(xs, &inspect/1) |> Enum.join()
  Enum.join(Enum.map(xs, &f/1), "-")
  xs |> Enum.filter(&odd?/1) |> Enum.count()
  Enum.count(Enum.filter(xs, &odd?/1))
  xs |> Enum.filter(&odd?/1) |> Enum.count(&big?/1)
  xs |> Enum.map(&f/1) |> Enum.sort() |> Enum.join()
  xs |> Stream.map(&f/1) |> Enum.join()
  Enum.count(xs)
end
"#;
        let config = ChecksConfig {
            disabled: vec![
                "readability/pipe-chain-start".into(),
                "readability/single-pipe".into(),
                "warning".into(),
            ],
            ..ChecksConfig::default()
        };
        expect![[r#"
            2:9 info readability/map-join: Enum.map then Enum.join: use Enum.map_join/3 [fix: Rewrite as Enum.map_join] `Enum.map(&to_string/1) |> Enum.join(", "`
            3:3 info readability/map-join: Enum.map then Enum.join: use Enum.map_join/3 [fix: Rewrite as Enum.map_join] `Enum.map(xs, &inspect/1) |> Enum.join()`
            4:3 info readability/map-join: Enum.map then Enum.join: use Enum.map_join/3 [fix: Rewrite as Enum.map_join] `Enum.join(Enum.map(xs, &f/1), "-")`
            5:9 info readability/filter-count: Enum.filter then Enum.count: use Enum.count/2 [fix: Rewrite as Enum.count/2] `Enum.filter(&odd?/1) |> Enum.count()`
            6:3 info readability/filter-count: Enum.filter then Enum.count: use Enum.count/2 [fix: Rewrite as Enum.count/2] `Enum.count(Enum.filter(xs, &odd?/1))`
        "#]]
        .assert_eq(&render_with(src, Some("lib/a.ex"), &config));
        assert_eq!(
            apply_fix(
                "xs\n|> Enum.map(&to_string/1)\n|> Enum.join(\", \")\n|> String.upcase()\n",
                CheckId::MapJoin
            ),
            "xs\n|> Enum.map_join(\", \", &to_string/1)\n|> String.upcase()\n"
        );
        assert_eq!(
            apply_fix(
                "Enum.map(xs, &inspect/1) |> Enum.join()\n",
                CheckId::MapJoin
            ),
            "Enum.map_join(xs, &inspect/1)\n"
        );
        assert_eq!(
            apply_fix("Enum.join(Enum.map(xs, &f/1), \"-\")\n", CheckId::MapJoin),
            "Enum.map_join(xs, \"-\", &f/1)\n"
        );
        assert_eq!(
            apply_fix(
                "xs |> Enum.filter(&odd?/1) |> Enum.count()\n",
                CheckId::FilterCount
            ),
            "xs |> Enum.count(&odd?/1)\n"
        );
        assert_eq!(
            apply_fix(
                "Enum.count(Enum.filter(xs, fn x -> x > 1 end))\n",
                CheckId::FilterCount
            ),
            "Enum.count(xs, fn x -> x > 1 end)\n"
        );
    }

    #[test]
    fn todo_tags() {
        let src = "# TODO: handle errors\n# FIXME\nx = 1 # todo lowercase is prose\n# TODOS and XFIXME are not tags\n\"TODO in a string\"\n# (TODO) wrapped\n";
        expect![[r#"
            1:3 info readability/todo: TODO: handle errors `TODO: handle errors`
            2:3 info readability/todo: FIXME comment `FIXME`
            6:4 info readability/todo: TODO: wrapped `TODO) wrapped`
        "#]]
        .assert_eq(&render(src));
    }
}
