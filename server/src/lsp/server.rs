//! The `LanguageServer` implementation: one thin handler per LSP method.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::{Client, LanguageServer};
use tracing::{debug, info, warn};

use super::convert;
use super::diagnostics::{self, DiagnosticsState};
use crate::chunks::FileChunks;
use crate::config::{user_config_path, ConfigLayers, LoadedConfig};
use crate::document::store::DocumentStore;
use crate::document::{position, PositionEncoding, SyntaxSnapshot};
use crate::features::{folding, hover, symbols};

/// State shared by all handlers.
#[derive(Debug, Default)]
pub struct ServerState {
    documents: DocumentStore,
    encoding: RwLock<PositionEncoding>,
    workspace_roots: RwLock<Vec<PathBuf>>,
    config_layers: Mutex<ConfigLayers>,
    config: RwLock<Arc<LoadedConfig>>,
    /// Configuration problems already shown to the user, so each is shown once.
    reported_issues: Mutex<HashSet<String>>,
    shutdown_requested: AtomicBool,
    diagnostics: DiagnosticsState,
    /// The client pulls diagnostics (`textDocument/diagnostic`), so none are pushed.
    pull_diagnostics: AtomicBool,
}

impl ServerState {
    /// True once the client has sent `shutdown`.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }

    fn encoding(&self) -> PositionEncoding {
        *self.encoding.read()
    }

    /// The configuration in effect.
    pub fn config(&self) -> Arc<LoadedConfig> {
        Arc::clone(&self.config.read())
    }

    /// The findings of the built-in checks for a document, at its latest version.
    async fn findings(
        &self,
        uri: &lsp::Uri,
    ) -> Option<(SyntaxSnapshot, Arc<Vec<crate::checks::Finding>>)> {
        let key = convert::document_key(uri);
        let file = diagnostics::file_context(uri, &self.workspace_roots.read());
        let config = self.config();
        self.diagnostics
            .findings(&self.documents, &key, file, &config.config.checks)
            .await
    }

    /// Re-merges the configuration layers and returns the problems not shown before.
    fn reload_config(&self) -> Vec<String> {
        let loaded = self.config_layers.lock().resolve();
        let mut reported = self.reported_issues.lock();
        let fresh: Vec<String> = loaded
            .issues
            .iter()
            .map(ToString::to_string)
            .filter(|issue| reported.insert(issue.clone()))
            .collect();
        *self.config.write() = Arc::new(loaded);
        fresh
    }
}

/// The language server as tower-lsp-server sees it.
pub struct Backend {
    client: Client,
    state: Arc<ServerState>,
}

impl Backend {
    /// A backend talking to `client`, over `state`.
    pub fn new(client: Client, state: Arc<ServerState>) -> Self {
        Self { client, state }
    }

    /// Shows configuration problems once, and logs them.
    async fn report_config_issues(&self, issues: Vec<String>) {
        if issues.is_empty() {
            return;
        }
        for issue in &issues {
            warn!(target: "aiex::config", "{issue}");
        }
        let message = format!("Aiex configuration: {}", issues.join("; "));
        self.client
            .show_message(lsp::MessageType::WARNING, message)
            .await;
    }

    /// The text and tree of a document, or an error naming the URI.
    async fn syntax(&self, uri: &lsp::Uri) -> Result<SyntaxSnapshot> {
        let key = convert::document_key(uri);
        self.state
            .documents
            .syntax(&key)
            .await
            .ok_or_else(|| unknown_document(uri))
    }

    /// The byte offset of an LSP position in a snapshot, clamped and logged if out of range.
    fn offset(&self, uri: &lsp::Uri, snapshot: &SyntaxSnapshot, at: lsp::Position) -> usize {
        let resolved = position::offset_of(
            &snapshot.rope,
            convert::position_from_lsp(at),
            self.state.encoding(),
        );
        if resolved.clamped {
            warn!(
                uri = uri.as_str(),
                line = at.line,
                character = at.character,
                "position past the end of the document; clamped"
            );
        }
        resolved.byte
    }

    /// Recomputes and pushes a document's diagnostics once typing pauses (push mode only).
    fn schedule_diagnostics(&self, uri: lsp::Uri) {
        if self.state.pull_diagnostics.load(Ordering::Relaxed) {
            return;
        }
        let key = convert::document_key(&uri);
        let generation = self.state.diagnostics.bump(&key);
        let (client, state) = (self.client.clone(), Arc::clone(&self.state));
        tokio::spawn(async move {
            tokio::time::sleep(diagnostics::PUSH_DEBOUNCE).await;
            if !state.diagnostics.is_current(&key, generation) {
                return;
            }
            let Some((snapshot, findings)) = state.findings(&uri).await else {
                return;
            };
            if !state.diagnostics.is_current(&key, generation) {
                return;
            }
            debug!(
                uri = key,
                findings = findings.len(),
                version = snapshot.version,
                "publishing diagnostics"
            );
            let encoding = state.encoding();
            let items = findings
                .iter()
                .map(|f| diagnostics::to_diagnostic(&snapshot.rope, f, encoding))
                .collect();
            client
                .publish_diagnostics(uri, items, Some(snapshot.version))
                .await;
        });
    }

    /// The chunks of every open document except `except`.
    async fn other_documents_chunks(&self, except: &str) -> Vec<Arc<FileChunks>> {
        let mut all = Vec::new();
        for key in self.state.documents.keys() {
            if key == except {
                continue;
            }
            if let Some((_, chunks)) = self.state.documents.chunks(&key).await {
                all.push(chunks);
            }
        }
        all
    }
}

/// Parameters of `aiex/documentText`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentTextParams {
    /// The document.
    pub text_document: lsp::TextDocumentIdentifier,
}

/// Result of `aiex/documentText`: the server's copy of a document.
#[derive(Debug, serde::Serialize)]
pub struct DocumentText {
    /// The version of the last change applied.
    pub version: i32,
    /// The text as the server holds it.
    pub text: String,
}

impl Backend {
    /// `aiex/documentText`: the server's copy of a document, so clients and tests can check
    /// that it matches theirs.
    pub async fn document_text(&self, params: DocumentTextParams) -> Result<DocumentText> {
        let uri = &params.text_document.uri;
        let handle = self
            .state
            .documents
            .get(&convert::document_key(uri))
            .ok_or_else(|| unknown_document(uri))?;
        Ok(handle.with_document(|document| DocumentText {
            version: document.version(),
            text: document.rope().to_string(),
        }))
    }
}

fn unknown_document(uri: &lsp::Uri) -> Error {
    Error::invalid_params(format!(
        "unknown document {}: it was not opened with didOpen",
        uri.as_str()
    ))
}

/// The workspace roots named by `initialize`.
fn workspace_roots(params: &lsp::InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|folder| folder.uri.to_file_path().map(|p| p.into_owned()))
        .collect();
    #[allow(deprecated)]
    if roots.is_empty() {
        if let Some(path) = params.root_uri.as_ref().and_then(|uri| uri.to_file_path()) {
            roots.push(path.into_owned());
        }
    }
    roots
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        let encoding = convert::negotiate_encoding(&params.capabilities);
        *self.state.encoding.write() = encoding;
        let roots = workspace_roots(&params);
        let pull = params
            .capabilities
            .text_document
            .as_ref()
            .is_some_and(|t| t.diagnostic.is_some());
        self.state.pull_diagnostics.store(pull, Ordering::Relaxed);
        info!(?encoding, ?roots, "initialize");
        {
            let mut layers = ConfigLayers::from_files(
                user_config_path().as_deref(),
                roots.first().map(PathBuf::as_path),
            );
            if let Some(options) = params.initialization_options {
                layers.set_editor(options);
            }
            *self.state.config_layers.lock() = layers;
        }
        *self.state.workspace_roots.write() = roots;
        let sync = lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
            ..lsp::TextDocumentSyncOptions::default()
        };
        Ok(lsp::InitializeResult {
            capabilities: lsp::ServerCapabilities {
                position_encoding: Some(convert::encoding_kind(encoding)),
                text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(sync)),
                document_symbol_provider: Some(lsp::OneOf::Left(true)),
                hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
                folding_range_provider: Some(lsp::FoldingRangeProviderCapability::Simple(true)),
                code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
                    lsp::CodeActionOptions {
                        code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                        ..lsp::CodeActionOptions::default()
                    },
                )),
                diagnostic_provider: pull.then(|| {
                    lsp::DiagnosticServerCapabilities::Options(lsp::DiagnosticOptions {
                        identifier: Some("aiex".to_owned()),
                        inter_file_dependencies: false,
                        workspace_diagnostics: false,
                        ..lsp::DiagnosticOptions::default()
                    })
                }),
                ..lsp::ServerCapabilities::default()
            },
            server_info: Some(lsp::ServerInfo {
                name: "aiex".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        let issues = self.state.reload_config();
        self.report_config_issues(issues).await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.state.shutdown_requested.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let document = params.text_document;
        let language = convert::language_of(&document.language_id, &document.uri);
        debug!(
            uri = document.uri.as_str(),
            bytes = document.text.len(),
            "didOpen"
        );
        self.state.documents.open(
            &convert::document_key(&document.uri),
            &document.text,
            document.version,
            language,
        );
        self.schedule_diagnostics(document.uri);
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        // No await before the edit is applied: handlers start in arrival order, so this keeps
        // edits in the order the client sent them.
        let key = convert::document_key(&params.text_document.uri);
        let changes: Vec<_> = params
            .content_changes
            .into_iter()
            .map(convert::change_from_lsp)
            .collect();
        match self.state.documents.change(
            &key,
            params.text_document.version,
            &changes,
            self.state.encoding(),
        ) {
            Ok(report) if report.clamped > 0 => {
                warn!(
                    uri = key,
                    clamped = report.clamped,
                    "change ranges past the end of the document were clamped"
                );
            }
            Ok(_) => {}
            Err(error) => {
                warn!(uri = key, "didChange ignored: {error}");
                return;
            }
        }
        self.schedule_diagnostics(params.text_document.uri);
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        let key = convert::document_key(&params.text_document.uri);
        if !self.state.documents.close(&key) {
            warn!(
                uri = key,
                "didClose for a document that is not open; ignored"
            );
            return;
        }
        self.state.diagnostics.forget(&key);
        if !self.state.pull_diagnostics.load(Ordering::Relaxed) {
            self.client
                .publish_diagnostics(params.text_document.uri, Vec::new(), None)
                .await;
        }
    }

    async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
        self.state.config_layers.lock().set_editor(params.settings);
        let issues = self.state.reload_config();
        info!("configuration changed");
        self.report_config_issues(issues).await;
        // The checks' settings may have changed: recompute every open document's findings.
        for key in self.state.documents.keys() {
            self.state.diagnostics.forget(&key);
            if let Ok(uri) = key.parse::<lsp::Uri>() {
                self.schedule_diagnostics(uri);
            }
        }
    }

    async fn document_symbol(
        &self,
        params: lsp::DocumentSymbolParams,
    ) -> Result<Option<lsp::DocumentSymbolResponse>> {
        let uri = &params.text_document.uri;
        let key = convert::document_key(uri);
        let (snapshot, chunks) = self
            .state
            .documents
            .chunks(&key)
            .await
            .ok_or_else(|| unknown_document(uri))?;
        let encoding = self.state.encoding();
        let outline = symbols::document_symbols(&chunks);
        let lsp_symbols = outline
            .iter()
            .map(|s| convert::symbol_to_lsp(&snapshot.rope, s, encoding))
            .collect();
        Ok(Some(lsp::DocumentSymbolResponse::Nested(lsp_symbols)))
    }

    async fn hover(&self, params: lsp::HoverParams) -> Result<Option<lsp::Hover>> {
        let uri = &params.text_document_position_params.text_document.uri;
        let key = convert::document_key(uri);
        let (snapshot, chunks) = self
            .state
            .documents
            .chunks(&key)
            .await
            .ok_or_else(|| unknown_document(uri))?;
        let Ok(tree) = &snapshot.tree else {
            return Ok(None);
        };
        let offset = self.offset(
            uri,
            &snapshot,
            params.text_document_position_params.position,
        );
        let workspace = self.other_documents_chunks(&key).await;
        let source = snapshot.rope.to_string();
        let context = hover::HoverContext {
            source: &source,
            tree,
            chunks: &chunks,
            workspace: &workspace,
        };
        let symbol = hover::hover(&context, offset);
        // A finding under the cursor gets its check's explanation, above any documentation.
        let mut sections: Vec<String> = match self.state.findings(uri).await {
            Some((_, findings)) => findings
                .iter()
                .filter(|f| f.start_byte <= offset && offset <= f.end_byte)
                .map(|f| {
                    let info = f.check.info();
                    format!("**{}** ({})\n\n{}", f.message, info.name, info.explanation)
                })
                .collect(),
            None => Vec::new(),
        };
        let range = symbol
            .as_ref()
            .map(|doc| convert::range_to_lsp(&snapshot.rope, doc.range, self.state.encoding()));
        sections.extend(symbol.map(|doc| doc.markdown));
        if sections.is_empty() {
            return Ok(None);
        }
        Ok(Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: sections.join("\n\n---\n\n"),
            }),
            range,
        }))
    }

    async fn folding_range(
        &self,
        params: lsp::FoldingRangeParams,
    ) -> Result<Option<Vec<lsp::FoldingRange>>> {
        let snapshot = self.syntax(&params.text_document.uri).await?;
        let Ok(tree) = &snapshot.tree else {
            return Ok(None);
        };
        let folds = folding::folding_ranges(tree, &snapshot.rope);
        Ok(Some(folds.iter().map(convert::fold_to_lsp).collect()))
    }

    async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> Result<Option<lsp::CodeActionResponse>> {
        let uri = &params.text_document.uri;
        let (snapshot, findings) = self
            .state
            .findings(uri)
            .await
            .ok_or_else(|| unknown_document(uri))?;
        let encoding = self.state.encoding();
        let start = position::offset_of(
            &snapshot.rope,
            convert::position_from_lsp(params.range.start),
            encoding,
        );
        let end = position::offset_of(
            &snapshot.rope,
            convert::position_from_lsp(params.range.end),
            encoding,
        );
        let range = crate::chunks::ByteRange {
            start: start.byte,
            end: end.byte.max(start.byte),
        };
        Ok(Some(diagnostics::code_actions(
            uri,
            &snapshot.rope,
            &findings,
            range,
            encoding,
        )))
    }

    async fn diagnostic(
        &self,
        params: lsp::DocumentDiagnosticParams,
    ) -> Result<lsp::DocumentDiagnosticReportResult> {
        let uri = &params.text_document.uri;
        let (snapshot, findings) = self
            .state
            .findings(uri)
            .await
            .ok_or_else(|| unknown_document(uri))?;
        let encoding = self.state.encoding();
        let items = findings
            .iter()
            .map(|f| diagnostics::to_diagnostic(&snapshot.rope, f, encoding))
            .collect();
        Ok(lsp::DocumentDiagnosticReportResult::Report(
            lsp::DocumentDiagnosticReport::Full(lsp::RelatedFullDocumentDiagnosticReport {
                related_documents: None,
                full_document_diagnostic_report: lsp::FullDocumentDiagnosticReport {
                    result_id: None,
                    items,
                },
            }),
        ))
    }
}
