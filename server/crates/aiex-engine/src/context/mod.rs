//! The context engine: given a document, a cursor and a task, chooses what the model sees —
//! the code around the cursor, the enclosing function, the module header, the definitions of
//! the functions called (resolved across the workspace), recently edited and relevant chunks —
//! and packs it under a token budget, with every secret redacted.
//!
//! Architecture invariant: no LSP types and no I/O. Files come from the [`WorkspaceIndex`] and
//! the open documents the caller passes; secret files and paths outside the workspace are never
//! read into the context.

mod budget;
mod calls;
mod render;
mod retrieval;
mod select;
mod sources;
mod tokens;
mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::chunks::FileChunks;
use crate::index::WorkspaceIndex;

pub use sources::is_allowed;
pub use tokens::{count_with, load_tokenizer, TokenCounter};

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

    /// The tokens of `budget` for the text before and after the cursor; the workspace's
    /// pieces get the rest.
    ///
    /// A completion's own file comes first, up to [`COMPLETION_WINDOW_TOKENS`]: measured with
    /// the `completion_quality` bench (Qwen2.5-Coder 0.5B, 30 held-out lines, 1,024 tokens),
    /// giving the workspace half the budget lost to the file alone (exact match 10.0 % against
    /// 16.7 %, similarity 0.497 against 0.536); a window of 90 % matched it on exact match and
    /// beat it on similarity (0.560). Past that window the workspace helps more than further
    /// lines of the file, so larger budgets go to the pieces (56 % of 2,048 tokens).
    fn window_tokens(self, budget: usize) -> (usize, usize) {
        match self {
            Self::Completion => {
                let window = (budget * 9 / 10).min(COMPLETION_WINDOW_TOKENS);
                (window * 72 / 100, window * 28 / 100)
            }
            _ => (budget * 10 / 100, budget * 5 / 100),
        }
    }
}

/// The most tokens a completion's window (prefix and suffix) takes; see `Task::window_tokens`.
pub const COMPLETION_WINDOW_TOKENS: usize = 900;

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
    /// How tokens are counted (the model's tokenizer, or cl100k).
    pub tokens: &'a TokenCounter,
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

/// A workspace-relative path as a prompt shows it: `/`-separated on every platform.
fn prompt_path(path: &std::path::Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
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
    /// The pieces as the repository around a hole in `path`, of the workspace folder `name`:
    /// the model is shown them in its family's repository layout, or as comments.
    pub fn repository(&self, name: &str, path: &std::path::Path) -> crate::llm::types::Repository {
        crate::llm::types::Repository {
            name: name.to_owned(),
            path: prompt_path(path),
            comment: "#".to_owned(),
            pieces: self
                .pieces
                .iter()
                .map(|piece| crate::llm::types::RepositoryPiece {
                    path: prompt_path(&piece.path),
                    reason: piece.reason.clone(),
                    text: piece.text.clone(),
                })
                .collect(),
        }
    }

    /// The pieces rendered as Elixir comments, each labelled with its file path, for prompts
    /// that quote them (actions, chat).
    pub fn snippets_as_comments(&self) -> String {
        crate::llm::fim::pieces_as_comments(&self.repository("", std::path::Path::new("")))
    }

    /// This context with `previous`'s pieces first, in their order, then the pieces it chose
    /// that `previous` lacks, while `budget_tokens` holds. While the user types in one
    /// function the prompt then starts the same way request after request, and a server's
    /// prompt cache (llama.cpp's, Ollama's) reuses everything up to the cursor instead of
    /// reading it again: on a CPU that is the difference between a second and ten.
    pub fn keeping_pieces_of(mut self, previous: &[ContextPiece], budget_tokens: usize) -> Self {
        let piece_tokens = |pieces: &[ContextPiece]| pieces.iter().map(|p| p.tokens).sum::<usize>();
        let window_tokens = self.tokens - piece_tokens(&self.pieces);
        let mut pieces = previous.to_vec();
        let mut used = window_tokens + piece_tokens(&pieces);
        for piece in std::mem::take(&mut self.pieces) {
            if previous.contains(&piece) || used + piece.tokens > budget_tokens {
                continue;
            }
            used += piece.tokens;
            pieces.push(piece);
        }
        self.tokens = used;
        self.pieces = pieces;
        self
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
/// A document that is itself a secret file, by name or by content (or lies outside the
/// workspace) gets an empty context: nothing of it may reach a prompt.
pub fn assemble(
    request: &ContextRequest<'_>,
    index: &WorkspaceIndex,
    open: &[OpenDocument],
) -> AssembledContext {
    if !sources::is_allowed(request.path) || crate::secrets::is_secret_text(request.text) {
        return AssembledContext::default();
    }
    let cursor = window::clamp_to_char_boundary(request.text, request.cursor);
    let sources = Sources::new(request, index, open);
    let (prefix_tokens_most, suffix_tokens_most) =
        request.task.window_tokens(request.budget_tokens);
    let window = window::cut(
        request.tokens,
        request.text,
        request.tree,
        request.chunks,
        cursor,
        prefix_tokens_most,
        suffix_tokens_most,
    );
    let (prefix, suffix, mut redactions) = window::redact_around(
        &request.text[window.start..window.end],
        cursor - window.start,
    );
    let prefix_tokens = request.tokens.count(&prefix);
    let suffix_tokens = request.tokens.count(&suffix);
    let remaining = request
        .budget_tokens
        .saturating_sub(prefix_tokens + suffix_tokens);

    let visible = |start: usize, end: usize| window.start <= start && end <= window.end;
    let candidates = select::candidates(request, &sources, cursor, &visible);
    let packed = budget::pack(request.tokens, candidates, remaining);
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

/// Builds the retrieval index of `index` now if it is missing or out of date. Requests never
/// wait for a rebuild once one exists (they use the previous one while a background thread
/// builds the next), but the first request builds it: call this after indexing a workspace,
/// off the request path (about 0.25 s for 300,000 lines).
pub fn warm_retrieval(index: &WorkspaceIndex) {
    index.warm_relevance();
}

#[cfg(test)]
mod tests;
