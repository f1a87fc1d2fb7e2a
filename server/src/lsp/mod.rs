//! The protocol layer: LSP over stdio on tower-lsp-server, converting to and from the core.
//!
//! Architecture invariant: handlers here are thin. They convert parameters to core types, call
//! the core, and convert results back; they never hold a lock across an await, and the
//! notification handlers that change documents do all their work before their first await,
//! which keeps edits in the order the client sent them.

mod actions;
mod ai;
mod availability;
mod boundary;
mod budget;
mod chat;
mod completion_item;
mod convert;
mod diagnostics;
mod errors;
mod metrics_endpoint;
mod otlp_export;
mod paths;
mod server;
mod single_flight;
mod transport;
mod workspace;

use std::sync::Arc;

use tower_lsp_server::{LspService, Server};

pub use server::ServerState;

/// How many requests may be in flight at once. tower-lsp-server stops reading messages when
/// this many handlers are pending, so it is set high: a few slow model calls must never hold
/// up the edits queued behind them.
const MAX_CONCURRENT_HANDLERS: usize = 64;

/// Serves LSP on stdin/stdout until the client sends `exit` or closes the stream.
///
/// Returns whether the client asked for `shutdown` first, or a signal asked the process to
/// stop (the exit code depends on it).
pub async fn serve_stdio() -> bool {
    let state = Arc::new(ServerState::default());
    let (service, socket) = LspService::build({
        let state = Arc::clone(&state);
        move |client| server::Backend::new(client, state)
    })
    .custom_method("aiex/documentText", server::Backend::document_text)
    .custom_method("aiex/chat", server::Backend::chat)
    .custom_method("aiex/applyChatEdit", server::Backend::apply_chat_edit)
    .custom_method("aiex/sessions", server::Backend::list_sessions)
    .custom_method("aiex/session", server::Backend::session)
    .custom_method("aiex/exportSession", server::Backend::export_session)
    .custom_method("aiex/importSession", server::Backend::import_session)
    .custom_method("aiex/deleteSession", server::Backend::delete_session)
    .custom_method("aiex/checkpoints", server::Backend::list_checkpoints)
    .custom_method(
        "aiex/compareCheckpoint",
        server::Backend::compare_checkpoint,
    )
    .custom_method("aiex/health", server::Backend::health)
    .custom_method(
        "textDocument/inlineCompletion",
        server::Backend::inline_completion,
    )
    .finish();
    let stdio = transport::guard(tokio::io::stdin(), tokio::io::stdout());
    let serving = Server::new(stdio.input, stdio.output, socket)
        .concurrency_level(MAX_CONCURRENT_HANDLERS)
        .serve(boundary::PanicBoundary::new(service, {
            let state = Arc::clone(&state);
            Arc::new(move || state.release_memory_when_quiet())
        }));
    // A signal drops the serving future, and with it every handler in flight: a model request
    // dropped so writes its audit line ("dropped") before the state below is written.
    let terminated = tokio::select! {
        () = serving => None,
        signal = crate::lifecycle::shutdown::termination() => Some(signal),
    };
    if let Some(signal) = terminated {
        tracing::info!(signal, "stopping on a signal");
    }
    // tower-lsp-server has dropped its output: the writer drains what is left and ends.
    let flushed = tokio::time::timeout(std::time::Duration::from_secs(2), stdio.writer).await;
    if flushed.is_err() {
        tracing::warn!("stdout did not drain within 2 s of exit");
    }
    crate::lifecycle::shutdown::persist(Arc::clone(state.engine())).await;
    state.flush_telemetry().await;
    terminated.is_some() || state.shutdown_requested()
}
