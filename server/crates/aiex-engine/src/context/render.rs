//! The text of a piece in each of its forms, fullest first: a function's source; its
//! signatures, `@spec` and first paragraph of `@doc`; the same with the doc's first line only.

use crate::chunks::{ByteRange, Doc, FunctionChunk, ModuleChunk};

/// The source in `range`, or nothing when the range does not fit the text.
fn source_of(text: &str, range: ByteRange) -> String {
    text.get(range.start..range.end).unwrap_or("").to_owned()
}

/// A function's forms: whole source, then signature + spec + doc summary, then signature + spec
/// + the doc's first line. Each starts with a comment naming the function.
pub(crate) fn function_forms(text: &str, module: &str, function: &FunctionChunk) -> Vec<String> {
    let title = format!("# {module}.{}\n", function.label());
    function_forms_titled(text, &title, function)
}

/// [`function_forms`] under a given title line (empty for none).
pub(crate) fn function_forms_titled(
    text: &str,
    title: &str,
    function: &FunctionChunk,
) -> Vec<String> {
    let title = title.to_owned();
    let mut forms = Vec::with_capacity(3);
    let source = function_source(text, function.range);
    if !source.is_empty() {
        forms.push(format!("{title}{source}\n"));
    }
    let summary = function.doc_summary();
    let first_line = summary.and_then(|s| s.lines().next());
    for doc in [summary, first_line] {
        let mut out = title.clone();
        if let Some(doc) = doc.filter(|d| !d.is_empty()) {
            out.push_str(&doc_attribute(doc));
        } else if matches!(function.doc, Some(Doc::Hidden)) {
            out.push_str("@doc false\n");
        }
        out.push_str(&heads(function));
        forms.push(out);
    }
    forms.dedup();
    forms
}

/// `@spec` lines and the heads of up to three clauses (`def name(args) when guard`).
fn heads(function: &FunctionChunk) -> String {
    let mut out = String::new();
    for spec in &function.specs {
        out.push_str(&format!("@spec {spec}\n"));
    }
    out.push_str(&function.clause_heads(3));
    out
}

fn doc_attribute(doc: &str) -> String {
    if doc.contains('\n') || doc.contains('"') {
        let indented: Vec<String> = doc.lines().map(|line| format!("  {line}")).collect();
        format!("@doc \"\"\"\n{}\n\"\"\"\n", indented.join("\n"))
            .replace("\n  \n", "\n\n")
            .replacen("@doc \"\"\"\n  ", "@doc \"\"\"\n", 1)
    } else {
        format!("@doc \"{doc}\"\n")
    }
}

/// The source in `range` with the indentation of its first line removed from every line, so
/// that a function nested in a module reads from column zero.
pub(crate) fn function_source(text: &str, range: ByteRange) -> String {
    let source = source_of(text, range);
    let line_start = text
        .get(..range.start)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |at| at + 1);
    let column = range.start.saturating_sub(line_start);
    let mut out = String::with_capacity(source.len());
    for (number, line) in source.split_inclusive('\n').enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if number == 0 {
            out.push_str(line);
        } else {
            out.push_str(&line[indent.min(column)..]);
        }
    }
    out
}

/// A module header's forms: name, moduledoc summary, directives and attributes; then name and
/// directives only.
pub(crate) fn module_header_forms(module: &ModuleChunk) -> Vec<String> {
    let directives: String = module
        .directive_lines()
        .iter()
        .map(|text| format!("  {text}\n"))
        .collect();
    let mut full = format!("defmodule {} do\n", module.name);
    if let Some(Doc::Text(doc)) = &module.moduledoc {
        if let Some(summary) = doc.split("\n\n").next().map(str::trim) {
            let summary: Vec<&str> = summary.lines().collect();
            full.push_str(&format!(
                "  @moduledoc \"\"\"\n  {}\n  \"\"\"\n",
                summary.join("\n  ")
            ));
        }
    }
    full.push_str(&directives);
    for attribute in &module.attributes {
        full.push_str(&format!("  {}\n", attribute.text));
    }
    full.push_str("  # ...\nend\n");
    let short = format!("defmodule {} do\n{directives}  # ...\nend\n", module.name);
    let mut forms = vec![full, short];
    forms.dedup();
    forms
}

/// A module's public functions not hidden with `@doc false` whose name starts with `partial`:
/// what a remote call being typed may reach.
pub(crate) fn module_api<'m>(module: &'m ModuleChunk, partial: &str) -> Vec<&'m FunctionChunk> {
    module
        .functions
        .iter()
        .filter(|f| !f.kind.is_private() && f.name.starts_with(partial))
        .filter(|f| !matches!(f.doc, Some(Doc::Hidden)))
        .collect()
}

/// The forms of [`module_api`]: with doc first lines, then specs and heads only (never less:
/// the specs are what the user is about to need).
pub(crate) fn module_api_forms(module: &ModuleChunk, functions: &[&FunctionChunk]) -> Vec<String> {
    ranked_list_forms(module, functions, 2)
}

/// The forms of a module's public functions that the code around the cursor may call (the
/// modules it aliases): as [`module_api_forms`], down to one head per function, since none of
/// them is being typed yet.
pub(crate) fn aliased_api_forms(module: &ModuleChunk, functions: &[&FunctionChunk]) -> Vec<String> {
    ranked_list_forms(module, functions, 3)
}

/// The `depth` fullest forms of [`function_list_forms`] for `functions` (ranked by the
/// caller), then the least of them for the first seven eighths, six eighths, ... of the list.
fn ranked_list_forms(
    module: &ModuleChunk,
    functions: &[&FunctionChunk],
    depth: usize,
) -> Vec<String> {
    let title = format!("# {} (public functions)\n", module.name);
    let mut forms = function_list_forms(&title, functions);
    forms.truncate(depth);
    // A large module's list does not fit a small budget: then the first functions only, which
    // the caller ranked most called first, in the least of the forms kept, in steps of an eighth, so that the
    // budget keeps as many as it can hold (a fixed 40 left half the room of a 2,048-token
    // budget unused when the whole list was a little too long).
    let mut kept = functions.len();
    for eighths in (1..8).rev() {
        let keep = functions.len() * eighths / 8;
        if keep < 5 || keep >= kept {
            continue;
        }
        kept = keep;
        let mut shorter = function_list_forms(&title, &functions[..keep]);
        shorter.truncate(depth);
        forms.extend(shorter.into_iter().last());
    }
    forms
}

/// A list of functions: doc first lines, specs and heads; then specs and heads; then one head
/// each. Nothing when the list is empty.
pub(crate) fn function_list_forms(title: &str, functions: &[&FunctionChunk]) -> Vec<String> {
    if functions.is_empty() {
        return Vec::new();
    }
    let mut with_docs = title.to_owned();
    let mut with_specs = title.to_owned();
    let mut heads_only = title.to_owned();
    for function in functions {
        if let Some(line) = function.doc_summary().and_then(|s| s.lines().next()) {
            with_docs.push_str(&format!("# {line}\n"));
        }
        let heads = heads(function);
        with_docs.push_str(&heads);
        with_specs.push_str(&heads);
        for clause in function.clauses.iter().take(1) {
            heads_only.push_str(&format!(
                "{} {}\n",
                function.kind.keyword(),
                clause.signature
            ));
        }
    }
    let mut forms = vec![with_docs, with_specs, heads_only];
    forms.dedup();
    forms
}
