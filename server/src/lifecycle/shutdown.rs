//! How the server stops: on `exit` after `shutdown`, on a closed stdin, or on SIGTERM/SIGINT
//! (Ctrl+C on Windows), it stops answering, lets the requests in flight go (each dropped model
//! request writes its audit line as it goes), then writes the index cache and usage totals.

use std::sync::Arc;

use crate::engine::{Engine, IndexCacheUse};

/// Resolves when the process is asked to terminate, with the signal's name. Never resolves if
/// the signal handlers cannot be installed (the server then stops only through LSP), which is
/// logged.
pub async fn termination() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            },
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for SIGTERM/SIGINT; only `exit` stops the server cleanly");
                std::future::pending().await
            }
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl+C",
            Err(error) => {
                tracing::warn!(%error, "cannot listen for Ctrl+C; only `exit` stops the server cleanly");
                std::future::pending().await
            }
        }
    }
}

/// Writes the engine's state to disk off the async threads, and logs what was written.
pub async fn persist(engine: Arc<Engine>) {
    let persisted =
        tokio::task::spawn_blocking(move || engine.persist(IndexCacheUse::ReadWrite)).await;
    match persisted {
        Ok(persisted) => {
            for error in &persisted.errors {
                tracing::warn!("at shutdown: {error}");
            }
            tracing::info!(
                index_cache_bytes = persisted.index_cache_bytes,
                usage = persisted.usage,
                "state written to disk"
            );
        }
        Err(error) => tracing::error!(%error, "writing state to disk at shutdown failed"),
    }
}
