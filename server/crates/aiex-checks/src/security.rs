//! Security checks (Sobelow-style): unsafe atoms, command and SQL injection, unsafe
//! deserialization, code evaluation, XSS, path traversal and hardcoded secrets.
//!
//! "Dynamic" means "not a literal" (see `syntax::is_literal`). Path traversal follows request
//! data: `conn.params`, and the parameters of functions that receive a `conn`, a `socket` or
//! `params`, through simple assignments in the same function.

use tree_sitter::Node;

use super::syntax::{self, CallName};
use super::{CheckId, Ctx};
use aiex_syntax::secrets;

/// The variables holding request data when a function clause starts: its parameters, when it
/// receives a `conn`, a `socket`, `params` or a string-keyed map pattern.
pub(crate) fn request_parameters<'a>(ctx: &Ctx<'a>, def: &syntax::DefInfo<'a>) -> Vec<&'a str> {
    {
        let mut names = Vec::new();
        for param in &def.params {
            collect_identifiers(ctx, *param, &mut names);
        }
        let request = names
            .iter()
            .any(|n| matches!(*n, "conn" | "socket" | "params"))
            || def.params.iter().any(|p| ctx.text(*p).contains("%{\""));
        if request {
            names.retain(|n| !matches!(*n, "conn" | "socket"));
            names
        } else {
            Vec::new()
        }
    }
}

fn collect_identifiers<'a>(ctx: &Ctx<'a>, node: Node<'a>, out: &mut Vec<&'a str>) {
    let k = ctx.k;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind_id() == k.identifier {
            let name = ctx.text(n);
            if !name.starts_with('_') {
                out.push(name);
            }
            continue;
        }
        if n.kind_id() == k.binary_operator && syntax::operator(n, ctx.src) == "\\\\" {
            if let Some(left) = n.child_by_field_id(k.f_left) {
                stack.push(left);
            }
            continue;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
}

/// Whether an expression carries request data: `conn.params` (and friends), or a tainted
/// variable of the enclosing function, except inside `Path.basename/1`.
fn is_tainted(ctx: &Ctx, expr: Node) -> bool {
    let k = ctx.k;
    let tainted: &[&str] = ctx.functions.last().map_or(&[], |f| f.tainted.as_slice());
    let mut stack = vec![expr];
    while let Some(n) = stack.pop() {
        let kind = n.kind_id();
        if kind == k.identifier {
            if tainted.contains(&ctx.text(n)) {
                return true;
            }
            continue;
        }
        if kind == k.call {
            if let Some(name) = syntax::call_name(n, ctx.src, k) {
                match (name.module, name.fun) {
                    (Some("Path"), "basename") => continue,
                    (Some("conn"), "params" | "query_params" | "body_params" | "path_params") => {
                        return true
                    }
                    _ => {}
                }
                // A local call's name is not a variable.
                let mut cursor = n.walk();
                stack.extend(
                    n.named_children(&mut cursor)
                        .filter(|c| c.kind_id() != k.identifier),
                );
                continue;
            }
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
    false
}

fn dynamic(ctx: &Ctx, node: Node) -> bool {
    !syntax::is_literal(node, ctx.src, ctx.k)
}

/// Interpolated or concatenated with something dynamic.
fn built_dynamically(ctx: &Ctx, node: Node) -> bool {
    let k = ctx.k;
    let built = syntax::is_interpolated(node, k)
        || (node.kind_id() == k.binary_operator && syntax::operator(node, ctx.src) == "<>");
    built && dynamic(ctx, node)
}

/// Whether literal parts of an expression contain an HTML tag.
fn has_html_literal(ctx: &Ctx, node: Node) -> bool {
    let k = ctx.k;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind_id() == k.quoted_content {
            let bytes = ctx.text(n).as_bytes();
            if bytes.windows(2).any(|w| {
                w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!')
            }) {
                return true;
            }
            continue;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
    false
}

fn is_repo(module: &str) -> bool {
    module
        .rsplit('.')
        .next()
        .is_some_and(|last| last.ends_with("Repo"))
}

/// Dispatches one call node.
pub(crate) fn call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, name: &CallName<'a>) {
    let k = ctx.k;
    let (module, fun) = (name.module, name.fun);
    let id = match (module, fun) {
        (Some("String" | "List"), "to_atom")
        | (Some(":erlang"), "binary_to_atom" | "list_to_atom") => CheckId::UnsafeAtom,
        (Some(":os"), "cmd") | (Some("System"), "shell" | "cmd") | (Some("Port"), "open") => {
            CheckId::CommandInjection
        }
        (Some(m), "query" | "query!" | "query_many" | "query_many!") if is_repo(m) => {
            CheckId::SqlInjection
        }
        (
            Some("Ecto.Adapters.SQL" | "Adapters.SQL" | "SQL"),
            "query" | "query!" | "query_many" | "query_many!" | "stream",
        ) => CheckId::SqlInjection,
        (Some(":erlang"), "binary_to_term") => CheckId::UnsafeBinaryToTerm,
        (Some("Code"), "eval_string" | "eval_quoted" | "eval_file" | "eval_quoted_with_env")
        | (Some("EEx"), "eval_string" | "eval_file") => CheckId::CodeEval,
        (None | Some("Phoenix.HTML" | "HTML"), "raw") => CheckId::XssRaw,
        (
            None | Some("Plug.Conn" | "Conn" | "Phoenix.Controller" | "Controller"),
            "send_resp" | "html",
        ) => CheckId::XssSendResp,
        (Some("File"), f) if FILE_PATH_FUNS.contains(&f) || FILE_TWO_PATH_FUNS.contains(&f) => {
            CheckId::PathTraversal
        }
        (None | Some("Plug.Conn" | "Conn"), "send_file") => CheckId::PathTraversal,
        (None | Some("Phoenix.Controller" | "Controller"), "send_download") => {
            CheckId::PathTraversal
        }
        _ => return,
    };
    // binary_to_term reports under one of two IDs, chosen once its options are read.
    let either_binary_to_term =
        id == CheckId::UnsafeBinaryToTerm && ctx.on(CheckId::BinaryToTermSafe);
    if !ctx.on(id) && !either_binary_to_term {
        return;
    }
    let (args, _) = syntax::effective_args(node, ctx.src, k);
    let first = args.first().copied();
    let call_text = match module {
        Some(m) => format!("{m}.{fun}"),
        None => fun.to_owned(),
    };
    match id {
        CheckId::UnsafeAtom if first.is_some_and(|a| dynamic(ctx, a)) => {
            let msg = format!(
                "{call_text} on dynamic data can exhaust the atom table; use String.to_existing_atom/1"
            );
            ctx.emit(id, node, msg, vec![]);
        }
        CheckId::CommandInjection => command_injection(ctx, node, fun, &args, &call_text),
        CheckId::SqlInjection => {
            let index = usize::from(module.is_some_and(|m| !is_repo(m)));
            if args
                .get(index)
                .is_some_and(|sql| built_dynamically(ctx, *sql))
            {
                let msg = format!(
                    "SQL built by interpolation in {call_text}: pass values as parameters ($1, ?)"
                );
                ctx.emit(id, node, msg, vec![]);
            }
        }
        CheckId::UnsafeBinaryToTerm => binary_to_term(ctx, node, &args),
        CheckId::CodeEval => {
            let index = usize::from(fun == "eval_quoted_with_env");
            if args.get(index).is_some_and(|a| dynamic(ctx, *a)) {
                ctx.emit(
                    id,
                    node,
                    format!("{call_text} evaluates dynamic code"),
                    vec![],
                );
            }
        }
        CheckId::XssRaw if args.len() == 1 && first.is_some_and(|a| dynamic(ctx, a)) => {
            let msg = "raw/1 on dynamic data disables HTML escaping (XSS)";
            ctx.emit(id, node, msg, vec![]);
        }
        CheckId::XssSendResp => {
            let body = match (fun, args.len()) {
                ("send_resp", 3) => args[2],
                ("html", 2) => args[1],
                _ => return,
            };
            if built_dynamically(ctx, body) && (fun == "html" || has_html_literal(ctx, body)) {
                ctx.emit(id, node, format!("{fun} with HTML built from dynamic data (XSS): escape it or render a template"), vec![]);
            }
        }
        CheckId::PathTraversal => {
            let paths: Vec<Node> = match (module, fun) {
                (Some("File"), f) if FILE_TWO_PATH_FUNS.contains(&f) => {
                    args.iter().take(2).copied().collect()
                }
                (Some("File"), f) if FILE_PATH_FUNS.contains(&f) => first.into_iter().collect(),
                (_, "send_file") => args.get(2).copied().into_iter().collect(),
                (_, "send_download") => args
                    .get(1)
                    .filter(|t| t.kind_id() == k.tuple)
                    .map(|t| syntax::named_children(*t, k))
                    .filter(|elems| elems.len() == 2 && ctx.text(elems[0]) == ":file")
                    .map(|elems| vec![elems[1]])
                    .unwrap_or_default(),
                _ => vec![],
            };
            if paths.iter().any(|p| is_tainted(ctx, *p)) {
                let msg = format!("{call_text} with a path from request data: path traversal; use Path.basename/1 or an allow-list");
                ctx.emit(id, node, msg, vec![]);
            }
        }
        _ => {}
    }
}

/// `File` functions whose first two arguments are paths.
const FILE_TWO_PATH_FUNS: &[&str] = &[
    "cp", "cp!", "cp_r", "cp_r!", "rename", "rename!", "ln", "ln!", "ln_s", "ln_s!",
];

/// `File` functions whose first argument is a path.
const FILE_PATH_FUNS: &[&str] = &[
    "read",
    "read!",
    "write",
    "write!",
    "rm",
    "rm!",
    "rm_rf",
    "rm_rf!",
    "open",
    "open!",
    "stream!",
    "mkdir",
    "mkdir!",
    "mkdir_p",
    "mkdir_p!",
    "ls",
    "ls!",
    "touch",
    "touch!",
    "chmod",
    "chmod!",
    "stat",
    "stat!",
    "lstat",
    "rmdir",
    "rmdir!",
    "read_link",
    "copy",
    "copy!",
];

const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "/bin/sh",
    "/bin/bash",
    "/usr/bin/env",
    "cmd",
    "cmd.exe",
    "powershell",
];

fn command_injection<'a>(
    ctx: &mut Ctx<'a>,
    node: Node<'a>,
    fun: &str,
    args: &[Node<'a>],
    call_text: &str,
) {
    let k = ctx.k;
    let Some(first) = args.first().copied() else {
        return;
    };
    let flagged = match fun {
        "open" => {
            // Port.open({:spawn, command}, opts)
            first.kind_id() == k.tuple && {
                let elems = syntax::named_children(first, k);
                elems.len() == 2 && ctx.text(elems[0]) == ":spawn" && dynamic(ctx, elems[1])
            }
        }
        "cmd" if call_text == "System.cmd" => {
            dynamic(ctx, first) || {
                let shell =
                    syntax::literal_content(first, ctx.src, k).is_some_and(|p| SHELLS.contains(&p));
                shell
                    && args.get(1).is_some_and(|list| {
                        list.kind_id() == k.list
                            && syntax::named_children(*list, k)
                                .iter()
                                .any(|a| dynamic(ctx, *a))
                    })
            }
        }
        _ => dynamic(ctx, first),
    };
    if flagged {
        let msg = format!("{call_text} with a dynamic command: command injection; pass a literal program and separate arguments");
        ctx.emit(CheckId::CommandInjection, node, msg, vec![]);
    }
}

fn binary_to_term<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, args: &[Node<'a>]) {
    let k = ctx.k;
    let Some(data) = args.first() else { return };
    if !dynamic(ctx, *data) {
        return;
    }
    let safe = match args.get(1) {
        None => false,
        Some(opts) if opts.kind_id() == k.list => syntax::named_children(*opts, k)
            .iter()
            .any(|o| ctx.text(*o) == ":safe"),
        // Options built elsewhere: cannot tell, so only the note.
        Some(_) => true,
    };
    if safe {
        let msg = "binary_to_term on possibly untrusted data can still build executable functions; prefer Plug.Crypto.non_executable_binary_to_term/2";
        ctx.emit(CheckId::BinaryToTermSafe, node, msg, vec![]);
    } else {
        let msg = "binary_to_term without [:safe] can create atoms and executable functions; use Plug.Crypto.non_executable_binary_to_term/2";
        ctx.emit(CheckId::UnsafeBinaryToTerm, node, msg, vec![]);
    }
}

/// Assignments (`password = "..."`, `"api_key" => "..."`) and taint through `x = tainted`.
pub(crate) fn binary_operator<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, op: &str) {
    let k = ctx.k;
    if op != "=" && op != "=>" {
        return;
    }
    let (Some(left), Some(right)) = (
        node.child_by_field_id(k.f_left),
        node.child_by_field_id(k.f_right),
    ) else {
        return;
    };
    if op == "="
        && left.kind_id() == k.identifier
        && ctx.on(CheckId::PathTraversal)
        && !ctx.functions.is_empty()
    {
        let name = ctx.text(left);
        let tainted = is_tainted(ctx, right);
        if let Some(scope) = ctx.functions.last_mut() {
            scope.tainted.retain(|n| *n != name);
            if tainted {
                scope.tainted.push(name);
            }
        }
    }
    let key = if op == "=" && left.kind_id() == k.identifier {
        ctx.text(left)
    } else if op == "=>" && (left.kind_id() == k.string || left.kind_id() == k.atom) {
        ctx.text(left).trim_start_matches(':').trim_matches('"')
    } else {
        return;
    };
    named_secret(ctx, key, right);
}

/// `key: "value"` pairs, in keyword lists and config.
pub(crate) fn pair<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    if let (Some(key), Some(value)) = (
        syntax::pair_key(node, ctx.src, k),
        node.child_by_field_id(k.f_value),
    ) {
        named_secret(ctx, key, value);
    }
}

/// `@name value` module attributes.
pub(crate) fn attribute<'a>(
    ctx: &mut Ctx<'a>,
    _node: Node<'a>,
    name: &'a str,
    value: Option<Node<'a>>,
) {
    if let Some(value) = value {
        named_secret(ctx, name, value);
    }
}

fn named_secret<'a>(ctx: &mut Ctx<'a>, name: &str, value: Node<'a>) {
    if !ctx.on(CheckId::HardcodedSecret)
        || ctx.path.is_test
        || ctx.path.is_local_config
        || value.kind_id() != ctx.k.string
    {
        return;
    }
    let Some(content) = syntax::literal_content(value, ctx.src, ctx.k) else {
        return;
    };
    if secrets::classify_literal(content).is_some() {
        return; // reported by `string_literal`, with its format
    }
    let lower = name.to_ascii_lowercase();
    let flagged = (secrets::is_secret_name(name) && !secrets::looks_like_placeholder(content))
        || ((lower.ends_with("key") || lower.ends_with("salt"))
            && secrets::is_high_entropy(content));
    if flagged {
        let msg = format!("Hardcoded secret in `{name}`: read it from the environment at runtime");
        ctx.emit(CheckId::HardcodedSecret, value, msg, vec![]);
    }
}

/// Known key formats in any string literal.
pub(crate) fn string_literal<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::HardcodedSecret) || node.end_byte() - node.start_byte() < 18 {
        return;
    }
    let Some(content) = syntax::literal_content(node, ctx.src, ctx.k) else {
        return;
    };
    if let Some(kind) = secrets::classify_literal(content) {
        let msg = format!("Hardcoded secret: {} in a literal", kind.description());
        ctx.emit(CheckId::HardcodedSecret, node, msg, vec![]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{CheckId, ChecksConfig};
    use expect_test::expect;

    /// Security findings only.
    fn security(src: &str) -> String {
        let config = ChecksConfig {
            disabled: vec!["readability".into(), "debug".into(), "complexity".into()],
            ..ChecksConfig::default()
        };
        render_with(src, Some("lib/app.ex"), &config)
    }

    fn only(src: &str, id: CheckId) -> String {
        render_only(src, "lib/app.ex", id)
    }

    #[test]
    fn unsafe_atoms() {
        let src = r##"def f(x, name) do
  String.to_atom(x)
  name |> String.to_atom()
  List.to_atom(x)
  :erlang.binary_to_atom("prefix_#{x}", :utf8)
  String.to_atom("literal")
  String.to_existing_atom(x)
  String.to_atom(@prefix)
  String.to_atom("#{@prefix}_suffix")
  :erlang.binary_to_atom("ok", :utf8)
end
"##;
        expect![[r#"
            2:3 warning security/unsafe-atom: String.to_atom on dynamic data can exhaust the atom table; use String.to_existing_atom/1 `String.to_atom(x)`
            3:11 warning security/unsafe-atom: String.to_atom on dynamic data can exhaust the atom table; use String.to_existing_atom/1 `String.to_atom()`
            4:3 warning security/unsafe-atom: List.to_atom on dynamic data can exhaust the atom table; use String.to_existing_atom/1 `List.to_atom(x)`
            5:3 warning security/unsafe-atom: :erlang.binary_to_atom on dynamic data can exhaust the atom table; use String.to_existing_atom/1 `:erlang.binary_to_atom("prefix_#{x}", :u`
        "#]]
        .assert_eq(&only(src, CheckId::UnsafeAtom));
    }

    #[test]
    fn command_injection() {
        let src = r##"def f(host, file) do
  :os.cmd('ping #{host}')
  :os.cmd(to_charlist(host))
  System.shell("ls #{file}")
  System.cmd(file, [])
  System.cmd("sh", ["-c", "tar xf " <> file])
  Port.open({:spawn, "convert #{file}"}, [:binary])
  cmd |> System.shell()
  :os.cmd('uptime')
  System.cmd("ls", ["-la", file])
  System.shell("ls -la")
  Port.open({:spawn_executable, "/bin/ls"}, args: [file])
  Port.open({:spawn, "cat"}, [])
  System.cmd(System.find_executable("git"), ["status"])
  System.cmd(@tool, [file])
end
"##;
        expect![[r#"
            2:3 warning security/command-injection: :os.cmd with a dynamic command: command injection; pass a literal program and separate arguments `:os.cmd('ping #{host}')`
            3:3 warning security/command-injection: :os.cmd with a dynamic command: command injection; pass a literal program and separate arguments `:os.cmd(to_charlist(host))`
            4:3 warning security/command-injection: System.shell with a dynamic command: command injection; pass a literal program and separate arguments `System.shell("ls #{file}")`
            5:3 warning security/command-injection: System.cmd with a dynamic command: command injection; pass a literal program and separate arguments `System.cmd(file, [])`
            6:3 warning security/command-injection: System.cmd with a dynamic command: command injection; pass a literal program and separate arguments `System.cmd("sh", ["-c", "tar xf " <> fil`
            7:3 warning security/command-injection: Port.open with a dynamic command: command injection; pass a literal program and separate arguments `Port.open({:spawn, "convert #{file}"}, [`
            8:10 warning security/command-injection: System.shell with a dynamic command: command injection; pass a literal program and separate arguments `System.shell()`
        "#]]
        .assert_eq(&only(src, CheckId::CommandInjection));
    }

    #[test]
    fn sql_injection() {
        let src = r##"def f(name, id) do
  Repo.query("SELECT * FROM users WHERE name = '#{name}'")
  MyApp.Repo.query!("DELETE FROM t WHERE id = " <> id)
  Ecto.Adapters.SQL.query(Repo, "SELECT #{id}", [])
  SQL.stream(Repo, "SELECT * FROM t WHERE a = #{id}")
  Repo.query("SELECT * FROM users WHERE name = $1", [name])
  Ecto.Adapters.SQL.query!(Repo, "SELECT 1", [])
  Repo.query(@sql, [id])
  Query.query("#{id}")
  Repo.query("SELECT * FROM #{@table} WHERE id = $1", [id])
  from(u in User, where: fragment("lower(?)", ^name))
end
"##;
        expect![[r#"
            2:3 warning security/sql-injection: SQL built by interpolation in Repo.query: pass values as parameters ($1, ?) `Repo.query("SELECT * FROM users WHERE na`
            3:3 warning security/sql-injection: SQL built by interpolation in MyApp.Repo.query!: pass values as parameters ($1, ?) `MyApp.Repo.query!("DELETE FROM t WHERE i`
            4:3 warning security/sql-injection: SQL built by interpolation in Ecto.Adapters.SQL.query: pass values as parameters ($1, ?) `Ecto.Adapters.SQL.query(Repo, "SELECT #{`
            5:3 warning security/sql-injection: SQL built by interpolation in SQL.stream: pass values as parameters ($1, ?) `SQL.stream(Repo, "SELECT * FROM t WHERE `
        "#]]
        .assert_eq(&only(src, CheckId::SqlInjection));
    }

    #[test]
    fn binary_to_term() {
        let src = r##"def f(bin, opts) do
  :erlang.binary_to_term(bin)
  :erlang.binary_to_term(bin, [:safe])
  :erlang.binary_to_term(bin, [])
  bin |> :erlang.binary_to_term()
  :erlang.binary_to_term(bin, opts)
  :erlang.binary_to_term(<<131, 100, 0, 2, 111, 107>>)
  Plug.Crypto.non_executable_binary_to_term(bin, [:safe])
end
"##;
        expect![[r#"
            2:3 warning security/unsafe-binary-to-term: binary_to_term without [:safe] can create atoms and executable functions; use Plug.Crypto.non_executable_binary_to_term/2 `:erlang.binary_to_term(bin)`
            3:3 info security/binary-to-term-safe: binary_to_term on possibly untrusted data can still build executable functions; prefer Plug.Crypto.non_executable_binary_to_term/2 `:erlang.binary_to_term(bin, [:safe])`
            4:3 warning security/unsafe-binary-to-term: binary_to_term without [:safe] can create atoms and executable functions; use Plug.Crypto.non_executable_binary_to_term/2 `:erlang.binary_to_term(bin, [])`
            5:10 warning security/unsafe-binary-to-term: binary_to_term without [:safe] can create atoms and executable functions; use Plug.Crypto.non_executable_binary_to_term/2 `:erlang.binary_to_term()`
            6:3 info security/binary-to-term-safe: binary_to_term on possibly untrusted data can still build executable functions; prefer Plug.Crypto.non_executable_binary_to_term/2 `:erlang.binary_to_term(bin, opts)`
        "#]]
        .assert_eq(&security(src));
    }

    #[test]
    fn code_eval() {
        let src = r##"def f(code, env, path) do
  Code.eval_string(code)
  Code.eval_file(path)
  Code.eval_quoted_with_env(env, code, [])
  EEx.eval_string(template, assigns: [a: 1])
  Code.eval_string("1 + 2")
  Code.eval_quoted(quote do: 1 + 1)
  Code.eval_quoted_with_env(env, quote(do: x), [])
  EEx.eval_file("priv/template.eex", assigns: [a: code])
  Code.string_to_quoted(code)
end
"##;
        expect![[r#"
            2:3 warning security/code-eval: Code.eval_string evaluates dynamic code `Code.eval_string(code)`
            3:3 warning security/code-eval: Code.eval_file evaluates dynamic code `Code.eval_file(path)`
            4:3 warning security/code-eval: Code.eval_quoted_with_env evaluates dynamic code `Code.eval_quoted_with_env(env, code, [])`
            5:3 warning security/code-eval: EEx.eval_string evaluates dynamic code `EEx.eval_string(template, assigns: [a: 1`
        "#]]
        .assert_eq(&only(src, CheckId::CodeEval));
    }

    #[test]
    fn xss() {
        let src = r##"def show(conn, %{"name" => name}) do
  raw(name)
  conn |> assign(:x, raw(@x))
  Phoenix.HTML.raw(user.bio)
  send_resp(conn, 200, "<h1>Hello #{name}</h1>")
  conn |> send_resp(200, "<p>" <> name <> "</p>")
  html(conn, "Hi #{name}")
  raw("<br/>")
  send_resp(conn, 200, "Not found: #{name}")
  send_resp(conn, 200, "<p>static</p>")
  html(conn, "<p>static</p>")
  json(conn, %{name: name})
end
def raw(x), do: x
"##;
        expect![[r#"
            2:3 warning security/xss-raw: raw/1 on dynamic data disables HTML escaping (XSS) `raw(name)`
            4:3 warning security/xss-raw: raw/1 on dynamic data disables HTML escaping (XSS) `Phoenix.HTML.raw(user.bio)`
            5:3 warning security/xss-send-resp: send_resp with HTML built from dynamic data (XSS): escape it or render a template `send_resp(conn, 200, "<h1>Hello #{name}<`
            6:11 warning security/xss-send-resp: send_resp with HTML built from dynamic data (XSS): escape it or render a template `send_resp(200, "<p>" <> name <> "</p>")`
            7:3 warning security/xss-send-resp: html with HTML built from dynamic data (XSS): escape it or render a template `html(conn, "Hi #{name}")`
        "#]]
        .assert_eq(&security(src));
    }

    #[test]
    fn path_traversal() {
        let src = r##"defmodule AppWeb.FileController do
  def download(conn, %{"name" => name}) do
    send_file(conn, 200, "uploads/#{name}")
  end

  def show(conn, params) do
    path = Path.join("uploads", params["file"])
    {:ok, data} = File.read(path)
    File.rm!(conn.params["tmp"])
    send_download(conn, {:file, path})
  end

  def safe(conn, %{"name" => name}) do
    File.read!(Path.join("uploads", Path.basename(name)))
    path = "uploads/fixed.txt"
    File.read(path)
    send_download(conn, {:binary, name}, filename: "x.txt")
    File.exists?(name)
  end

  def copy(conn, %{"from" => from}) do
    File.cp!("backups/latest", "restore/" <> from)
  end

  def config_path(path), do: File.read!(path)
end
"##;
        expect![[r#"
            3:5 warning security/path-traversal: send_file with a path from request data: path traversal; use Path.basename/1 or an allow-list `send_file(conn, 200, "uploads/#{name}")`
            8:19 warning security/path-traversal: File.read with a path from request data: path traversal; use Path.basename/1 or an allow-list `File.read(path)`
            9:5 warning security/path-traversal: File.rm! with a path from request data: path traversal; use Path.basename/1 or an allow-list `File.rm!(conn.params["tmp"])`
            10:5 warning security/path-traversal: send_download with a path from request data: path traversal; use Path.basename/1 or an allow-list `send_download(conn, {:file, path})`
            22:5 warning security/path-traversal: File.cp! with a path from request data: path traversal; use Path.basename/1 or an allow-list `File.cp!("backups/latest", "restore/" <>`
        "#]]
        .assert_eq(&security(src));
    }

    #[test]
    fn hardcoded_secrets_in_config() {
        let src = r##"import Config
config :app, AppWeb.Endpoint,
  secret_key_base: "kX9f2mQ8pL3vR7tY1wZ5nB4cD6gH0jA2sE8uI9oP3qW7eR5tY1uI3oP5aS7dF9g",
  signing_salt: "Zs0nTQ+V"
config :app, App.Repo, password: "postgres", username: "postgres"
config :app, App.Repo, password: System.get_env("DB_PASSWORD")
config :stripe, api_key: "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
config :app, :token, ""
"##;
        expect![[r#"
            3:20 warning security/hardcoded-secret: Hardcoded secret in `secret_key_base`: read it from the environment at runtime `"kX9f2mQ8pL3vR7tY1wZ5nB4cD6gH0jA2sE8uI9o`
            5:34 warning security/hardcoded-secret: Hardcoded secret in `password`: read it from the environment at runtime `"postgres"`
            7:26 warning security/hardcoded-secret: Hardcoded secret: a Stripe secret key in a literal `"sk_live_4eC39HqLyjWDarjtT1zdp7dc"`
        "#]]
        .assert_eq(&render_only(src, "config/prod.exs", CheckId::HardcodedSecret));
        // Local-only configuration: only known key formats.
        expect![[r#"
            7:26 warning security/hardcoded-secret: Hardcoded secret: a Stripe secret key in a literal `"sk_live_4eC39HqLyjWDarjtT1zdp7dc"`
        "#]]
        .assert_eq(&render_only(src, "config/dev.exs", CheckId::HardcodedSecret));
    }

    #[test]
    fn hardcoded_secrets_in_code() {
        let src = r##"defmodule App.Client do
  @api_key "a8f5f167f44f4964e6c998dee827110c"
  @aws_key "AKIAIOSFODNN7ABCDEFG"
  @cache_key "users"
  def headers do
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    password = "hunter22"
    [authorization: "Bearer #{token}", password_hash: "x", label: "password"]
  end
  def params, do: %{"client_secret" => "s3cr3t-v4lue", "password" => ""}
end
"##;
        expect![[r#"
            2:12 warning security/hardcoded-secret: Hardcoded secret in `api_key`: read it from the environment at runtime `"a8f5f167f44f4964e6c998dee827110c"`
            3:12 warning security/hardcoded-secret: Hardcoded secret: an AWS access key in a literal `"AKIAIOSFODNN7ABCDEFG"`
            6:13 warning security/hardcoded-secret: Hardcoded secret: a GitHub token in a literal `"ghp_abcdefghijklmnopqrstuvwxyz012345678`
            7:16 warning security/hardcoded-secret: Hardcoded secret in `password`: read it from the environment at runtime `"hunter22"`
            10:40 warning security/hardcoded-secret: Hardcoded secret in `client_secret`: read it from the environment at runtime `"s3cr3t-v4lue"`
        "#]]
        .assert_eq(&only(src, CheckId::HardcodedSecret));
        assert_eq!(render_only(src.replace("ghp_", "xyz_").as_str(), "test/client_test.exs", CheckId::HardcodedSecret), "      3:12 warning security/hardcoded-secret: Hardcoded secret: an AWS access key in a literal `\"AKIAIOSFODNN7ABCDEFG\"`\n".trim_start());
    }
}
