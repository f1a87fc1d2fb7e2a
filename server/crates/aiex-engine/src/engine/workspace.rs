//! The workspace as every entry point builds it: the index of its roots (through the disk cache),
//! and the context a request at a place would get.

use std::path::Path;

use crate::context::{AssembledContext, ContextRequest, Task};
use crate::document::DocumentKey;
use crate::index::{default_cache_dir, BuildReport, IndexCache, IndexOptions, Progress};
use crate::walk::WalkError;

use super::{AiError, Cursor, Engine};

/// How to index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexCacheUse {
    /// Read and write the disk cache under Aiex's cache directory.
    ReadWrite,
    /// Neither read nor write it.
    Off,
}

impl Engine {
    /// Indexes every Elixir file under the roots, reusing the disk cache for files whose
    /// content it knows and saving it afterwards; then builds the retrieval index, so the first
    /// request does not. Blocking: run it off any message loop. `warn` hears what went wrong
    /// without stopping the indexing (an unreadable or stale cache).
    pub fn index_workspace(
        &self,
        cache: IndexCacheUse,
        progress: &(dyn Fn(Progress) + Sync),
        warn: &dyn Fn(String),
    ) -> Result<BuildReport, WalkError> {
        let roots = self.roots();
        let cache_path = match cache {
            IndexCacheUse::ReadWrite => {
                default_cache_dir().map(|dir| IndexCache::path_for(&dir, &roots))
            }
            IndexCacheUse::Off => None,
        };
        let disk_cache = cache_path.as_ref().map(|path| {
            let (cache, warning) = IndexCache::load(path);
            if let Some(warning) = warning {
                warn(warning.to_string());
            }
            cache
        });
        let report =
            self.index
                .rebuild(&IndexOptions::new(roots), disk_cache.as_ref(), progress)?;
        // The context engine's relevance index, built now rather than on the first request.
        crate::context::warm_retrieval(&self.index);
        if let (Some(cache), Some(path)) = (disk_cache, cache_path) {
            if let Err(error) = cache.save(&self.index) {
                warn(format!(
                    "cannot write the index cache {}: {error}",
                    path.display()
                ));
            }
        }
        // The build's garbage (the cache file read and written, every file's text, the
        // relevance index's lists before they were flattened) goes back to the system now:
        // an editor typing right after the index is built leaves the server no quiet moment
        // to release it (with 300,000 lines it stayed resident through a 2,000-edit storm).
        crate::memory::give_back_free_pages();
        crate::memory::give_back_code_pages();
        Ok(report)
    }

    /// What a prompt for `task` at `cursor` of the open document `key` would hold, within
    /// `budget_tokens`: the same assembly a completion or an action uses.
    pub async fn context(
        &self,
        key: &DocumentKey,
        cursor: Cursor,
        task: Task,
        budget_tokens: usize,
    ) -> Result<AssembledContext, AiError> {
        self.may_send(key)?;
        let snapshot = self
            .documents
            .syntax(key)
            .await
            .ok_or_else(|| AiError::UnknownDocument(key.clone()))?;
        let Some(path) = self.workspace_path(key) else {
            return Ok(AssembledContext::default());
        };
        let Ok(tree) = &snapshot.tree else {
            return Ok(AssembledContext::default());
        };
        let text = snapshot.rope.to_string();
        let offset = cursor.offset_in(&snapshot.rope);
        let chunks = crate::chunks::extract(tree, &text);
        let open = self.open_documents_for_context(key);
        let recent = self.recent_edits();
        let tokens = self.tokens();
        let request = ContextRequest {
            task,
            path: &path,
            text: &text,
            tree,
            chunks: &chunks,
            cursor: offset,
            budget_tokens,
            recent_edits: &recent,
            tokens: &tokens,
        };
        Ok(crate::context::assemble(&request, &self.index, &open))
    }

    /// Opens a file from disk as a document (for entry points with no editor: the command
    /// line, scripts). The file must be one the privacy gate admits.
    pub fn open_from_disk(&self, path: &Path) -> Result<DocumentKey, AiError> {
        let key = DocumentKey::file(path);
        self.gate().admit(path)?;
        let bytes = std::fs::read(path)
            .map_err(|e| AiError::Io(format!("cannot read {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| AiError::Io(format!("{} is not UTF-8 text", path.display())))?;
        let language = crate::document::Language::detect("", &path.to_string_lossy());
        self.open(&key, &text, 0, language);
        Ok(key)
    }
}
