//! Choosing the candidate pieces of a context, most important first: the module being called,
//! the enclosing function, the module header, the callees, what can be called by the name
//! being typed, recent edits and related chunks. Packing them is `budget.rs`'s job.

use super::budget::{self, Candidate};
use super::sources::Sources;
use super::{calls, render, retrieval, window, ContextRequest, Task};
use crate::chunks::{FileChunks, FunctionChunk, ModuleChunk};

/// Every piece worth showing, most important first, each with its forms from fullest to
/// most compressed.
pub(super) fn candidates(
    request: &ContextRequest<'_>,
    sources: &Sources<'_>,
    cursor: usize,
    visible: &dyn Fn(usize, usize) -> bool,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    let scopes = crate::semantics::scopes_at(request.chunks, cursor);
    let module = scopes.first().copied();
    let enclosing = enclosing_function(request.chunks, module, cursor);
    // (module, function, arity) of every function already offered.
    let mut seen: Vec<(String, String, usize)> = Vec::new();

    // For a remote call being typed (`Payments.` before the cursor), the module's public API.
    if request.task == Task::Completion {
        if let Some((written, partial)) = calls::remote_being_typed(request.text, cursor) {
            let full = crate::semantics::expand(&scopes, written);
            if let Some(file) = sources.module_file(&full) {
                if let Some(target) = file.module(&full) {
                    let mut api = render::module_api(target, partial);
                    // Most called first: with nothing typed after the dot, the list of a large
                    // module is longer than the budget, and the likely callee must survive.
                    let calls = sources.calls_into(&full);
                    api.sort_by_key(|f| {
                        std::cmp::Reverse(calls.get(&f.name).copied().unwrap_or(0))
                    });
                    seen.extend(api.iter().map(|f| (full.clone(), f.name.clone(), f.arity)));
                    let forms = render::module_api_forms(target, &api);
                    if !forms.is_empty() {
                        out.push(Candidate::new(
                            &file.relative,
                            format!("module being called: {full}"),
                            budget::Slot::Callee,
                            forms,
                        ));
                    }
                }
            }
        }
    }

    // The enclosing function whole (for completion, only when the window cuts it).
    if let Some(function) = enclosing {
        let needed =
            request.task != Task::Completion || !visible(function.range.start, function.range.end);
        if needed {
            out.push(Candidate::new(
                request.path,
                format!("enclosing function {}", function.label()),
                budget::Slot::Enclosing,
                // Compressed, the head the window may lack: its doc summary, spec and heads.
                render::function_forms_titled(request.text, "", function),
            ));
        }
    }
    // The module header, unless the prefix already shows it.
    if let Some(module) = module {
        let end = module
            .directives
            .iter()
            .map(|d| d.range.end)
            .chain(module.attributes.iter().map(|a| a.range.end))
            .max()
            .unwrap_or(module.name_range.end);
        if !visible(module.range.start, end) {
            out.push(Candidate::new(
                request.path,
                format!("module header {}", module.name),
                budget::Slot::Header,
                render::module_header_forms(module),
            ));
        }
    }

    // Definitions of the functions called, the call nearest the cursor first.
    if let Some(function) = enclosing {
        seen.push((
            module.map(|m| m.name.clone()).unwrap_or_default(),
            function.name.clone(),
            function.arity,
        ));
    }
    let mut calls = match enclosing {
        Some(function) => function.calls.clone(),
        None => calls::calls_near(request.tree, request.text, cursor),
    };
    calls.sort_by_key(|call| call.range.start.abs_diff(cursor));
    for call in &calls {
        let Some(callee) = calls::resolve(sources, &scopes, call) else {
            continue;
        };
        let key = (
            callee.module.clone(),
            callee.function.name.clone(),
            callee.function.arity,
        );
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        if callee.file.relative == request.path
            && visible(callee.function.range.start, callee.function.range.end)
        {
            continue;
        }
        out.push(Candidate::new(
            &callee.file.relative,
            format!("called: {}.{}", callee.module, callee.function.label()),
            budget::Slot::Callee,
            render::function_forms(&callee.file.text, &callee.module, &callee.function),
        ));
    }

    // For a local call being typed, what is callable by name: the imported functions and the
    // module's own functions that the window does not show.
    let typing_remote = calls::remote_being_typed(request.text, cursor).is_some();
    if request.task == Task::Completion && !typing_remote {
        local_callables(request, sources, &scopes, cursor, visible, &mut out);
        aliased_apis(request, sources, &scopes, cursor, &mut seen, &mut out);
    }

    // Recently edited chunks.
    for edit in request.recent_edits.iter().take(4) {
        let Some(file) = sources.file(&edit.path) else {
            continue;
        };
        let Some((owner, function)) = function_at(&file.chunks, edit.offset) else {
            continue;
        };
        let key = (owner.name.clone(), function.name.clone(), function.arity);
        if seen.contains(&key)
            || (file.relative == request.path && visible(function.range.start, function.range.end))
        {
            continue;
        }
        seen.push(key);
        out.push(Candidate::new(
            &file.relative,
            format!("recently edited: {}.{}", owner.name, function.label()),
            budget::Slot::Recent,
            render::function_forms(&file.text, &owner.name, function),
        ));
    }

    // Chunks retrieved by relevance, for what the above misses.
    let query_text = match enclosing {
        Some(function) => render::function_source(request.text, function.range),
        None => window::lines_around(request.text, cursor, 15).to_owned(),
    };
    for hit in retrieval::search(sources, &query_text, 6) {
        let key = (
            hit.module.clone(),
            hit.function.name.clone(),
            hit.function.arity,
        );
        if seen.contains(&key) || hit.file.relative == request.path {
            continue;
        }
        seen.push(key);
        out.push(Candidate::new(
            &hit.file.relative,
            format!("related: {}.{}", hit.module, hit.function.label()),
            budget::Slot::Related,
            render::function_forms(&hit.file.text, &hit.module, &hit.function),
        ));
    }
    out
}

/// Candidates for a local call being typed at `cursor`: the current module's functions outside
/// the window, then each imported workspace module's functions, filtered by the partial name.
fn local_callables(
    request: &ContextRequest<'_>,
    sources: &Sources<'_>,
    scopes: &[&ModuleChunk],
    cursor: usize,
    visible: &dyn Fn(usize, usize) -> bool,
    out: &mut Vec<Candidate>,
) {
    let Some(module) = scopes.first() else {
        return;
    };
    let partial = calls::partial_identifier(request.text, cursor);
    // Once a name is begun the lists are short: keep their specs.
    let forms = |title: String, functions: &[&FunctionChunk]| {
        let mut forms = render::function_list_forms(&title, functions);
        if !partial.is_empty() {
            forms.truncate(2);
        }
        forms
    };
    let own: Vec<&FunctionChunk> = module
        .functions
        .iter()
        .filter(|f| f.name.starts_with(partial) && !f.range.contains(cursor))
        .filter(|f| !visible(f.range.start, f.range.end))
        .collect();
    out.push(Candidate::new(
        request.path,
        format!("functions of {}", module.name),
        budget::Slot::Callee,
        forms(format!("# {} (this module)\n", module.name), &own),
    ));
    for directive in scopes
        .iter()
        .flat_map(|scope| scope.directives.iter())
        .filter(|d| d.kind == crate::chunks::DirectiveKind::Import)
    {
        let Some(file) = sources.module_file(&directive.module) else {
            continue;
        };
        let Some(imported) = file.module(&directive.module) else {
            continue;
        };
        let functions: Vec<&FunctionChunk> = imported
            .functions
            .iter()
            .filter(|f| !f.kind.is_private() && f.name.starts_with(partial))
            .filter(|f| crate::semantics::import_allows(&directive.text, &f.name, f.arity))
            .collect();
        out.push(Candidate::new(
            &file.relative,
            format!("imported: {}", imported.name),
            budget::Slot::Callee,
            forms(format!("# {} (imported)\n", imported.name), &functions),
        ));
    }
}

/// For a completion outside a remote call: the public functions of each workspace module the
/// code around the cursor aliases (innermost scope first), those this file calls most first,
/// each list ranked by how often the workspace calls its functions, without the callees
/// already offered. A line not written yet mostly calls what the file's aliases bring in; the
/// enclosing function's calls say only what it called already. Measured with the
/// `completion_quality` bench (see ARCHITECTURE-context.md).
fn aliased_apis(
    request: &ContextRequest<'_>,
    sources: &Sources<'_>,
    scopes: &[&ModuleChunk],
    cursor: usize,
    seen: &mut Vec<(String, String, usize)>,
    out: &mut Vec<Candidate>,
) {
    let partial = calls::partial_identifier(request.text, cursor);
    let own = scopes.first().map(|m| m.name.as_str());
    let mut modules: Vec<&str> = Vec::new();
    for directive in scopes
        .iter()
        .flat_map(|scope| scope.directives.iter())
        .filter(|d| d.kind == crate::chunks::DirectiveKind::Alias)
    {
        let module = directive.module.as_str();
        if Some(module) != own && !modules.contains(&module) {
            modules.push(module);
        }
    }
    if modules.is_empty() {
        return;
    }
    // How often this file calls each module: the ones it leans on come first.
    let mut uses = vec![0usize; modules.len()];
    for (at, _) in request.chunks.remote_calls_into(&modules) {
        uses[at] += 1;
    }
    let mut by_use: Vec<(usize, &str)> = uses.into_iter().zip(modules).collect();
    by_use.sort_by_key(|(uses, _)| std::cmp::Reverse(*uses));
    let modules: Vec<&str> = by_use.into_iter().map(|(_, module)| module).collect();
    let counts = sources.calls_into_each(&modules);
    for (module, calls) in modules.iter().zip(counts) {
        let Some(file) = sources.module_file(module) else {
            continue;
        };
        let Some(target) = file.module(module) else {
            continue;
        };
        let mut api: Vec<&FunctionChunk> = render::module_api(target, partial)
            .into_iter()
            .filter(|f| !seen.contains(&((*module).to_owned(), f.name.clone(), f.arity)))
            .collect();
        if api.is_empty() {
            continue;
        }
        api.sort_by_key(|f| std::cmp::Reverse(calls.get(&f.name).copied().unwrap_or(0)));
        seen.extend(
            api.iter()
                .map(|f| ((*module).to_owned(), f.name.clone(), f.arity)),
        );
        out.push(Candidate::new(
            &file.relative,
            format!("aliased: {module}"),
            budget::Slot::Callee,
            render::aliased_api_forms(target, &api),
        ));
    }
}

/// The function whose range holds `cursor`, in `module` or at the top level.
fn enclosing_function<'c>(
    chunks: &'c FileChunks,
    module: Option<&'c ModuleChunk>,
    cursor: usize,
) -> Option<&'c FunctionChunk> {
    let functions = module.map_or(&chunks.functions, |m| &m.functions);
    functions
        .iter()
        .find(|f| f.clauses.iter().any(|clause| clause.range.contains(cursor)))
}

/// The module and function at `offset` in a file.
fn function_at(chunks: &FileChunks, offset: usize) -> Option<(&ModuleChunk, &FunctionChunk)> {
    let module = chunks.module_at(offset)?;
    let function = module.functions.iter().find(|f| f.range.contains(offset))?;
    Some((module, function))
}
