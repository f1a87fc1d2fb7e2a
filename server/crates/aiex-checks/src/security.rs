//! Security checks (Sobelow-style): unsafe atoms, command and SQL injection, unsafe
//! deserialization, code evaluation, XSS, path traversal and hardcoded secrets.
//!
//! The injection rules follow request data (a small taint analysis, see [`Flow`]): sources are
//! controller action params, `conn.params` and friends, LiveView and channel payloads; taint
//! flows through assignments, pattern matches, pipes and calls, and ends at sanitizers
//! (`Path.basename/1`, `String.to_existing_atom/1`, `html_escape`, `x in allowed` guards, a
//! `case` over literals). A sink reached by a function's parameters only is kept as a
//! [`FunctionFlow`] summary; the module-level pass ([`module_flows`]) reports it when a caller in
//! the module passes request data in. Mix tasks, `.exs` scripts and tests are not attack
//! surfaces: the injection rules skip them.

use std::collections::HashMap;

use tree_sitter::Node;

use super::syntax::{self, CallName};
use super::{CheckId, Ctx};
use aiex_syntax::secrets;

/// Taint bit of request data. Bit `i + 1` stands for "parameter `i` of the enclosing function".
pub(crate) const REQUEST: u32 = 1;

/// Parameters past this index are not followed (a bit each in a `u32`).
const MAX_TRACKED_PARAMS: usize = 30;

/// Deeper expressions are not looked into: taint reading is recursive, and bounded.
const MAX_TAINT_DEPTH: u32 = 48;

/// Nodes read for taint per top-level form. Each call's arguments are read up to
/// [`MAX_TAINT_DEPTH`] deep, so 130,000 nested calls cost 48 reads each (minutes in a debug
/// build, the server's memory held meanwhile); past this many the form's remaining
/// expressions count as untainted. Real forms read a few thousand.
pub(crate) const MAX_TAINT_STEPS_PER_FORM: u32 = 200_000;

/// Modules whose functions return a value derived from their arguments (taint passes through).
/// Calls to other modules (a `Repo`, an API client...) return new data.
const PASS_THROUGH: &[&str] = &[
    "String",
    "Path",
    "Enum",
    "Map",
    "Keyword",
    "List",
    "Kernel",
    "Access",
    "URI",
    "Base",
    "Jason",
    "Poison",
    "IO",
    "Stream",
    "Tuple",
    "Plug.Conn",
    "Conn",
];

/// What the walk knows of the data in one function clause.
#[derive(Default)]
pub(crate) struct Flow<'a> {
    /// The function's name and arity (`None` outside a named function).
    name: &'a str,
    arity: usize,
    defaults: usize,
    /// Variables and their taint bits; later entries win.
    vars: Vec<(&'a str, u32)>,
    /// Variables holding escaped HTML (for `raw/1`).
    html_safe: Vec<&'a str>,
    /// Sinks reached by parameters only, reported if a caller passes request data in.
    sinks: Vec<PendingSink>,
    /// Calls to local functions that pass parameters or request data on.
    calls: Vec<LocalCall>,
}

/// A sink reached by some parameters of the enclosing function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingSink {
    pub check: CheckId,
    pub start_byte: usize,
    pub end_byte: usize,
    pub message: String,
    /// The taint bits of the value reaching the sink.
    pub params: u32,
}

/// A local call and the taint of each argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalCall {
    pub name: String,
    pub arity: usize,
    pub args: Vec<u32>,
}

/// The summary of one function clause for the module-level pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionFlow {
    pub name: String,
    pub arity: usize,
    pub defaults: usize,
    pub sinks: Vec<PendingSink>,
    pub calls: Vec<LocalCall>,
}

impl FunctionFlow {
    /// The same summary for a form moved by `shift` bytes.
    pub fn moved(&self, shift: impl Fn(usize) -> usize) -> FunctionFlow {
        let mut moved = self.clone();
        for s in &mut moved.sinks {
            s.start_byte = shift(s.start_byte);
            s.end_byte = shift(s.end_byte);
        }
        moved
    }
}

impl<'a> Flow<'a> {
    fn taint_of_var(&self, name: &str) -> u32 {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, t)| *t)
    }

    fn set(&mut self, name: &'a str, taint: u32) {
        self.vars.retain(|(n, _)| *n != name);
        if taint != 0 {
            self.vars.push((name, taint));
        }
    }
}

/// Starts following data in a function clause: each parameter carries its own bit, and the
/// parameters that hold request data in a Phoenix callback also carry [`REQUEST`].
pub(crate) fn start_function<'a>(ctx: &Ctx<'a>, def: &syntax::DefInfo<'a>) -> Flow<'a> {
    let mut flow = Flow {
        name: def.name,
        arity: def.params.len(),
        defaults: def.defaults,
        ..Flow::default()
    };
    let request = request_params(ctx, def);
    for (i, param) in def.params.iter().enumerate().take(MAX_TRACKED_PARAMS) {
        let bit = 1u32 << (i + 1) | if request.contains(&i) { REQUEST } else { 0 };
        let mut names = Vec::new();
        collect_identifiers(ctx, *param, &mut names);
        for name in names {
            if !matches!(name, "conn" | "socket") {
                flow.set(name, bit);
            }
        }
    }
    flow
}

/// Which parameters of a public function carry request data: the params of a controller action
/// (`def show(conn, %{"id" => id})`, `def index(conn, params)`), and the payloads of LiveView,
/// channel and socket callbacks.
fn request_params(ctx: &Ctx, def: &syntax::DefInfo) -> Vec<usize> {
    if !def.is_public() {
        return vec![];
    }
    let k = ctx.k;
    let text = |i: usize| def.params.get(i).map_or("", |p| ctx.text(*p));
    let is_conn = |i: usize| matches!(text(i), "conn" | "_conn") || text(i).ends_with("= conn");
    let arity = def.params.len();
    match (def.name, arity) {
        ("handle_event", 3) => vec![0, 1],
        ("handle_params", 3) | ("join", 3) => vec![0, 1],
        ("handle_in", 3) => vec![0, 1],
        ("mount", 3) | ("connect", 2 | 3) => vec![0],
        ("call" | "init" | "action", _) => vec![],
        (_, 2) if is_conn(0) => {
            // A controller action's second parameter is the params map; a helper taking a conn
            // and a path is not an action.
            let second = def.params[1];
            let name = text(1);
            let is_params = name.ends_with("params")
                || second.kind_id() == k.map
                || (second.kind_id() == k.binary_operator
                    && (name.starts_with("%{") || name.ends_with("params")));
            if is_params {
                vec![1]
            } else {
                vec![]
            }
        }
        _ => vec![],
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
        if n.kind_id() == k.unary_operator && syntax::operator(n, ctx.src) == "^" {
            continue; // a pinned variable is read, not bound
        }
        if n.kind_id() == k.binary_operator {
            let op = syntax::operator(n, ctx.src);
            if op == "\\\\" || op == "when" {
                if let Some(left) = n.child_by_field_id(k.f_left) {
                    stack.push(left);
                }
                continue;
            }
        }
        if n.kind_id() == k.call {
            // `%Struct{} = x` patterns hold no calls; a call here is a guard or a default.
            continue;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
}

/// Whether the injection rules apply to this file (not Mix tasks, scripts, tests).
fn attack_surface(ctx: &Ctx) -> bool {
    let p = ctx.path;
    !(p.in_mix_tasks || p.is_script || p.is_test || p.is_mix_exs)
}

/// The taint bits of an expression in the enclosing function.
pub(crate) fn taint_of(ctx: &Ctx, node: Node) -> u32 {
    taint_within(ctx, node, 0)
}

fn taint_within(ctx: &Ctx, node: Node, depth: u32) -> u32 {
    if depth > MAX_TAINT_DEPTH || !ctx.take_taint_step() {
        return 0;
    }
    let k = ctx.k;
    let kind = node.kind_id();
    let sub = |n: Node| taint_within(ctx, n, depth + 1);
    let children = |n: Node| {
        let mut t = 0;
        let mut cursor = n.walk();
        for c in n.named_children(&mut cursor) {
            t |= taint_within(ctx, c, depth + 1);
        }
        t
    };
    if kind == k.identifier {
        let name = ctx.text(node);
        return ctx
            .functions
            .last()
            .map_or(0, |f| f.flow.taint_of_var(name));
    }
    if kind == k.call {
        return call_taint(ctx, node, None, depth);
    }
    if kind == k.binary_operator {
        let op = syntax::operator(node, ctx.src);
        let (left, right) = (
            node.child_by_field_id(k.f_left),
            node.child_by_field_id(k.f_right),
        );
        return match op {
            "|>" => match right {
                Some(r) if r.kind_id() == k.call => call_taint(ctx, r, left, depth),
                _ => left.map_or(0, sub) | right.map_or(0, sub),
            },
            // Comparisons and membership give booleans.
            "==" | "!=" | "===" | "!==" | "<" | ">" | "<=" | ">=" | "in" | "not in" | "and"
            | "or" | "&&" | "||" | "=~" => 0,
            "=" => right.map_or(0, sub),
            _ => left.map_or(0, sub) | right.map_or(0, sub),
        };
    }
    if kind == k.unary_operator {
        return match syntax::operator(node, ctx.src) {
            "@" | "&" | "!" | "not" => 0,
            _ => children(node),
        };
    }
    if kind == k.anonymous_function || kind == k.comment || kind == k.alias {
        return 0;
    }
    if k.literal_leaves.contains(&kind) || kind == k.quoted_content {
        return 0;
    }
    children(node)
}

/// The taint of a call's result; `piped` is the left side of a pipe into it.
fn call_taint(ctx: &Ctx, call: Node, piped: Option<Node>, depth: u32) -> u32 {
    let k = ctx.k;
    let sub = |n: Node| taint_within(ctx, n, depth + 1);
    let args_taint = || {
        let mut t = piped.map_or(0, sub);
        for a in syntax::args(call, k) {
            t |= sub(a);
        }
        t
    };
    let Some(name) = syntax::call_name(call, ctx.src, k) else {
        // `f.(x)` or `params.(...)`: whatever goes in may come out.
        let mut t = args_taint();
        if let Some(target) = call.child(0) {
            t |= sub(target);
        }
        return t;
    };
    if is_sanitizer(&name) {
        return 0;
    }
    match (name.module, name.fun) {
        (Some("conn"), "params" | "query_params" | "body_params" | "path_params") => REQUEST,
        (None, "case") => {
            // The arms' results, not the subject: `case x do "a" -> :a end` is a literal.
            syntax::do_block(call, k).map_or(0, |b| arm_bodies_taint(ctx, b, depth))
        }
        (None, "cond" | "if" | "unless" | "receive" | "try") => {
            let mut t = syntax::do_block(call, k).map_or(0, |b| arm_bodies_taint(ctx, b, depth));
            for a in syntax::args(call, k) {
                if a.kind_id() == k.keywords {
                    t |= sub(a);
                }
            }
            t
        }
        (None, "with" | "for") => args_taint() | syntax::do_block(call, k).map_or(0, sub),
        (None, _) => args_taint(),
        (Some(m), _) if m.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') => {
            // `params.name`, `conn.assigns.x`, or `:erlang.fun`: the receiver's data.
            if m.starts_with(':') {
                return args_taint();
            }
            let receiver = call.child(0).and_then(|dot| dot.child(0)).map_or(0, sub);
            receiver | args_taint()
        }
        (Some(m), _) if PASS_THROUGH.contains(&m) => args_taint(),
        _ => 0,
    }
}

/// The taint of the bodies of a `do` block's arms (or of its plain body).
fn arm_bodies_taint(ctx: &Ctx, block: Node, depth: u32) -> u32 {
    let k = ctx.k;
    let mut t = 0;
    let mut stack = vec![block];
    while let Some(n) = stack.pop() {
        let mut cursor = n.walk();
        for c in n.named_children(&mut cursor) {
            if c.kind_id() == k.stab_clause {
                if let Some(body) = c.child_by_field_id(k.f_right) {
                    t |= taint_within(ctx, body, depth + 1);
                }
            } else if c.kind_id() == k.else_block
                || c.kind_id() == k.rescue_block
                || c.kind_id() == k.catch_block
                || c.kind() == "after_block"
            {
                stack.push(c);
            } else {
                t |= taint_within(ctx, c, depth + 1);
            }
        }
    }
    t
}

/// Calls whose result no longer carries the danger of their input.
fn is_sanitizer(name: &CallName) -> bool {
    matches!(
        (name.module, name.fun),
        (
            Some("Path"),
            "basename" | "safe_relative" | "safe_relative_to"
        ) | (
            Some("String"),
            "to_existing_atom" | "to_integer" | "to_float"
        ) | (Some("List"), "to_existing_atom")
            | (Some("Integer" | "Float"), _)
            | (Some("Ecto.UUID"), _)
            | (_, "html_escape" | "safe_to_string" | "escape_html")
            | (
                None | Some("Kernel"),
                "length" | "byte_size" | "is_binary" | "is_atom"
            )
            | (Some("Enum"), "count" | "member?" | "empty?")
            | (Some("Map" | "Keyword"), "has_key?")
    )
}

/// Whether an expression is HTML that is safe to mark `raw`: literals, escaped values, and
/// strings or lists built only from those.
fn html_safe(ctx: &Ctx, node: Node, depth: u32) -> bool {
    if depth > MAX_TAINT_DEPTH {
        return false;
    }
    let k = ctx.k;
    let kind = node.kind_id();
    if syntax::is_literal(node, ctx.src, k) {
        return true;
    }
    let safe = |n: Node| html_safe(ctx, n, depth + 1);
    if kind == k.identifier {
        let name = ctx.text(node);
        return ctx
            .functions
            .last()
            .is_some_and(|f| f.flow.html_safe.contains(&name));
    }
    if kind == k.call {
        return html_safe_call(ctx, node, None, depth);
    }
    if kind == k.binary_operator {
        let op = syntax::operator(node, ctx.src);
        let left = node.child_by_field_id(k.f_left);
        let right = node.child_by_field_id(k.f_right);
        return match op {
            "<>" | "++" => left.is_some_and(safe) && right.is_some_and(safe),
            "|>" => {
                right.is_some_and(|r| r.kind_id() == k.call && html_safe_call(ctx, r, left, depth))
            }
            _ => false,
        };
    }
    if kind == k.string || kind == k.list || kind == k.interpolation {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        return children
            .iter()
            .all(|c| c.kind_id() == k.quoted_content || safe(*c));
    }
    false
}

/// Whether a call returns safe HTML; `piped` is the left side of a pipe into it.
fn html_safe_call(ctx: &Ctx, call: Node, piped: Option<Node>, depth: u32) -> bool {
    let k = ctx.k;
    let Some(name) = syntax::call_name(call, ctx.src, k) else {
        return false;
    };
    let safe = |n: Node| html_safe(ctx, n, depth + 1);
    let args = syntax::args(call, k);
    match (name.module, name.fun) {
        (_, "html_escape" | "escape_html" | "content_tag" | "link" | "img_tag") => true,
        (_, "safe_to_string") => true,
        (Some("Enum"), "map_join" | "join" | "map" | "intersperse") => {
            // The parts decide, not the collection: `Enum.map_join(items, fn i -> html_escape(i) end)`.
            let parts = if piped.is_some() {
                &args[..]
            } else {
                args.get(1..).unwrap_or(&[])
            };
            parts.iter().all(|a| {
                a.kind_id() == k.string
                    || safe(*a)
                    || (a.kind_id() == k.anonymous_function && fn_bodies_safe(ctx, *a, depth))
            })
        }
        // Text operations on escaped text keep it escaped when what they add is escaped too.
        (Some("String"), "replace" | "trim" | "split" | "slice" | "downcase" | "upcase")
        | (None, "to_string")
        | (Some("IO"), "iodata_to_binary") => {
            piped.is_none_or(safe) && args.iter().all(|a| safe(*a))
        }
        _ => false,
    }
}

fn fn_bodies_safe(ctx: &Ctx, f: Node, depth: u32) -> bool {
    let k = ctx.k;
    syntax::named_children(f, k)
        .iter()
        .filter(|c| c.kind_id() == k.stab_clause)
        .all(|c| {
            c.child_by_field_id(k.f_right).is_some_and(|body| {
                syntax::named_children(body, k)
                    .last()
                    .is_some_and(|last| html_safe(ctx, *last, depth + 1))
            })
        })
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

/// Reports a sink reached by tainted data: at once for request data, or as a pending sink of
/// the enclosing function when only its parameters reach it.
fn sink<'a>(ctx: &mut Ctx<'a>, id: CheckId, node: Node<'a>, taint: u32, message: String) {
    if taint & REQUEST != 0 {
        ctx.emit(id, node, message, vec![]);
    } else if taint != 0 {
        if let Some(scope) = ctx.functions.last_mut() {
            scope.flow.sinks.push(PendingSink {
                check: id,
                start_byte: node.start_byte(),
                end_byte: node.end_byte(),
                message,
                params: taint,
            });
        }
    }
}

/// Special forms and Kernel macros that are never local functions worth following.
const NOT_LOCAL: &[&str] = &[
    "if",
    "unless",
    "case",
    "cond",
    "with",
    "for",
    "fn",
    "try",
    "receive",
    "quote",
    "unquote",
    "def",
    "defp",
    "defmacro",
    "defmacrop",
    "defmodule",
    "import",
    "alias",
    "require",
    "use",
    "raise",
    "reraise",
    "throw",
    "send",
    "spawn",
    "is_nil",
    "is_binary",
    "to_string",
    "inspect",
    "elem",
    "put_in",
    "get_in",
    "update_in",
    "render",
    "assign",
    "redirect",
    "put_flash",
    "json",
    "text",
    "html",
    "send_resp",
    "send_file",
    "send_download",
    "raw",
    "dbg",
];

/// Records a call to a local function that passes taint on.
fn local_call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, fun: &'a str) {
    if ctx.functions.is_empty() || NOT_LOCAL.contains(&fun) {
        return;
    }
    let (args, _) = syntax::effective_args(ctx, node);
    if args
        .iter()
        .any(|a| a.kind_id() == ctx.k.keywords && ctx.text(*a).starts_with("do:"))
    {
        return;
    }
    let taints: Vec<u32> = args.iter().map(|a| taint_of(ctx, *a)).collect();
    if taints.iter().all(|t| *t == 0) {
        return;
    }
    if let Some(scope) = ctx.functions.last_mut() {
        scope.flow.calls.push(LocalCall {
            name: fun.to_owned(),
            arity: taints.len(),
            args: taints,
        });
    }
}

/// Ends a function clause: keeps its summary when it has anything for the module-level pass.
pub(crate) fn finish_function(ctx: &mut Ctx, flow: Flow) {
    if flow.sinks.is_empty() && flow.calls.is_empty() {
        return;
    }
    ctx.flows.push(FunctionFlow {
        name: flow.name.to_owned(),
        arity: flow.arity,
        defaults: flow.defaults,
        sinks: flow.sinks,
        calls: flow.calls,
    });
}

/// The module-level pass: which parameters of the module's functions receive request data from
/// a caller in the module (to a fixed point), then the pending sinks those parameters reach.
pub(crate) fn module_flows<'f>(
    ctx: &mut Ctx,
    flows: impl Iterator<Item = (&'f FunctionFlow, usize)>,
) {
    let flows: Vec<(&FunctionFlow, usize)> = flows.collect();
    if flows.is_empty() {
        return;
    }
    // Functions by name, for calls (default arguments make several arities match).
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (f, _)) in flows.iter().enumerate() {
        by_name.entry(f.name.as_str()).or_default().push(i);
    }
    let key = |f: &FunctionFlow| (f.name.clone(), f.arity);
    let mut tainted: HashMap<(String, usize), u32> = HashMap::new();
    // Each round can only add bits (at most 31 per function), so this ends; the bound guards
    // against surprises on huge modules.
    for _ in 0..64 {
        let mut changed = false;
        for (f, _) in &flows {
            let mine = tainted.get(&key(f)).copied().unwrap_or(0) | REQUEST;
            for call in &f.calls {
                let mut bits = 0u32;
                for (i, arg) in call.args.iter().enumerate().take(MAX_TRACKED_PARAMS) {
                    if arg & mine != 0 {
                        bits |= 1 << (i + 1);
                    }
                }
                if bits == 0 {
                    continue;
                }
                for &callee in by_name.get(call.name.as_str()).into_iter().flatten() {
                    let c = flows[callee].0;
                    if call.arity + c.defaults < c.arity || call.arity > c.arity {
                        continue;
                    }
                    let entry = tainted.entry(key(c)).or_insert(0);
                    if *entry | bits != *entry {
                        *entry |= bits;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (f, base) in &flows {
        let Some(&bits) = tainted.get(&key(f)) else {
            continue;
        };
        for s in f.sinks.iter().filter(|s| s.params & bits != 0) {
            ctx.emit_range(
                s.check,
                s.start_byte + base,
                s.end_byte + base,
                s.message.clone(),
                vec![],
            );
        }
    }
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
    if module.is_none() {
        local_call(ctx, node, fun);
    }
    let id = match (module, fun) {
        (Some("String" | "List"), "to_atom")
        | (Some(":erlang"), "binary_to_atom" | "list_to_atom")
        | (Some("Module"), "concat")
        | (Some("Jason" | "Poison"), "decode" | "decode!") => CheckId::UnsafeAtom,
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
    let injection = matches!(
        id,
        CheckId::UnsafeAtom
            | CheckId::CommandInjection
            | CheckId::SqlInjection
            | CheckId::CodeEval
            | CheckId::PathTraversal
    );
    if injection && !attack_surface(ctx) {
        return;
    }
    let (args, _) = syntax::effective_args(ctx, node);
    let first = args.first().copied();
    let call_text = match module {
        Some(m) => format!("{m}.{fun}"),
        None => fun.to_owned(),
    };
    match id {
        CheckId::UnsafeAtom => {
            let value = match (module, fun) {
                // `Jason.decode(x, keys: :atoms)`: only with atom keys.
                (Some("Jason" | "Poison"), _) => {
                    let atoms = args.get(1).is_some_and(|o| {
                        let t = ctx.text(*o);
                        t.contains("keys: :atoms") && !t.contains(":atoms!")
                    });
                    first.filter(|_| atoms)
                }
                // `Module.concat(__MODULE__, x)` or `Module.concat([A, x])`.
                (Some("Module"), _) => match args.as_slice() {
                    [list] => Some(*list),
                    [_, second] => Some(*second),
                    _ => None,
                },
                _ => first,
            };
            let Some(value) = value else { return };
            let taint = taint_of(ctx, value);
            let msg = format!(
                "{call_text} on request data can exhaust the atom table; use String.to_existing_atom/1 or an allow-list"
            );
            sink(ctx, id, node, taint, msg);
        }
        CheckId::CommandInjection => command_injection(ctx, node, fun, &args, &call_text),
        CheckId::SqlInjection => {
            let index = usize::from(module.is_some_and(|m| !is_repo(m)));
            if let Some(sql) = args.get(index) {
                let taint = taint_of(ctx, *sql);
                let msg = format!(
                    "SQL built from request data in {call_text}: pass values as parameters ($1, ?)"
                );
                sink(ctx, id, node, taint, msg);
            }
        }
        CheckId::UnsafeBinaryToTerm if attack_surface(ctx) => binary_to_term(ctx, node, &args),
        CheckId::CodeEval => {
            let index = usize::from(fun == "eval_quoted_with_env");
            if let Some(code) = args.get(index) {
                let taint = taint_of(ctx, *code);
                let msg = format!("{call_text} evaluates code built from request data");
                sink(ctx, id, node, taint, msg);
            }
        }
        CheckId::XssRaw if args.len() == 1 && first.is_some_and(|a| !html_safe(ctx, a, 0)) => {
            let msg = "raw/1 on unescaped dynamic data disables HTML escaping (XSS)";
            ctx.emit(id, node, msg, vec![]);
        }
        CheckId::XssSendResp => {
            let body = match (fun, args.len()) {
                ("send_resp", 3) => args[2],
                ("html", 2) => args[1],
                _ => return,
            };
            let built = built_dynamically(ctx, body)
                && (fun == "html" || has_html_literal(ctx, body))
                && !html_safe(ctx, body, 0);
            if built {
                let msg = format!(
                    "{fun} with HTML built from dynamic data (XSS): escape it or render a template"
                );
                ctx.emit(id, node, msg, vec![]);
            } else if body.kind_id() != k.string {
                let taint = taint_of(ctx, body);
                let msg = format!(
                    "{fun} with a body taken from request data (XSS): escape it or send it as text/plain"
                );
                sink(ctx, id, node, taint, msg);
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
            let taint = paths.iter().fold(0, |t, p| t | taint_of(ctx, *p));
            let msg = format!("{call_text} with a path from request data: path traversal; use Path.basename/1 or an allow-list");
            sink(ctx, id, node, taint, msg);
        }
        _ => {}
    }
}

/// `:"atom_#{x}"`: an atom built from request data.
pub(crate) fn quoted_atom<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::UnsafeAtom) || !attack_surface(ctx) || !syntax::is_interpolated(node, ctx.k)
    {
        return;
    }
    let taint = taint_of(ctx, node);
    let msg = "Atom interpolated from request data can exhaust the atom table; use an allow-list"
        .to_owned();
    sink(ctx, CheckId::UnsafeAtom, node, taint, msg);
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
    let taint = match fun {
        "open" => {
            // Port.open({:spawn, command}, opts)
            if first.kind_id() != k.tuple {
                return;
            }
            let elems = syntax::named_children(first, k);
            if elems.len() != 2 || ctx.text(elems[0]) != ":spawn" {
                return;
            }
            taint_of(ctx, elems[1])
        }
        "cmd" if call_text == "System.cmd" => {
            let shell =
                syntax::literal_content(first, ctx.src, k).is_some_and(|p| SHELLS.contains(&p));
            let script = args
                .get(1)
                .filter(|_| shell)
                .map_or(0, |list| taint_of(ctx, *list));
            taint_of(ctx, first) | script
        }
        _ => taint_of(ctx, first),
    };
    let msg = format!("{call_text} with a command from request data: command injection; pass a literal program and separate arguments");
    sink(ctx, CheckId::CommandInjection, node, taint, msg);
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

/// Assignments and matches (`x = ...`, `{:ok, x} <- ...`): taint and escaped HTML follow the
/// bound variables; `x in allowed` ends the taint of `x`; secret-named values
/// (`password = "..."`, `"api_key" => "..."`).
pub(crate) fn binary_operator<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, op: &str) {
    let k = ctx.k;
    if !matches!(op, "=" | "=>" | "<-" | "in") {
        return;
    }
    let (Some(left), Some(right)) = (
        node.child_by_field_id(k.f_left),
        node.child_by_field_id(k.f_right),
    ) else {
        return;
    };
    if !ctx.functions.is_empty() {
        match op {
            "in" if left.kind_id() == k.identifier => {
                // An allow-list check: `if x in @allowed`, `when x in ~w(a b)`.
                let name = ctx.text(left);
                if let Some(scope) = ctx.functions.last_mut() {
                    scope.flow.set(name, 0);
                }
            }
            "=" | "<-" => {
                let taint = taint_of(ctx, right);
                let safe = ctx.on(CheckId::XssRaw) && html_safe(ctx, right, 0);
                let mut names = Vec::new();
                collect_identifiers(ctx, left, &mut names);
                if let Some(scope) = ctx.functions.last_mut() {
                    for name in names {
                        scope.flow.set(name, taint);
                        scope.flow.html_safe.retain(|n| *n != name);
                        if safe {
                            scope.flow.html_safe.push(name);
                        }
                    }
                }
            }
            _ => {}
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
        || ctx.path.is_seed
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

/// Whether a PEM private key literal holds a key, not just its header: some base64 body.
fn has_key_body(content: &str) -> bool {
    content
        .split("-----")
        .filter(|part| !part.contains("PRIVATE KEY"))
        .map(|part| {
            part.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                .count()
        })
        .any(|n| n >= 64)
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
        if kind == secrets::SecretKind::PrivateKey && !has_key_body(content) {
            return; // a PEM header alone (`"-----BEGIN RSA PRIVATE KEY-----"`) is not a key
        }
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

    /// Findings of one check, as `line:col text` only.
    fn lines(src: &str, path: &str, id: CheckId) -> Vec<String> {
        render_only(src, path, id)
            .lines()
            .map(|l| {
                let (pos, rest) = l.split_once(' ').unwrap_or((l, ""));
                let flagged = rest
                    .rsplit_once(" `")
                    .map_or("", |(_, f)| f.trim_end_matches('`'));
                format!("{pos} {flagged}")
            })
            .collect()
    }

    #[test]
    fn unsafe_atoms_from_request_data_are_reported() {
        let src = r##"defmodule AppWeb.PageController do
  def show(conn, %{"kind" => kind, "sort" => sort} = params) do
    String.to_atom(kind)
    params["order"] |> String.to_atom()
    List.to_atom(to_charlist(sort))
    :erlang.binary_to_atom("prefix_#{kind}", :utf8)
    Module.concat(__MODULE__, params["mod"])
    Jason.decode!(params["json"], keys: :atoms)
    :"field_#{sort}"
    by_kind(conn, kind)
  end

  def index(conn, _params) do
    String.to_atom(conn.params["view"])
  end

  defp by_kind(_conn, kind), do: String.to_atom(kind)
end
"##;
        expect![[r#"
            [
                "3:5 String.to_atom(kind)",
                "4:24 String.to_atom()",
                "5:5 List.to_atom(to_charlist(sort))",
                "6:5 :erlang.binary_to_atom(\"prefix_#{kind}\",",
                "7:5 Module.concat(__MODULE__, params[\"mod\"])",
                "8:5 Jason.decode!(params[\"json\"], keys: :ato",
                "9:5 :\"field_#{sort}\"",
                "14:5 String.to_atom(conn.params[\"view\"])",
                "17:34 String.to_atom(kind)",
            ]
        "#]]
        .assert_debug_eq(&lines(
            src,
            "lib/app_web/controllers/page_controller.ex",
            CheckId::UnsafeAtom,
        ));
    }

    #[test]
    fn unsafe_atoms_in_live_views_and_channels_are_reported() {
        let src = r##"defmodule AppWeb.RoomLive do
  def handle_event("sort", %{"by" => by}, socket), do: {:noreply, assign(socket, :by, String.to_atom(by))}
  def handle_in("topic", payload, socket), do: {:reply, String.to_atom(payload["t"]), socket}
end
"##;
        assert_eq!(
            lines(src, "lib/app_web/live/room_live.ex", CheckId::UnsafeAtom).len(),
            2
        );
    }

    #[test]
    fn atoms_from_trusted_or_checked_values_are_not_reported() {
        // The false positives found on real projects, and near misses.
        let src = r##"defmodule App.Util do
  @allowed ~w(asc desc)
  def safe_to_atom(binary, allowed) do
    if binary in allowed, do: String.to_atom(binary), else: raise(ArgumentError)
  end

  def show(conn, %{"dir" => dir}) when dir in @allowed do
    String.to_atom(dir)
  end

  def index(conn, %{"kind" => kind}) do
    kind =
      case kind do
        "a" -> "alpha"
        "b" -> "beta"
        _ -> "gamma"
      end
    String.to_atom(kind)
    String.to_existing_atom(conn.params["x"])
  end

  def format(value), do: String.to_atom(value)
  def from_config, do: String.to_atom(Application.get_env(:app, :mode))
  def literal, do: String.to_atom("ok")
  def decode(json), do: Jason.decode!(json)
  def decode_existing(conn, params), do: Jason.decode!(params["j"], keys: :atoms!)
  def send_report(conn, path), do: String.to_atom(path)
end
"##;
        assert_eq!(render_only(src, "lib/app/util.ex", CheckId::UnsafeAtom), "");
        // A Mix generator converting the developer's own arguments: not an attack surface.
        let generator = r#"defmodule Mix.Tasks.App.Gen do
  def run(conn, params), do: String.to_atom(params["name"])
end
"#;
        assert_eq!(
            render_only(generator, "lib/mix/tasks/app.gen.ex", CheckId::UnsafeAtom),
            ""
        );
        assert_eq!(
            render_only(
                generator.replace("Mix.Tasks.App.Gen", "Gen").as_str(),
                "priv/scripts/gen.exs",
                CheckId::UnsafeAtom
            ),
            ""
        );
    }

    #[test]
    fn command_injection() {
        let src = r##"defmodule AppWeb.ToolController do
  def ping(conn, %{"host" => host, "file" => file} = params) do
    :os.cmd('ping #{host}')
    :os.cmd(to_charlist(host))
    System.shell("ls #{file}")
    System.cmd(file, [])
    System.cmd("sh", ["-c", "tar xf " <> file])
    Port.open({:spawn, "convert #{file}"}, [:binary])
    params["cmd"] |> System.shell()
    archive(file)
    :os.cmd('uptime')
    System.cmd("ls", ["-la", file])
    System.shell("ls -la")
    Port.open({:spawn_executable, "/bin/ls"}, args: [file])
    Port.open({:spawn, "cat"}, [])
    System.cmd(System.find_executable("git"), ["status"])
    System.cmd(@tool, [file])
    compress("report.txt")
  end

  defp archive(name), do: System.shell("tar czf #{name}.tgz #{name}")
  defp compress(name), do: System.shell("gzip #{name}")
  def build(target), do: System.shell("make #{target}")
end
"##;
        expect![[r#"
            [
                "3:5 :os.cmd('ping #{host}')",
                "4:5 :os.cmd(to_charlist(host))",
                "5:5 System.shell(\"ls #{file}\")",
                "6:5 System.cmd(file, [])",
                "7:5 System.cmd(\"sh\", [\"-c\", \"tar xf \" <> fil",
                "8:5 Port.open({:spawn, \"convert #{file}\"}, [",
                "9:22 System.shell()",
                "21:27 System.shell(\"tar czf #{name}.tgz #{name",
            ]
        "#]]
        .assert_debug_eq(&lines(
            src,
            "lib/app_web/controllers/tool_controller.ex",
            CheckId::CommandInjection,
        ));
    }

    #[test]
    fn sql_injection() {
        let src = r##"defmodule AppWeb.SearchController do
  def search(conn, %{"name" => name, "id" => id} = params) do
    Repo.query("SELECT * FROM users WHERE name = '#{name}'")
    MyApp.Repo.query!("DELETE FROM t WHERE id = " <> id)
    Ecto.Adapters.SQL.query(Repo, "SELECT #{id}", [])
    SQL.stream(Repo, "SELECT * FROM t WHERE a = #{id}")
    Repo.query(params["sql"])
    Repo.query("SELECT * FROM users WHERE name = $1", [name])
    Ecto.Adapters.SQL.query!(Repo, "SELECT 1", [])
    Repo.query(@sql, [id])
    Query.query("#{id}")
    Repo.query("SELECT * FROM #{@table} WHERE id = $1", [id])
    from(u in User, where: fragment("lower(?)", ^name))
    Repo.query("SELECT * FROM t WHERE id = #{String.to_integer(id)}")
  end

  def set_path(schema), do: Repo.query!("SET search_path TO #{schema}")
  def tenant, do: Repo.query!("SET search_path TO #{Application.fetch_env!(:app, :schema)}")
end
"##;
        expect![[r#"
            [
                "3:5 Repo.query(\"SELECT * FROM users WHERE na",
                "4:5 MyApp.Repo.query!(\"DELETE FROM t WHERE i",
                "5:5 Ecto.Adapters.SQL.query(Repo, \"SELECT #{",
                "6:5 ",
                "7:5 Repo.query(params[\"sql\"])",
            ]
        "#]]
        .assert_debug_eq(&lines(
            src,
            "lib/app_web/controllers/search_controller.ex",
            CheckId::SqlInjection,
        ));
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
        let src = r##"defmodule AppWeb.EvalController do
  def run(conn, %{"code" => code, "path" => path} = params) do
    Code.eval_string(code)
    Code.eval_file(path)
    Code.eval_quoted_with_env(env(), params["ast"], [])
    EEx.eval_string(params["template"], assigns: [a: 1])
    Code.eval_string("1 + 2")
    Code.eval_quoted(quote do: 1 + 1)
    EEx.eval_file("priv/template.eex", assigns: [a: code])
    Code.string_to_quoted(code)
  end

  def load(file), do: Code.eval_file(file)
end
"##;
        expect![[r#"
            [
                "3:5 Code.eval_string(code)",
                "4:5 Code.eval_file(path)",
                "5:5 Code.eval_quoted_with_env(env(), params[",
                "6:5 EEx.eval_string(params[\"template\"], assi",
            ]
        "#]]
        .assert_debug_eq(&lines(
            src,
            "lib/app_web/controllers/eval_controller.ex",
            CheckId::CodeEval,
        ));
        // A generator evaluating the developer's own file.
        let generator = "defmodule Mix.Tasks.Gen do\n  def run(conn, params), do: Code.eval_file(params[\"f\"])\nend\n";
        assert_eq!(
            render_only(generator, "lib/mix/tasks/gen.ex", CheckId::CodeEval),
            ""
        );
    }

    #[test]
    fn xss_raw_on_escaped_parts_is_not_reported() {
        let src = r##"defmodule AppWeb.Helpers do
  def highlight(text, term) do
    escaped = text |> html_escape() |> safe_to_string()
    parts = Enum.map_join(String.split(escaped, term), "<b>", fn p -> safe_to_string(html_escape(p)) end)
    raw(escaped <> "<br/>")
    raw("<p>" <> safe_to_string(html_escape(term)) <> "</p>")
    raw(parts)
    raw(bio)
  end

  def mark(text, term) do
    escaped = text |> html_escape() |> safe_to_string()
    term = term |> html_escape() |> safe_to_string()
    raw(String.replace(escaped, term, "<mark>#{term}</mark>"))
  end

  def paragraphs(text) do
    text
    |> String.split("\n\n")
    |> Enum.map_join("", fn p -> "<p>" <> safe_to_string(html_escape(p)) <> "</p>" end)
    |> raw()
  end

  def breaks(text), do: raw(String.replace(text, "\n", "<br>"))
end
"##;
        expect![[r#"
            [
                "8:5 raw(bio)",
                "24:25 raw(String.replace(text, \"\\n\", \"<br>\"))",
            ]
        "#]]
        .assert_debug_eq(&lines(src, "lib/app_web/helpers.ex", CheckId::XssRaw));
    }

    #[test]
    fn xss_send_resp_with_a_whole_request_value_is_reported() {
        let src = r##"defmodule AppWeb.EchoController do
  def echo(conn, params), do: send_resp(conn, 200, params["body"])
  def safe(conn, params), do: send_resp(conn, 200, "<p>#{html_escape(params["b"])}</p>")
  def text(conn, _params), do: send_resp(conn, 200, "ok")
end
"##;
        expect![[r#"
            [
                "2:31 send_resp(conn, 200, params[\"body\"])",
            ]
        "#]]
        .assert_debug_eq(&lines(
            src,
            "lib/app_web/controllers/echo_controller.ex",
            CheckId::XssSendResp,
        ));
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
            2:3 warning security/xss-raw: raw/1 on unescaped dynamic data disables HTML escaping (XSS) `raw(name)`
            4:3 warning security/xss-raw: raw/1 on unescaped dynamic data disables HTML escaping (XSS) `Phoenix.HTML.raw(user.bio)`
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

  # An API of the module, not an action: its callers decide the path.
  def send_export(conn, path), do: send_download(conn, {:file, path})
  def export(conn, _params), do: send_export(conn, "priv/exports/latest.csv")
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
    fn a_pem_header_in_a_test_and_seed_values_are_not_secrets() {
        let test = r#"test "rejects keys" do
  assert_raise ArgumentError, fn -> parse("-----BEGIN RSA PRIVATE KEY-----") end
  assert String.starts_with?(pem, "-----BEGIN RSA PRIVATE KEY-----\n")
end
"#;
        assert_eq!(
            render_only(test, "test/app/keys_test.exs", CheckId::HardcodedSecret),
            ""
        );
        assert_eq!(
            render_only(test, "lib/app/keys.ex", CheckId::HardcodedSecret),
            ""
        );
        let seeds = "Repo.insert!(%User{email: \"admin@example.com\", password: \"admin1234\"})\n";
        assert_eq!(
            render_only(seeds, "priv/repo/seeds.exs", CheckId::HardcodedSecret),
            ""
        );
        let key = format!(
            "@key \"-----BEGIN RSA PRIVATE KEY-----\\n{}\\n-----END RSA PRIVATE KEY-----\"\n",
            "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB".repeat(2)
        );
        assert!(
            render_only(&key, "lib/app/keys.ex", CheckId::HardcodedSecret).contains("private key"),
            "{key}"
        );
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
