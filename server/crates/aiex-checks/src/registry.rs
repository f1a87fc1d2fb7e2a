//! The registry of checks: their stable IDs, default severities, titles and explanations.

use serde::{Deserialize, Serialize};

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
