//! The workspace index seen from the protocol: the initial crawl with progress, the disk cache,
//! and keeping the index current from saves, watched files and file operations.

use std::path::PathBuf;
use std::sync::Arc;

use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::Client;
use tracing::{info, warn};

use super::server::ServerState;
use crate::engine::IndexCacheUse;
use crate::index::{resolve_in_roots, IndexOptions, Progress};

/// The glob of the files the index follows.
pub const ELIXIR_GLOB: &str = "**/*.{ex,exs}";

/// Crawls the workspace roots into the index, reporting progress when the client can show it.
pub async fn index_workspace(client: Client, state: Arc<ServerState>, report_progress: bool) {
    let roots = state.workspace_roots();
    if roots.is_empty() {
        return;
    }
    let (progress_tx, mut progress_rx) =
        tokio::sync::watch::channel(Progress { done: 0, total: 0 });
    let engine = std::sync::Arc::clone(state.engine());
    let build = tokio::task::spawn_blocking(move || {
        engine.index_workspace(
            IndexCacheUse::ReadWrite,
            &|p| {
                let _ = progress_tx.send(p);
            },
            &|warning| warn!("{warning}"),
        )
    });

    let ongoing = if report_progress {
        let token = lsp::ProgressToken::String("aiex/index".to_owned());
        match client.create_work_done_progress(token.clone()).await {
            Ok(()) => Some(
                client
                    .progress(token, "Aiex: indexing")
                    .with_percentage(0)
                    .begin()
                    .await,
            ),
            Err(error) => {
                warn!("the client refused a progress token: {error}");
                None
            }
        }
    } else {
        None
    };
    if let Some(ongoing) = &ongoing {
        while progress_rx.changed().await.is_ok() {
            let Progress { done, total } = *progress_rx.borrow_and_update();
            let percentage = (done * 100).checked_div(total).unwrap_or(100) as u32;
            ongoing
                .report_with_message(format!("{done}/{total} files"), percentage)
                .await;
        }
    }
    let message = match build.await {
        Ok(Ok(report)) => {
            let counts = state.index().counts();
            info!(
                files = report.files,
                from_cache = report.from_cache,
                skipped = report.skipped,
                modules = counts.modules,
                functions = counts.functions,
                elapsed_ms = report.elapsed.as_millis() as u64,
                "workspace indexed"
            );
            format!(
                "{} files, {} modules in {} ms",
                report.files,
                counts.modules,
                report.elapsed.as_millis()
            )
        }
        Ok(Err(error)) => {
            warn!("indexing failed: {error}");
            format!("indexing failed: {error}")
        }
        Err(error) => {
            warn!("indexing stopped: {error}");
            "indexing stopped".to_owned()
        }
    };
    if let Some(ongoing) = ongoing {
        ongoing.finish_with_message(message).await;
    }
}

/// The glob of the files that say what never reaches a model.
pub const IGNORE_GLOB: &str = "**/.aiexignore";

/// Asks the client to tell us about Elixir files, and `.aiexignore` files, changing on disk.
pub async fn watch_files(client: &Client) {
    let options = lsp::DidChangeWatchedFilesRegistrationOptions {
        watchers: [ELIXIR_GLOB, IGNORE_GLOB]
            .into_iter()
            .map(|glob| lsp::FileSystemWatcher {
                glob_pattern: lsp::GlobPattern::String(glob.to_owned()),
                kind: None,
            })
            .collect(),
    };
    let registration = lsp::Registration {
        id: "aiex/watched-files".to_owned(),
        method: "workspace/didChangeWatchedFiles".to_owned(),
        register_options: serde_json::to_value(options).ok(),
    };
    if let Err(error) = client.register_capability(vec![registration]).await {
        warn!("the client did not accept the file watcher: {error}");
    }
}

/// The file operation filters the server wants to hear about.
pub fn file_operation_options() -> lsp::FileOperationRegistrationOptions {
    lsp::FileOperationRegistrationOptions {
        filters: vec![lsp::FileOperationFilter {
            scheme: Some("file".to_owned()),
            pattern: lsp::FileOperationPattern {
                glob: ELIXIR_GLOB.to_owned(),
                matches: Some(lsp::FileOperationPatternKind::File),
                options: None,
            },
        }],
    }
}

/// True for a workspace's `.aiexignore` file.
pub fn is_ignore_file(uri: &lsp::Uri) -> bool {
    uri.path().as_str().ends_with(crate::walk::AIEX_IGNORE)
}

/// A `.aiexignore` changed: the privacy gate reads the rules again at once, and the index is
/// crawled again so that newly ignored files leave it (and newly allowed ones come in).
pub fn ignore_rules_changed(client: Client, state: &Arc<ServerState>) {
    state.engine().reload_ignore_rules();
    tokio::spawn(index_workspace(client, Arc::clone(state), false));
}

/// Re-reads a file from disk into the index (it was created or changed).
///
/// Reading and parsing run on the blocking pool, never in the message loop; updates run one
/// at a time in the order they arrived (the permit is taken before the handler's first
/// await returns), so an older text never replaces a newer one.
pub async fn reindex_from_disk(state: &Arc<ServerState>, uri: &lsp::Uri) {
    let Some((path, relative)) = resolve(state, uri) else {
        return;
    };
    let permit = Arc::clone(&state.index_updates).lock_owned().await;
    let index = state.index();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match crate::walk::read_source(&path, IndexOptions::new(Vec::new()).max_file_size) {
            Ok(Some(text)) => {
                index.update_file(&path, &relative, &text);
            }
            Ok(None) => {
                index.remove_file(&path);
            }
            Err(error) => warn!("{error}"),
        }
    });
}

/// Updates the index with a text the editor holds (saved); off the message loop, in order.
pub async fn reindex_text(state: &Arc<ServerState>, uri: &lsp::Uri, text: String) {
    let Some((path, relative)) = resolve(state, uri) else {
        return;
    };
    let permit = Arc::clone(&state.index_updates).lock_owned().await;
    let index = state.index();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        index.update_file(&path, &relative, &text);
    });
}

/// Drops a deleted file from the index (in order with the updates).
pub async fn forget(state: &Arc<ServerState>, uri: &lsp::Uri) {
    if let Some((path, _)) = resolve(state, uri) {
        let _permit = state.index_updates.lock().await;
        state.index().remove_file(&path);
    }
}

/// The canonical path and root-relative path of a URI, if the index may read it.
fn resolve(state: &ServerState, uri: &lsp::Uri) -> Option<(PathBuf, PathBuf)> {
    let path = super::convert::file_path(uri)?;
    resolve_in_roots(&path, &state.workspace_roots())
}
