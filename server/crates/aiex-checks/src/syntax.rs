//! Reading the tree-sitter-elixir tree: node kinds by id, call names, arguments, literals,
//! function heads, and a line index. Shared by all check families.

use std::sync::OnceLock;

use tree_sitter::{Language, Node};

/// Node kind and field ids of the Elixir grammar, looked up once (comparing ids is cheaper than
/// comparing kind names on every node).
pub(crate) struct Kinds {
    pub call: u16,
    pub dot: u16,
    pub identifier: u16,
    pub alias: u16,
    pub atom: u16,
    pub quoted_atom: u16,
    pub arguments: u16,
    pub do_block: u16,
    pub else_block: u16,
    pub rescue_block: u16,
    pub catch_block: u16,
    pub binary_operator: u16,
    pub unary_operator: u16,
    pub string: u16,
    pub charlist: u16,
    pub sigil: u16,
    pub sigil_name: u16,
    pub interpolation: u16,
    pub comment: u16,
    pub keywords: u16,
    pub pair: u16,
    pub anonymous_function: u16,
    pub stab_clause: u16,
    pub list: u16,
    pub map: u16,
    pub tuple: u16,
    pub quoted_content: u16,
    pub integer: u16,
    pub float: u16,
    pub body: u16,
    pub literal_leaves: [u16; 6],
    pub f_target: u16,
    pub f_left: u16,
    pub f_right: u16,
    pub f_operator: u16,
    pub f_operand: u16,
    pub f_key: u16,
    pub f_value: u16,
}

impl Kinds {
    /// The ids, computed on first use.
    pub fn get() -> &'static Kinds {
        static KINDS: OnceLock<Kinds> = OnceLock::new();
        KINDS.get_or_init(|| {
            let lang: Language = tree_sitter_elixir::LANGUAGE.into();
            let kind = |name: &str| lang.id_for_node_kind(name, true);
            let field = |name: &str| lang.field_id_for_name(name).map_or(0, |id| id.get());
            Kinds {
                call: kind("call"),
                dot: kind("dot"),
                identifier: kind("identifier"),
                alias: kind("alias"),
                atom: kind("atom"),
                quoted_atom: kind("quoted_atom"),
                arguments: kind("arguments"),
                do_block: kind("do_block"),
                else_block: kind("else_block"),
                rescue_block: kind("rescue_block"),
                catch_block: kind("catch_block"),
                binary_operator: kind("binary_operator"),
                unary_operator: kind("unary_operator"),
                string: kind("string"),
                charlist: kind("charlist"),
                sigil: kind("sigil"),
                sigil_name: kind("sigil_name"),
                interpolation: kind("interpolation"),
                comment: kind("comment"),
                keywords: kind("keywords"),
                pair: kind("pair"),
                anonymous_function: kind("anonymous_function"),
                stab_clause: kind("stab_clause"),
                list: kind("list"),
                map: kind("map"),
                tuple: kind("tuple"),
                quoted_content: kind("quoted_content"),
                integer: kind("integer"),
                float: kind("float"),
                body: kind("body"),
                literal_leaves: [
                    kind("integer"),
                    kind("float"),
                    kind("boolean"),
                    kind("nil"),
                    kind("char"),
                    kind("atom"),
                ],
                f_target: field("target"),
                f_left: field("left"),
                f_right: field("right"),
                f_operator: field("operator"),
                f_operand: field("operand"),
                f_key: field("key"),
                f_value: field("value"),
            }
        })
    }
}

/// Byte offsets of line starts, to turn offsets into lines and columns.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the lines of `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 0-based line of a byte offset.
    pub fn line_of(&self, byte: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= byte)
            .saturating_sub(1)
    }

    /// The 1-based line and 1-based column (in Unicode scalar values) of a byte offset.
    pub fn position(&self, text: &str, byte: usize) -> (usize, usize) {
        let line = self.line_of(byte);
        let start = self.starts[line];
        let col = text.get(start..byte).map_or(0, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Who a call is to: `fun(...)` has no module; `Mod.fun(...)`, `:erlang.fun(...)` and
/// `var.fun` have the text before the dot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallName<'a> {
    pub module: Option<&'a str>,
    pub fun: &'a str,
}

/// The name of a `call` node, or `None` for anonymous calls (`f.(x)`) and other shapes.
pub(crate) fn call_name<'a>(node: Node<'a>, src: &'a str, k: &Kinds) -> Option<CallName<'a>> {
    // The target is always the first child of a call (positional access is much cheaper than
    // a field lookup on this hot path).
    let target = node.child(0)?;
    let kind = target.kind_id();
    if kind == k.identifier {
        return Some(CallName {
            module: None,
            fun: src.get(target.byte_range())?,
        });
    }
    if kind != k.dot || target.child_count() != 3 {
        return None;
    }
    let (left, right) = (target.child(0)?, target.child(2)?);
    if right.kind_id() != k.identifier {
        return None;
    }
    Some(CallName {
        module: Some(src.get(left.byte_range())?),
        fun: src.get(right.byte_range())?,
    })
}

/// The `arguments` node of a call, if written (always the second child).
pub(crate) fn arguments_node<'a>(call: Node<'a>, k: &Kinds) -> Option<Node<'a>> {
    call.child(1).filter(|c| c.kind_id() == k.arguments)
}

/// The `do_block` of a call, if any (always the last child).
pub(crate) fn do_block<'a>(call: Node<'a>, k: &Kinds) -> Option<Node<'a>> {
    let last = call.child_count().checked_sub(1)?;
    call.child(last).filter(|c| c.kind_id() == k.do_block)
}

/// The named children of a node, without comments.
pub(crate) fn named_children<'a>(node: Node<'a>, k: &Kinds) -> Vec<Node<'a>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| c.kind_id() != k.comment)
        .collect()
}

/// The written arguments of a call (a trailing keyword list counts as one).
pub(crate) fn args<'a>(call: Node<'a>, k: &Kinds) -> Vec<Node<'a>> {
    arguments_node(call, k).map_or_else(Vec::new, |a| named_children(a, k))
}

/// When `call` is the right side of `left |> call`, that pipe node.
pub(crate) fn pipe_parent<'a>(ctx: &crate::Ctx<'a>, call: Node<'a>) -> Option<Node<'a>> {
    let (src, k) = (ctx.src, ctx.k);
    let parent = ctx.parent_of(call)?;
    (parent.kind_id() == k.binary_operator
        && operator(parent, src) == "|>"
        && parent.child_by_field_id(k.f_right) == Some(call))
    .then_some(parent)
}

/// The arguments a call receives, the piped value first when the call is the right side of a
/// pipe. The flag says whether it was piped.
pub(crate) fn effective_args<'a>(ctx: &crate::Ctx<'a>, call: Node<'a>) -> (Vec<Node<'a>>, bool) {
    let k = ctx.k;
    let mut list = args(call, k);
    match pipe_parent(ctx, call).and_then(|p| p.child_by_field_id(k.f_left)) {
        Some(left) => {
            list.insert(0, left);
            (list, true)
        }
        None => (list, false),
    }
}

/// The operator text of a binary or unary operator node.
pub(crate) fn operator<'a>(node: Node<'a>, src: &'a str) -> &'a str {
    // The operator is the first anonymous child: the second of a binary operator, the first of
    // a unary one, unless a comment sits in between.
    let k = Kinds::get();
    let guess = if node.kind_id() == k.binary_operator {
        node.child(1)
    } else {
        node.child(0)
    };
    let op = match guess {
        Some(op) if !op.is_named() => Some(op),
        _ => node.child_by_field_id(k.f_operator),
    };
    op.and_then(|op| src.get(op.byte_range())).unwrap_or("")
}

/// A module attribute definition `@name value`: its name and value (`None` for `@name` alone).
pub(crate) fn attribute<'a>(
    ctx: &super::Ctx<'a>,
    node: Node<'a>,
) -> Option<(&'a str, Option<Node<'a>>)> {
    let k = ctx.k;
    if operator(node, ctx.src) != "@" {
        return None;
    }
    let operand = node.child_by_field_id(k.f_operand)?;
    if operand.kind_id() != k.call {
        return None;
    }
    let name = call_name(operand, ctx.src, k)?;
    if name.module.is_some() {
        return None;
    }
    Some((name.fun, args(operand, k).first().copied()))
}

/// Whether a node contains an interpolation (`"#{x}"`, `'#{x}'`, `~s(#{x})`).
pub(crate) fn is_interpolated(node: Node, k: &Kinds) -> bool {
    let kind = node.kind_id();
    if kind != k.string && kind != k.charlist && kind != k.sigil && kind != k.quoted_atom {
        return false;
    }
    (0..node.child_count()).any(|i| {
        node.child(i)
            .is_some_and(|c| c.kind_id() == k.interpolation)
    })
}

/// Whether a node is a value known at compile time: literals, collections of literals, module
/// attributes, `quote` blocks, and `<>`/`++` of literals.
pub(crate) fn is_literal(node: Node, src: &str, k: &Kinds) -> bool {
    literal_within(node, src, k, 0)
}

/// Deeper than this, a value is not considered literal (bounds the recursion on adversarial
/// input such as a `<>` chain of thousands of strings).
const MAX_LITERAL_DEPTH: u32 = 64;

fn literal_within(node: Node, src: &str, k: &Kinds, depth: u32) -> bool {
    if depth > MAX_LITERAL_DEPTH {
        return false;
    }
    let is_literal = |n: Node, src: &str, k: &Kinds| literal_within(n, src, k, depth + 1);
    let kind = node.kind_id();
    if kind == k.string || kind == k.charlist || kind == k.quoted_atom {
        // Interpolating only literals and module attributes still gives a constant.
        return (0..node.child_count()).all(|i| {
            node.child(i).is_none_or(|c| {
                c.kind_id() != k.interpolation
                    || named_children(c, k).iter().all(|e| is_literal(*e, src, k))
            })
        });
    }
    if kind == k.sigil {
        let uppercase = named_children(node, k)
            .iter()
            .find(|c| c.kind_id() == k.sigil_name)
            .and_then(|n| src.get(n.byte_range()))
            .is_some_and(|name| name.starts_with(|c: char| c.is_ascii_uppercase()));
        return uppercase || !is_interpolated(node, k);
    }
    if k.literal_leaves.contains(&kind) || kind == k.alias {
        return true;
    }
    if kind == k.list
        || kind == k.tuple
        || kind == k.keywords
        || kind == k.map
        || kind == k.pair
        || node.kind() == "bitstring"
    {
        return named_children(node, k).iter().all(|c| {
            if c.kind_id() == k.pair {
                c.child_by_field_id(k.f_value)
                    .is_none_or(|v| is_literal(v, src, k))
            } else {
                is_literal(*c, src, k)
            }
        });
    }
    if kind == k.unary_operator {
        let op = operator(node, src);
        return op == "@"
            || (matches!(op, "-" | "+")
                && node
                    .child_by_field_id(k.f_operand)
                    .is_some_and(|o| is_literal(o, src, k)));
    }
    if kind == k.binary_operator {
        let op = operator(node, src);
        return matches!(op, "<>" | "++" | "=>")
            && node
                .child_by_field_id(k.f_left)
                .is_some_and(|l| is_literal(l, src, k))
            && node
                .child_by_field_id(k.f_right)
                .is_some_and(|r| is_literal(r, src, k));
    }
    if kind == k.call {
        // `quote` builds an AST literally; `System.find_executable("git")` finds a fixed program.
        return call_name(node, src, k).is_some_and(|n| match (n.module, n.fun) {
            (None, "quote") => true,
            (Some("System"), "find_executable") => {
                args(node, k).iter().all(|a| is_literal(*a, src, k))
            }
            _ => false,
        });
    }
    if node.kind() == "map_content" {
        return named_children(node, k)
            .iter()
            .all(|c| is_literal(*c, src, k));
    }
    kind == k.quoted_content
}

/// The content of a string or charlist literal without interpolation (escapes left as written).
pub(crate) fn literal_content<'a>(node: Node<'a>, src: &'a str, k: &Kinds) -> Option<&'a str> {
    if is_interpolated(node, k) {
        return None;
    }
    let start = node.child(0)?.end_byte();
    let end = node.child(node.child_count().checked_sub(1)?)?.start_byte();
    src.get(start..end)
}

/// A function clause: `def name(params) when guard do body end` or `def name(params), do: body`.
pub(crate) struct DefInfo<'a> {
    /// The `def` call node.
    pub node: Node<'a>,
    /// `def`, `defp`, `defmacro` or `defmacrop`.
    pub keyword: &'a str,
    /// The function name.
    pub name: &'a str,
    /// The head (`name(params)`, or the name alone).
    pub head: Node<'a>,
    /// The parameters as written.
    pub params: Vec<Node<'a>>,
    /// How many parameters have defaults (`\\`).
    pub defaults: usize,
    /// The `do_block`, or the value of `do:`.
    pub body: Option<Node<'a>>,
}

impl DefInfo<'_> {
    /// Whether the function is public.
    pub fn is_public(&self) -> bool {
        matches!(self.keyword, "def" | "defmacro")
    }
}

/// Reads a `def`/`defp`/`defmacro`/`defmacrop` call.
pub(crate) fn def_info<'a>(node: Node<'a>, src: &'a str, k: &Kinds) -> Option<DefInfo<'a>> {
    let keyword = call_name(node, src, k)?.fun;
    let arguments = named_children(arguments_node(node, k)?, k);
    let mut head = *arguments.first()?;
    if head.kind_id() == k.binary_operator && operator(head, src) == "when" {
        head = head.child_by_field_id(k.f_left)?;
    }
    let (name, params) = if head.kind_id() == k.identifier {
        (src.get(head.byte_range())?, Vec::new())
    } else if head.kind_id() == k.call {
        let name = call_name(head, src, k)?;
        if name.module.is_some() {
            return None;
        }
        (name.fun, args(head, k))
    } else {
        return None;
    };
    let defaults = params
        .iter()
        .filter(|p| p.kind_id() == k.binary_operator && operator(**p, src) == "\\\\")
        .count();
    let body = do_block(node, k).or_else(|| {
        let keywords = arguments.iter().find(|a| a.kind_id() == k.keywords)?;
        named_children(*keywords, k)
            .into_iter()
            .find(|pair| pair_key(*pair, src, k) == Some("do"))
            .and_then(|pair| pair.child_by_field_id(k.f_value))
    });
    Some(DefInfo {
        node,
        keyword,
        name,
        head,
        params,
        defaults,
        body,
    })
}

/// The key of a keyword pair (`do` for `do: x`, `password` for `"password": x`).
pub(crate) fn pair_key<'a>(pair: Node<'a>, src: &'a str, k: &Kinds) -> Option<&'a str> {
    let key = pair.child_by_field_id(k.f_key)?;
    let text = src.get(key.byte_range())?.trim_end();
    let text = text.strip_suffix(':')?;
    Some(text.trim_matches(|c| c == '"' || c == '\''))
}

/// The text of the line holding `node`, when the node is alone on its line(s): the byte range to
/// delete (including the newline) to remove it as a statement.
pub(crate) fn own_lines(node: Node, src: &str) -> Option<(usize, usize)> {
    let start = node.start_byte();
    let end = node.end_byte();
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    if !src[line_start..start].trim().is_empty() {
        return None;
    }
    let line_end = src[end..].find('\n').map_or(src.len(), |i| end + i + 1);
    if !src[end..line_end].trim().is_empty() {
        return None;
    }
    Some((line_start, line_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::parse;

    #[test]
    fn line_index_positions() {
        let text = "ab\néx\n\nz";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 0), (1, 1));
        assert_eq!(idx.position(text, 3), (2, 1));
        assert_eq!(idx.position(text, 5), (2, 2)); // after the two-byte é
        assert_eq!(idx.position(text, 8), (4, 1));
    }

    #[test]
    fn def_info_reads_heads() {
        let src =
            "def f(a, b \\\\ 1) when a > 0, do: a\ndefp g do\n 1\nend\ndef unquote(x)(y), do: y\n";
        let tree = parse(src);
        let k = Kinds::get();
        let root = tree.root_node();
        let defs: Vec<String> = named_children(root, k)
            .into_iter()
            .map(|n| match def_info(n, src, k) {
                Some(d) => format!(
                    "{} {}/{} defaults={} body={}",
                    d.keyword,
                    d.name,
                    d.params.len(),
                    d.defaults,
                    d.body.is_some()
                ),
                None => "none".to_owned(),
            })
            .collect();
        assert_eq!(
            defs,
            [
                "def f/2 defaults=1 body=true",
                "defp g/0 defaults=0 body=true",
                "none"
            ]
        );
    }

    #[test]
    fn literals() {
        let k = Kinds::get();
        for (src, expected) in [
            ("\"a\"", true),
            ("\"a#{b}\"", false),
            ("\"a#{@b}\"", true),
            ("\"a#{@b}#{c}\"", false),
            ("'ls'", true),
            ("~c\"ls\"", true),
            ("~s(a#{b})", false),
            ("~S(a#{b})", true),
            (":ok", true),
            ("[1, :a, \"b\"]", true),
            ("[1, x]", false),
            ("{:spawn, \"ls\"}", true),
            ("@cmd", true),
            ("\"a\" <> \"b\"", true),
            ("\"a\" <> b", false),
            ("x", false),
            ("f(x)", false),
            ("quote do: 1 + 1", true),
            ("[safe: true]", true),
            ("<<131, 100>>", true),
            ("<<x::binary>>", false),
            ("%{a: 1}", true),
            ("%{a: x}", false),
            (&format!("{}\"end\"", "\"a\" <> ".repeat(100)), false),
        ] {
            let tree = parse(src);
            let node = tree.root_node().named_child(0).unwrap();
            assert_eq!(is_literal(node, src, k), expected, "{src}");
        }
    }
}
