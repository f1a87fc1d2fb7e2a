//! Built-in checks: Credo- and Sobelow-style findings computed on the tree-sitter syntax tree.
//!
//! [`run_checks`] walks a parsed file once and dispatches each node to the check families
//! (`debugging`, `security`, `complexity`, `readability`, `config_env`); [`registry`] describes
//! every check. Findings carry byte offsets only: checks never read files and know nothing of LSP.
//! `report` renders findings as text, JSON or SARIF for the command line.

mod complexity;
mod config_env;
mod debugging;
mod readability;
pub mod report;
mod security;
mod syntax;

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use tree_sitter::{Node, Tree};

use syntax::Kinds;

/// How serious a finding is; ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed.
    Error,
    /// Likely a bug or a risk.
    Warning,
    /// Worth knowing; style and design.
    Info,
    /// A gentle suggestion.
    Hint,
}

impl Severity {
    /// The lowercase name (`error`, `warning`, `info`, `hint`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }

    /// Parses a lowercase name.
    pub fn parse(name: &str) -> Option<Severity> {
        match name.to_ascii_lowercase().as_str() {
            "error" => Some(Severity::Error),
            "warning" | "warn" => Some(Severity::Warning),
            "info" | "information" => Some(Severity::Info),
            "hint" => Some(Severity::Hint),
            _ => None,
        }
    }
}

/// The stable identity of a check. Its string form ([`CheckId::as_str`]) is what users write in
/// configuration and `# aiex:disable-next-line` comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    /// `debug/io-inspect`
    IoInspect,
    /// `debug/dbg`
    Dbg,
    /// `debug/iex-pry`
    IexPry,
    /// `debug/io-puts`
    IoPuts,
    /// `security/unsafe-atom`
    UnsafeAtom,
    /// `security/command-injection`
    CommandInjection,
    /// `security/sql-injection`
    SqlInjection,
    /// `security/unsafe-binary-to-term`
    UnsafeBinaryToTerm,
    /// `security/binary-to-term-safe`
    BinaryToTermSafe,
    /// `security/code-eval`
    CodeEval,
    /// `security/xss-raw`
    XssRaw,
    /// `security/xss-send-resp`
    XssSendResp,
    /// `security/path-traversal`
    PathTraversal,
    /// `security/hardcoded-secret`
    HardcodedSecret,
    /// `complexity/nesting`
    Nesting,
    /// `complexity/cyclomatic`
    Cyclomatic,
    /// `complexity/arity`
    Arity,
    /// `complexity/function-length`
    FunctionLength,
    /// `readability/missing-doc`
    MissingDoc,
    /// `readability/missing-spec`
    MissingSpec,
    /// `readability/unless-else`
    UnlessElse,
    /// `readability/pipe-chain-start`
    PipeChainStart,
    /// `readability/single-pipe`
    SinglePipe,
    /// `readability/map-join`
    MapJoin,
    /// `readability/filter-count`
    FilterCount,
    /// `readability/todo`
    TodoTag,
    /// `config/get-env-in-attribute`
    GetEnvInAttribute,
    /// `config/mix-env`
    MixEnv,
}

/// How many checks exist.
pub const CHECK_COUNT: usize = 28;

impl CheckId {
    /// The stable string ID, like `debug/io-inspect`.
    pub fn as_str(self) -> &'static str {
        registry()[self as usize].name
    }

    /// Finds a check by its string ID.
    pub fn parse(name: &str) -> Option<CheckId> {
        registry().iter().find(|c| c.name == name).map(|c| c.id)
    }

    /// Its registry entry.
    pub fn info(self) -> &'static CheckInfo {
        &registry()[self as usize]
    }
}

/// What the registry knows of one check.
#[derive(Debug, Clone, Copy)]
pub struct CheckInfo {
    /// The check.
    pub id: CheckId,
    /// The stable string ID (`family/name`).
    pub name: &'static str,
    /// Severity unless the configuration overrides it.
    pub default_severity: Severity,
    /// One line, shown next to findings.
    pub title: &'static str,
    /// A longer explanation in Markdown, for hover and `aiex check --explain`.
    pub explanation: &'static str,
    /// Whether it runs without being enabled in the configuration.
    pub enabled_by_default: bool,
}

impl CheckInfo {
    /// The family, the part of the ID before the slash (`security`).
    pub fn family(&self) -> &'static str {
        self.name.split('/').next().unwrap_or(self.name)
    }
}

/// Every check, indexed by `CheckId as usize`.
pub fn registry() -> &'static [CheckInfo] {
    &REGISTRY
}

macro_rules! checks {
    ($($id:ident, $name:literal, $sev:ident, $on:literal, $title:literal, $explanation:literal;)*) => {
        static REGISTRY: [CheckInfo; CHECK_COUNT] = [$(CheckInfo {
            id: CheckId::$id,
            name: $name,
            default_severity: Severity::$sev,
            title: $title,
            explanation: $explanation,
            enabled_by_default: $on,
        }),*];
    };
}

checks! {
    IoInspect, "debug/io-inspect", Warning, true, "Leftover IO.inspect",
        "`IO.inspect/1,2` is a debugging aid; left in code it writes to stdout in production.\n\nQuick fix: remove the call and keep its argument (`IO.inspect` returns its argument, so removing it from a pipe changes nothing else).";
    Dbg, "debug/dbg", Warning, true, "Leftover dbg",
        "`dbg/0,1` is a debugging macro; left in code it prints on every call (and halts under `iex --dbg pry`).\n\nQuick fix: remove the call and keep its argument.";
    IexPry, "debug/iex-pry", Warning, true, "Leftover IEx.pry",
        "`IEx.pry/0` stops the process for an interactive session. It must not reach production.\n\nQuick fix: remove the line.";
    IoPuts, "debug/io-puts", Warning, true, "IO.puts in application code",
        "`IO.puts` in `lib/` usually is leftover debugging; applications should use `Logger`. Mix tasks (`lib/mix/tasks/`) and scripts are not checked.\n\nQuick fix: remove the line.";
    UnsafeAtom, "security/unsafe-atom", Warning, true, "Atom created from dynamic data",
        "`String.to_atom/1`, `List.to_atom/1` and `:erlang.binary_to_atom` on data that is not a literal can exhaust the atom table (atoms are never garbage-collected) and crash the VM. Use `String.to_existing_atom/1` or an explicit mapping.";
    CommandInjection, "security/command-injection", Warning, true, "Command built from dynamic data",
        "`:os.cmd/1`, `System.shell/1`, `Port.open({:spawn, cmd}, _)` run their command through a shell, and `System.cmd/3` runs a program chosen by its first argument. With an interpolated or variable command, an attacker who controls part of it can run anything. Pass a literal program to `System.cmd/3` and user data as separate arguments; never through `sh -c`.";
    SqlInjection, "security/sql-injection", Warning, true, "SQL built by interpolation",
        "`Repo.query/2,3`, `Ecto.Adapters.SQL.query/3,4` and `stream` run raw SQL. Interpolating or concatenating values into it allows SQL injection. Use placeholders (`$1`, `?`) and pass values in the parameters list.";
    UnsafeBinaryToTerm, "security/unsafe-binary-to-term", Warning, true, "binary_to_term without :safe",
        "`:erlang.binary_to_term/1` on untrusted input can create atoms without limit and build functions that run code when called. Use `Plug.Crypto.non_executable_binary_to_term/2` or at least `:erlang.binary_to_term(bin, [:safe])`.";
    BinaryToTermSafe, "security/binary-to-term-safe", Info, true, "binary_to_term on possibly untrusted data",
        "Even with `[:safe]`, `:erlang.binary_to_term/2` can decode existing functions that execute code when an unwary caller invokes them. Prefer `Plug.Crypto.non_executable_binary_to_term/2` for untrusted data.";
    CodeEval, "security/code-eval", Warning, true, "Code evaluated from dynamic data",
        "`Code.eval_string/eval_quoted/eval_file` and `EEx.eval_string/eval_file` run arbitrary code. On anything but a literal, an attacker who controls the input controls the VM.";
    XssRaw, "security/xss-raw", Warning, true, "raw/1 on dynamic data",
        "`raw/1` marks a value as safe HTML and disables escaping. On data that is not a literal it opens the door to cross-site scripting. Let Phoenix escape it, or sanitize it first.";
    XssSendResp, "security/xss-send-resp", Warning, true, "HTML response built from dynamic data",
        "`send_resp/3` and `html/2` with HTML built by interpolation or concatenation send the values unescaped: cross-site scripting. Render a template, or escape with `Phoenix.HTML.html_escape/1`.";
    PathTraversal, "security/path-traversal", Warning, true, "File path from request data",
        "`File` functions, `send_file/3,5` and `send_download/3` given a path built from request data (`conn.params`, or parameters of a function that receives a `conn`, `socket` or `params`) can read or write any file with `../`. Reduce the name with `Path.basename/1` or check it against an allow-list (`Path.safe_relative/2`).";
    HardcodedSecret, "security/hardcoded-secret", Warning, true, "Hardcoded secret",
        "A key, token, password or `secret_key_base` written as a literal ends up in version control and in every build. Read it at runtime (`System.fetch_env!/1` in `config/runtime.exs`). `config/dev.exs`, `config/test.exs` and tests are not checked for secret-named values, but known key formats (AWS, GitHub, Stripe, Slack, Google, OpenAI, Anthropic, JWTs, private keys) are reported everywhere.";
    Nesting, "complexity/nesting", Info, true, "Deeply nested code",
        "Control structures (`if`, `unless`, `case`, `cond`, `with`, `for`, `receive`, `try`, `fn`) nested deeper than `checks.thresholds.nesting` (default 2) inside a function are hard to follow. Extract a function or use pattern matching in function heads.";
    Cyclomatic, "complexity/cyclomatic", Info, true, "Function too complex",
        "Cyclomatic complexity counts the paths through a function: 1, plus 1 for each `if`/`unless`/`for`, each clause after the first of `case`/`cond`/`receive`/`fn`/`with ... else`, each `rescue`/`catch` clause, and each `&&`/`||`/`and`/`or`. Over `checks.thresholds.cyclomatic` (default 9), split the function.";
    Arity, "complexity/arity", Info, true, "Too many parameters",
        "A function with more parameters than `checks.thresholds.arity` (default 8) is hard to call correctly. Group related values in a struct or a keyword list.";
    FunctionLength, "complexity/function-length", Info, true, "Function too long",
        "A function clause longer than `checks.thresholds.function_lines` lines (default 50) does too much. Extract well-named helpers.";
    MissingDoc, "readability/missing-doc", Info, true, "Public function without @doc",
        "In a module with a `@moduledoc`, every public function should have a `@doc` (or `@doc false` to hide it). Callbacks marked `@impl` are exempt.";
    MissingSpec, "readability/missing-spec", Info, false, "Public function without @spec",
        "A public function without a `@spec` gives Dialyzer and readers less to go on. Off by default: enable it with `checks.spec_required = true`. Callbacks marked `@impl` are exempt.";
    UnlessElse, "readability/unless-else", Info, true, "unless with else",
        "`unless ... else` is a double negative. Use `if` with the branches swapped.\n\nQuick fix: rewrite as `if` with swapped branches.";
    PipeChainStart, "readability/pipe-chain-start", Info, true, "Pipe chain starts with a function call",
        "A pipe chain reads best when it starts with a plain value: `x |> f(a) |> g()`, not `f(x, a) |> g() |> h()`. Only chains of two or more pipes are reported.";
    SinglePipe, "readability/single-pipe", Info, true, "Single-step pipe",
        "`x |> f(a)` is clearer as `f(x, a)`; pipes are for chains.\n\nQuick fix: rewrite as a plain call.";
    MapJoin, "readability/map-join", Info, true, "Enum.map then Enum.join",
        "`Enum.map/2` followed by `Enum.join/2` walks the list twice and builds an intermediate list; `Enum.map_join/3` does both in one pass.\n\nQuick fix: rewrite as `Enum.map_join/3`.";
    FilterCount, "readability/filter-count", Info, true, "Enum.filter then Enum.count",
        "`Enum.filter/2` followed by `Enum.count/1` builds an intermediate list; `Enum.count/2` counts matching elements directly.\n\nQuick fix: rewrite as `Enum.count/2`.";
    TodoTag, "readability/todo", Info, true, "TODO or FIXME comment",
        "A `TODO` or `FIXME` comment marks unfinished work. Track it in an issue, or finish it.";
    GetEnvInAttribute, "config/get-env-in-attribute", Warning, true, "Application.get_env in a module attribute",
        "A module attribute is evaluated at compile time, so `Application.get_env/3` there reads the configuration of the build machine and never changes at runtime. Use `Application.compile_env/3` (which also warns when the value changes), or read the value inside a function.\n\nQuick fix: use `Application.compile_env`.";
    MixEnv, "config/mix-env", Warning, true, "Mix.env outside mix.exs",
        "`Mix` is not available in releases, so `Mix.env()` in application code crashes or returns the build environment. Use configuration (`config_env()` in config files, `Application.compile_env/3` in code). `mix.exs` and Mix tasks (`mix/tasks/`) are not checked.";
}

/// Thresholds of the complexity checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Maximum nesting depth of control structures in a function (`complexity/nesting`).
    pub nesting: u32,
    /// Maximum cyclomatic complexity of a function clause (`complexity/cyclomatic`).
    pub cyclomatic: u32,
    /// Maximum number of parameters (`complexity/arity`).
    pub arity: u32,
    /// Maximum lines of a function clause (`complexity/function-length`).
    pub function_lines: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            nesting: 2,
            cyclomatic: 9,
            arity: 8,
            function_lines: 50,
        }
    }
}

/// The `checks` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// Check IDs (or whole families such as `"readability"`) that never run.
    pub disabled: Vec<String>,
    /// Checks that are off by default and should run (IDs or families).
    pub enabled: Vec<String>,
    /// Severity overrides by check ID.
    pub severity: BTreeMap<String, Severity>,
    /// Thresholds of the complexity checks.
    pub thresholds: Thresholds,
    /// Require a `@spec` on public functions (turns on `readability/missing-spec`).
    pub spec_required: bool,
}

impl ChecksConfig {
    /// Problems with the configuration (unknown check IDs), as `key: message` lines that the
    /// configuration loader can show to the user. The rest of the configuration still applies.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, names) in [
            ("checks.disabled", &self.disabled),
            ("checks.enabled", &self.enabled),
        ] {
            for name in names.iter().filter(|n| selector_matches(n).is_none()) {
                problems.push(format!("{key}: unknown check ID or family `{name}`"));
            }
        }
        for name in self
            .severity
            .keys()
            .filter(|n| selector_matches(n).is_none())
        {
            problems.push(format!(
                "checks.severity: unknown check ID or family `{name}`"
            ));
        }
        problems
    }

    /// Whether a check runs under this configuration.
    pub fn is_enabled(&self, id: CheckId) -> bool {
        let info = id.info();
        let selected = |names: &[String]| names.iter().any(|n| selects(n, info));
        if selected(&self.disabled) {
            return false;
        }
        info.enabled_by_default
            || selected(&self.enabled)
            || (id == CheckId::MissingSpec && self.spec_required)
    }

    /// The severity of a check's findings under this configuration.
    pub fn severity_of(&self, id: CheckId) -> Severity {
        let info = id.info();
        self.severity
            .get(info.name)
            .or_else(|| self.severity.get(info.family()))
            .copied()
            .unwrap_or(info.default_severity)
    }
}

/// Whether a configuration selector (an ID or a family) names this check.
fn selects(selector: &str, info: &CheckInfo) -> bool {
    selector == info.name || selector == info.family()
}

/// The checks a selector names, or `None` when it names none.
fn selector_matches(selector: &str) -> Option<usize> {
    let count = registry().iter().filter(|i| selects(selector, i)).count();
    (count > 0).then_some(count)
}

/// What the checks may know about the file besides its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileContext {
    /// The path, workspace-relative when known, for rules that depend on `lib/`, `config/`,
    /// `test/` or `mix.exs`. `None` for unsaved buffers: path-dependent rules then assume
    /// application code outside `lib/`.
    pub path: Option<PathBuf>,
}

impl FileContext {
    /// A context for a path.
    pub fn for_path(path: impl Into<PathBuf>) -> FileContext {
        FileContext {
            path: Some(path.into()),
        }
    }
}

/// One text replacement, in bytes of the checked source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ByteEdit {
    /// Start byte offset.
    pub start_byte: usize,
    /// End byte offset (exclusive).
    pub end_byte: usize,
    /// The new text.
    pub replacement: String,
}

/// A quick fix: non-overlapping edits, sorted by position, applied together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// What the fix does, for the code action menu.
    pub title: String,
    /// The edits.
    pub edits: Vec<ByteEdit>,
}

impl Fix {
    /// A fix made of one replacement.
    pub fn replace(
        title: impl Into<String>,
        start_byte: usize,
        end_byte: usize,
        replacement: impl Into<String>,
    ) -> Fix {
        Fix {
            title: title.into(),
            edits: vec![ByteEdit {
                start_byte,
                end_byte,
                replacement: replacement.into(),
            }],
        }
    }

    /// Applies the fix to the source it was computed on.
    pub fn apply(&self, source: &str) -> String {
        let mut out = String::with_capacity(source.len());
        let mut at = 0;
        for edit in &self.edits {
            out.push_str(source.get(at..edit.start_byte).unwrap_or(""));
            out.push_str(&edit.replacement);
            at = edit.end_byte;
        }
        out.push_str(source.get(at..).unwrap_or(""));
        out
    }
}

/// A fix that silences a finding with a `# aiex:disable-next-line ID` comment above its line
/// (added to an existing one when there is one), for the editor's code action menu.
pub fn disable_fix(source: &str, finding: &Finding) -> Fix {
    let id = finding.check.as_str();
    let at = finding.start_byte.min(source.len());
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = source[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let title = format!("Disable {id} for this line");
    if line_start > 0 {
        let previous_start = source[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
        let previous = &source[previous_start..line_start - 1];
        let trimmed = previous.trim_end();
        if let Some(ids) = trimmed
            .trim_start()
            .strip_prefix("# aiex:disable-next-line")
        {
            if ids.trim().is_empty() || ids.split([',', ' ']).any(|i| i.trim() == id) {
                // Already silences every check, or this one: nothing to add.
                return Fix {
                    title,
                    edits: vec![],
                };
            }
            let end = previous_start + trimmed.len();
            return Fix::replace(title, end, end, format!(", {id}"));
        }
    }
    Fix::replace(
        title,
        line_start,
        line_start,
        format!("{indent}# aiex:disable-next-line {id}\n"),
    )
}

/// A finding of one check on one range of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check that found it.
    pub check: CheckId,
    /// Its severity, after configuration.
    pub severity: Severity,
    /// One line for the user.
    pub message: String,
    /// Start byte offset.
    pub start_byte: usize,
    /// End byte offset (exclusive).
    pub end_byte: usize,
    /// Quick fixes, possibly none.
    pub fixes: Vec<Fix>,
}

/// Facts about the file's path that rules depend on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PathFacts {
    /// Under a `lib/` directory (and not under `test/`).
    pub in_lib: bool,
    /// Under `test/`, or a `*_test.exs` file.
    pub is_test: bool,
    /// The project file `mix.exs`.
    pub is_mix_exs: bool,
    /// Under a `mix/tasks/` directory.
    pub in_mix_tasks: bool,
    /// `config/dev.exs` or `config/test.exs`, where local-only credentials are expected.
    pub is_local_config: bool,
}

impl PathFacts {
    fn of(path: Option<&Path>) -> PathFacts {
        let Some(path) = path else {
            return PathFacts::default();
        };
        let parts: Vec<&str> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        let file = parts.last().copied().unwrap_or("");
        let dirs = &parts[..parts.len().saturating_sub(1)];
        let is_test = dirs.contains(&"test") || file.ends_with("_test.exs");
        PathFacts {
            in_lib: dirs.contains(&"lib") && !is_test,
            is_test,
            is_mix_exs: file == "mix.exs",
            in_mix_tasks: dirs.windows(2).any(|w| w == ["mix", "tasks"]),
            is_local_config: dirs.last() == Some(&"config")
                && matches!(file, "dev.exs" | "test.exs"),
        }
    }
}

/// The state of one run: source, settings, the enclosing scopes of the walk, and findings.
pub(crate) struct Ctx<'a> {
    pub src: &'a str,
    pub k: &'static Kinds,
    pub path: PathFacts,
    pub config: &'a ChecksConfig,
    enabled: [bool; CHECK_COUNT],
    severity: [Severity; CHECK_COUNT],
    pub findings: Vec<Finding>,
    /// Enclosing function clauses, innermost last.
    pub functions: Vec<FunctionScope<'a>>,
    /// Ids of the module attribute nodes being walked (`@name value`), innermost last.
    pub attributes: Vec<usize>,
    /// The `|>` node that is the left side of the pipe just entered (inner links of a chain are
    /// checked with the chain, at its outermost pipe).
    pub inner_pipe: Option<usize>,
    /// The head of the function clause just entered: `def raw(x)` is not a call to `raw`.
    def_head: Option<usize>,
    suppressions: Vec<Suppression>,
}

impl<'a> Ctx<'a> {
    /// Whether a check runs.
    #[inline]
    pub fn on(&self, id: CheckId) -> bool {
        self.enabled[id as usize]
    }

    /// The text of a node.
    #[inline]
    pub fn text(&self, node: Node) -> &'a str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    /// Records a finding on a node (if its check runs).
    pub fn emit(&mut self, id: CheckId, node: Node, message: impl Into<String>, fixes: Vec<Fix>) {
        self.emit_range(id, node.start_byte(), node.end_byte(), message, fixes);
    }

    /// Records a finding on a byte range (if its check runs).
    pub fn emit_range(
        &mut self,
        id: CheckId,
        start_byte: usize,
        end_byte: usize,
        message: impl Into<String>,
        fixes: Vec<Fix>,
    ) {
        if !self.on(id) {
            return;
        }
        self.findings.push(Finding {
            check: id,
            severity: self.severity[id as usize],
            message: message.into(),
            start_byte,
            end_byte,
            fixes,
        });
    }
}

/// What the walk keeps about an enclosing function clause.
pub(crate) struct FunctionScope<'a> {
    /// The id of the `def` node.
    pub node_id: usize,
    /// Variables holding request data (path traversal).
    pub tainted: Vec<&'a str>,
    /// Complexity counters.
    pub metrics: complexity::Metrics<'a>,
}

/// A `# aiex:disable-...` comment.
#[derive(Debug, Clone)]
struct Suppression {
    /// The 0-based line it silences, or `None` for the whole file.
    line: Option<usize>,
    /// The checks it silences; empty for all.
    checks: Vec<CheckId>,
}

/// Parses an `aiex:disable-*` comment.
fn parse_suppression(
    comment: &str,
    comment_row: usize,
    alone_on_line: bool,
) -> Option<Suppression> {
    let body = comment.trim_start_matches('#').trim();
    let rest = body.strip_prefix("aiex:")?;
    let (scope, ids) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let line = match scope {
        "disable-next-line" => Some(comment_row + 1),
        "disable-line" => Some(comment_row),
        "disable" if !alone_on_line => Some(comment_row),
        "disable-file" => None,
        _ => return None,
    };
    let mut checks = Vec::new();
    for name in ids
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if name.starts_with("--") {
            break; // `-- reason` ends the list
        }
        let matched: Vec<CheckId> = registry()
            .iter()
            .filter(|i| selects(name, i))
            .map(|i| i.id)
            .collect();
        if matched.is_empty() {
            tracing::debug!(name, "unknown check in an aiex:disable comment");
            // An unknown ID must not widen the comment to every check.
            return None;
        }
        checks.extend(matched);
    }
    Some(Suppression { line, checks })
}

/// Runs every enabled check over one parsed file and returns the findings, sorted by position.
///
/// Pure and stateless; an editor re-checking a document after each edit should keep a
/// [`DocumentChecks`] instead, which gives the same findings and re-walks only what changed.
pub fn run_checks(
    source: &str,
    tree: &Tree,
    file: &FileContext,
    config: &ChecksConfig,
) -> Vec<Finding> {
    check_forms(source, tree, file, config, &mut HashMap::new())
}

/// The checks of one document, kept across edits.
///
/// A document is cut into top-level forms: the direct children of each `defmodule` (function
/// clauses, attributes, comments...) and the forms outside modules. The findings of a form
/// depend only on its text (and the path and configuration), so a form whose text is unchanged
/// is not walked again: its findings are reused, shifted to its new position. Module-level
/// checks (`@doc`/`@spec`) read only a module's direct children and always run.
///
/// Hot path: runs after each edit (debounced) on the document's current tree.
#[derive(Default)]
pub struct DocumentChecks {
    /// The path and configuration the cache was computed with.
    key: Option<(Option<PathBuf>, ChecksConfig)>,
    /// Results by a hash of the form's full lines and its kind.
    cache: HashMap<u64, FormResult>,
}

/// What walking one top-level form produced, relative to the form: byte offsets from the start
/// of its first line, lines from its first line. Identical forms share one result.
struct FormResult {
    findings: Vec<Finding>,
    suppressions: Vec<Suppression>,
    /// What the module-level pass needs of it.
    doc_item: readability::DocItem,
}

impl FormResult {
    /// Walks a form and keeps its results relative to `base` (its line start) and `row`.
    fn compute<'a>(ctx: &mut Ctx<'a>, form: Node<'a>, base: usize, row: usize) -> FormResult {
        walk(ctx, form);
        ctx.functions.clear();
        ctx.attributes.clear();
        let mut findings = std::mem::take(&mut ctx.findings);
        for f in &mut findings {
            shift_finding(f, |b| b.saturating_sub(base));
        }
        let mut suppressions = std::mem::take(&mut ctx.suppressions);
        for s in &mut suppressions {
            s.line = s.line.map(|l| l.saturating_sub(row));
        }
        let doc_item = readability::doc_item(ctx, form).moved(|b| b.saturating_sub(base));
        FormResult {
            findings,
            suppressions,
            doc_item,
        }
    }

    /// Appends the results of this form placed at `base` and `row`.
    fn place(
        &self,
        base: usize,
        row: usize,
        findings: &mut Vec<Finding>,
        suppressions: &mut Vec<Suppression>,
    ) {
        findings.extend(self.findings.iter().map(|f| {
            let mut f = f.clone();
            shift_finding(&mut f, |b| b + base);
            f
        }));
        suppressions.extend(self.suppressions.iter().map(|s| Suppression {
            line: s.line.map(|l| l + row),
            checks: s.checks.clone(),
        }));
    }
}

/// Moves every offset of a finding, fixes included.
fn shift_finding(f: &mut Finding, shift: impl Fn(usize) -> usize) {
    f.start_byte = shift(f.start_byte);
    f.end_byte = shift(f.end_byte);
    for fix in &mut f.fixes {
        for e in &mut fix.edits {
            e.start_byte = shift(e.start_byte);
            e.end_byte = shift(e.end_byte);
        }
    }
}

impl DocumentChecks {
    /// Checks the document's current tree; same result as [`run_checks`].
    pub fn run(
        &mut self,
        source: &str,
        tree: &Tree,
        file: &FileContext,
        config: &ChecksConfig,
    ) -> Vec<Finding> {
        let key_matches = self
            .key
            .as_ref()
            .is_some_and(|(path, c)| *path == file.path && c == config);
        if !key_matches {
            self.cache.clear();
            self.key = Some((file.path.clone(), config.clone()));
        }
        check_forms(source, tree, file, config, &mut self.cache)
    }
}

/// Checks a document form by form, reusing the results of unchanged forms from `cache` and
/// leaving there the results of the current forms.
fn check_forms(
    source: &str,
    tree: &Tree,
    file: &FileContext,
    config: &ChecksConfig,
    cache: &mut HashMap<u64, FormResult>,
) -> Vec<Finding> {
    let mut ctx = Ctx::new(source, file, config);
    let mut modules = Vec::new();
    let forms = top_level_forms(tree.root_node(), source, ctx.k, &mut modules);
    let mut next: HashMap<u64, FormResult> = HashMap::with_capacity(forms.len());
    let mut findings = Vec::new();
    let mut suppressions = Vec::new();
    let mut placed = Vec::with_capacity(forms.len());
    for form in forms {
        let (base, hash) = form_hash(source, form);
        let row = form.start_position().row;
        let result = next.entry(hash).or_insert_with(|| {
            cache
                .remove(&hash)
                .unwrap_or_else(|| FormResult::compute(&mut ctx, form, base, row))
        });
        result.place(base, row, &mut findings, &mut suppressions);
        placed.push((hash, base));
    }
    for module in &modules {
        let items = module.iter().filter_map(|&i| {
            let (hash, base) = placed[i];
            next.get(&hash).map(|r| (&r.doc_item, base))
        });
        readability::module_docs(&mut ctx, items);
    }
    *cache = next;
    findings.append(&mut ctx.findings);
    suppressions.append(&mut ctx.suppressions);
    finish(source, findings, &suppressions)
}

/// The forms checked one by one: children of `defmodule ... do` blocks (recursively) and
/// everything outside modules, in source order. Each module is returned as the indices of its
/// direct children among the forms.
fn top_level_forms<'t>(
    root: Node<'t>,
    src: &str,
    k: &Kinds,
    modules: &mut Vec<Vec<usize>>,
) -> Vec<Node<'t>> {
    let mut forms = Vec::new();
    collect_forms(root, src, k, &mut forms, modules, None);
    forms
}

fn collect_forms<'t>(
    parent: Node<'t>,
    src: &str,
    k: &Kinds,
    forms: &mut Vec<Node<'t>>,
    modules: &mut Vec<Vec<usize>>,
    module: Option<usize>,
) {
    let mut cursor = parent.walk();
    if !cursor.goto_first_child() {
        return;
    }
    loop {
        let node = cursor.node();
        if node.is_named() {
            let block = (node.kind_id() == k.call)
                .then(|| syntax::call_name(node, src, k))
                .flatten()
                .filter(|n| n.module.is_none() && n.fun == "defmodule")
                .and_then(|_| syntax::do_block(node, k));
            match block {
                Some(block) => {
                    modules.push(Vec::new());
                    let index = modules.len() - 1;
                    // Module nesting is shallow: recursion depth is the nesting of modules.
                    collect_forms(block, src, k, forms, modules, Some(index));
                }
                None => {
                    if let Some(m) = module {
                        modules[m].push(forms.len());
                    }
                    forms.push(node);
                }
            }
        }
        if !cursor.goto_next_sibling() {
            break;
        }
    }
}

/// The start of a form's first line, and a hash of its full lines (what checks may read around
/// it) and its kind.
fn form_hash(src: &str, form: Node) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let start = src[..form.start_byte()].rfind('\n').map_or(0, |i| i + 1);
    let end = src[form.end_byte()..]
        .find('\n')
        .map_or(src.len(), |i| form.end_byte() + i);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    // Where the form sits in its lines: two forms on one line share their full lines.
    (
        form.kind_id(),
        form.start_byte() - start,
        form.end_byte() - start,
    )
        .hash(&mut hasher);
    src[start..end].hash(&mut hasher);
    (start, hasher.finish())
}

/// Applies suppressions, sorts and removes duplicates.
fn finish(source: &str, mut findings: Vec<Finding>, suppressions: &[Suppression]) -> Vec<Finding> {
    if !suppressions.is_empty() {
        let lines = syntax::LineIndex::new(source);
        findings.retain(|f| {
            let line = lines.line_of(f.start_byte);
            !suppressions.iter().any(|s| {
                s.line.is_none_or(|l| l == line)
                    && (s.checks.is_empty() || s.checks.contains(&f.check))
            })
        });
    }
    findings.sort_by(|a, b| {
        (a.start_byte, a.end_byte, a.check).cmp(&(b.start_byte, b.end_byte, b.check))
    });
    findings.dedup_by(|a, b| {
        a.check == b.check && a.start_byte == b.start_byte && a.end_byte == b.end_byte
    });
    findings
}

impl<'a> Ctx<'a> {
    fn new(source: &'a str, file: &FileContext, config: &'a ChecksConfig) -> Ctx<'a> {
        let mut enabled = [false; CHECK_COUNT];
        let mut severity = [Severity::Info; CHECK_COUNT];
        for info in registry() {
            enabled[info.id as usize] = config.is_enabled(info.id);
            severity[info.id as usize] = config.severity_of(info.id);
        }
        Ctx {
            src: source,
            k: Kinds::get(),
            path: PathFacts::of(file.path.as_deref()),
            config,
            enabled,
            severity,
            findings: Vec::new(),
            functions: Vec::new(),
            attributes: Vec::new(),
            inner_pipe: None,
            def_head: None,
            suppressions: Vec::new(),
        }
    }
}

/// The one walk: visits every node once, keeping the enclosing scopes current.
fn walk<'a>(ctx: &mut Ctx<'a>, root: Node<'a>) {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if enter(ctx, node) && cursor.goto_first_child() {
            continue;
        }
        loop {
            leave(ctx, cursor.node());
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// Dispatches a node to the checks; returns whether its children need a visit.
fn enter<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) -> bool {
    let k = ctx.k;
    let kind = node.kind_id();
    if kind == k.call {
        call(ctx, node);
    } else if kind == k.binary_operator {
        let op = syntax::operator(node, ctx.src);
        if op == "|>" {
            readability::pipe(ctx, node);
        }
        complexity::operator(ctx, node, op);
        security::binary_operator(ctx, node, op);
    } else if kind == k.unary_operator {
        if let Some((name, value)) = syntax::attribute(ctx, node) {
            ctx.attributes.push(node.id());
            security::attribute(ctx, node, name, value);
        }
    } else if kind == k.anonymous_function {
        complexity::construct(ctx, node, "fn");
    } else if kind == k.pair {
        security::pair(ctx, node);
    } else if kind == k.string || kind == k.charlist {
        security::string_literal(ctx, node);
        // Only interpolations can hold code.
        return syntax::is_interpolated(node, k);
    } else if kind == k.comment {
        comment(ctx, node);
    }
    true
}

fn leave<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let id = node.id();
    if let Some(scope) = ctx.functions.last_mut() {
        complexity::leave(&mut scope.metrics, id);
        if scope.node_id == id {
            if let Some(scope) = ctx.functions.pop() {
                complexity::finish(ctx, scope.metrics);
            }
        }
    }
    if ctx.attributes.last() == Some(&id) {
        ctx.attributes.pop();
    }
}

fn call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let Some(name) = syntax::call_name(node, ctx.src, ctx.k) else {
        return;
    };
    if ctx.def_head == Some(node.id()) {
        return;
    }
    match (name.module, name.fun) {
        (None, "defmodule") => readability::nested_module_docs(ctx, node),
        (None, "def" | "defp" | "defmacro" | "defmacrop") => {
            if let Some(def) = syntax::def_info(node, ctx.src, ctx.k) {
                ctx.def_head = Some(def.head.id());
                let metrics = complexity::start(ctx, &def);
                let tainted = if ctx.on(CheckId::PathTraversal) {
                    security::request_parameters(ctx, &def)
                } else {
                    Vec::new()
                };
                ctx.functions.push(FunctionScope {
                    node_id: node.id(),
                    tainted,
                    metrics,
                });
            }
        }
        (None, keyword) if complexity::NESTING.contains(&keyword) => {
            complexity::construct(ctx, node, keyword);
        }
        _ => {}
    }
    debugging::call(ctx, node, &name);
    security::call(ctx, node, &name);
    readability::call(ctx, node, &name);
    config_env::call(ctx, node, &name);
}

fn comment<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let text = ctx.text(node);
    if text.contains("aiex:") {
        let line_start = ctx.src[..node.start_byte()]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let alone = ctx.src[line_start..node.start_byte()].trim().is_empty();
        if let Some(s) = parse_suppression(text, node.start_position().row, alone) {
            ctx.suppressions.push(s);
        }
    }
    readability::todo(ctx, node, text);
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixture helpers: Elixir source in, findings rendered as text out.

    use super::*;

    /// Parses Elixir source.
    pub fn parse(source: &str) -> Tree {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_elixir::LANGUAGE.into())
            .expect("the Elixir grammar loads");
        parser.parse(source, None).expect("parsing succeeds")
    }

    /// Runs the checks with a config and renders `line:col severity id: message [fix titles]`
    /// (1-based), one finding per line, followed by the flagged text.
    pub fn render_with(source: &str, path: Option<&str>, config: &ChecksConfig) -> String {
        let tree = parse(source);
        let file = FileContext {
            path: path.map(PathBuf::from),
        };
        let lines = syntax::LineIndex::new(source);
        run_checks(source, &tree, &file, config)
            .iter()
            .map(|f| {
                let (line, col) = lines.position(source, f.start_byte);
                let flagged: String = source[f.start_byte..f.end_byte]
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(40)
                    .collect();
                let fixes = if f.fixes.is_empty() {
                    String::new()
                } else {
                    format!(
                        " [fix: {}]",
                        f.fixes
                            .iter()
                            .map(|x| x.title.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                };
                format!(
                    "{line}:{col} {} {}: {}{fixes} `{flagged}`\n",
                    f.severity.as_str(),
                    f.check.as_str(),
                    f.message
                )
            })
            .collect()
    }

    /// Like [`render_with`] with the default configuration, in `lib/app.ex`.
    pub fn render(source: &str) -> String {
        render_with(source, Some("lib/app.ex"), &ChecksConfig::default())
    }

    /// Findings of one check only, in `path`.
    pub fn render_only(source: &str, path: &str, id: CheckId) -> String {
        let config = ChecksConfig {
            disabled: registry()
                .iter()
                .filter(|i| i.id != id)
                .map(|i| i.name.to_owned())
                .collect(),
            enabled: vec![id.as_str().to_owned()],
            ..ChecksConfig::default()
        };
        render_with(source, Some(path), &config)
    }

    /// Applies the first fix of the first finding of `id` in `lib/app.ex`.
    pub fn apply_fix(source: &str, id: CheckId) -> String {
        let tree = parse(source);
        let findings = run_checks(
            source,
            &tree,
            &FileContext::for_path("lib/app.ex"),
            &ChecksConfig::default(),
        );
        let finding = findings
            .iter()
            .find(|f| f.check == id)
            .unwrap_or_else(|| panic!("no {} finding", id.as_str()));
        let fix = finding
            .fixes
            .first()
            .unwrap_or_else(|| panic!("no fix for {}", id.as_str()));
        fix.apply(source)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use expect_test::expect;

    #[test]
    fn registry_is_indexed_by_id_and_ids_are_unique() {
        for (i, info) in registry().iter().enumerate() {
            assert_eq!(info.id as usize, i, "{}", info.name);
            assert_eq!(CheckId::parse(info.name), Some(info.id));
            assert!(info.name.contains('/'));
            assert!(!info.explanation.is_empty() && !info.title.is_empty());
        }
    }

    #[test]
    fn disable_next_line_and_file_comments() {
        let src = r#"def f(x) do
  # aiex:disable-next-line debug/io-inspect
  IO.inspect(x)
  IO.inspect(x) # aiex:disable-line
  # aiex:disable-next-line security/unsafe-atom
  dbg(x)
  # aiex:disable-next-line unknown/id
  IO.inspect(x)
end
"#;
        expect![[r#"
            6:3 warning debug/dbg: Leftover dbg() [fix: Remove dbg, keep its argument] `dbg(x)`
            8:3 warning debug/io-inspect: Leftover IO.inspect [fix: Remove IO.inspect, keep its argument] `IO.inspect(x)`
        "#]]
        .assert_eq(&render(src));
        let file = "# aiex:disable-file debug\nIO.inspect(1)\ndbg(2)\n";
        assert_eq!(render(file), "");
    }

    #[test]
    fn config_disables_enables_and_overrides() {
        let src = "def f(x), do: IO.inspect(x)\n";
        let mut config = ChecksConfig::default();
        config.severity.insert("debug".into(), Severity::Error);
        assert!(render_with(src, Some("lib/a.ex"), &config).contains("1:15 error debug/io-inspect"));
        config.disabled.push("debug/io-inspect".into());
        assert_eq!(render_with(src, Some("lib/a.ex"), &config), "");
        assert!(!ChecksConfig::default().is_enabled(CheckId::MissingSpec));
        let spec = ChecksConfig {
            spec_required: true,
            ..ChecksConfig::default()
        };
        assert!(spec.is_enabled(CheckId::MissingSpec));
    }

    #[test]
    fn config_reports_unknown_ids_and_keys() {
        let config: ChecksConfig = serde_json::from_value(serde_json::json!({
            "disabled": ["debug/io-inspect", "nope"],
            "severity": {"security": "error", "bad/id": "hint"},
            "thresholds": {"nesting": 3}
        }))
        .unwrap();
        assert_eq!(config.thresholds.nesting, 3);
        assert_eq!(config.thresholds.arity, 8);
        assert_eq!(
            config.problems(),
            vec![
                "checks.disabled: unknown check ID or family `nope`".to_owned(),
                "checks.severity: unknown check ID or family `bad/id`".to_owned(),
            ]
        );
        let err =
            serde_json::from_value::<ChecksConfig>(serde_json::json!({"thresholds": {"depth": 1}}))
                .unwrap_err();
        assert!(err.to_string().contains("depth"), "{err}");
    }

    #[test]
    fn path_facts() {
        let f = |p: &str| PathFacts::of(Some(Path::new(p)));
        assert!(f("lib/app/a.ex").in_lib);
        assert!(f("apps/web/lib/a.ex").in_lib);
        assert!(!f("test/lib/a_test.exs").in_lib);
        assert!(f("test/a_test.exs").is_test);
        assert!(f("mix.exs").is_mix_exs);
        assert!(f("lib/mix/tasks/x.ex").in_mix_tasks);
        assert!(f("config/dev.exs").is_local_config);
        assert!(!f("config/prod.exs").is_local_config);
    }

    #[test]
    fn broken_code_still_checks_the_rest_without_panicking() {
        let src = "def f(x) do\n  IO.inspect(x\n  if do end end\n  dbg(y)\n";
        let out = render(src);
        assert!(out.contains("debug/dbg"), "{out}");
    }

    const SHOP_ACCOUNTS: &str = include_str!("../../../fixtures/checks/shop/lib/shop/accounts.ex");

    /// The reference: one plain walk over the whole tree, no forms, no cache.
    fn reference(
        src: &str,
        tree: &Tree,
        file: &FileContext,
        config: &ChecksConfig,
    ) -> Vec<Finding> {
        let mut ctx = Ctx::new(src, file, config);
        walk(&mut ctx, tree.root_node());
        let findings = std::mem::take(&mut ctx.findings);
        finish(src, findings, &ctx.suppressions)
    }

    /// Reference findings with their fixes, for comparing runs.
    fn full(src: &str) -> Vec<Finding> {
        let file = FileContext::for_path("lib/a.ex");
        reference(src, &parse(src), &file, &ChecksConfig::default())
    }

    #[test]
    fn form_by_form_checks_match_one_plain_walk() {
        let sources = [
            SHOP_ACCOUNTS,
            include_str!(
                "../../../fixtures/checks/shop/lib/shop_web/controllers/file_controller.ex"
            ),
            include_str!("../../../fixtures/checks/shop/lib/shop/reports.ex"),
            include_str!("../../../fixtures/checks/shop/config/prod.exs"),
            "IO.inspect(:a); IO.inspect(:b)\n# aiex:disable-next-line\ndbg(1)\ndbg(2)\n",
        ];
        for src in sources {
            let tree = parse(src);
            let file = FileContext::for_path("lib/a.ex");
            let config = ChecksConfig {
                spec_required: true,
                ..ChecksConfig::default()
            };
            let expected = reference(src, &tree, &file, &config);
            assert!(!expected.is_empty());
            assert_eq!(run_checks(src, &tree, &file, &config), expected);
        }
    }

    #[test]
    fn document_checks_reuse_unchanged_forms_and_match_a_full_run() {
        let mut doc = DocumentChecks::default();
        let file = FileContext::for_path("lib/a.ex");
        let config = ChecksConfig::default();
        let mut src = SHOP_ACCOUNTS.to_owned();
        assert_eq!(doc.run(&src, &parse(&src), &file, &config), full(&src));
        // Insert lines at the top: every later finding moves, fixes included.
        src.insert_str(0, "# header\n# aiex:disable-next-line\n");
        assert_eq!(doc.run(&src, &parse(&src), &file, &config), full(&src));
        // Edit one function only.
        src = src.replace("String.to_atom(name)", "String.to_atom(name <> \"x\")");
        assert_eq!(doc.run(&src, &parse(&src), &file, &config), full(&src));
        // Two forms on one line.
        src.push_str("IO.inspect(:a); IO.inspect(:b)\n");
        let findings = doc.run(&src, &parse(&src), &file, &config);
        assert_eq!(findings, full(&src));
        let last_line = src.len() - "IO.inspect(:a); IO.inspect(:b)\n".len();
        let on_last_line = findings
            .iter()
            .filter(|f| f.start_byte >= last_line)
            .count();
        assert_eq!(
            on_last_line, 2,
            "each form on the line keeps its own findings"
        );
        // Re-indent a form: fixes that delete whole lines must follow.
        src = src.replace("  defp log(message) do", "    defp log(message) do");
        assert_eq!(doc.run(&src, &parse(&src), &file, &config), full(&src));
        // A configuration change clears the cache.
        let strict = ChecksConfig {
            spec_required: true,
            ..ChecksConfig::default()
        };
        let expected = reference(&src, &parse(&src), &file, &strict);
        assert!(expected.iter().any(|f| f.check == CheckId::MissingSpec));
        assert_eq!(doc.run(&src, &parse(&src), &file, &strict), expected);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn document_checks_after_random_edits_match_a_full_run(
            edits in proptest::collection::vec((0.0f64..1.0, 0usize..12, 0usize..4), 1..6)
        ) {
            const SNIPPETS: [&str; 4] = ["IO.inspect(x)\n", "# aiex:disable-next-line debug\n", "\"", "end\n"];
            let mut doc = DocumentChecks::default();
            let file = FileContext::for_path("lib/a.ex");
            let config = ChecksConfig::default();
            let mut src = SHOP_ACCOUNTS.to_owned();
            doc.run(&src, &parse(&src), &file, &config);
            for (at, delete, snippet) in edits {
                let mut at = (at * src.len() as f64) as usize;
                while !src.is_char_boundary(at) { at -= 1; }
                let mut end = (at + delete).min(src.len());
                while !src.is_char_boundary(end) { end -= 1; }
                src.replace_range(at..end, SNIPPETS[snippet]);
                let tree = parse(&src);
                proptest::prop_assert_eq!(doc.run(&src, &tree, &file, &config), full(&src));
            }
        }
    }

    #[test]
    fn disable_fix_adds_or_extends_a_comment_and_silences_the_finding() {
        let src = "def f(x) do\n  IO.inspect(x)\nend\n";
        let finding = full(src).into_iter().next().expect("a finding");
        let fixed = disable_fix(src, &finding).apply(src);
        assert_eq!(
            fixed,
            "def f(x) do\n  # aiex:disable-next-line debug/io-inspect\n  IO.inspect(x)\nend\n"
        );
        assert!(full(&fixed).is_empty());
        let src =
            "def f(x) do\n  # aiex:disable-next-line debug/io-inspect\n  dbg(IO.inspect(x))\nend\n";
        let dbg = full(src)
            .into_iter()
            .find(|f| f.check == CheckId::Dbg)
            .expect("dbg");
        let fixed = disable_fix(src, &dbg).apply(src);
        assert_eq!(fixed, "def f(x) do\n  # aiex:disable-next-line debug/io-inspect, debug/dbg\n  dbg(IO.inspect(x))\nend\n");
        assert!(full(&fixed).is_empty());
    }

    #[test]
    fn pathological_nesting_does_not_exhaust_a_small_stack() {
        let concat = format!("x = {}y\n", "\"a\" <> ".repeat(5_000));
        let pipes = format!("z = w{}\n", " |> f()".repeat(5_000));
        let lists = format!("l = {}1{}\n", "[".repeat(2_000), "]".repeat(2_000));
        let src =
            format!("defmodule Deep do\n def f(y, w) do\n{concat}{pipes}{lists}\n:ok end\nend\n");
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || full(&src).len())
            .expect("thread starts");
        assert!(
            handle.join().is_ok(),
            "checking deep code overflowed the stack"
        );
    }

    #[test]
    fn findings_are_sorted_and_fix_edits_apply() {
        let src = "x |> IO.inspect()\n";
        assert_eq!(apply_fix(src, CheckId::IoInspect), "x\n");
    }
}

#[cfg(test)]
mod thread_safety {
    /// The language server keeps a `DocumentChecks` per document across tasks and threads.
    #[test]
    fn document_checks_and_findings_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::DocumentChecks>();
        assert_send_sync::<super::Finding>();
        assert_send_sync::<super::ChecksConfig>();
    }
}
