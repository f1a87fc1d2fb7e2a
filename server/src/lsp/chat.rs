//! Conversations and checkpoints over LSP: custom `aiex/...` requests and the
//! `aiex.undoLastAiEdit` / `aiex.restoreCheckpoint` commands. Every call is an engine call;
//! this module converts. A chat turn streams its answer as `aiex/chatDelta` notifications and
//! is cancelled by `$/cancelRequest` (tower-lsp drops the handler, which drops the provider
//! call). Proposed edits wait here until the client asks to apply one; they are applied only
//! through `workspace/applyEdit`, after a checkpoint.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::Client;

use super::convert;
use super::errors::{request_failed, to_lsp};
use super::server::ServerState;
use crate::chunks::ByteRange;
use crate::engine::{ChatProposal, ChatRequest, Cursor};
use crate::sessions::SessionId;

/// The commands this module runs.
pub const COMMANDS: &[&str] = &["aiex.undoLastAiEdit", "aiex.restoreCheckpoint"];

/// Edits proposed in chat turns (each over one or more files), until applied or rejected.
#[derive(Debug, Default)]
pub struct Proposals(Mutex<HashMap<(SessionId, u32), ChatProposal>>);

/// `aiex/chatDelta`: a piece of an answer as it streams.
#[derive(Debug)]
pub enum ChatDelta {}

impl lsp::notification::Notification for ChatDelta {
    type Params = Value;
    const METHOD: &'static str = "aiex/chatDelta";
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatParams {
    session_id: Option<SessionId>,
    message: String,
    text_document: Option<lsp::TextDocumentIdentifier>,
    range: Option<lsp::Range>,
    /// Echoed in every `aiex/chatDelta`, for the client to match.
    token: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionParams {
    #[serde(default)]
    session_id: SessionId,
    #[serde(default)]
    jsonl: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyParams {
    session_id: SessionId,
    proposal: u32,
    #[serde(default)]
    reject: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompareParams {
    checkpoint: i64,
    /// Another checkpoint to compare with; the files as they are now when absent.
    against: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestoreArguments {
    checkpoint: i64,
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProposalOut {
    proposal: u32,
    label: String,
    edit: lsp::WorkspaceEdit,
}

/// Aborts a spawned task when the request waiting for it is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `aiex/chat`: one turn; returns the answer and the edits it proposes.
pub async fn chat(client: &Client, state: &ServerState, params: ChatParams) -> Result<Value> {
    let document = params
        .text_document
        .as_ref()
        .map(|d| convert::document_key(&d.uri));
    let encoding = state.encoding();
    let selection = params.range.map(|range| {
        (
            Cursor::Position(convert::position_from_lsp(range.start), encoding),
            Cursor::Position(convert::position_from_lsp(range.end), encoding),
        )
    });
    let request = ChatRequest {
        session: params.session_id,
        message: params.message,
        document,
        selection,
    };
    // Deltas go out in order from one task; the turn never waits on the client.
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
    let forwarder = {
        let client = client.clone();
        let token = params.token.clone();
        tokio::spawn(async move {
            while let Some(text) = receiver.recv().await {
                client
                    .send_notification::<ChatDelta>(json!({ "token": token, "text": text }))
                    .await;
            }
        })
    };
    // The turn runs on a worker (its log writes are short SQLite commits, kept off the
    // task that polls every handler); cancelling this request aborts it, which drops the
    // provider call and logs the stop.
    let engine = std::sync::Arc::clone(state.engine());
    let mut turn_task = AbortOnDrop(tokio::spawn(async move {
        engine
            .chat(request, |delta| {
                let _ = sender.send(delta.to_owned());
            })
            .await
    }));
    let turn = (&mut turn_task.0)
        .await
        .map_err(|error| request_failed(format!("the chat turn stopped: {error}")))?;
    let _ = forwarder.await;
    let turn = turn.map_err(to_lsp)?;
    let mut proposals = Vec::new();
    for proposal in turn.proposals {
        let workspace_edit = super::actions::file_edits(state, proposal.edits.clone())?;
        proposals.push(ProposalOut {
            proposal: proposal.id,
            label: proposal.label.clone(),
            edit: workspace_edit,
        });
        state
            .chat_proposals()
            .0
            .lock()
            .insert((turn.session, proposal.id), proposal);
    }
    Ok(json!({
        "sessionId": turn.session,
        "turn": turn.turn,
        "text": turn.text,
        "context": turn.context,
        "proposals": proposals,
    }))
}

/// `aiex/applyChatEdit`: applies (after a checkpoint) or rejects a proposed edit.
pub async fn apply_chat_edit(
    client: &Client,
    state: &ServerState,
    params: ApplyParams,
) -> Result<Value> {
    let key = (params.session_id, params.proposal);
    let proposal = state
        .chat_proposals()
        .0
        .lock()
        .remove(&key)
        .ok_or_else(|| {
            Error::invalid_params(format!(
                "no pending edit {} in session {}",
                params.proposal, params.session_id
            ))
        })?;
    let engine = state.engine();
    if params.reject {
        engine
            .record_edit_decision(params.session_id, params.proposal, false)
            .map_err(to_lsp)?;
        return Ok(json!({ "applied": false }));
    }
    // One checkpoint for every file of the proposal: one undo puts them all back.
    let pending = engine
        .checkpoint_edits(Some(params.session_id), &proposal.label, &proposal.edits)
        .map_err(to_lsp)?;
    let workspace_edit = super::actions::file_edits(state, proposal.edits)?;
    let applied = super::actions::send_edit(client, workspace_edit).await;
    engine
        .record_edit_decision(params.session_id, params.proposal, applied.is_ok())
        .map_err(to_lsp)?;
    applied?;
    if let Some(pending) = &pending {
        engine.note_edit_applied(pending).map_err(to_lsp)?;
    }
    Ok(json!({ "applied": true, "checkpoint": pending.map(|p| p.id) }))
}

/// `aiex/sessions`, `aiex/session`, `aiex/exportSession`, `aiex/importSession`,
/// `aiex/deleteSession`, `aiex/checkpoints`.
pub fn sessions(state: &ServerState, method: &str, params: SessionParams) -> Result<Value> {
    let store = state.engine().sessions().map_err(to_lsp)?;
    let failed = |error: crate::sessions::StoreError| request_failed(error.to_string());
    let value = match method {
        "aiex/sessions" => serde_json::to_value(store.list().map_err(failed)?),
        "aiex/session" => serde_json::to_value(store.session(params.session_id).map_err(failed)?),
        "aiex/exportSession" => {
            Ok(json!({ "jsonl": store.export(params.session_id).map_err(failed)? }))
        }
        "aiex/importSession" => {
            Ok(json!({ "sessionId": store.import(&params.jsonl).map_err(failed)? }))
        }
        "aiex/deleteSession" => {
            store.delete(params.session_id).map_err(failed)?;
            Ok(json!({ "deleted": params.session_id }))
        }
        "aiex/checkpoints" => serde_json::to_value(store.checkpoints().map_err(failed)?),
        other => return Err(Error::invalid_params(format!("unknown method {other}"))),
    };
    value.map_err(|e| request_failed(e.to_string()))
}

/// `aiex/compareCheckpoint`: one unified diff per file of the checkpoint.
pub fn compare_checkpoint(state: &ServerState, params: CompareParams) -> Result<Value> {
    let diffs = state
        .engine()
        .checkpoint_diff(params.checkpoint, params.against)
        .map_err(to_lsp)?;
    serde_json::to_value(diffs).map_err(|e| request_failed(e.to_string()))
}

/// `aiex.undoLastAiEdit` and `aiex.restoreCheckpoint {checkpoint, force?}`: the files put back
/// through `workspace/applyEdit`, refused when one changed since the AI edit (unless forced).
pub async fn restore(
    client: &Client,
    state: &ServerState,
    command: &str,
    arguments: Vec<Value>,
) -> Result<Value> {
    let engine = state.engine();
    let (checkpoint, force) = if command == "aiex.undoLastAiEdit" {
        (engine.last_checkpoint().map_err(to_lsp)?, false)
    } else {
        let argument = arguments.into_iter().next().unwrap_or(Value::Null);
        let args: RestoreArguments = serde_json::from_value(argument).map_err(|e| {
            Error::invalid_params(format!("{command} needs {{checkpoint, force?}}: {e}"))
        })?;
        (args.checkpoint, args.force)
    };
    let plan = engine.restore_plan(checkpoint, force).map_err(to_lsp)?;
    let mut operations = Vec::new();
    for restored in &plan {
        let path = std::path::Path::new(&restored.path);
        let uri = lsp::Uri::from_file_path(path)
            .ok_or_else(|| request_failed(format!("{} is not a file path", restored.path)))?;
        match &restored.text {
            Some(text) => {
                let key = convert::document_key(&uri);
                let (current, version) = match state.documents().get(&key) {
                    Some(handle) => handle.with_document(|d| (d.rope().clone(), Some(d.version()))),
                    None => (
                        ropey::Rope::from_str(&engine.current_text(path).unwrap_or_default()),
                        None,
                    ),
                };
                let whole = ByteRange {
                    start: 0,
                    end: current.len_bytes(),
                };
                operations.push(lsp::DocumentChangeOperation::Edit(lsp::TextDocumentEdit {
                    text_document: lsp::OptionalVersionedTextDocumentIdentifier { uri, version },
                    edits: vec![lsp::OneOf::Left(lsp::TextEdit {
                        range: convert::range_to_lsp(&current, whole, state.encoding()),
                        new_text: text.clone(),
                    })],
                }));
            }
            None => operations.push(lsp::DocumentChangeOperation::Op(lsp::ResourceOp::Delete(
                lsp::DeleteFile {
                    uri,
                    options: None,
                    annotation_id: None,
                },
            ))),
        }
    }
    let edit = lsp::WorkspaceEdit {
        document_changes: Some(lsp::DocumentChanges::Operations(operations)),
        ..lsp::WorkspaceEdit::default()
    };
    super::actions::send_edit(client, edit).await?;
    engine.note_restored(checkpoint).map_err(to_lsp)?;
    let files: Vec<&str> = plan.iter().map(|r| r.path.as_str()).collect();
    Ok(json!({ "restored": checkpoint, "files": files }))
}
