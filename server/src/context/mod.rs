//! The context engine: given a document, a cursor and a task, chooses what the model sees —
//! the code around the cursor, the enclosing function, the module header, the definitions of
//! the functions called (resolved across the workspace), recently edited and relevant chunks —
//! and packs it under a token budget, with every secret redacted.
//!
//! Architecture invariant: no LSP types and no I/O. Files come from the [`WorkspaceIndex`] and
//! the open documents the caller passes; secret files and paths outside the workspace are never
//! read into the context.

pub mod audit;
mod budget;
mod calls;
mod render;
mod retrieval;
mod sources;
mod tokens;
mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::chunks::{FileChunks, FunctionChunk, ModuleChunk};
use crate::index::WorkspaceIndex;

pub use sources::is_allowed;
pub use tokens::count_tokens;

use budget::Candidate;
use sources::Sources;

/// What the context is for: it decides how the budget is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Fill in code at the cursor: prefix and suffix matter most.
    Completion,
    /// Explain the function under the cursor.
    Explain,
    /// Rewrite the function under the cursor.
    Refactor,
    /// Write tests for the function under the cursor.
    Tests,
    /// Write `@doc` and `@spec` for the function under the cursor.
    Docs,
}

impl Task {
    /// The task's name as the command line and the audit log write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Completion => "completion",
            Self::Explain => "explain",
            Self::Refactor => "refactor",
            Self::Tests => "tests",
            Self::Docs => "docs",
        }
    }

    /// The task for a name (`completion`, `explain`, `refactor`, `tests`, `docs`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "completion" => Self::Completion,
            "explain" => Self::Explain,
            "refactor" => Self::Refactor,
            "tests" => Self::Tests,
            "docs" => Self::Docs,
            _ => return None,
        })
    }

    /// Shares of the budget (in percent) for the prefix and the suffix.
    fn window_shares(self) -> (usize, usize) {
        match self {
            Self::Completion => (35, 15),
            _ => (10, 5),
        }
    }
}

/// A request for context.
pub struct ContextRequest<'a> {
    /// The task.
    pub task: Task,
    /// Workspace-relative path of the document.
    pub path: &'a Path,
    /// The document as the editor holds it.
    pub text: &'a str,
    /// Its syntax tree (of `text`).
    pub tree: &'a tree_sitter::Tree,
    /// Its chunks (of `text`).
    pub chunks: &'a FileChunks,
    /// The cursor, a byte offset into `text`.
    pub cursor: usize,
    /// The most tokens the whole context may take.
    pub budget_tokens: usize,
    /// Places the user edited recently, most recent first (may be empty).
    pub recent_edits: &'a [RecentEdit],
}

/// Another open document: it overrides the index's copy of the same path.
#[derive(Debug, Clone)]
pub struct OpenDocument {
    /// Workspace-relative path.
    pub path: PathBuf,
    /// The text the editor holds.
    pub text: Arc<str>,
    /// Its chunks.
    pub chunks: Arc<FileChunks>,
}

/// A place the user edited recently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEdit {
    /// Workspace-relative path of the edited file.
    pub path: PathBuf,
    /// A byte offset inside the edit.
    pub offset: usize,
}

/// One piece of context with why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextPiece {
    /// Workspace-relative path of the file it comes from.
    pub path: PathBuf,
    /// Why it is there (`enclosing function`, `called: MyApp.Repo.insert/1`, ...).
    pub reason: String,
    /// The text, redacted.
    pub text: String,
    /// Its token count.
    pub tokens: usize,
}

/// The context assembled for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AssembledContext {
    /// The text before the cursor, from a syntactic boundary, redacted.
    pub prefix: String,
    /// The text after the cursor, to a syntactic boundary, redacted.
    pub suffix: String,
    /// The pieces, in the order to show the model (most relevant last, nearest the code).
    pub pieces: Vec<ContextPiece>,
    /// How many secrets were replaced by placeholders.
    pub redactions: usize,
    /// Tokens of the prefix, suffix and pieces together.
    pub tokens: usize,
}

impl AssembledContext {
    /// The pieces rendered as Elixir comments for a fill-in-the-middle prompt, each labelled with
    /// its file path.
    pub fn snippets_as_comments(&self) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            out.push_str(&format!("# {} ({})\n", piece.path.display(), piece.reason));
            for line in piece.text.lines() {
                if line.is_empty() {
                    out.push_str("#\n");
                } else {
                    out.push_str("# ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out.push('\n');
        }
        out
    }

    /// Every file the context draws on (the document's own path first), without repeats.
    pub fn files(&self, document: &Path) -> Vec<PathBuf> {
        let mut files = vec![document.to_path_buf()];
        for piece in &self.pieces {
            if !files.contains(&piece.path) {
                files.push(piece.path.clone());
            }
        }
        files
    }
}

/// Assembles the context for `request`. Runs on every completion request: a hot path, covered
/// by `benches/context_eval.rs`.
///
/// A document that is itself a secret file (or lies outside the workspace) gets an empty
/// context: nothing of it may reach a prompt.
pub fn assemble(
    request: &ContextRequest<'_>,
    index: &WorkspaceIndex,
    open: &[OpenDocument],
) -> AssembledContext {
    if !sources::is_allowed(request.path) {
        return AssembledContext::default();
    }
    let cursor = window::clamp_to_char_boundary(request.text, request.cursor);
    let sources = Sources::new(request, index, open);
    let (prefix_share, suffix_share) = request.task.window_shares();
    let window = window::cut(
        request.text,
        request.tree,
        request.chunks,
        cursor,
        request.budget_tokens * prefix_share / 100,
        request.budget_tokens * suffix_share / 100,
    );
    let (prefix, suffix, mut redactions) = window::redact_around(
        &request.text[window.start..window.end],
        cursor - window.start,
    );
    let prefix_tokens = count_tokens(&prefix);
    let suffix_tokens = count_tokens(&suffix);
    let remaining = request
        .budget_tokens
        .saturating_sub(prefix_tokens + suffix_tokens);

    let visible = |start: usize, end: usize| window.start <= start && end <= window.end;
    let candidates = candidates(request, &sources, cursor, &visible);
    let packed = budget::pack(candidates, remaining);
    redactions += packed.iter().map(|p| p.redactions).sum::<usize>();
    let pieces: Vec<ContextPiece> = packed.into_iter().map(|p| p.piece).collect();
    let tokens = prefix_tokens + suffix_tokens + pieces.iter().map(|p| p.tokens).sum::<usize>();
    AssembledContext {
        prefix,
        suffix,
        pieces,
        redactions,
        tokens,
    }
}

/// Every piece worth showing, most important first, each with its forms from fullest to
/// most compressed.
fn candidates(
    request: &ContextRequest<'_>,
    sources: &Sources<'_>,
    cursor: usize,
    visible: &dyn Fn(usize, usize) -> bool,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    let module = request.chunks.module_at(cursor);
    let enclosing = enclosing_function(request.chunks, module, cursor);
    // (module, function, arity) of every function already offered.
    let mut seen: Vec<(String, String, usize)> = Vec::new();

    // For a remote call being typed (`Payments.` before the cursor), the module's public API.
    if request.task == Task::Completion {
        if let Some((written, partial)) = calls::remote_being_typed(request.text, cursor) {
            let full = module.map_or_else(|| written.to_owned(), |m| m.expand_alias(written));
            if let Some(file) = sources.module_file(&full) {
                if let Some(target) = file.module(&full) {
                    let api = render::module_api(target, partial);
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
        let Some(callee) = calls::resolve(sources, module, call) else {
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
        if let Some(module) = module {
            local_callables(request, sources, module, cursor, visible, &mut out);
        }
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
    module: &ModuleChunk,
    cursor: usize,
    visible: &dyn Fn(usize, usize) -> bool,
    out: &mut Vec<Candidate>,
) {
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
    for directive in module
        .directives
        .iter()
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
            .filter(|f| calls::import_allows(&directive.text, &f.name, f.arity))
            .collect();
        out.push(Candidate::new(
            &file.relative,
            format!("imported: {}", imported.name),
            budget::Slot::Callee,
            forms(format!("# {} (imported)\n", imported.name), &functions),
        ));
    }
}

/// Builds the retrieval index of `index` now if it is missing or out of date. Requests never
/// wait for a rebuild once one exists (they use the previous one while a background thread
/// builds the next), but the first request builds it: call this after indexing a workspace,
/// off the request path (about 0.25 s for 300,000 lines).
pub fn warm_retrieval(index: &WorkspaceIndex) {
    retrieval::warm(index.files());
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

#[cfg(test)]
mod tests;
