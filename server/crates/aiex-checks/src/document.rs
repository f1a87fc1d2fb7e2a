//! Checking a document form by form, and [`DocumentChecks`], which keeps the results of
//! unchanged forms across edits.

use std::collections::HashMap;
use std::path::PathBuf;

use tree_sitter::{Node, Tree};

use super::syntax::{self, Kinds};
use super::{
    config_env, finish, readability, security, walk, ChecksConfig, Ctx, FileContext, Finding,
    Suppression,
};

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
pub(super) struct FormResult {
    /// What the module-level pass needs of it.
    doc_item: readability::DocItem,
    /// Everything else; `None` for the common form that has none of it. A generated file has
    /// tens of thousands of forms, each cached, so the empty case must cost one pointer.
    extras: Option<Box<FormExtras>>,
}

/// The rarer results of a form: findings, suppressions, taint summaries, configuration facts.
struct FormExtras {
    findings: Vec<Finding>,
    suppressions: Vec<Suppression>,
    /// Summaries of its function clauses, for the module-level taint pass.
    flows: Vec<security::FunctionFlow>,
    /// What the file-level Phoenix configuration checks need of it.
    config_facts: config_env::ConfigFacts,
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
        let flows = std::mem::take(&mut ctx.flows)
            .iter()
            .map(|f| f.moved(|b| b.saturating_sub(base)))
            .collect();
        let config_facts = std::mem::take(&mut ctx.config_facts).moved(|b| b.saturating_sub(base));
        let extras = FormExtras {
            findings,
            suppressions,
            flows,
            config_facts,
        };
        FormResult {
            doc_item,
            extras: (!extras.is_empty()).then(|| Box::new(extras)),
        }
    }

    fn findings(&self) -> &[Finding] {
        self.extras.as_ref().map_or(&[], |e| &e.findings)
    }

    fn suppressions(&self) -> &[Suppression] {
        self.extras.as_ref().map_or(&[], |e| &e.suppressions)
    }

    fn flows(&self) -> &[security::FunctionFlow] {
        self.extras.as_ref().map_or(&[], |e| &e.flows)
    }

    /// Appends the results of this form placed at `base` and `row`.
    fn place(
        &self,
        base: usize,
        row: usize,
        findings: &mut Vec<Finding>,
        suppressions: &mut Vec<Suppression>,
    ) {
        findings.extend(self.findings().iter().map(|f| {
            let mut f = f.clone();
            shift_finding(&mut f, |b| b + base);
            f
        }));
        suppressions.extend(self.suppressions().iter().map(|s| Suppression {
            line: s.line.map(|l| l + row),
            checks: s.checks.clone(),
        }));
    }
}

impl FormExtras {
    fn is_empty(&self) -> bool {
        self.findings.is_empty()
            && self.suppressions.is_empty()
            && self.flows.is_empty()
            && self.config_facts == config_env::ConfigFacts::default()
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

impl std::fmt::Debug for DocumentChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentChecks")
            .field("cached_forms", &self.cache.len())
            .finish()
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
pub(super) fn check_forms(
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
    let mut in_module = vec![false; placed.len()];
    for module in &modules {
        let items = module.iter().filter_map(|&i| {
            let (hash, base) = placed[i];
            next.get(&hash).map(|r| (&r.doc_item, base))
        });
        readability::module_docs(&mut ctx, items);
        let flows = module.iter().flat_map(|&i| {
            in_module[i] = true;
            let (hash, base) = placed[i];
            next.get(&hash)
                .into_iter()
                .flat_map(move |r| r.flows().iter().map(move |f| (f, base)))
        });
        security::module_flows(&mut ctx, flows);
    }
    // Forms outside any module (scripts) form one scope of their own.
    let loose = placed
        .iter()
        .zip(&in_module)
        .filter(|(_, inside)| !**inside)
        .flat_map(|((hash, base), _)| {
            next.get(hash)
                .into_iter()
                .flat_map(move |r| r.flows().iter().map(move |f| (f, *base)))
        });
    security::module_flows(&mut ctx, loose);
    config_env::file_config(
        &mut ctx,
        placed.iter().filter_map(|(hash, base)| {
            let extras = next.get(hash)?.extras.as_ref()?;
            Some((&extras.config_facts, *base))
        }),
    );
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
    // An explicit work list, not recursion: modules can nest 20,000 deep in hostile input.
    // Each module's own items stay in source order; nested modules are visited after them.
    let mut work: Vec<(Node<'t>, Option<usize>)> = vec![(root, None)];
    while let Some((parent, module)) = work.pop() {
        let mut nested = Vec::new();
        let mut cursor = parent.walk();
        for node in parent.named_children(&mut cursor) {
            let block = (node.kind_id() == k.call)
                .then(|| syntax::call_name(node, src, k))
                .flatten()
                .filter(|n| n.module.is_none() && n.fun == "defmodule")
                .and_then(|_| syntax::do_block(node, k));
            match block {
                Some(block) => {
                    // Besides its name and block, a broken module can hold an ERROR node
                    // with code in it: those children are forms too (not module items, like
                    // the module itself in the enclosing module).
                    let mut children = node.walk();
                    for child in node.named_children(&mut children) {
                        if child != block {
                            forms.push(child);
                        }
                    }
                    modules.push(Vec::new());
                    nested.push((block, Some(modules.len() - 1)));
                }
                None => {
                    if let Some(m) = module {
                        modules[m].push(forms.len());
                    }
                    forms.push(node);
                }
            }
        }
        work.extend(nested.into_iter().rev());
    }
    forms
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
