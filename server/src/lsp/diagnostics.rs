//! Built-in checks as LSP diagnostics: computed off the keystroke path, pushed after a pause in
//! typing or pulled by clients that ask, and turned into quick fixes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ropey::Rope;
use tower_lsp_server::ls_types as lsp;

use super::convert;
use crate::checks::{self, DocumentChecks, FileContext, Finding, Fix, Severity};
use crate::chunks::ByteRange;
use crate::document::store::DocumentStore;
use crate::document::{DocumentKey, PositionEncoding, SyntaxSnapshot};

/// How long typing must pause before diagnostics are recomputed and pushed.
pub const PUSH_DEBOUNCE: Duration = Duration::from_millis(150);

/// The findings of each document with the version they are for.
type FindingsCache = DashMap<DocumentKey, (i32, Arc<Vec<Finding>>)>;

/// Findings per document, cached per version, and the debounce state of pushes.
#[derive(Debug, Default)]
pub struct DiagnosticsState {
    /// Bumped on every edit; a pending push only runs if the generation is unchanged.
    generations: DashMap<DocumentKey, u64>,
    /// Shared with the blocking work, which caches its result even if nobody waits any more.
    cache: Arc<FindingsCache>,
    /// Per document, the checker that re-walks only the top-level forms that changed.
    checkers: DashMap<DocumentKey, Arc<parking_lot::Mutex<DocumentChecks>>>,
}

impl DiagnosticsState {
    /// Records an edit and returns the generation a push scheduled now must still see.
    pub fn bump(&self, key: &DocumentKey) -> u64 {
        let mut entry = self.generations.entry(key.clone()).or_insert(0);
        *entry += 1;
        *entry
    }

    /// True when no edit came after the one that scheduled `generation`.
    pub fn is_current(&self, key: &DocumentKey, generation: u64) -> bool {
        self.generations.get(key).is_some_and(|g| *g == generation)
    }

    /// Forgets a closed document.
    pub fn forget(&self, key: &DocumentKey) {
        self.generations.remove(key);
        self.cache.remove(key);
        self.checkers.remove(key);
    }

    /// The findings of a document at its latest parsed version.
    ///
    /// The checks run on the blocking pool and cache their result themselves, so a request
    /// that stops waiting at its budget (or is cancelled) leaves it for the next one.
    pub async fn findings(
        &self,
        documents: &DocumentStore,
        key: &DocumentKey,
        file: FileContext,
        config: &checks::ChecksConfig,
    ) -> Option<(SyntaxSnapshot, Arc<Vec<Finding>>)> {
        let snapshot = documents.syntax(key).await?;
        if let Some(cached) = self.cache.get(key) {
            if cached.0 == snapshot.version {
                return Some((snapshot, Arc::clone(&cached.1)));
            }
        }
        let findings = match &snapshot.tree {
            Ok(tree) => {
                let (tree, rope, config) = (tree.clone(), snapshot.rope.clone(), config.clone());
                let checker = Arc::clone(&self.checkers.entry(key.clone()).or_default());
                let (cache, owned_key, version) =
                    (Arc::clone(&self.cache), key.clone(), snapshot.version);
                tokio::task::spawn_blocking(move || {
                    let findings =
                        Arc::new(checker.lock().run(&rope.to_string(), &tree, &file, &config));
                    let newer = cache.get(&owned_key).is_some_and(|c| c.0 > version);
                    if !newer {
                        cache.insert(owned_key, (version, Arc::clone(&findings)));
                    }
                    findings
                })
                .await
                .unwrap_or_default()
            }
            Err(_) => {
                let none = Arc::new(Vec::new());
                self.cache
                    .insert(key.clone(), (snapshot.version, Arc::clone(&none)));
                none
            }
        };
        // Closed while the checks ran: keep nothing of it.
        if documents.get(key).is_none() {
            self.forget(key);
        }
        Some((snapshot, findings))
    }
}

/// The context the checks get for a document: its path relative to the workspace root.
pub fn file_context(uri: &lsp::Uri, roots: &[std::path::PathBuf]) -> FileContext {
    let Some(path) = convert::file_path(uri) else {
        return FileContext::default();
    };
    let relative = roots
        .iter()
        .find_map(|root| path.strip_prefix(root).ok())
        .map(Path::to_path_buf)
        .unwrap_or(path);
    FileContext::for_path(relative)
}

/// A finding as an LSP diagnostic.
pub fn to_diagnostic(
    rope: &Rope,
    finding: &Finding,
    encoding: PositionEncoding,
) -> lsp::Diagnostic {
    let info = finding.check.info();
    let range = ByteRange {
        start: finding.start_byte,
        end: finding.end_byte,
    };
    lsp::Diagnostic {
        range: convert::range_to_lsp(rope, range, encoding),
        severity: Some(match finding.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            Severity::Info => lsp::DiagnosticSeverity::INFORMATION,
            Severity::Hint => lsp::DiagnosticSeverity::HINT,
        }),
        code: Some(lsp::NumberOrString::String(info.name.to_owned())),
        code_description: checks::doc_url(finding.check)
            .and_then(|url| url.parse().ok())
            .map(|href| lsp::CodeDescription { href }),
        source: Some("aiex".to_owned()),
        message: finding.message.clone(),
        ..lsp::Diagnostic::default()
    }
}

/// Quick fixes (and a "disable on this line" action) for the findings that touch `range`.
pub fn code_actions(
    uri: &lsp::Uri,
    rope: &Rope,
    findings: &[Finding],
    range: ByteRange,
    encoding: PositionEncoding,
) -> Vec<lsp::CodeActionOrCommand> {
    let touching: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.start_byte <= range.end && range.start <= f.end_byte)
        .collect();
    if touching.is_empty() {
        return Vec::new();
    }
    let source = rope.to_string();
    let mut actions = Vec::new();
    for finding in touching {
        let diagnostic = to_diagnostic(rope, finding, encoding);
        for (index, fix) in finding.fixes.iter().enumerate() {
            actions.push(quick_fix(uri, rope, fix, &diagnostic, index == 0, encoding));
        }
        let disable = checks::disable_fix(&source, finding);
        actions.push(quick_fix(uri, rope, &disable, &diagnostic, false, encoding));
    }
    actions
}

fn quick_fix(
    uri: &lsp::Uri,
    rope: &Rope,
    fix: &Fix,
    diagnostic: &lsp::Diagnostic,
    preferred: bool,
    encoding: PositionEncoding,
) -> lsp::CodeActionOrCommand {
    let edits = fix
        .edits
        .iter()
        .map(|edit| lsp::TextEdit {
            range: convert::range_to_lsp(
                rope,
                ByteRange {
                    start: edit.start_byte,
                    end: edit.end_byte,
                },
                encoding,
            ),
            new_text: edit.replacement.clone(),
        })
        .collect();
    action(uri, fix.title.clone(), edits, diagnostic, preferred)
}

fn action(
    uri: &lsp::Uri,
    title: String,
    edits: Vec<lsp::TextEdit>,
    diagnostic: &lsp::Diagnostic,
    preferred: bool,
) -> lsp::CodeActionOrCommand {
    let changes = std::collections::HashMap::from([(uri.clone(), edits)]);
    lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
        title,
        kind: Some(lsp::CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(lsp::WorkspaceEdit {
            changes: Some(changes),
            ..lsp::WorkspaceEdit::default()
        }),
        is_preferred: preferred.then_some(true),
        ..lsp::CodeAction::default()
    })
}
