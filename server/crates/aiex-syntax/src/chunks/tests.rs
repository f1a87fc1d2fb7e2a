//! Chunk extraction on fixtures, compared as text (update with `UPDATE_EXPECT=1 cargo test`).

use expect_test::{expect, Expect};

use super::*;
use crate::syntax::parse_str;

/// Renders chunks as compact text: one line per module, function, type and directive.
fn render(chunks: &FileChunks) -> String {
    fn doc(doc: &Option<Doc>) -> String {
        match doc {
            None => String::new(),
            Some(Doc::Hidden) => " doc=false".to_owned(),
            Some(Doc::Text(text)) => format!(" doc={:?}", text.lines().next().unwrap_or("")),
        }
    }
    fn function(out: &mut String, indent: &str, f: &FunctionChunk) {
        out.push_str(&format!(
            "{indent}{} {}/{}{} clauses={} bytes={}{}",
            f.kind.keyword(),
            f.name,
            f.arity,
            if f.defaults > 0 {
                format!(" defaults={}", f.defaults)
            } else {
                String::new()
            },
            f.clauses.len(),
            f.byte_len(),
            doc(&f.doc),
        ));
        for spec in &f.specs {
            out.push_str(&format!(" spec={spec:?}"));
        }
        if let Some(impl_) = &f.impl_ {
            out.push_str(&format!(" impl={impl_}"));
        }
        for attribute in &f.attributes {
            out.push_str(&format!(" attr={}", attribute.name));
        }
        out.push('\n');
        for clause in &f.clauses {
            out.push_str(&format!("{indent}  | {}\n", clause.signature));
        }
    }
    fn module(out: &mut String, indent: &str, m: &ModuleChunk) {
        let kind = match m.kind {
            ModuleKind::Module => "defmodule",
            ModuleKind::Protocol => "defprotocol",
            ModuleKind::Impl => "defimpl",
        };
        let target = m
            .implemented_for
            .as_ref()
            .map(|t| format!(" for={t}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{indent}{kind} {}{target}{}\n",
            m.name,
            doc(&m.moduledoc)
        ));
        let inner = format!("{indent}  ");
        for d in &m.directives {
            let as_ = d
                .alias_as
                .as_ref()
                .map(|a| format!(" as {a}"))
                .unwrap_or_default();
            out.push_str(&format!("{inner}{:?} {}{as_}\n", d.kind, d.module));
        }
        for a in &m.attributes {
            out.push_str(&format!("{inner}@{}\n", a.name));
        }
        for t in &m.types {
            out.push_str(&format!(
                "{inner}{:?} {}/{}{} := {}\n",
                t.kind,
                t.name,
                t.arity,
                doc(&t.doc),
                t.definition
            ));
        }
        for f in &m.functions {
            function(out, &inner, f);
        }
        for child in &m.modules {
            module(out, &inner, child);
        }
    }
    let mut out = String::new();
    for m in &chunks.modules {
        module(&mut out, "", m);
    }
    for f in &chunks.functions {
        function(&mut out, "", f);
    }
    out
}

fn check(source: &str, expected: Expect) {
    let tree = parse_str(source).expect("parse");
    expected.assert_eq(&render(&extract(&tree, source)));
}

#[test]
fn sample_accounts_module() {
    let source = include_str!("../../../../../fixtures/sample_app/lib/sample_app/accounts.ex");
    check(
        source,
        expect![[r#"
            defmodule SampleApp.Accounts doc="Users and their credentials."
              Alias SampleApp.Accounts.User as User
              Alias SampleApp.Mailer as Mailer
              Alias SampleApp.Repo as Repo
              Import SampleApp.Guards
              Require Logger
              @max_attempts
              Type id/0 doc="A user's id." := id :: pos_integer()
              def register/1 clauses=2 bytes=379 doc="Registers a user from `attrs`." spec="register(map()) :: {:ok, User.t()} | {:error, atom()}"
                | register(%{email: email} = attrs) when is_email(email)
                | register(_attrs)
              def fetch/2 defaults=1 clauses=3 bytes=333 doc="Finds a user, trying at most `attempts` times." spec="fetch(id(), non_neg_integer()) :: {:ok, User.t()} | :error"
                | fetch(id, attempts \\ @max_attempts)
                | fetch(_id, 0)
                | fetch(id, attempts)
              def __debug__/0 clauses=1 bytes=56 doc=false
                | __debug__
              defp normalize/1 clauses=1 bytes=49
                | normalize(email)
              defmodule SampleApp.Accounts.User doc="A registered user."
                Type t/0 := t :: %__MODULE__{id: pos_integer() | nil, email: String.t()}
                def new/1 clauses=1 bytes=115 doc="Builds a user from attributes." spec="new(map()) :: t()"
                  | new(attrs)
        "#]],
    );
}

#[test]
fn guards_defaults_and_one_line_forms() {
    check(
        r#"
defmodule Math do
  def sign(x) when x > 0, do: 1
  def sign(x) when x < 0, do: -1
  def sign(_), do: 0

  def pad(text, width \\ 10, char \\ " "), do: String.pad_leading(text, width, char)

  defguard is_even(n) when is_integer(n) and rem(n, 2) == 0
  defguardp is_odd(n) when is_integer(n) and rem(n, 2) == 1

  def zero, do: 0
  def answer do
    42
  end
end
"#,
        expect![[r#"
            defmodule Math
              def sign/1 clauses=3 bytes=83
                | sign(x) when x > 0
                | sign(x) when x < 0
                | sign(_)
              def pad/3 defaults=2 clauses=1 bytes=82
                | pad(text, width \\ 10, char \\ " ")
              defguard is_even/1 clauses=1 bytes=57
                | is_even(n) when is_integer(n) and rem(n, 2) == 0
              defguardp is_odd/1 clauses=1 bytes=57
                | is_odd(n) when is_integer(n) and rem(n, 2) == 1
              def zero/0 clauses=1 bytes=15
                | zero
              def answer/0 clauses=1 bytes=26
                | answer
        "#]],
    );
}

#[test]
fn heredoc_docs_hidden_docs_and_sigil_docs() {
    check(
        r#"
defmodule Docs do
  @moduledoc ~S"""
  Uses #{not_interpolated}.

      iex> Docs.a()
      :a
  """

  @doc """
    Indented heredoc with #{1 + 1} interpolation.

    Second paragraph.
  """
  def a, do: :a

  @doc false
  def b, do: :b

  def c, do: :c
end
"#,
        expect![[r#"
            defmodule Docs doc="Uses #{not_interpolated}."
              def a/0 clauses=1 bytes=103 doc="Indented heredoc with #{1 + 1} interpolation."
                | a
              def b/0 clauses=1 bytes=26 doc=false
                | b
              def c/0 clauses=1 bytes=13
                | c
        "#]],
    );
}

#[test]
fn definitions_inside_quote_are_not_the_modules_own() {
    check(
        r#"
defmodule MyMacros do
  defmacro __using__(opts) do
    quote do
      def injected, do: unquote(opts)
    end
  end

  for name <- [:a, :b] do
    def unquote(name)(), do: unquote(name)
  end

  if Code.ensure_loaded?(Jason) do
    def encode(term), do: Jason.encode!(term)
  end
end
"#,
        expect![[r#"
            defmodule MyMacros
              defmacro __using__/1 clauses=1 bytes=92
                | __using__(opts)
              def encode/1 clauses=1 bytes=41
                | encode(term)
        "#]],
    );
}

#[test]
fn nested_modules_protocols_impls_and_directives() {
    check(
        r#"
defprotocol Size do
  @doc "The size of a data structure."
  def size(data)
end

defimpl Size, for: BitString do
  def size(string), do: byte_size(string)
end

defmodule Outer do
  alias Outer.{Inner, Other}
  alias Some.Deep.Module, as: Deep
  alias __MODULE__.Helpers
  use GenServer, restart: :transient
  import Enum, only: [map: 2]

  defmodule Inner do
    def hello, do: :inner
  end

  defmodule __MODULE__.Helpers do
    defdelegate fetch(map, key), to: Map
  end

  @impl true
  def init(state), do: {:ok, state}

  @impl GenServer
  def handle_call(:ping, _from, state), do: {:reply, :pong, state}
  def handle_call(:get, _from, state), do: {:reply, state, state}
end
"#,
        expect![[r#"
            defprotocol Size
              def size/1 clauses=1 bytes=53 doc="The size of a data structure."
                | size(data)
            defimpl Size for=BitString
              def size/1 clauses=1 bytes=39
                | size(string)
            defmodule Outer
              Alias Outer.Inner as Inner
              Alias Outer.Other as Other
              Alias Some.Deep.Module as Deep
              Alias Outer.Helpers as Helpers
              Use GenServer
              Import Enum
              def init/1 clauses=1 bytes=46 impl=true
                | init(state)
              def handle_call/3 clauses=2 bytes=148 impl=GenServer
                | handle_call(:ping, _from, state)
                | handle_call(:get, _from, state)
              defmodule Outer.Inner
                def hello/0 clauses=1 bytes=21
                  | hello
              defmodule Outer.Helpers
                defdelegate fetch/2 clauses=1 bytes=36
                  | fetch(map, key)
        "#]],
    );
}

#[test]
fn types_callbacks_and_unicode_identifiers() {
    check(
        r#"
defmodule Translator do
  @typedoc "A language code."
  @type sprache :: atom()
  @typep intern(t) :: {t, t}
  @opaque token :: binary()

  @doc "Translates."
  @callback übersetze(String.t()) :: String.t()
  @macrocallback expand(Macro.t()) :: Macro.t()

  @spec grüße(String.t()) :: String.t()
  def grüße(name), do: "Hallo #{name}"

  @deprecated "Use grüße/1"
  def greet(name), do: grüße(name)

  @max 5

  def after_blank, do: @max
end
"#,
        expect![[r#"
            defmodule Translator
              @max
              Type sprache/0 doc="A language code." := sprache :: atom()
              Typep intern/1 := intern(t) :: {t, t}
              Opaque token/0 := token :: binary()
              Callback übersetze/1 doc="Translates." := übersetze(String.t()) :: String.t()
              Macrocallback expand/1 := expand(Macro.t()) :: Macro.t()
              def grüße/1 clauses=1 bytes=80 spec="grüße(String.t()) :: String.t()"
                | grüße(name)
              def greet/1 clauses=1 bytes=64 attr=deprecated
                | greet(name)
              def after_blank/0 clauses=1 bytes=25
                | after_blank
        "#]],
    );
}

#[test]
fn scripts_comments_in_arguments_and_numerical_definitions() {
    check(
        r#"
# A script: functions outside any module.
def helper(a, # the first
           b), do: a + b

defmodule Net do
  import Nx.Defn
  defn softmax(t), do: Nx.exp(t) / Nx.sum(Nx.exp(t))
  defnp hidden(t), do: t
  defmacrop trace(x), do: x
end
"#,
        expect![[r#"
            defmodule Net
              Import Nx.Defn
              defn softmax/1 clauses=1 bytes=50
                | softmax(t)
              defnp hidden/1 clauses=1 bytes=22
                | hidden(t)
              defmacrop trace/1 clauses=1 bytes=25
                | trace(x)
            def helper/2 clauses=1 bytes=50
              | helper(a, b)
        "#]],
    );
}

#[test]
fn broken_code_still_yields_what_parses() {
    check(
        r#"
defmodule Broken do
  def ok(a), do: a

  def broken(a do
    a +
  end

  def later, do: :later
end
"#,
        expect![[r#"
            defmodule Broken
              def ok/1 clauses=1 bytes=16
                | ok(a)
              def later/0 clauses=1 bytes=21
                | later
        "#]],
    );
}

#[test]
fn calls_into_chosen_modules_are_found_as_the_expanded_remote_calls_name_them() {
    let source = r#"
defmodule MyApp.Orders do
  alias MyApp.Repo
  alias MyApp.Accounts.User, as: U

  def place(order) do
    Repo.insert(order)
    U.fetch(order.user_id)
    U.Query.by_id(order.user_id)
    __MODULE__.total(order)
    MyApp.Repo.get(order.id)
    Enum.map(order.items, & &1)
    Repo.Sub.run()
  end
end
"#;
    let tree = parse_str(source).expect("parses");
    let chunks = extract(&tree, source);
    let modules = [
        "MyApp.Repo",
        "MyApp.Accounts.User",
        "MyApp.Accounts.User.Query",
        "MyApp.Orders",
        "Enum",
        "MyApp.Repo.Sub",
        "Repo",
        "U",
    ];
    let expected: Vec<(usize, &str)> = chunks
        .remote_calls()
        .into_iter()
        .filter_map(|(module, name)| Some((modules.iter().position(|m| *m == module)?, name)))
        .collect();
    let found: Vec<(usize, &str)> = chunks.remote_calls_into(&modules).collect();
    assert_eq!(found, expected);
    assert_eq!(
        found,
        vec![
            (0, "insert"),
            (1, "fetch"),
            (2, "by_id"),
            (3, "total"),
            (0, "get"),
            (4, "map"),
            (5, "run"),
        ]
    );
}

/// The depth of the deepest module in `chunks`.
fn module_depth(modules: &[crate::chunks::ModuleChunk]) -> usize {
    let mut deepest = 0;
    let mut level = modules;
    while let Some(first) = level.first() {
        deepest += 1;
        level = &first.modules;
    }
    deepest
}

/// A tree of `source` whatever its nesting: `syntax::parse` refuses one past
/// `MAX_NESTING_DEPTH`, but the extraction keeps its own bound, which these tests hold it to.
fn parse_past_the_nesting_limit(source: &str) -> tree_sitter::Tree {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&crate::syntax::elixir_language())
        .expect("the Elixir grammar loads");
    parser.parse(source, None).expect("parse")
}

#[test]
fn fifteen_thousand_nested_modules_are_cut_at_the_nesting_limit_on_a_small_stack() {
    // As deep as the tree limit allows (about 24 bytes a level).
    let levels = 15_000;
    let mut source = String::new();
    for i in 0..levels {
        source.push_str(&format!("defmodule N{i} do\n"));
    }
    source.push_str("def deepest, do: :ok\n");
    source.push_str(&"end\n".repeat(levels));
    // The blocking pool's threads have 2 MiB stacks; half of that must be plenty.
    let depth = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let tree = parse_past_the_nesting_limit(&source);
            let chunks = extract(&tree, &source);
            assert_eq!(chunks.all_modules().len(), super::extract::MAX_NESTING);
            module_depth(&chunks.modules)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert_eq!(depth, super::extract::MAX_NESTING);
}

#[test]
fn thousands_of_nested_conditional_blocks_do_not_recurse_without_bound() {
    let levels = 20_000;
    let mut source = String::from("defmodule Deep do\n");
    source.push_str(&"if true do\n".repeat(levels));
    source.push_str("def f, do: 1\n");
    source.push_str(&"end\n".repeat(levels));
    source.push_str("def g, do: 2\nend\n");
    let names = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let tree = parse_past_the_nesting_limit(&source);
            let chunks = extract(&tree, &source);
            chunks.modules[0]
                .functions
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert_eq!(names, vec!["g".to_owned()]);
}

#[test]
fn a_function_keeps_at_most_max_calls_calls_in_source_order_across_its_clauses() {
    let steps = |count: usize| " |> f()".repeat(count);
    let source = format!(
        "defmodule Gen do\n  def run(x, 1), do: x{}\n  def run(x, 2), do: x{}\nend\n",
        steps(MAX_CALLS + 500),
        steps(10)
    );
    let tree = parse_str(&source).expect("parse");
    let chunks = extract(&tree, &source);
    let run = &chunks.modules[0].functions[0];
    assert_eq!(run.clauses.len(), 2);
    assert_eq!(run.calls.len(), MAX_CALLS);
    assert!(run.calls.iter().all(|c| c.name == "f" && c.arity == 1));
    assert!(run
        .calls
        .windows(2)
        .all(|pair| pair[0].range.start < pair[1].range.start));
}

#[test]
fn taking_the_remote_calls_counts_them_by_target_and_leaves_the_chunks_otherwise_unchanged() {
    let source = "defmodule App.B do\n  alias App.Repo\n  def run(x) do\n    Repo.get(x)\n    Repo.get(x)\n    helper(x)\n    App.A.add(x, x)\n  end\n  defmodule Inner do\n    def go, do: __MODULE__.run(1)\n  end\nend\n";
    let tree = parse_str(source).expect("parse");
    let mut chunks = extract(&tree, source);
    let before = render(&chunks);
    let calls = chunks.take_remote_calls();
    assert_eq!(
        calls,
        [
            ("App.Repo".to_owned(), "get".to_owned(), 2),
            ("App.A".to_owned(), "add".to_owned(), 1),
            ("App.B.Inner".to_owned(), "run".to_owned(), 1),
        ]
    );
    chunks.shrink_to_fit();
    assert!(chunks.remote_calls().is_empty());
    assert!(chunks
        .all_modules()
        .iter()
        .all(|m| m.functions.iter().all(|f| f.calls.is_empty())));
    assert_eq!(render(&chunks), before, "everything else is kept");
}
