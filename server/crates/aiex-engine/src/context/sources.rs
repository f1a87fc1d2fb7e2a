//! Where the context engine reads files from: the current document, the other open documents
//! (which override the index) and the workspace index — never a secret file, never a path
//! outside the workspace.

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::{ContextRequest, OpenDocument};
use crate::chunks::{FileChunks, ModuleChunk};
use crate::index::{IndexedFile, WorkspaceIndex};

/// True when a workspace-relative path may be read into a prompt: relative, no `..`, and not a
/// secret file (`.env*`, `*.pem`, `*.key`, `config/*secret*`...).
pub fn is_allowed(relative: &Path) -> bool {
    let inside = relative
        .components()
        .all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
    inside && !crate::secrets::is_secret_path(relative)
}

/// Data either borrowed from the request or shared with the index.
pub(crate) enum Held<'a, T: ?Sized> {
    Borrowed(&'a T),
    Shared(Arc<T>),
}

impl<T: ?Sized> Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Self::Borrowed(value) => value,
            Self::Shared(value) => value,
        }
    }
}

/// A file the context may draw on.
pub(crate) struct SourceFile<'a> {
    /// Workspace-relative path.
    pub relative: PathBuf,
    pub text: Held<'a, str>,
    pub chunks: Held<'a, FileChunks>,
}

impl SourceFile<'_> {
    /// The module `name` of this file.
    pub fn module(&self, name: &str) -> Option<&ModuleChunk> {
        self.chunks
            .all_modules()
            .into_iter()
            .find(|module| module.name == name)
    }
}

/// An indexed file's text as read from disk and its chunks as unpacked.
type ReadFile = (Arc<str>, Arc<FileChunks>);

/// The files the context may read, in order of authority.
pub(crate) struct Sources<'a> {
    path: &'a Path,
    text: &'a str,
    chunks: &'a FileChunks,
    open: &'a [OpenDocument],
    index: &'a WorkspaceIndex,
    /// The indexed files' texts this request read from disk (the index does not hold them)
    /// and their chunks as unpacked (the index holds them packed): a file several pieces come
    /// from is read and unpacked once.
    read: std::cell::RefCell<Vec<(PathBuf, Option<ReadFile>)>>,
}

impl<'a> Sources<'a> {
    /// The sources of a request.
    pub fn new(
        request: &ContextRequest<'a>,
        index: &'a WorkspaceIndex,
        open: &'a [OpenDocument],
    ) -> Self {
        Self {
            path: request.path,
            text: request.text,
            chunks: request.chunks,
            open,
            index,
            read: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn current(&self) -> SourceFile<'a> {
        SourceFile {
            relative: self.path.to_path_buf(),
            text: Held::Borrowed(self.text),
            chunks: Held::Borrowed(self.chunks),
        }
    }

    fn from_open(document: &'a OpenDocument) -> SourceFile<'a> {
        SourceFile {
            relative: document.path.clone(),
            text: Held::Shared(Arc::clone(&document.text)),
            chunks: Held::Shared(Arc::clone(&document.chunks)),
        }
    }

    /// An indexed file read from disk (the index does not hold texts); `None` when it
    /// changed since it was indexed.
    fn indexed_source(&self, file: &Arc<IndexedFile>) -> Option<SourceFile<'a>> {
        let known = self
            .read
            .borrow()
            .iter()
            .find(|(path, _)| path == &file.path)
            .map(|(_, read)| read.clone());
        let (text, chunks) = match known {
            Some(read) => read,
            None => {
                let read = self.index.read(file);
                self.read
                    .borrow_mut()
                    .push((file.path.clone(), read.clone()));
                read
            }
        }?;
        Some(SourceFile {
            relative: file.relative.clone(),
            text: Held::Shared(text),
            chunks: Held::Shared(chunks),
        })
    }

    /// True when an indexed file is shadowed by the current or an open document.
    fn overridden(&self, relative: &Path) -> bool {
        relative == self.path || self.open.iter().any(|d| d.path == relative)
    }

    fn open_documents(&self) -> impl Iterator<Item = &'a OpenDocument> {
        let current = self.path;
        self.open
            .iter()
            .filter(move |d| d.path != current && is_allowed(&d.path))
    }

    /// How many call sites call each function of `module`, by name: the workspace's as the
    /// index knows them, with the current document's own calls counted from its text (the
    /// index holds the file as it was saved).
    pub fn calls_into(&self, module: &str) -> HashMap<String, u32> {
        self.calls_into_each(&[module]).pop().unwrap_or_default()
    }

    /// [`Self::calls_into`] for several modules, in their order, looking the saved copy of the
    /// current document up once.
    pub fn calls_into_each(&self, modules: &[&str]) -> Vec<HashMap<String, u32>> {
        let mut all: Vec<HashMap<String, u32>> = modules
            .iter()
            .map(|module| self.index.calls_into(module))
            .collect();
        let mut adjust = |at: usize, function: &str, sign: i64| {
            crate::index::add_call(&mut all[at], function, sign);
        };
        if let Some(saved) = self.saved_copy() {
            for (called, function, count) in saved.remote_calls.iter() {
                if let Some(at) = modules.iter().position(|m| **m == **called) {
                    adjust(at, function, -i64::from(*count));
                }
            }
        }
        for (at, function) in self.chunks.remote_calls_into(modules) {
            adjust(at, function, 1);
        }
        all
    }

    /// The file defining module `name`.
    pub fn module_file(&self, name: &str) -> Option<SourceFile<'a>> {
        let defines = |chunks: &FileChunks| chunks.all_modules().iter().any(|m| m.name == name);
        if defines(self.chunks) {
            return Some(self.current());
        }
        if let Some(document) = self.open_documents().find(|d| defines(&d.chunks)) {
            return Some(Self::from_open(document));
        }
        let file = self.index.module_file(name)?;
        if self.overridden(&file.relative) || !is_allowed(&file.relative) {
            return None;
        }
        self.indexed_source(&file)
    }

    /// The index's copy of the current document: found through a module it defines (a map
    /// lookup), else by listing the index (a document with no module left in its text).
    fn saved_copy(&self) -> Option<Arc<IndexedFile>> {
        let by_module = self
            .chunks
            .modules
            .iter()
            .filter_map(|module| self.index.module_file(&module.name))
            .find(|file| file.relative == self.path);
        by_module.or_else(|| {
            self.index
                .files()
                .into_iter()
                .find(|f| f.relative == self.path)
        })
    }

    /// The file at a workspace-relative path.
    pub fn file(&self, relative: &Path) -> Option<SourceFile<'a>> {
        if !is_allowed(relative) {
            return None;
        }
        if relative == self.path {
            return Some(self.current());
        }
        if let Some(document) = self.open_documents().find(|d| d.path == relative) {
            return Some(Self::from_open(document));
        }
        self.index
            .files()
            .into_iter()
            .find(|f| f.relative == relative)
            .and_then(|f| self.indexed_source(&f))
    }

    /// The indexed functions most relevant to `query`, best first, without those of the files
    /// shown from the editors' text (the current document, the open ones).
    pub fn relevant(&self, query: &str) -> impl Iterator<Item = crate::index::RelevantFunction> {
        let shown: Vec<&Path> = std::iter::once(self.path)
            .chain(self.open.iter().map(|d| d.path.as_path()))
            .collect();
        self.index.relevant(query, &shown)
    }

    /// The index's current version of the file at an absolute path.
    pub fn indexed_file(&self, path: &Path) -> Option<Arc<IndexedFile>> {
        self.index.file(path)
    }

    /// True when retrieval may show this indexed file's copy (no open document shadows it).
    pub fn shows_indexed(&self, relative: &Path) -> bool {
        !self.overridden(relative)
    }

    /// The indexed file as a source.
    pub fn indexed(&self, file: &Arc<IndexedFile>) -> Option<SourceFile<'a>> {
        self.indexed_source(file)
    }
}
