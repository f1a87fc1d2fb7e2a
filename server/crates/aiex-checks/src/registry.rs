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
    /// `warning/unused-operation`
    UnusedOperation,
    /// `warning/operation-on-same-values`
    OperationOnSameValues,
    /// `warning/bool-operation-on-same-values`
    BoolOperationOnSameValues,
    /// `warning/raise-inside-rescue`
    RaiseInsideRescue,
    /// `warning/expensive-empty-enum-check`
    ExpensiveEmptyEnumCheck,
    /// `refactor/match-in-condition`
    MatchInCondition,
    /// `refactor/negated-conditions-with-else`
    NegatedConditionsWithElse,
    /// `refactor/negated-conditions-in-unless`
    NegatedConditionsInUnless,
    /// `refactor/cond-statements`
    CondStatements,
    /// `refactor/filter-filter`
    FilterFilter,
    /// `refactor/reject-reject`
    RejectReject,
    /// `refactor/with-single-clause`
    WithSingleClause,
    /// `refactor/redundant-with-clause-result`
    RedundantWithClauseResult,
    /// `readability/prefer-implicit-try`
    PreferImplicitTry,
    /// `readability/predicate-function-names`
    PredicateFunctionNames,
    /// `readability/large-numbers`
    LargeNumbers,
    /// `readability/parentheses-on-zero-arity-defs`
    ParenthesesOnZeroArityDefs,
    /// `config/csrf-protection`
    CsrfProtection,
    /// `config/secure-headers`
    SecureHeaders,
    /// `config/force-ssl`
    ForceSsl,
}

/// How many checks exist.
pub const CHECK_COUNT: usize = 48;

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
        "`IO.inspect/1,2` is a debugging aid; left in code it writes to stdout in production. `IO.inspect(:stderr, value, opts)` (an explicit device) is intentional output and is not reported.\n\nQuick fix: remove the call and keep its argument (`IO.inspect` returns its argument, so removing it from a pipe changes nothing else).";
    Dbg, "debug/dbg", Warning, true, "Leftover dbg",
        "`dbg/0,1,2` is a debugging macro; left in code it prints on every call (and halts under `iex --dbg pry`). A module attribute named `@dbg` or a local function `dbg/3` is not `Kernel.dbg`, and is not reported.\n\nQuick fix: remove the call and keep its argument.";
    IexPry, "debug/iex-pry", Warning, true, "Leftover IEx.pry",
        "`IEx.pry/0` stops the process for an interactive session. It must not reach production.\n\nQuick fix: remove the line.";
    IoPuts, "debug/io-puts", Info, false, "IO.puts in application code",
        "`IO.puts` in `lib/` can be leftover debugging; applications usually log with `Logger`. Off by default (Credo has no such check, and printing is often intentional): enable it with `enabled = [\"debug/io-puts\"]`. Mix tasks (`lib/mix/tasks/`) and `.exs` scripts are never checked.\n\nQuick fix: remove the line.";
    UnsafeAtom, "security/unsafe-atom", Warning, true, "Atom created from request data",
        "`String.to_atom/1`, `List.to_atom/1`, `:erlang.binary_to_atom`, `Module.concat/1,2`, `:\"atom#{x}\"` and `Jason.decode(x, keys: :atoms)` create atoms, which are never garbage-collected: fed with request data, they let an attacker exhaust the atom table and crash the VM. Reported when the value comes from request data (controller action params, `conn.params`, LiveView and channel payloads), followed through assignments, pipes and calls within the module. A membership guard (`x in @allowed`), `String.to_existing_atom/1` or a `case` over literals ends the taint. Mix tasks and `.exs` scripts run by the developer are not attack surfaces and are not checked. Use `String.to_existing_atom/1` or an explicit mapping.";
    CommandInjection, "security/command-injection", Warning, true, "Command built from request data",
        "`:os.cmd/1`, `System.shell/1`, `Port.open({:spawn, cmd}, _)` run their command through a shell, and `System.cmd/3` runs the program named by its first argument. When request data reaches the command (whole, interpolated, or as the script of `sh -c`), an attacker can run anything. Functions whose callers pass only literals, Mix tasks and `.exs` scripts are not reported. Pass a literal program to `System.cmd/3` and user data as separate arguments; never through `sh -c`.";
    SqlInjection, "security/sql-injection", Warning, true, "SQL built from request data",
        "`Repo.query/2,3`, `Ecto.Adapters.SQL.query/3,4` and `stream` run raw SQL. Request data interpolated or concatenated into the SQL, or passed as the whole SQL string, allows SQL injection. Values from configuration or literals are not reported. Use placeholders (`$1`, `?`) and pass the values in the parameters list.";
    UnsafeBinaryToTerm, "security/unsafe-binary-to-term", Warning, true, "binary_to_term without :safe",
        "`:erlang.binary_to_term/1` on untrusted input can create atoms without limit and build functions that run code when called. Use `Plug.Crypto.non_executable_binary_to_term/2` or at least `:erlang.binary_to_term(bin, [:safe])`.";
    BinaryToTermSafe, "security/binary-to-term-safe", Info, true, "binary_to_term on possibly untrusted data",
        "Even with `[:safe]`, `:erlang.binary_to_term/2` can decode existing functions that execute code when an unwary caller invokes them. Prefer `Plug.Crypto.non_executable_binary_to_term/2` for untrusted data.";
    CodeEval, "security/code-eval", Warning, true, "Code evaluated from request data",
        "`Code.eval_string/eval_quoted/eval_file` and `EEx.eval_string/eval_file` run arbitrary code. Reported when request data reaches the code evaluated. Generators, Mix tasks and `.exs` scripts that evaluate the developer's own files are not attack surfaces and are not checked.";
    XssRaw, "security/xss-raw", Warning, true, "raw/1 on unescaped dynamic data",
        "`raw/1` (`Phoenix.HTML.raw/1`) marks a value as safe HTML and disables escaping. On data that is neither a literal nor escaped (`html_escape/1`, `safe_to_string(html_escape(x))`) it opens the door to cross-site scripting. Also checked in `.heex`/`.eex` templates and `~H`/`~E` sigils, where assigns (`@bio`) are dynamic. Let Phoenix escape the value, or escape each part before `raw`.";
    XssSendResp, "security/xss-send-resp", Warning, true, "HTML response built from dynamic data",
        "`send_resp/3` and `html/2` with HTML built by interpolation or concatenation of unescaped values, or with a body taken whole from request data, send the values unescaped: cross-site scripting. Render a template, or escape with `Phoenix.HTML.html_escape/1`.";
    PathTraversal, "security/path-traversal", Warning, true, "File path from request data",
        "`File` functions, `send_file/3,5` and `send_download/3` given a path built from request data (controller action params, `conn.params`, LiveView and channel payloads, followed through assignments and calls within the module) can read or write any file with `../`. An argument of a public function is request data only when a caller passes request data in. Reduce the name with `Path.basename/1` or check it with `Path.safe_relative/2` or an allow-list.";
    HardcodedSecret, "security/hardcoded-secret", Warning, true, "Hardcoded secret",
        "A key, token, password or `secret_key_base` written as a literal ends up in version control and in every build. Read it at runtime (`System.fetch_env!/1` in `config/runtime.exs`). `config/dev.exs`, `config/test.exs`, seed scripts (`priv/repo/seeds.exs`) and tests are not checked for secret-named values, but known key formats (AWS, GitHub, Stripe, Slack, Google, OpenAI, Anthropic, JWTs, private keys with a body) are reported everywhere. A lone `-----BEGIN ... PRIVATE KEY-----` header is not a key.";
    Nesting, "complexity/nesting", Info, true, "Deeply nested code",
        "Control structures (`if`, `unless`, `case`, `cond`, `with`, `for`, `receive`, `try`, `fn`) nested deeper than `checks.thresholds.nesting` (default 2, as Credo) inside a function are hard to follow. Extract a function or use pattern matching in function heads.";
    Cyclomatic, "complexity/cyclomatic", Info, true, "Function too complex",
        "Cyclomatic complexity counts the paths through a function: 1, plus 1 for each `if`/`unless`/`for`, each clause after the first of `case`/`cond`/`receive`/`fn`/`with ... else`, each `rescue`/`catch` clause, and each `&&`/`||`/`and`/`or`. Over `checks.thresholds.cyclomatic` (default 9, as Credo), split the function.";
    Arity, "complexity/arity", Info, true, "Too many parameters",
        "A function with more parameters than `checks.thresholds.arity` (default 8, as Credo) is hard to call correctly. Group related values in a struct or a keyword list.";
    FunctionLength, "complexity/function-length", Info, true, "Function too long",
        "A function clause longer than `checks.thresholds.function_lines` lines (default 50) does too much. Extract well-named helpers.";
    MissingDoc, "readability/missing-doc", Info, true, "Public function without @doc",
        "In a module with a `@moduledoc`, every public function should have a `@doc` (or `@doc false` to hide it). Callbacks marked `@impl` are exempt.";
    MissingSpec, "readability/missing-spec", Info, false, "Public function without @spec",
        "A public function without a `@spec` gives Dialyzer and readers less to go on. Off by default: enable it with `checks.spec_required = true`. Callbacks marked `@impl` are exempt.";
    UnlessElse, "readability/unless-else", Info, true, "unless with else",
        "`unless ... else` is a double negative. Use `if` with the branches swapped.\n\nQuick fix: rewrite as `if` with swapped branches.";
    PipeChainStart, "readability/pipe-chain-start", Info, false, "Pipe chain starts with a function call",
        "A pipe chain reads best when it starts with a plain value: `x |> f(a) |> g()`, not `f(x, a) |> g() |> h()`. Only chains of two or more pipes are reported. Off by default, as in Credo.";
    SinglePipe, "readability/single-pipe", Info, false, "Single-step pipe",
        "`x |> f(a)` is clearer as `f(x, a)`; pipes are for chains. Off by default, as in Credo.\n\nQuick fix: rewrite as a plain call.";
    MapJoin, "readability/map-join", Info, true, "Enum.map then Enum.join",
        "`Enum.map/2` followed by `Enum.join/2` walks the list twice and builds an intermediate list; `Enum.map_join/3` does both in one pass.\n\nQuick fix: rewrite as `Enum.map_join/3`.";
    FilterCount, "readability/filter-count", Info, true, "Enum.filter then Enum.count",
        "`Enum.filter/2` followed by `Enum.count/1` builds an intermediate list; `Enum.count/2` counts matching elements directly.\n\nQuick fix: rewrite as `Enum.count/2`.";
    TodoTag, "readability/todo", Info, true, "TODO or FIXME comment",
        "A `TODO` or `FIXME` comment marks unfinished work. Track it in an issue, or finish it.";
    GetEnvInAttribute, "config/get-env-in-attribute", Warning, true, "Application.get_env in a module attribute",
        "A module attribute is evaluated at compile time, so `Application.get_env/3` there reads the configuration of the build machine and never changes at runtime. Use `Application.compile_env/3` (which also warns when the value changes), or read the value inside a function.\n\nQuick fix: use `Application.compile_env`.";
    MixEnv, "config/mix-env", Warning, true, "Mix.env at runtime",
        "`Mix` is not loaded in releases, so `Mix.env()` called inside a function of application code crashes (`UndefinedFunctionError`) in production. In a module body or a module attribute it runs at compile time, which is fine, and is not reported (as in Credo). `mix.exs`, Mix tasks (`mix/tasks/`) and `.exs` scripts are not checked. Use `config_env()` in config files or `Application.compile_env/3` in code.";
    UnusedOperation, "warning/unused-operation", Warning, true, "Result of a pure function unused",
        "`Enum`, `String`, `List`, `Keyword`, `Map`, `Tuple`, `Path` and `Regex` functions return a new value and change nothing; a call whose result is thrown away (a statement that is not the last of its block) is a bug: the value was meant to be bound or returned. `Enum.each/2` is not reported. Credo: `Credo.Check.Warning.Unused*Operation`.";
    OperationOnSameValues, "warning/operation-on-same-values", Warning, true, "Operation on the same values",
        "`x == x`, `x != x`, `x - x`, `x / x`, `x < x`... always give the same result: one side is probably a typo. Credo: `Credo.Check.Warning.OperationOnSameValues`.";
    BoolOperationOnSameValues, "warning/bool-operation-on-same-values", Warning, true, "Boolean operation on the same values",
        "`x and x`, `x or x`, `x && x`, `x || x` are just `x`: one side is probably a typo. Credo: `Credo.Check.Warning.BoolOperationOnSameValues`.";
    RaiseInsideRescue, "warning/raise-inside-rescue", Warning, true, "raise inside rescue",
        "`raise` inside a `rescue` clause throws away the original stack trace. Use `reraise exception, __STACKTRACE__`. Credo: `Credo.Check.Warning.RaiseInsideRescue`.";
    ExpensiveEmptyEnumCheck, "warning/expensive-empty-enum-check", Warning, true, "Expensive emptiness check",
        "`length(list) == 0` and `Enum.count(enum) == 0` walk the whole collection to find out whether it is empty. Compare with `[]` or use `Enum.empty?/1`. Credo: `Credo.Check.Warning.ExpensiveEmptyEnumCheck`.\n\nQuick fix: `list == []`, `list != []`, `Enum.empty?(enum)` or `not Enum.empty?(enum)`.";
    MatchInCondition, "refactor/match-in-condition", Info, true, "Pattern match in an if condition",
        "`if {:ok, x} = f() do` hides a pattern match in a condition; a failed match raises instead of taking the else branch. Use `case` or `with`. A plain `if x = f()` binding is not reported. Credo: `Credo.Check.Refactor.MatchInCondition`.";
    NegatedConditionsWithElse, "refactor/negated-conditions-with-else", Info, true, "Negated condition with else",
        "`if !x do a else b end` reads better as `if x do b else a end`. Credo: `Credo.Check.Refactor.NegatedConditionsWithElse`.\n\nQuick fix: drop the negation and swap the branches.";
    NegatedConditionsInUnless, "refactor/negated-conditions-in-unless", Info, true, "Negated condition in unless",
        "`unless !x` is a double negative: write `if x`. Credo: `Credo.Check.Refactor.NegatedConditionsInUnless`.\n\nQuick fix: rewrite as `if` without the negation.";
    CondStatements, "refactor/cond-statements", Info, true, "cond with a single condition",
        "A `cond` with one condition (besides a final `true`) is an `if`. Credo: `Credo.Check.Refactor.CondStatements`.\n\nQuick fix: rewrite as `if`/`else`.";
    FilterFilter, "refactor/filter-filter", Info, true, "Enum.filter twice",
        "Two `Enum.filter/2` in a row walk the list twice; one filter with both conditions does it once. Credo: `Credo.Check.Refactor.FilterFilter`.";
    RejectReject, "refactor/reject-reject", Info, true, "Enum.reject twice",
        "Two `Enum.reject/2` in a row walk the list twice; one reject with either condition does it once. Credo: `Credo.Check.Refactor.RejectReject`.";
    WithSingleClause, "refactor/with-single-clause", Info, true, "with with a single clause and else",
        "A `with` with a single `<-` clause and an `else` is a `case`. Credo: `Credo.Check.Refactor.WithClauses`/`WithSingleClause`.\n\nQuick fix: rewrite as `case`.";
    RedundantWithClauseResult, "refactor/redundant-with-clause-result", Info, true, "Redundant last with clause",
        "`with {:ok, x} <- f() do {:ok, x} end` returns what the last clause matched: the last clause's expression can be the result. Credo: `Credo.Check.Refactor.RedundantWithClauseResult`.\n\nQuick fix (one clause, no else): replace the `with` by the expression.";
    PreferImplicitTry, "readability/prefer-implicit-try", Info, true, "Explicit try as the whole function body",
        "A function whose whole body is `try do ... rescue ... end` can use the implicit try of `def`: `def f do ... rescue ... end`. Credo: `Credo.Check.Readability.PreferImplicitTry`.\n\nQuick fix: drop `try do` and its `end`.";
    PredicateFunctionNames, "readability/predicate-function-names", Info, true, "Predicate function named is_...",
        "Predicate functions end with `?` and do not start with `is_`: `valid?(x)`, not `is_valid?(x)` or `is_valid(x)`; the `is_` prefix is for guards (`defguard`, `defmacro`). Credo: `Credo.Check.Readability.PredicateFunctionNames`.";
    LargeNumbers, "readability/large-numbers", Info, true, "Large number without underscores",
        "Numbers of five digits or more read better with underscores every three digits: `86_400`, not `86400`. Credo: `Credo.Check.Readability.LargeNumbers`.\n\nQuick fix: add the underscores.";
    ParenthesesOnZeroArityDefs, "readability/parentheses-on-zero-arity-defs", Info, true, "Parentheses on a zero-arity def",
        "`def run() do` is written `def run do` in idiomatic Elixir. Credo: `Credo.Check.Readability.ParenthesesOnZeroArityDefs`.\n\nQuick fix: remove the parentheses.";
    CsrfProtection, "config/csrf-protection", Warning, true, "Browser pipeline without CSRF protection",
        "A router pipeline that accepts HTML (`pipeline :browser`, or `plug :accepts, [\"html\"]`) and fetches the session must `plug :protect_from_forgery`, or forms can be submitted from other sites (cross-site request forgery). Sobelow: `Config.CSRF`.";
    SecureHeaders, "config/secure-headers", Warning, true, "Browser pipeline without secure headers",
        "A router pipeline that accepts HTML should `plug :put_secure_browser_headers` (content type options, frame options, referrer policy...). Sobelow: `Config.Headers`.";
    ForceSsl, "config/force-ssl", Info, true, "HTTPS not enforced in production",
        "`config/prod.exs` configures the endpoint without `force_ssl` (or with `hsts: false`): requests over plain HTTP are served and browsers are not told to stay on HTTPS. Add `force_ssl: [rewrite_on: [:x_forwarded_proto]]` (behind a proxy) or `force_ssl: [hsts: true]`. Sobelow: `Config.HTTPS`/`Config.HSTS`.";
}
