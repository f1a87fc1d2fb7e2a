//! Retrieval by relevance for the context engine: the index's BM25 ranking
//! ([`crate::index::WorkspaceIndex::relevant`]), shown only where the context's sources agree
//! (no open document shadows the file, and the ranked version is the file's current one).

use super::sources::{SourceFile, Sources};
use crate::chunks::FunctionChunk;

/// A function chunk found relevant.
pub(crate) struct Hit<'a> {
    pub file: SourceFile<'a>,
    pub module: String,
    pub function: FunctionChunk,
}

/// The `limit` function chunks of the workspace most relevant to `query`, best first.
pub(crate) fn search<'a>(sources: &Sources<'a>, query: &str, limit: usize) -> Vec<Hit<'a>> {
    sources
        .relevant(query)
        .filter_map(|found| {
            if !sources.shows_indexed(&found.file.relative) {
                return None;
            }
            // The inverted index may be older than the workspace index: show a hit only from
            // the file's current version.
            let current = sources.indexed_file(&found.file.path)?;
            if current.hash != found.file.hash {
                return None;
            }
            // Same hash: the module and function positions are the ranked ones.
            let file = sources.indexed(&current)?;
            let module = *file.chunks.all_modules().get(found.module)?;
            let function = module.functions.get(found.function)?.clone();
            let module = module.name.clone();
            Some(Hit {
                file,
                module,
                function,
            })
        })
        .take(limit)
        .collect()
}
