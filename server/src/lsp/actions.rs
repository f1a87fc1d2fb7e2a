//! AI code actions: Explain, Add `@doc`/`@spec`, Refactor, offered on the function under the
//! cursor and run through `workspace/executeCommand`, so the model is only asked when the user
//! picks one. Edits go back through `workspace/applyEdit`, versioned, and never touch text
//! outside the target function.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::Client;

use super::convert;
use super::server::ServerState;
use crate::ai::actions::{self, Target};
use crate::chunks::ByteRange;
use crate::document::{position, PositionEncoding, SyntaxSnapshot};
use crate::llm::LlmRequest;

/// The AI commands, each also offered as a code action.
pub const AI_COMMANDS: &[(&str, &str, &str)] = &[
    ("aiex.explain", "Explain", "source.aiex.explain"),
    ("aiex.addDocs", "Add @doc and @spec", "source.aiex.addDocs"),
    ("aiex.refactor", "Refactor", "refactor.rewrite.aiex"),
    (
        "aiex.generateTests",
        "Generate tests for",
        "source.aiex.generateTests",
    ),
];

/// The "fix with AI" command, offered as a quick fix on a diagnostic inside a function.
pub const FIX_COMMAND: &str = "aiex.fix";

/// True for every command this module runs.
pub fn runs(command: &str) -> bool {
    command == FIX_COMMAND || AI_COMMANDS.iter().any(|(c, _, _)| *c == command)
}

/// "Fix with AI" quick fixes for the diagnostics at the cursor, when it is inside a function.
pub fn fixes_for(
    uri: &lsp::Uri,
    diagnostics: &[lsp::Diagnostic],
    target: Option<Target<'_>>,
) -> Vec<lsp::CodeActionOrCommand> {
    let Some(target) = target else {
        return Vec::new();
    };
    diagnostics
        .iter()
        .filter_map(|diagnostic| {
            let code = match &diagnostic.code {
                Some(lsp::NumberOrString::String(code)) => format!(" ({code})"),
                Some(lsp::NumberOrString::Number(code)) => format!(" ({code})"),
                None => String::new(),
            };
            let instruction = format!(
                "fix this problem reported at line {}: {}{code}",
                diagnostic.range.start.line + 1,
                diagnostic.message
            );
            let arguments = ActionArguments {
                uri: uri.clone(),
                position: diagnostic.range.start,
                instruction: Some(instruction),
            };
            let arguments = serde_json::to_value(arguments).ok()?;
            Some(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: format!("Aiex: Fix with AI in {}", target.label()),
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic.clone()]),
                command: Some(lsp::Command {
                    title: "Aiex: Fix with AI".to_owned(),
                    command: FIX_COMMAND.to_owned(),
                    arguments: Some(vec![arguments]),
                }),
                ..lsp::CodeAction::default()
            }))
        })
        .collect()
}

/// How long an action may wait for a model.
const ACTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// The argument of every AI command: where the cursor is, and an optional instruction.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionArguments {
    /// The document.
    pub uri: lsp::Uri,
    /// The cursor.
    pub position: lsp::Position,
    /// What the user wants (refactor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
}

/// What the client can do with edits and documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditSupport {
    /// Versioned `documentChanges`.
    pub document_changes: bool,
    /// Change annotations (`needsConfirmation`).
    pub annotations: bool,
    /// `window/showDocument`.
    pub show_document: bool,
    /// Creating files through a workspace edit.
    pub create_files: bool,
}

impl EditSupport {
    /// Reads the client's capabilities.
    pub fn from_capabilities(capabilities: &lsp::ClientCapabilities) -> Self {
        let edit = capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.workspace_edit.as_ref());
        Self {
            document_changes: edit.and_then(|e| e.document_changes).unwrap_or(false),
            annotations: edit
                .and_then(|e| e.change_annotation_support.as_ref())
                .is_some(),
            create_files: edit
                .and_then(|e| e.resource_operations.as_ref())
                .is_some_and(|ops| ops.contains(&lsp::ResourceOperationKind::Create)),
            show_document: capabilities
                .window
                .as_ref()
                .and_then(|w| w.show_document.as_ref())
                .is_some_and(|s| s.support),
        }
    }
}

/// The AI code actions for the function at `offset`, when there is one.
pub fn offered(
    uri: &lsp::Uri,
    position: lsp::Position,
    target: Option<Target<'_>>,
) -> Vec<lsp::CodeActionOrCommand> {
    let Some(target) = target else {
        return Vec::new();
    };
    let label = target.label();
    let arguments = serde_json::to_value(ActionArguments {
        uri: uri.clone(),
        position,
        instruction: None,
    })
    .ok();
    AI_COMMANDS
        .iter()
        .map(|(command, title, kind)| {
            lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: format!("Aiex: {title} {label}"),
                kind: Some(lsp::CodeActionKind::from(kind.to_string())),
                command: Some(lsp::Command {
                    title: format!("Aiex: {title}"),
                    command: (*command).to_owned(),
                    arguments: arguments.clone().map(|a| vec![a]),
                }),
                ..lsp::CodeAction::default()
            })
        })
        .collect()
}

/// Runs an AI command.
pub async fn run(
    client: &Client,
    state: &ServerState,
    command: &str,
    arguments: Vec<serde_json::Value>,
) -> Result<serde_json::Value> {
    let argument = arguments
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid_params(format!("{command} needs {{uri, position}}")))?;
    let args: ActionArguments = serde_json::from_value(argument)
        .map_err(|e| Error::invalid_params(format!("{command}: bad arguments: {e}")))?;
    if !state.may_send(&args.uri) {
        return Err(Error::invalid_params(
            "this file is a secret file or excluded by .aiexignore: Aiex never sends it to a model",
        ));
    }
    let key = convert::document_key(&args.uri);
    let (snapshot, chunks) =
        state.documents.chunks(&key).await.ok_or_else(|| {
            Error::invalid_params(format!("unknown document {}", args.uri.as_str()))
        })?;
    let encoding = state.encoding();
    let offset = position::offset_of(
        &snapshot.rope,
        convert::position_from_lsp(args.position),
        encoding,
    )
    .byte;
    let source = snapshot.rope.to_string();
    let target = actions::target_at(&chunks, offset).ok_or_else(|| {
        Error::invalid_params("put the cursor inside a function (def, defp, defmacro...)")
    })?;
    let config = state.config();
    let features = &config.config.features;
    let (enabled, listed) = match command {
        "aiex.explain" => (features.explain.enabled, &features.explain.providers),
        _ => (features.actions.enabled, &features.actions.providers),
    };
    if !enabled {
        return Err(Error::invalid_params(format!(
            "{command} is turned off in the configuration"
        )));
    }
    let tests = match command {
        "aiex.generateTests" => Some(TestFile::find(state, &args.uri)?),
        _ => None,
    };
    let context = workspace_context(
        state, &args.uri, command, &snapshot, &source, &chunks, offset,
    );
    let request = match (command, &tests) {
        ("aiex.explain", _) => actions::explain_request(&target, &source, &context),
        ("aiex.addDocs", _) => actions::docs_request(&target, &source, &context),
        ("aiex.generateTests", Some(tests)) => actions::tests_request(
            &target,
            &source,
            tests.existing.as_deref(),
            tests.example.as_deref(),
            "",
        ),
        _ => actions::refactor_request(&target, &source, args.instruction.as_deref(), &context),
    };
    let names = config.config.feature_providers(listed);
    let relative = args.uri.to_file_path().and_then(|p| {
        state
            .workspace_roots()
            .iter()
            .find_map(|root| p.strip_prefix(root).ok().map(Path::to_path_buf))
    });
    super::ai::record_audit(
        state.audit.read().clone(),
        super::ai::AuditEntry {
            feature: if command == "aiex.explain" {
                "explain"
            } else {
                "actions"
            },
            provider: names.first().cloned().unwrap_or_default(),
            files: relative.into_iter().collect(),
            tokens: crate::context::count_tokens(&request.prompt_text()),
            redactions: 0,
            prompt: request.prompt_text(),
        },
    );
    let answer = ask(state, names, request).await?;
    if let Some(tests) = tests {
        let module = target.module.map_or("Script", |m| m.name.as_str());
        return generate_tests(client, state, tests, module, &answer).await;
    }
    match command {
        "aiex.explain" => explain(client, state, &target, answer).await,
        "aiex.addDocs" => {
            add_docs(
                client, state, &args.uri, &snapshot, &source, &target, &answer,
            )
            .await
        }
        _ => {
            refactor(
                client, state, &args.uri, &snapshot, &source, &target, &answer,
            )
            .await
        }
    }
}

/// What the context engine finds for an action on the function at `offset`, rendered for a
/// chat prompt: the callees' definitions and specs from the whole workspace, with their paths.
fn workspace_context(
    state: &ServerState,
    uri: &lsp::Uri,
    command: &str,
    snapshot: &SyntaxSnapshot,
    source: &str,
    chunks: &crate::chunks::FileChunks,
    offset: usize,
) -> String {
    let Ok(tree) = &snapshot.tree else {
        return String::new();
    };
    let roots = state.workspace_roots();
    let Some(path) = uri.to_file_path().and_then(|p| {
        roots
            .iter()
            .find_map(|r| p.strip_prefix(r).ok().map(Path::to_path_buf))
    }) else {
        return String::new();
    };
    let task = match command {
        "aiex.explain" => crate::context::Task::Explain,
        "aiex.addDocs" => crate::context::Task::Docs,
        "aiex.generateTests" => crate::context::Task::Tests,
        _ => crate::context::Task::Refactor,
    };
    let request = crate::context::ContextRequest {
        task,
        path: &path,
        text: source,
        tree,
        chunks,
        cursor: offset,
        budget_tokens: 2_048,
        recent_edits: &[],
    };
    let index = state.index();
    let assembled = crate::context::assemble(&request, &index, &[]);
    if assembled.pieces.is_empty() {
        return String::new();
    }
    format!(
        "Related code from the workspace:\n```elixir\n{}```",
        assembled.snippets_as_comments()
    )
}

/// Asks the providers of a feature, in order.
async fn ask(state: &ServerState, names: Vec<String>, request: LlmRequest) -> Result<String> {
    let providers = state.ai().providers().ok_or_else(|| {
        Error::invalid_params("the model providers are not set up yet; try again in a moment")
    })?;
    let (chain, _) = providers.chain(&names);
    if chain.is_empty() {
        return Err(Error::invalid_params(
            "no model provider is configured for this action; see `aiex doctor`",
        ));
    }
    let response = chain
        .complete(&request.with_timeout(ACTION_TIMEOUT))
        .await
        .map_err(|e| Error::invalid_params(format!("the model did not answer: {e}")))?;
    Ok(response.text)
}

async fn explain(
    client: &Client,
    state: &ServerState,
    target: &Target<'_>,
    answer: String,
) -> Result<serde_json::Value> {
    let markdown = format!("# {}\n\n{}\n", target.label(), answer.trim());
    let mut shown_uri = None;
    if let Some(dir) = crate::index::default_cache_dir() {
        let file_name: String = target
            .label()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join("explain").join(format!("{file_name}.md"));
        let written = path
            .parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .and_then(|_| std::fs::write(&path, &markdown));
        if written.is_ok() {
            shown_uri = lsp::Uri::from_file_path(&path);
        }
    }
    if let (Some(uri), true) = (&shown_uri, state.edit_support().show_document) {
        let params = lsp::ShowDocumentParams {
            uri: uri.clone(),
            external: Some(false),
            take_focus: Some(true),
            selection: None,
        };
        if let Err(error) = client.show_document(params).await {
            tracing::warn!("the client could not show the explanation: {error}");
        }
    }
    Ok(serde_json::json!({ "markdown": markdown, "uri": shown_uri.map(|u| u.as_str().to_owned()) }))
}

async fn add_docs(
    client: &Client,
    state: &ServerState,
    uri: &lsp::Uri,
    snapshot: &SyntaxSnapshot,
    source: &str,
    target: &Target<'_>,
    answer: &str,
) -> Result<serde_json::Value> {
    let clauses = target.clauses_range();
    let (line_start, indent) = line_start_and_indent(source, clauses.start);
    let insertion = actions::docs_insertion(answer, target, &indent).ok_or_else(|| {
        Error::invalid_params(
            "the model's answer had no @doc or @spec to add (or the function has both)",
        )
    })?;
    let function = &source[line_start..clauses.end];
    if !actions::parses_as_module_body(&format!("{insertion}{function}")) {
        return Err(Error::invalid_params(
            "the model's @doc/@spec does not parse; nothing was changed",
        ));
    }
    let at = ByteRange {
        start: line_start,
        end: line_start,
    };
    apply(client, state, uri, snapshot, at, insertion.clone(), None).await?;
    Ok(serde_json::json!({ "applied": true, "text": insertion }))
}

async fn refactor(
    client: &Client,
    state: &ServerState,
    uri: &lsp::Uri,
    snapshot: &SyntaxSnapshot,
    source: &str,
    target: &Target<'_>,
    answer: &str,
) -> Result<serde_json::Value> {
    let range = target.function.range;
    let (line_start, indent) = line_start_and_indent(source, range.start);
    let code = actions::code_of(answer);
    let replacement = actions::reindent(&code, &indent);
    if !actions::parses_as_module_body(&replacement) {
        return Err(Error::invalid_params(
            "the refactored function does not parse; nothing was changed",
        ));
    }
    let wrapped = format!("defmodule AiexCheck do\n{replacement}\nend\n");
    let defines_same = crate::syntax::parse_str(&wrapped).is_ok_and(|tree| {
        let chunks = crate::chunks::extract(&tree, &wrapped);
        chunks.modules.first().is_some_and(|m| {
            m.function(&target.function.name, target.function.arity)
                .is_some()
        })
    });
    if !defines_same {
        return Err(Error::invalid_params(format!(
            "the refactored code does not define {}; nothing was changed",
            target.function.label()
        )));
    }
    // Replace whole lines, from the first attribute's line to the end of the last clause.
    let replaced = ByteRange {
        start: line_start,
        end: range.end,
    };
    let annotation = lsp::ChangeAnnotation {
        label: format!("Aiex: refactor {}", target.label()),
        needs_confirmation: Some(true),
        description: Some("Rewritten by a model: review before applying.".to_owned()),
    };
    apply(
        client,
        state,
        uri,
        snapshot,
        replaced,
        replacement.clone(),
        Some(annotation),
    )
    .await?;
    Ok(serde_json::json!({ "applied": true, "text": replacement }))
}

/// The test file of a document: where it is, what it holds, and an example of the project's
/// test style when it does not exist yet.
struct TestFile {
    path: PathBuf,
    uri: lsp::Uri,
    /// The file's text (from the editor when it is open), when it exists.
    existing: Option<String>,
    /// The open document's version, when the editor has it open.
    version: Option<i32>,
    example: Option<String>,
}

impl TestFile {
    fn find(state: &ServerState, uri: &lsp::Uri) -> Result<Self> {
        let no_root = || {
            Error::invalid_params("the file is not inside a Mix project or workspace folder, so there is no test/ to write to")
        };
        let path = uri.to_file_path().ok_or_else(no_root)?.into_owned();
        let roots = state.workspace_roots();
        let root = roots
            .iter()
            .find(|root| path.starts_with(root))
            .cloned()
            .or_else(|| {
                path.ancestors()
                    .skip(1)
                    .find(|dir| dir.join("mix.exs").exists())
                    .map(Path::to_path_buf)
            })
            .ok_or_else(no_root)?;
        let relative = path.strip_prefix(&root).map_err(|_| no_root())?;
        let test_path = root.join(actions::test_path_for(relative));
        let test_uri = lsp::Uri::from_file_path(&test_path).ok_or_else(no_root)?;
        let open = state.documents.get(&convert::document_key(&test_uri));
        let (existing, version) = match open {
            Some(handle) => {
                handle.with_document(|d| (Some(d.rope().to_string()), Some(d.version())))
            }
            None => (std::fs::read_to_string(&test_path).ok(), None),
        };
        let example = match existing {
            Some(_) => None,
            None => sibling_test(&root.join("test")),
        };
        Ok(Self {
            path: test_path,
            uri: test_uri,
            existing,
            version,
            example,
        })
    }
}

/// Some test file of the project (its first 4 KB), to show the model the house style.
fn sibling_test(dir: &Path) -> Option<String> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            let file_type = entry.file_type().ok()?;
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() && path.to_string_lossy().ends_with("_test.exs") {
                let text = std::fs::read_to_string(&path).ok()?;
                let mut end = text.len().min(4096);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                return Some(text[..end].to_owned());
            }
        }
    }
    None
}

async fn generate_tests(
    client: &Client,
    state: &ServerState,
    tests: TestFile,
    module: &str,
    answer: &str,
) -> Result<serde_json::Value> {
    let content =
        actions::tests_file(answer, tests.existing.as_deref(), module).ok_or_else(|| {
            Error::invalid_params("the generated tests do not parse; nothing was changed")
        })?;
    let support = state.edit_support();
    let edit = match &tests.existing {
        Some(existing) => {
            let rope = ropey::Rope::from_str(existing);
            let whole = ByteRange {
                start: 0,
                end: existing.len(),
            };
            let text_edit = lsp::TextEdit {
                range: convert::range_to_lsp(&rope, whole, state.encoding()),
                new_text: content.clone(),
            };
            versioned_edit(&tests.uri, tests.version, text_edit, support)
        }
        None if support.create_files => lsp::WorkspaceEdit {
            document_changes: Some(lsp::DocumentChanges::Operations(vec![
                lsp::DocumentChangeOperation::Op(lsp::ResourceOp::Create(lsp::CreateFile {
                    uri: tests.uri.clone(),
                    options: Some(lsp::CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(true),
                    }),
                    annotation_id: None,
                })),
                lsp::DocumentChangeOperation::Edit(lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                        uri: tests.uri.clone(),
                        version: None,
                    },
                    edits: vec![lsp::OneOf::Left(lsp::TextEdit {
                        range: lsp::Range::default(),
                        new_text: content.clone(),
                    })],
                }),
            ])),
            ..lsp::WorkspaceEdit::default()
        },
        None => {
            // The client cannot create files: write it (never over an existing one) and show it.
            if let Some(parent) = tests.path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Error::invalid_params(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tests.path)
                .map_err(|e| {
                    Error::invalid_params(format!("cannot create {}: {e}", tests.path.display()))
                })?;
            std::io::Write::write_all(&mut file, content.as_bytes()).map_err(|e| {
                Error::invalid_params(format!("cannot write {}: {e}", tests.path.display()))
            })?;
            if support.show_document {
                let params = lsp::ShowDocumentParams {
                    uri: tests.uri.clone(),
                    external: Some(false),
                    take_focus: Some(true),
                    selection: None,
                };
                let _ = client.show_document(params).await;
            }
            return Ok(
                serde_json::json!({ "applied": true, "uri": tests.uri.as_str(), "text": content }),
            );
        }
    };
    send_edit(client, edit).await?;
    Ok(serde_json::json!({ "applied": true, "uri": tests.uri.as_str(), "text": content }))
}

/// An edit of one document, versioned when the client supports it.
fn versioned_edit(
    uri: &lsp::Uri,
    version: Option<i32>,
    text_edit: lsp::TextEdit,
    support: EditSupport,
) -> lsp::WorkspaceEdit {
    if support.document_changes {
        lsp::WorkspaceEdit {
            document_changes: Some(lsp::DocumentChanges::Edits(vec![lsp::TextDocumentEdit {
                text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                    uri: uri.clone(),
                    version,
                },
                edits: vec![lsp::OneOf::Left(text_edit)],
            }])),
            ..lsp::WorkspaceEdit::default()
        }
    } else {
        lsp::WorkspaceEdit {
            changes: Some(HashMap::from([(uri.clone(), vec![text_edit])])),
            ..lsp::WorkspaceEdit::default()
        }
    }
}

/// The start of the line holding `byte`, and that line's indentation.
fn line_start_and_indent(source: &str, byte: usize) -> (usize, String) {
    let line_start = source[..byte].rfind('\n').map_or(0, |i| i + 1);
    let indent = source[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    (line_start, indent)
}

/// Sends an edit and fails unless the client applied it.
async fn send_edit(client: &Client, edit: lsp::WorkspaceEdit) -> Result<()> {
    let response = client
        .apply_edit(edit)
        .await
        .map_err(|e| Error::invalid_params(format!("the client did not apply the edit: {e}")))?;
    if !response.applied {
        let reason = response
            .failure_reason
            .unwrap_or_else(|| "no reason given".to_owned());
        return Err(Error::invalid_params(format!(
            "the client refused the edit: {reason}"
        )));
    }
    Ok(())
}

/// Sends one edit of the document as it was when the action started; a client that has
/// moved on to a newer version rejects it instead of corrupting the text.
async fn apply(
    client: &Client,
    state: &ServerState,
    uri: &lsp::Uri,
    snapshot: &SyntaxSnapshot,
    range: ByteRange,
    new_text: String,
    annotation: Option<lsp::ChangeAnnotation>,
) -> Result<()> {
    let encoding: PositionEncoding = state.encoding();
    let text_edit = lsp::TextEdit {
        range: convert::range_to_lsp(&snapshot.rope, range, encoding),
        new_text,
    };
    let support = state.edit_support();
    let edit = match annotation.filter(|_| support.document_changes && support.annotations) {
        Some(annotation) => {
            let id = "aiex".to_owned();
            let edit = lsp::AnnotatedTextEdit {
                text_edit,
                annotation_id: id.clone(),
            };
            lsp::WorkspaceEdit {
                document_changes: Some(lsp::DocumentChanges::Edits(vec![lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                        uri: uri.clone(),
                        version: Some(snapshot.version),
                    },
                    edits: vec![lsp::OneOf::Right(edit)],
                }])),
                change_annotations: Some(HashMap::from([(id, annotation)])),
                ..lsp::WorkspaceEdit::default()
            }
        }
        None => versioned_edit(uri, Some(snapshot.version), text_edit, support),
    };
    send_edit(client, edit).await
}
