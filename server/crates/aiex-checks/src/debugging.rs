//! Leftover debugging: `IO.inspect`, `dbg`, `IEx.pry`, and `IO.puts` in `lib/`, with fixes that
//! remove them.

use tree_sitter::Node;

use super::syntax::{self, CallName};
use super::{CheckId, Ctx, Fix};

/// Dispatches one call node.
pub(crate) fn call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, name: &CallName<'a>) {
    match (name.module, name.fun) {
        (Some("IO"), "inspect") if ctx.on(CheckId::IoInspect) && !to_device(ctx, node) => {
            let fixes = keep_argument_fix(ctx, node, "Remove IO.inspect, keep its argument");
            ctx.emit(CheckId::IoInspect, node, "Leftover IO.inspect", fixes);
        }
        (None | Some("Kernel"), "dbg") if ctx.on(CheckId::Dbg) && is_kernel_dbg(ctx, node) => {
            let fixes = keep_argument_fix(ctx, node, "Remove dbg, keep its argument");
            ctx.emit(CheckId::Dbg, node, "Leftover dbg()", fixes);
        }
        (Some("IEx"), "pry") if ctx.on(CheckId::IexPry) => {
            let fixes = remove_line_fix(ctx, node, "Remove IEx.pry");
            ctx.emit(CheckId::IexPry, node, "Leftover IEx.pry", fixes);
        }
        (Some("IO"), "puts")
            if ctx.on(CheckId::IoPuts) && ctx.path.in_lib && !ctx.path.in_mix_tasks =>
        {
            let fixes = remove_line_fix(ctx, node, "Remove IO.puts");
            ctx.emit(CheckId::IoPuts, node, "IO.puts in lib/: use Logger", fixes);
        }
        _ => {}
    }
}

/// `IO.inspect(:stderr, value, opts)` or `IO.inspect(device, value)`: output to a chosen
/// device is intentional, not leftover debugging.
fn to_device(ctx: &Ctx, node: Node) -> bool {
    let args = syntax::args(node, ctx.k);
    let Some(first) = args.first() else {
        return false;
    };
    let named_device = matches!(
        ctx.text(*first),
        ":stderr" | ":standard_error" | ":stdio" | "device" | "io_device"
    );
    let atom_then_value_then_opts = args.len() == 3 && first.kind_id() == ctx.k.atom;
    atom_then_value_then_opts || (named_device && args.len() >= 2)
}

/// Whether a `dbg` call is `Kernel.dbg/0,1,2`: not `@dbg value` (an attribute named `dbg`) nor
/// a local `dbg/3`.
fn is_kernel_dbg(ctx: &Ctx, node: Node) -> bool {
    if syntax::args(node, ctx.k).len() + usize::from(syntax::pipe_parent(ctx, node).is_some()) > 2 {
        return false;
    }
    !ctx.parent_of(node)
        .is_some_and(|p| p.kind_id() == ctx.k.unary_operator && syntax::operator(p, ctx.src) == "@")
}

/// The value a debugging call returns is its (first data) argument: removing the call means
/// replacing it by that argument, or, in a pipe, by the pipe's left side.
fn keep_argument_fix(ctx: &Ctx, node: Node, title: &str) -> Vec<Fix> {
    let k = ctx.k;
    if let Some(pipe) = syntax::pipe_parent(ctx, node) {
        let Some(left) = pipe.child_by_field_id(k.f_left) else {
            return vec![];
        };
        return vec![Fix::replace(
            title,
            pipe.start_byte(),
            pipe.end_byte(),
            ctx.text(left),
        )];
    }
    let args = syntax::args(node, k);
    // IO.inspect(device, item, opts) puts the item second.
    let item = match args.as_slice() {
        [] => return remove_line_fix(ctx, node, title),
        [first, second, _] if first.kind_id() == k.atom => *second,
        [first, ..] => *first,
    };
    if item.kind_id() == k.keywords {
        return vec![];
    }
    vec![Fix::replace(
        title,
        node.start_byte(),
        node.end_byte(),
        ctx.text(item),
    )]
}

/// Deletes the lines of a call that stands alone as a statement.
fn remove_line_fix(ctx: &Ctx, node: Node, title: &str) -> Vec<Fix> {
    match syntax::own_lines(node, ctx.src) {
        Some((start, end)) => vec![Fix::replace(title, start, end, "")],
        None => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::CheckId;
    use expect_test::expect;

    #[test]
    fn flags_debugging_calls() {
        let src = r#"defmodule App do
  def f(x) do
    IO.inspect(x, label: "x")
    x |> IO.inspect() |> g()
    dbg(x)
    require IEx
    IEx.pry()
    IO.puts("hello")
    Kernel.dbg(x)
  end
end
"#;
        expect![[r#"
            3:5 warning debug/io-inspect: Leftover IO.inspect [fix: Remove IO.inspect, keep its argument] `IO.inspect(x, label: "x")`
            4:10 warning debug/io-inspect: Leftover IO.inspect [fix: Remove IO.inspect, keep its argument] `IO.inspect()`
            5:5 warning debug/dbg: Leftover dbg() [fix: Remove dbg, keep its argument] `dbg(x)`
            7:5 warning debug/iex-pry: Leftover IEx.pry [fix: Remove IEx.pry] `IEx.pry()`
            9:5 warning debug/dbg: Leftover dbg() [fix: Remove dbg, keep its argument] `Kernel.dbg(x)`
        "#]]
        .assert_eq(&render(src));
    }

    #[test]
    fn near_misses_are_not_flagged() {
        let src = r#"defmodule App do
  def inspect(x), do: Kernel.inspect(x)
  def f(x) do
    Logger.debug(inspect(x))
    MyIO.inspect(x)
    x.inspect
    "IO.inspect(x)"
    # IO.inspect(x)
    Inspect.Algebra.to_doc(x, opts)
  end
end
"#;
        assert_eq!(render(src), "");
    }

    #[test]
    fn dbg_attributes_local_dbg_3_and_inspect_to_a_device_are_not_reported() {
        let src = r#"defmodule App do
  @dbg true
  def dbg(a, b, c), do: {a, b, c}
  def f(x) do
    dbg(x, :label, [])
    IO.inspect(:stderr, x, [])
    IO.inspect(:stderr, x)
    if @dbg, do: :ok
  end
end
"#;
        assert_eq!(render_only(src, "lib/app.ex", CheckId::Dbg), "");
        assert_eq!(render_only(src, "lib/app.ex", CheckId::IoInspect), "");
        assert!(
            render_only("def f(x), do: x |> dbg()\n", "lib/a.ex", CheckId::Dbg)
                .contains("debug/dbg")
        );
    }

    #[test]
    fn io_puts_is_off_by_default() {
        assert_eq!(render("def f, do: IO.puts(\"intentional output\")\n"), "");
    }

    #[test]
    fn io_puts_only_in_lib_outside_mix_tasks() {
        let src = "def run(_), do: IO.puts(\"done\")\n";
        assert_eq!(
            render_only(src, "lib/mix/tasks/app.seed.ex", CheckId::IoPuts),
            ""
        );
        assert_eq!(render_only(src, "priv/repo/seeds.exs", CheckId::IoPuts), "");
        assert_eq!(render_only(src, "test/app_test.exs", CheckId::IoPuts), "");
        assert!(
            render_only(src, "apps/core/lib/core.ex", CheckId::IoPuts).contains("debug/io-puts")
        );
    }

    #[test]
    fn fixes_keep_the_value() {
        assert_eq!(
            apply_fix("y = IO.inspect(x, label: \"x\")\n", CheckId::IoInspect),
            "y = x\n"
        );
        assert_eq!(
            apply_fix(
                "x\n|> f()\n|> IO.inspect(label: \"after f\")\n|> g()\n",
                CheckId::IoInspect
            ),
            "x\n|> f()\n|> g()\n"
        );
        assert_eq!(apply_fix("a = x |> dbg()\n", CheckId::Dbg), "a = x\n");
        assert_eq!(
            apply_fix("def f do\n  dbg()\n  :ok\nend\n", CheckId::Dbg),
            "def f do\n  :ok\nend\n"
        );
        assert_eq!(
            apply_fix(
                "def f do\n  require IEx\n  IEx.pry()\n  :ok\nend\n",
                CheckId::IexPry
            ),
            "def f do\n  require IEx\n  :ok\nend\n"
        );
        assert_eq!(
            apply_fix("def f do\n  IO.puts(\"x\")\n  :ok\nend\n", CheckId::IoPuts),
            "def f do\n  :ok\nend\n"
        );
    }
}
