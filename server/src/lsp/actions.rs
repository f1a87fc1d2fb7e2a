//! AI code actions over LSP: Explain, Add `@doc`/`@spec`, Refactor, Generate tests, Fix with
//! AI, offered on the function under the cursor and run through `workspace/executeCommand`, so
//! the model is only asked when the user picks one. The engine does the work
//! ([`Engine::action`](crate::engine::Engine::action)); this module converts its outcome into
//! `workspace/applyEdit` (versioned) or `window/showDocument`.

use std::collections::HashMap;

use serde::Deserialize;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::Client;

use super::convert;
use super::errors::{request_failed, to_lsp};
use super::server::ServerState;
use crate::ai::actions::Target;
use crate::engine::{ActionKind, ActionOutcome, ActionRequest, Cursor, FileEdit};

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

/// Puts another version of a multi-version AI edit in place (`features.actions.candidates`).
pub const ALTERNATIVE_COMMAND: &str = "aiex.useAlternative";

/// The arguments of [`ALTERNATIVE_COMMAND`].
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct AlternativeArguments {
    /// The document.
    pub uri: lsp::Uri,
    /// Which of the other versions (0 is the second best).
    pub index: usize,
}

/// The code actions putting another version of the last AI edit in place, when the cursor
/// is on the version applied.
pub fn alternatives(
    state: &ServerState,
    uri: &lsp::Uri,
    offset: usize,
) -> Vec<lsp::CodeActionOrCommand> {
    let key = convert::document_key(uri);
    state
        .engine()
        .edit_alternatives(&key, offset)
        .into_iter()
        .map(|(index, title)| {
            let arguments = serde_json::to_value(AlternativeArguments {
                uri: uri.clone(),
                index,
            })
            .ok();
            lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: title.clone(),
                kind: Some(lsp::CodeActionKind::REFACTOR_REWRITE),
                command: Some(lsp::Command {
                    title,
                    command: ALTERNATIVE_COMMAND.to_owned(),
                    arguments: arguments.map(|a| vec![a]),
                }),
                ..lsp::CodeAction::default()
            })
        })
        .collect()
}

/// Runs [`ALTERNATIVE_COMMAND`]: the other version goes out like every AI edit, after a
/// checkpoint of the file.
pub async fn use_alternative(
    client: &Client,
    state: &ServerState,
    arguments: Vec<serde_json::Value>,
) -> Result<serde_json::Value> {
    let argument = arguments.into_iter().next().ok_or_else(|| {
        Error::invalid_params(format!("{ALTERNATIVE_COMMAND} needs {{uri, index}}"))
    })?;
    let args: AlternativeArguments = serde_json::from_value(argument)
        .map_err(|e| Error::invalid_params(format!("{ALTERNATIVE_COMMAND}: bad arguments: {e}")))?;
    let edit = state
        .engine()
        .use_alternative(
            &convert::document_key(&args.uri),
            args.index,
            crate::engine::RunProjectCode::IfTrusted,
        )
        .await
        .map_err(to_lsp)?;
    apply_ai_edit(client, state, edit).await
}

/// Sends an AI edit of an existing file, recorded in a checkpoint first; its text.
async fn apply_ai_edit(
    client: &Client,
    state: &ServerState,
    edit: FileEdit,
) -> Result<serde_json::Value> {
    let text = edit.new_text.clone();
    // A way back from every AI edit: the file is recorded before the edit goes out.
    let checkpoint = state
        .engine()
        .checkpoint_edit(None, &edit)
        .map_err(to_lsp)?;
    send_edit(client, file_edit(state, edit)?).await?;
    if let Some(checkpoint) = &checkpoint {
        state
            .engine()
            .note_edit_applied(checkpoint)
            .map_err(to_lsp)?;
    }
    Ok(serde_json::json!({ "applied": true, "text": text }))
}

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

/// The engine's action for a command.
fn action_kind(command: &str) -> Option<ActionKind> {
    Some(match command {
        "aiex.explain" => ActionKind::Explain,
        "aiex.addDocs" => ActionKind::AddDocs,
        "aiex.refactor" => ActionKind::Refactor,
        "aiex.generateTests" => ActionKind::GenerateTests,
        FIX_COMMAND => ActionKind::Fix,
        _ => return None,
    })
}

/// Runs an AI command.
pub async fn run(
    client: &Client,
    state: &ServerState,
    command: &str,
    arguments: Vec<serde_json::Value>,
) -> Result<serde_json::Value> {
    let kind = action_kind(command)
        .ok_or_else(|| Error::invalid_params(format!("unknown command `{command}`")))?;
    let argument = arguments
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid_params(format!("{command} needs {{uri, position}}")))?;
    let args: ActionArguments = serde_json::from_value(argument)
        .map_err(|e| Error::invalid_params(format!("{command}: bad arguments: {e}")))?;
    let request = ActionRequest {
        key: convert::document_key(&args.uri),
        cursor: Cursor::Position(convert::position_from_lsp(args.position), state.encoding()),
        kind,
        instruction: args.instruction,
        // The editor runs generated tests only in a workspace the user trusted: opening a
        // cloned repository and asking for tests must not run its code.
        run_project_code: crate::engine::RunProjectCode::IfTrusted,
        // `features.actions.repair_tests` decides for the editor.
        repair_tests: false,
    };
    let outcome = state.engine().action(request).await.map_err(to_lsp)?;
    match outcome {
        ActionOutcome::Explanation { title, markdown } => {
            show_explanation(client, state, &title, markdown).await
        }
        ActionOutcome::Edit(edit) => {
            let uri = convert::uri_of(&edit.key);
            let label = edit.label.clone();
            let mut result = apply_ai_edit(client, state, edit).await?;
            if let (ActionKind::GenerateTests, Some(uri)) = (kind, uri) {
                result["uri"] = serde_json::json!(uri.as_str());
                result["label"] = serde_json::json!(label);
                tests_notice(client, &label).await;
            }
            Ok(result)
        }
        ActionOutcome::CreateFile { path, text, label } => {
            let uri = lsp::Uri::from_file_path(&path)
                .ok_or_else(|| request_failed(format!("{} is not a file path", path.display())))?;
            // The way back from a file an AI edit creates: its checkpoint records it as
            // absent, so undoing the edit removes it.
            let checkpoint = state
                .engine()
                .checkpoint_file_creation(&label, &path, &text)
                .map_err(to_lsp)?;
            create_file(client, state, &path, &uri, &text).await?;
            state
                .engine()
                .note_edit_applied(&checkpoint)
                .map_err(to_lsp)?;
            tests_notice(client, &label).await;
            Ok(
                serde_json::json!({ "applied": true, "uri": uri.as_str(), "text": text, "label": label }),
            )
        }
    }
}

/// Says what became of generated tests (how many were kept, or why they were not run): the
/// edit of a test file does not say it itself.
async fn tests_notice(client: &Client, label: &str) {
    client
        .show_message(lsp::MessageType::INFO, label.to_owned())
        .await;
}

/// Shows an explanation: written under the cache directory and opened in the editor when it
/// can show documents; returned in any case.
async fn show_explanation(
    client: &Client,
    state: &ServerState,
    title: &str,
    markdown: String,
) -> Result<serde_json::Value> {
    let mut shown_uri = None;
    if let Some(dir) = crate::index::default_cache_dir() {
        let file_name: String = title
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

/// A new file: created by the client when it can create files, else by the engine (inside
/// the workspace, never over an existing file) and shown.
async fn create_file(
    client: &Client,
    state: &ServerState,
    path: &std::path::Path,
    uri: &lsp::Uri,
    text: &str,
) -> Result<()> {
    let support = state.edit_support();
    if support.create_files {
        let edit = lsp::WorkspaceEdit {
            document_changes: Some(lsp::DocumentChanges::Operations(vec![
                lsp::DocumentChangeOperation::Op(lsp::ResourceOp::Create(lsp::CreateFile {
                    uri: uri.clone(),
                    options: Some(lsp::CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(true),
                    }),
                    annotation_id: None,
                })),
                lsp::DocumentChangeOperation::Edit(lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                        uri: uri.clone(),
                        version: None,
                    },
                    edits: vec![lsp::OneOf::Left(lsp::TextEdit {
                        range: lsp::Range::default(),
                        new_text: text.to_owned(),
                    })],
                }),
            ])),
            ..lsp::WorkspaceEdit::default()
        };
        return send_edit(client, edit).await;
    }
    state.engine().create_file(path, text).map_err(to_lsp)?;
    if support.show_document {
        let params = lsp::ShowDocumentParams {
            uri: uri.clone(),
            external: Some(false),
            take_focus: Some(true),
            selection: None,
        };
        let _ = client.show_document(params).await;
    }
    Ok(())
}

/// An engine edit as a workspace edit: versioned when the client supports it, annotated for
/// review when the model rewrote the user's code and the client can ask.
pub(super) fn file_edit(state: &ServerState, edit: FileEdit) -> Result<lsp::WorkspaceEdit> {
    file_edits(state, vec![edit])
}

/// Engine edits of several files as one workspace edit (applied, or refused, as one).
pub(super) fn file_edits(state: &ServerState, edits: Vec<FileEdit>) -> Result<lsp::WorkspaceEdit> {
    let support = state.edit_support();
    let review =
        edits.iter().any(|e| e.needs_review) && support.document_changes && support.annotations;
    let annotation_id = "aiex".to_owned();
    let mut label = None;
    let mut document_edits = Vec::with_capacity(edits.len());
    let mut changes = HashMap::new();
    for edit in edits {
        let uri = convert::uri_of(&edit.key)
            .ok_or_else(|| request_failed(format!("{} has no URI", edit.key)))?;
        let text_edit = lsp::TextEdit {
            range: convert::range_to_lsp(&edit.base, edit.range, state.encoding()),
            new_text: edit.new_text,
        };
        let one = if review && edit.needs_review {
            label.get_or_insert(edit.label);
            lsp::OneOf::Right(lsp::AnnotatedTextEdit {
                text_edit,
                annotation_id: annotation_id.clone(),
            })
        } else if support.document_changes {
            lsp::OneOf::Left(text_edit)
        } else {
            changes.insert(uri, vec![text_edit]);
            continue;
        };
        document_edits.push(lsp::TextDocumentEdit {
            text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                uri,
                version: edit.version,
            },
            edits: vec![one],
        });
    }
    if !support.document_changes {
        return Ok(lsp::WorkspaceEdit {
            changes: Some(changes),
            ..lsp::WorkspaceEdit::default()
        });
    }
    let change_annotations = label.map(|label| {
        HashMap::from([(
            annotation_id,
            lsp::ChangeAnnotation {
                label,
                needs_confirmation: Some(true),
                description: Some("Rewritten by a model: review before applying.".to_owned()),
            },
        )])
    });
    Ok(lsp::WorkspaceEdit {
        document_changes: Some(lsp::DocumentChanges::Edits(document_edits)),
        change_annotations,
        ..lsp::WorkspaceEdit::default()
    })
}

/// Sends an edit and fails unless the client applied it.
pub(super) async fn send_edit(client: &Client, edit: lsp::WorkspaceEdit) -> Result<()> {
    let response = client
        .apply_edit(edit)
        .await
        .map_err(|e| request_failed(format!("the client did not apply the edit: {e}")))?;
    if !response.applied {
        let reason = response
            .failure_reason
            .unwrap_or_else(|| "no reason given".to_owned());
        return Err(request_failed(format!(
            "the client refused the edit: {reason}"
        )));
    }
    Ok(())
}
