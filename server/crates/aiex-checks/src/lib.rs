//! Built-in checks: Credo- and Sobelow-style findings computed on the tree-sitter syntax tree.
//!
//! [`run_checks`] and [`DocumentChecks`] (`document`) cut a parsed file into top-level forms and
//! walk each once, dispatching every node to the check families (`debugging`, `security`,
//! `complexity`, `readability`, `config_env`). `registry` describes every check, `config` is the
//! `checks` section of the configuration, `report` renders findings as text, JSON or SARIF.
//! Findings carry byte offsets only: checks never read files and know nothing of LSP.

mod complexity;
mod config;
mod config_env;
mod credo;
mod debugging;
mod document;
mod readability;
mod registry;
pub mod report;
mod security;
mod syntax;
mod templates;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use config::selects;

use serde::Serialize;
use tree_sitter::{Node, Tree};

pub use config::{ChecksConfig, Thresholds};
pub use document::DocumentChecks;
pub use registry::{registry, CheckId, CheckInfo, Severity, CHECK_COUNT};
use syntax::Kinds;
pub use templates::{check_template, is_template};

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

/// Where a check's documentation page lives in the project: `docs/checks/<family>/<name>.md`
/// (what, why, how to fix, an example).
pub fn doc_path(id: CheckId) -> String {
    format!("docs/checks/{}.md", id.as_str())
}

/// The documentation page of a check as a URL, for a diagnostic's `codeDescription`: under
/// `AIEX_CHECK_DOCS_URL` when set at build time (e.g. a repository's web address ending in
/// `/docs/checks/`), otherwise the page shipped with the project as a `file://` URL (found above
/// the source tree or the executable). `None` when no copy of the pages can be found.
pub fn doc_url(id: CheckId) -> Option<String> {
    static BASE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        if let Some(url) = option_env!("AIEX_CHECK_DOCS_URL") {
            return Some(url.trim_end_matches('/').to_owned());
        }
        let exe = std::env::current_exe().ok();
        let starts = [Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))), exe];
        starts.iter().flatten().find_map(|start| {
            start.ancestors().find_map(|dir| {
                let docs = dir.join("docs/checks");
                docs.is_dir().then(|| format!("file://{}", docs.display()))
            })
        })
    });
    let base = base.as_ref()?;
    let id = id.as_str();
    Some(format!("{base}/{id}.md"))
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
    /// `config/prod.exs`.
    pub is_prod_config: bool,
    /// An `.exs` file other than a test: a script the developer runs (config, seeds, mix.exs).
    pub is_script: bool,
    /// A seed script (`priv/repo/seeds.exs`): development data.
    pub is_seed: bool,
    /// Under `priv/templates/`: code generator templates, not application code.
    pub in_generator_templates: bool,
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
            is_prod_config: dirs.last() == Some(&"config") && file == "prod.exs",
            is_script: file.ends_with(".exs") && !is_test,
            is_seed: file.starts_with("seeds") && dirs.contains(&"priv"),
            in_generator_templates: dirs.windows(2).any(|w| w == ["priv", "templates"]),
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
    /// Summaries of the function clauses walked, for the module-level taint pass.
    pub flows: Vec<security::FunctionFlow>,
    /// What the Phoenix configuration checks need of the forms walked.
    pub config_facts: config_env::ConfigFacts,
    /// The node being visited, and its ancestors within the walk, outermost first: a check
    /// asks [`Ctx::parent_of`] rather than tree-sitter's `Node::parent`, which searches down
    /// from the root (O(depth)), so a check per node over 130,000 nested calls was cubic.
    current: Option<Node<'a>>,
    ancestors: Vec<Node<'a>>,
    /// Taint reads left in this walk (see `security::MAX_TAINT_STEPS_PER_FORM`).
    taint_steps_left: std::cell::Cell<u32>,
}

impl<'a> Ctx<'a> {
    /// Counts one taint read; false once the walk's budget is spent.
    pub fn take_taint_step(&self) -> bool {
        let left = self.taint_steps_left.get();
        self.taint_steps_left.set(left.saturating_sub(1));
        left > 0
    }

    /// The parent of `node`, in O(1) for the node being visited and its ancestors (the only
    /// nodes checks ask about); tree-sitter's search from the root otherwise.
    pub fn parent_of(&self, node: Node<'a>) -> Option<Node<'a>> {
        let on_path = if self.current.is_some_and(|c| c.id() == node.id()) {
            Some(self.ancestors.len())
        } else {
            self.ancestors.iter().rposition(|a| a.id() == node.id())
        };
        match on_path {
            Some(depth) if depth > 0 => Some(self.ancestors[depth - 1]),
            _ => node.parent(),
        }
    }

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
    /// What is known of the data in the clause (the security rules' taint).
    pub flow: security::Flow<'a>,
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
    document::check_forms(source, tree, file, config, &mut HashMap::new())
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
            flows: Vec::new(),
            config_facts: config_env::ConfigFacts::default(),
            current: None,
            ancestors: Vec::new(),
            taint_steps_left: std::cell::Cell::new(security::MAX_TAINT_STEPS_PER_FORM),
        }
    }
}

/// The deepest node the checks visit: the one nesting limit of syntax features
/// ([`aiex_syntax::syntax::MAX_NESTING_DEPTH`]), counted in tree levels. A text nested past it
/// in brackets and blocks gets no tree at all; what reaches the checks deeper than this is a
/// tree a few levels deeper per bracket, or a chain of binary operators (a pipeline of
/// 100,000 steps), whose walk's two per-level stacks (our ancestors and tree-sitter's cursor)
/// grew to ~50 MB. Below it the checks skip the subtree, and say so in the log, so their
/// memory stays bounded whatever the nesting.
pub const MAX_WALK_DEPTH: usize = aiex_syntax::syntax::MAX_NESTING_DEPTH;

/// The one walk: visits every node once (down to [`MAX_WALK_DEPTH`]), keeping the enclosing
/// scopes current.
fn walk<'a>(ctx: &mut Ctx<'a>, root: Node<'a>) {
    let mut cursor = root.walk();
    ctx.ancestors.clear();
    ctx.taint_steps_left.set(security::MAX_TAINT_STEPS_PER_FORM);
    let mut cut = false;
    loop {
        let node = cursor.node();
        ctx.current = Some(node);
        let deeper = ctx.ancestors.len() < MAX_WALK_DEPTH;
        if !deeper && !cut && node.child_count() > 0 {
            cut = true;
            tracing::warn!(
                line = node.start_position().row + 1,
                "checks skip code nested deeper than {MAX_WALK_DEPTH} levels in this file"
            );
        }
        if enter(ctx, node) && deeper && cursor.goto_first_child() {
            ctx.ancestors.push(node);
            continue;
        }
        loop {
            ctx.current = Some(cursor.node());
            leave(ctx, cursor.node());
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                ctx.current = None;
                return;
            }
            ctx.ancestors.pop();
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
        credo::operator(ctx, node, op);
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
    } else if kind == k.quoted_atom {
        security::quoted_atom(ctx, node);
        return syntax::is_interpolated(node, k);
    } else if kind == k.integer || kind == k.float {
        credo::large_number(ctx, node);
    } else if kind == k.sigil {
        templates::sigil(ctx, node);
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
                security::finish_function(ctx, scope.flow);
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
                let flow = security::start_function(ctx, &def);
                ctx.functions.push(FunctionScope {
                    node_id: node.id(),
                    flow,
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
    credo::call(ctx, node, &name);
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

    /// Applies the first fix of the first finding of `id` (enabled) in `lib/app.ex`.
    pub fn apply_fix(source: &str, id: CheckId) -> String {
        let tree = parse(source);
        let config = ChecksConfig {
            enabled: vec![id.as_str().to_owned()],
            ..ChecksConfig::default()
        };
        let findings = run_checks(source, &tree, &FileContext::for_path("lib/app.ex"), &config);
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

    const SHOP_ACCOUNTS: &str =
        include_str!("../../../../fixtures/checks/shop/lib/shop/accounts.ex");

    /// The reference: one plain walk over the whole tree, no forms, no cache.
    fn reference(
        src: &str,
        tree: &Tree,
        file: &FileContext,
        config: &ChecksConfig,
    ) -> Vec<Finding> {
        let mut ctx = Ctx::new(src, file, config);
        walk(&mut ctx, tree.root_node());
        // The module- and file-level passes, over everything (the sources compared hold one
        // module each).
        let flows = std::mem::take(&mut ctx.flows);
        security::module_flows(&mut ctx, flows.iter().map(|f| (f, 0)));
        let facts = std::mem::take(&mut ctx.config_facts);
        config_env::file_config(&mut ctx, std::iter::once((&facts, 0)));
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
                "../../../../fixtures/checks/shop/lib/shop_web/controllers/file_controller.ex"
            ),
            include_str!("../../../../fixtures/checks/shop/lib/shop/reports.ex"),
            include_str!(
                "../../../../fixtures/checks/shop/lib/shop_web/controllers/report_controller.ex"
            ),
            include_str!("../../../../fixtures/checks/shop/config/prod.exs"),
            "IO.inspect(:a); IO.inspect(:b)\n# aiex:disable-next-line\ndbg(1)\ndbg(2)\n",
        ];
        // A broken module whose first forms end up in an ERROR node beside the do block.
        let broken = SHOP_ACCOUNTS
            .replace("role giv", "# aiex:disable-next-line debug\n")
            .replace("def get_user(id)", "def get_useIO.inspect(x)\n)");
        for src in sources.into_iter().chain([broken.as_str()]) {
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

    #[test]
    fn document_checks_keep_cross_function_taint_across_edits() {
        let mut src = include_str!(
            "../../../../fixtures/checks/shop/lib/shop_web/controllers/report_controller.ex"
        )
        .to_owned();
        let mut doc = DocumentChecks::default();
        let file = FileContext::for_path("lib/a.ex");
        let config = ChecksConfig::default();
        let sql = |findings: &[Finding]| {
            findings
                .iter()
                .filter(|f| f.check == CheckId::SqlInjection)
                .count()
        };
        let first = doc.run(&src, &parse(&src), &file, &config);
        assert_eq!(first, full(&src));
        assert_eq!(sql(&first), 1, "orders_for is reached from search's params");
        // The caller stops passing request data: the cached sink is no longer reported.
        src = src.replace("rows = orders_for(customer)", "rows = orders_for(\"acme\")");
        let second = doc.run(&src, &parse(&src), &file, &config);
        assert_eq!(second, full(&src));
        assert_eq!(sql(&second), 0);
        // Lines added above move the reported sink with them.
        src = src.replace("rows = orders_for(\"acme\")", "rows = orders_for(customer)");
        src.insert_str(0, "# header\n\n");
        let third = doc.run(&src, &parse(&src), &file, &config);
        assert_eq!(third, full(&src));
        assert_eq!(sql(&third), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn document_checks_after_random_edits_match_a_full_run(
            base in 0usize..3,
            edits in proptest::collection::vec((0.0f64..1.0, 0usize..12, 0usize..10), 1..6)
        ) {
            const SNIPPETS: [&str; 10] = [
                "IO.inspect(x)\n",
                "# aiex:disable-next-line debug\n",
                "\"",
                "end\n",
                "defmodule B do\n",
                "@doc \"x\"\n",
                "def g(a), do: a\n",
                "|> Enum.join()\n",
                "unless a do 1 else 2 end\n",
                "@spec g(term) :: term\n",
            ];
            let mut doc = DocumentChecks::default();
            let file = FileContext::for_path("lib/a.ex");
            let config = ChecksConfig::default();
            let bases = [
                SHOP_ACCOUNTS,
                include_str!("../../../../fixtures/checks/shop/lib/shop_web/controllers/file_controller.ex"),
                include_str!("../../../../fixtures/checks/shop/config/prod.exs"),
            ];
            let mut src = bases[base].to_owned();
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

    /// Runs `f` on a thread with a small stack, within a time bound.
    fn bounded(name: &str, limit: std::time::Duration, f: impl FnOnce() + Send + 'static) {
        let started = std::time::Instant::now();
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(f)
            .expect("thread starts");
        assert!(
            handle.join().is_ok(),
            "checking {name} overflowed the stack"
        );
        let elapsed = started.elapsed();
        assert!(elapsed < limit, "checking {name} took {elapsed:?}");
    }

    #[test]
    fn twenty_thousand_nested_modules_are_checked_without_overflow_in_bounded_time() {
        let depth = 20_000;
        let mut src = String::with_capacity(depth * 40);
        for i in 0..depth {
            src.push_str(&format!("defmodule M{i} do\n"));
        }
        src.push_str("def f(x), do: IO.inspect(x)\n");
        src.push_str(&"end\n".repeat(depth));
        // The tree is parsed outside the bounded thread: tree-sitter's parser is not the checks'.
        let tree = parse(&src);
        bounded(
            "20,000 nested modules",
            std::time::Duration::from_secs(20),
            move || {
                let file = FileContext::for_path("lib/a.ex");
                let findings = run_checks(&src, &tree, &file, &ChecksConfig::default());
                assert!(findings.iter().any(|f| f.check == CheckId::IoInspect));
                let mut doc = DocumentChecks::default();
                assert_eq!(
                    doc.run(&src, &tree, &file, &ChecksConfig::default()),
                    findings
                );
                drop(tree);
            },
        );
    }

    #[test]
    fn a_hundred_thousand_nested_calls_and_pipes_are_checked_in_bounded_time() {
        // Each call asks for its parent (is it piped into?): through tree-sitter's
        // `Node::parent`, a search from the root, this was cubic in the depth and ran for
        // minutes.
        let depth = 100_000;
        let src = format!(
            "defmodule Deep do\n  def f(x) do\n{}x{}\ny{}\n  end\nend\n",
            "g(".repeat(depth),
            ")".repeat(depth),
            " |> h()".repeat(depth / 2)
        );
        let tree = parse(&src);
        bounded(
            "100,000 nested calls",
            std::time::Duration::from_secs(20),
            move || {
                let file = FileContext::for_path("lib/a.ex");
                let mut doc = DocumentChecks::default();
                doc.run(&src, &tree, &file, &ChecksConfig::default());
                drop(tree);
            },
        );
    }

    #[test]
    fn code_nested_past_the_walk_depth_is_skipped_and_code_beside_it_is_still_checked() {
        let depth = MAX_WALK_DEPTH * 2;
        let src = format!(
            "defmodule Deep do\n  def f(x) do\n{}IO.inspect(x){}\n  end\n  def g(y), do: IO.inspect(y)\nend\n",
            "g(".repeat(depth),
            ")".repeat(depth),
        );
        let tree = parse(&src);
        let file = FileContext::for_path("lib/a.ex");
        let findings = run_checks(&src, &tree, &file, &ChecksConfig::default());
        let inspects: Vec<usize> = findings
            .iter()
            .filter(|f| f.check == CheckId::IoInspect)
            .map(|f| f.start_byte)
            .collect();
        // Only `g`'s: the one at the bottom of the nesting is past the limit.
        assert_eq!(
            inspects,
            vec![src.rfind("IO.inspect(y)").unwrap()],
            "{findings:?}"
        );
    }

    #[test]
    fn half_a_megabyte_of_small_modules_is_checked_in_bounded_time() {
        let mut src = String::new();
        for i in 0..3_319 {
            src.push_str(&format!(
                "defmodule App.Small{i} do\n  @moduledoc false\n  def f{i}(x), do: x + {i}\n  def g(y), do: String.to_atom(y)\nend\n\n"
            ));
            while src.len() < (i + 1) * 158 {
                src.push_str("# padding\n");
            }
        }
        assert!(src.len() >= 500_000, "{}", src.len());
        let tree = parse(&src);
        bounded(
            "3,319 small modules",
            std::time::Duration::from_secs(20),
            move || {
                let file = FileContext::for_path("lib/a.ex");
                let findings = run_checks(&src, &tree, &file, &ChecksConfig::default());
                assert!(findings.len() < 10_000);
                drop(tree);
            },
        );
    }

    /// The project's `docs/checks` directory (found above the crate, wherever it moves).
    fn docs_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|d| d.join("docs/checks"))
            .find(|d| d.is_dir())
            .expect("docs/checks exists above the crate")
    }

    /// The two Elixir blocks of a page's Example section: reported, then not reported.
    fn examples(page: &str) -> (String, String) {
        let example = page.split("## Example").nth(1).expect("an Example section");
        let blocks: Vec<&str> = example
            .split("```elixir\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap_or(""))
            .collect();
        assert_eq!(blocks.len(), 2, "{page}");
        (blocks[0].to_owned(), blocks[1].to_owned())
    }

    #[test]
    fn every_check_has_a_page_whose_examples_are_true() {
        // Examples that are sketches (elided bodies), or mix two languages (HEEx).
        const SKETCHES: &[&str] = &[
            "complexity/cyclomatic",
            "complexity/function-length",
            "complexity/nesting",
            "readability/todo",
            "security/xss-raw",
            "debug/iex-pry",
        ];
        let dir = docs_dir();
        let mut failures = Vec::new();
        for info in registry() {
            let path = dir.join(format!("{}.md", info.name));
            let page = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for heading in ["## What and why", "## How to fix", "## Example"] {
                assert!(page.contains(heading), "{} lacks {heading}", info.name);
            }
            assert!(page.contains(info.title), "{} has another title", info.name);
            assert_eq!(doc_path(info.id), format!("docs/checks/{}.md", info.name));
            if SKETCHES.contains(&info.name) {
                continue;
            }
            let (reported, fine) = examples(&page);
            let file = match info.name {
                "config/force-ssl" | "security/hardcoded-secret" => "config/prod.exs",
                _ => "lib/app/example.ex",
            };
            let found = render_only(&reported, file, info.id);
            if found.is_empty() {
                failures.push(format!(
                    "{}: the reported example is not reported:\n{reported}",
                    info.name
                ));
            }
            let found = render_only(&fine, file, info.id);
            if !found.is_empty() {
                failures.push(format!(
                    "{}: the fixed example is reported:\n{found}",
                    info.name
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn doc_urls_point_at_the_shipped_pages() {
        let url = doc_url(CheckId::UnsafeAtom).expect("the docs are found from the source tree");
        assert!(
            url.ends_with("docs/checks/security/unsafe-atom.md"),
            "{url}"
        );
        if let Some(path) = url.strip_prefix("file://") {
            assert!(Path::new(path).is_file(), "{path}");
        }
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
