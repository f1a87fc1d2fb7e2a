//! Building the index from disk: walk, read, hash, then parse only what the cache lacks,
//! spread over every core.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{content_hash, IndexCache, IndexedFile, WorkspaceIndex};
use crate::chunks::{self, FileChunks};
use crate::walk::{self, WalkError, WalkOptions, WalkedFile};

/// What to index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// The workspace roots.
    pub roots: Vec<PathBuf>,
    /// Files larger than this are skipped.
    pub max_file_size: u64,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

impl IndexOptions {
    /// Defaults for `roots`.
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self {
            roots,
            max_file_size: WalkOptions::default().max_file_size,
            threads: 0,
        }
    }
}

/// Where a build is, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files done.
    pub done: usize,
    /// Files in all.
    pub total: usize,
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildReport {
    /// Files indexed.
    pub files: usize,
    /// Of those, how many came from the on-disk cache.
    pub from_cache: usize,
    /// Files skipped (unreadable, binary, not UTF-8).
    pub skipped: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Rebuilds `index` from the files under the roots; `progress` is called from worker threads.
pub fn build(
    index: &WorkspaceIndex,
    options: &IndexOptions,
    cache: Option<&IndexCache>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildReport, WalkError> {
    let started = Instant::now();
    let walk_options = WalkOptions {
        max_file_size: options.max_file_size,
        threads: options.threads,
        ..WalkOptions::default()
    };
    let files = walk::elixir_files(&options.roots, &walk_options)?;
    let total = files.len();
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
    .min(total.max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let from_cache = AtomicUsize::new(0);
    let skipped = Mutex::new(0usize);
    let built = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(walked) = files.get(at) else { break };
                    match index_one(walked, options.max_file_size, cache) {
                        Some((file, cached)) => {
                            if cached {
                                from_cache.fetch_add(1, Ordering::Relaxed);
                            }
                            local.push(file);
                        }
                        None => {
                            if let Ok(mut count) = skipped.lock() {
                                *count += 1;
                            }
                        }
                    }
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if finished % 64 == 0 || finished == total {
                        progress(Progress {
                            done: finished,
                            total,
                        });
                    }
                }
                if let Ok(mut all) = built.lock() {
                    all.extend(local);
                }
            });
        }
    });
    // Replace file by file rather than clearing first, so readers never see an empty index.
    let built = built
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let count = built.len();
    let current: std::collections::HashSet<PathBuf> =
        built.iter().map(|f| f.path.clone()).collect();
    for file in built {
        index.insert(file);
    }
    for stale in index
        .files()
        .into_iter()
        .filter(|f| !current.contains(&f.path))
    {
        index.remove_file(&stale.path);
    }
    Ok(BuildReport {
        files: count,
        from_cache: from_cache.into_inner(),
        skipped: skipped
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
        elapsed: started.elapsed(),
    })
}

/// Reads and chunks one file, from the cache when its hash is known. `None` when unreadable.
fn index_one(
    walked: &WalkedFile,
    max_size: u64,
    cache: Option<&IndexCache>,
) -> Option<(IndexedFile, bool)> {
    // Before the read: see `IndexedFile::from_disk`.
    let modified = std::fs::metadata(&walked.path)
        .ok()
        .and_then(|metadata| metadata.modified().ok());
    let text = match walk::read_source(&walked.path, max_size) {
        Ok(Some(text)) => text,
        Ok(None) => {
            tracing::debug!(path = %walked.path.display(), "not indexed: binary, not UTF-8 or too large");
            return None;
        }
        Err(error) => {
            tracing::warn!("not indexed: {error}");
            return None;
        }
    };
    let hash = content_hash(&text);
    let (chunks, remote_calls, cached) = match cache.and_then(|c| c.get(&hash)) {
        Some((chunks, remote_calls)) => (chunks, remote_calls, true),
        None => {
            let file_chunks = match crate::syntax::parse_str(&text) {
                Ok(tree) => chunks::extract(&tree, &text),
                Err(_) => FileChunks::default(),
            };
            let (packed, remote_calls) = IndexedFile::compact(file_chunks);
            (packed, remote_calls, false)
        }
    };
    let file = IndexedFile::from_disk(
        walked.path.clone(),
        walked.relative.clone(),
        hash,
        &text,
        modified,
        chunks,
        remote_calls,
    );
    Some((file, cached))
}
