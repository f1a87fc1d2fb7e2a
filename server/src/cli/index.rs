//! `aiex index PATH`: builds the workspace index from the command line and summarises it.

use std::path::PathBuf;

use anyhow::Context;

use super::outln;
use crate::index::{default_cache_dir, IndexCache, IndexOptions, WorkspaceIndex};

/// Arguments of `aiex index`.
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// The workspace root (the current directory when absent).
    pub path: Option<PathBuf>,
    /// Ignore the on-disk cache (and do not write it).
    #[arg(long)]
    pub no_cache: bool,
}

/// Runs `aiex index`.
pub fn run(args: IndexArgs) -> anyhow::Result<()> {
    let root = match args.path {
        Some(path) => path,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("the workspace {} does not exist", root.display()))?;
    let roots = vec![root.clone()];
    let cache_path = if args.no_cache {
        None
    } else {
        default_cache_dir().map(|dir| IndexCache::path_for(&dir, &roots))
    };
    let cache = match &cache_path {
        Some(path) => {
            let (cache, warning) = IndexCache::load(path);
            if let Some(warning) = warning {
                eprintln!("aiex: {warning}");
            }
            Some(cache)
        }
        None => None,
    };
    let index = WorkspaceIndex::new();
    let report = index.rebuild(&IndexOptions::new(roots), cache.as_ref(), &|_| {})?;
    let counts = index.counts();
    outln!("workspace: {}", root.display())?;
    outln!(
        "files: {} ({} from cache, {} skipped)\nmodules: {}\nfunctions: {}\nsource: {:.1} MB\ntime: {} ms",
        report.files,
        report.from_cache,
        report.skipped,
        counts.modules,
        counts.functions,
        counts.bytes as f64 / (1024.0 * 1024.0),
        report.elapsed.as_millis()
    )?;
    if let (Some(cache), Some(path)) = (cache, cache_path) {
        let bytes = cache
            .save(&index)
            .with_context(|| format!("cannot write the index cache {}", path.display()))?;
        outln!(
            "cache: {} ({:.1} MB)",
            path.display(),
            bytes as f64 / (1024.0 * 1024.0)
        )?;
    }
    Ok(())
}
