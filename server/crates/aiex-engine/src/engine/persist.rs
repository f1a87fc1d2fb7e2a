//! Writing what the engine holds in memory to disk before the process ends: the usage totals
//! (written as they come, but at most every few seconds) and the workspace index (saved after
//! a crawl, then kept current in memory as files change). The audit log needs no step here:
//! each line is written when its request ends, and a request dropped at shutdown writes its
//! line as it is dropped; [`Engine::persist`] waits (briefly) for those writes to land.

use crate::index::{default_cache_dir, IndexCache};

use super::{Engine, IndexCacheUse};

/// How long shutdown waits for audit lines being written (each is one small append).
const AUDIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// What [`Engine::persist`] wrote, and what it could not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Persisted {
    /// Bytes of index cache written (`None` when there was no workspace or no cache).
    pub index_cache_bytes: Option<u64>,
    /// Whether usage totals were written (`false` with no providers configured).
    pub usage: bool,
    /// What failed, one line each, with the path.
    pub errors: Vec<String>,
}

impl Engine {
    /// Waits for the audit lines being written, then writes the index cache (when `cache` allows and there is a workspace) and the pending
    /// usage totals. Blocking; call once the message loop has stopped.
    pub fn persist(&self, cache: IndexCacheUse) -> Persisted {
        let mut persisted = Persisted::default();
        if !self.audit_writes.wait_idle(AUDIT_PATIENCE) {
            persisted.errors.push(format!(
                "audit lines were still being written after {} ms",
                AUDIT_PATIENCE.as_millis()
            ));
        }
        if let Some(providers) = self.providers() {
            match providers.flush_usage() {
                Ok(()) => persisted.usage = true,
                Err(error) => persisted
                    .errors
                    .push(format!("cannot write the usage totals: {error}")),
            }
        }
        let roots = self.roots();
        let index = self.index();
        if cache == IndexCacheUse::ReadWrite && !roots.is_empty() && !index.files().is_empty() {
            if let Some(dir) = default_cache_dir() {
                let path = IndexCache::path_for(&dir, &roots);
                match IndexCache::empty_at(&path).save(&index) {
                    Ok(bytes) => persisted.index_cache_bytes = Some(bytes),
                    Err(error) => persisted.errors.push(format!(
                        "cannot write the index cache {}: {error}",
                        path.display()
                    )),
                }
            }
        }
        persisted
    }
}
