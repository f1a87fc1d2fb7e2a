//! The calls a piece of code makes: local calls, remote calls (`Mod.fun(...)`, through aliases
//! or `__MODULE__`), pipe steps (`x |> f(y)` counts the piped argument) and captures (`&f/2`).
//!
//! Quoted code (`quote do ... end`) is skipped: it runs in another module. Anonymous function
//! calls (`fun.(x)`), calls on variables (`map.key`) and Erlang modules (`:ets.new`) are not
//! recorded, nor are special forms and definition keywords.

use tree_sitter::Node;

use super::{ByteRange, Call, FunctionKind};
use crate::syntax::node_text;

/// Names called like functions that are language constructs, never workspace functions.
const SPECIAL_FORMS: &[&str] = &[
    "alias",
    "case",
    "cond",
    "fn",
    "for",
    "if",
    "import",
    "quote",
    "raise",
    "receive",
    "require",
    "reraise",
    "super",
    "throw",
    "try",
    "unless",
    "unquote",
    "unquote_splicing",
    "use",
    "with",
];

/// The most calls recorded for one function (all its clauses) or one node: far more than code
/// written by hand makes (a long controller action makes a few hundred), few enough that a
/// generated one (a 100,000-step pipeline at the tree limit, 55,000 calls) costs a bounded
/// amount: each call is about 100 bytes with its name. Past it the calls are left out, the
/// first ones the walk meets kept.
pub const MAX_CALLS: usize = 10_000;

/// The calls in one clause of a definition (`def head do body end` or `def head, do: body`),
/// the head itself left out.
pub(super) fn clause_calls(definition: Node<'_>, head: Node<'_>, source: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut cursor = definition.walk();
    for child in definition.named_children(&mut cursor) {
        if child.kind() == "arguments" {
            let mut inner = child.walk();
            for argument in child.named_children(&mut inner) {
                if argument.id() != head.id() {
                    collect(argument, source, &mut calls);
                }
            }
        } else {
            collect(child, source, &mut calls);
        }
    }
    // A bare pipe step is seen with its pipe, before the pipe's left side.
    in_source_order(&mut calls);
    calls
}

/// Every call inside `node` (itself included), in source order, at most [`MAX_CALLS`].
pub fn calls_in(node: Node<'_>, source: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    collect(node, source, &mut calls);
    in_source_order(&mut calls);
    calls
}

/// Sorts calls by where they are, in place: two calls never share a name's range, so an
/// unstable sort gives the same order without a stable sort's buffer (half the list: 4 MB for
/// the calls of a generated pipeline).
fn in_source_order(calls: &mut [Call]) {
    calls.sort_unstable_by_key(|call| (call.range.start, call.range.end));
}

/// A pre-order walk with one tree cursor (no allocation per node): calls come out in source
/// order.
///
/// Linear in the nodes walked: nothing asks a node for its parent (tree-sitter finds a parent by
/// walking down from the root, which made this quadratic on files of thousands of modules).
fn collect(root: Node<'_>, source: &str, calls: &mut Vec<Call>) {
    let mut cursor = root.walk();
    // The right-hand sides of the pipes seen so far: calls that get one more argument.
    let mut piped = Vec::new();
    loop {
        if calls.len() >= MAX_CALLS {
            calls.truncate(MAX_CALLS);
            return;
        }
        let node = cursor.node();
        let descend = node.is_named() && visit(node, source, calls, &mut piped) == Descend::Yes;
        if descend && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == root.id() {
                return;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

#[derive(PartialEq, Eq)]
enum Descend {
    Yes,
    No,
}

/// Records the call `node` is, if any; says whether its children still need a visit.
fn visit(node: Node<'_>, source: &str, calls: &mut Vec<Call>, piped: &mut Vec<usize>) -> Descend {
    match node.kind() {
        "call" => {
            let position = piped.iter().rposition(|&id| id == node.id());
            let is_piped = position.map(|at| piped.remove(at)).is_some();
            visit_call(node, source, calls, is_piped)
        }
        "binary_operator" if operator(node, source) == Some("|>") => {
            if let Some(right) = node
                .child_by_field_name("right")
                .filter(|r| r.kind() == "call")
            {
                piped.push(right.id());
            }
            // A bare pipe step `x |> helper` calls `helper/1`.
            if let Some(right) = node
                .child_by_field_name("right")
                .filter(|r| r.kind() == "identifier")
            {
                let name = node_text(right, source);
                if is_callable_name(name) {
                    calls.push(Call {
                        module: None,
                        name: name.to_owned(),
                        arity: 1,
                        range: ByteRange::of(right),
                    });
                }
            }
            Descend::Yes
        }
        "unary_operator" if operator(node, source) == Some("&") => match capture(node, source) {
            Some(call) => {
                calls.push(call);
                Descend::No
            }
            None => Descend::Yes,
        },
        _ => Descend::Yes,
    }
}

fn visit_call(call: Node<'_>, source: &str, calls: &mut Vec<Call>, piped: bool) -> Descend {
    let Some(target) = call.child_by_field_name("target") else {
        return Descend::Yes;
    };
    match target.kind() {
        "identifier" => {
            let name = node_text(target, source);
            if name == "quote" {
                return Descend::No;
            }
            if is_callable_name(name) {
                calls.push(Call {
                    module: None,
                    name: name.to_owned(),
                    arity: call_arity(call, piped),
                    range: ByteRange::of(target),
                });
            }
        }
        "dot" => {
            if let Some((module, name)) = remote_target(target, source) {
                calls.push(Call {
                    module: Some(module),
                    name: node_text(name, source).to_owned(),
                    arity: call_arity(call, piped),
                    range: ByteRange::of(name),
                });
            }
        }
        _ => {}
    }
    Descend::Yes
}

/// `Mod.fun` in a call's target: the module as written and the function name node.
fn remote_target<'t>(dot: Node<'t>, source: &str) -> Option<(String, Node<'t>)> {
    let left = dot.child_by_field_name("left")?;
    let right = dot
        .child_by_field_name("right")
        .filter(|r| r.kind() == "identifier")?;
    let module = match left.kind() {
        "alias" => node_text(left, source).split_whitespace().collect(),
        "identifier" if node_text(left, source) == "__MODULE__" => "__MODULE__".to_owned(),
        _ => return None,
    };
    Some((module, right))
}

/// `&name/arity` or `&Mod.name/arity`.
fn capture(unary: Node<'_>, source: &str) -> Option<Call> {
    let slash = unary
        .child_by_field_name("operand")
        .filter(|o| o.kind() == "binary_operator" && operator(*o, source) == Some("/"))?;
    let arity: usize = node_text(slash.child_by_field_name("right")?, source)
        .trim()
        .parse()
        .ok()?;
    let left = slash.child_by_field_name("left")?;
    let (module, name) = match left.kind() {
        "identifier" => (None, left),
        "dot" => {
            let (module, name) = remote_target(left, source)?;
            (Some(module), name)
        }
        "call" => {
            let target = left
                .child_by_field_name("target")
                .filter(|t| t.kind() == "dot")?;
            let (module, name) = remote_target(target, source)?;
            (Some(module), name)
        }
        _ => return None,
    };
    let text = node_text(name, source);
    if module.is_none() && !is_callable_name(text) {
        return None;
    }
    Some(Call {
        module,
        name: text.to_owned(),
        arity,
        range: ByteRange::of(name),
    })
}

/// The number of arguments of a call, counting the piped-in one.
fn call_arity(call: Node<'_>, piped: bool) -> usize {
    let mut cursor = call.walk();
    let mut arity = call
        .named_children(&mut cursor)
        .find(|c| c.kind() == "arguments")
        .map(|args| {
            let mut inner = args.walk();
            let count = args
                .named_children(&mut inner)
                .filter(|a| a.kind() != "comment")
                .count();
            count
        })
        .unwrap_or(0);
    if piped {
        arity += 1;
    }
    arity
}

fn operator<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    node.child_by_field_name("operator")
        .map(|op| node_text(op, source))
}

fn is_callable_name(name: &str) -> bool {
    !SPECIAL_FORMS.contains(&name) && FunctionKind::from_keyword(name).is_none()
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use crate::syntax::parse_str;

    fn check(source: &str, expected: Expect) {
        let tree = parse_str(source).expect("parse");
        let chunks = crate::chunks::extract(&tree, source);
        let mut out = String::new();
        for module in chunks.all_modules() {
            for function in &module.functions {
                out.push_str(&format!("{}:", function.label()));
                for call in &function.calls {
                    let module = call
                        .module
                        .as_deref()
                        .map(|m| format!("{m}."))
                        .unwrap_or_default();
                    out.push_str(&format!(" {module}{}/{}", call.name, call.arity));
                    assert_eq!(&source[call.range.start..call.range.end], call.name);
                }
                out.push('\n');
            }
        }
        expected.assert_eq(&out);
    }

    #[test]
    fn local_remote_aliased_piped_and_captured_calls() {
        check(
            r#"
defmodule MyApp.Accounts do
  alias MyApp.{Repo, Mailer}
  import MyApp.Guards

  def register(%{email: email} = attrs) when is_binary(email) do
    attrs
    |> normalize()
    |> validate(:strict)
    |> Repo.insert()
    |> tap(&Mailer.deliver_welcome/1)
    |> notify
    Enum.map([1], &double/1)
    __MODULE__.fetch(1)
    MyApp.Repo.get(User, 1)
  end

  def short(x), do: helper(x, 2)
  def short(y) do
    if valid?(y), do: :ok, else: :error
  end

  defmacro m(ast) do
    quote do
      unquote(ast) |> inside_quote()
    end
  end

  defp helper(a, b), do: fun.(a) + :ets.lookup(a, b) + map.key
end
"#,
            expect![[r#"
                register/1: normalize/1 validate/2 Repo.insert/1 tap/2 Mailer.deliver_welcome/1 notify/1 Enum.map/2 double/1 __MODULE__.fetch/1 MyApp.Repo.get/2
                short/1: helper/2 valid?/1
                m/1:
                helper/2:
            "#]],
        );
    }
}
