//! The workspace file walker: which Elixir files belong to a project, found in parallel.
//!
//! Honours `.gitignore` (even outside a git repository), `.ignore` and `.aiexignore`; skips
//! `_build`, `deps`, `node_modules`, hidden directories and files over a size limit. Reading a
//! file ([`read_source`]) also refuses binary and non-UTF-8 content. Used by `aiex check` and the
//! workspace index.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

/// Directories never walked into, whatever the ignore files say.
pub const SKIPPED_DIRS: &[&str] = &[
    "_build",
    "deps",
    "node_modules",
    ".git",
    ".elixir_ls",
    ".lexical",
    ".expert",
];

/// The name of Aiex's own ignore file, read like `.gitignore`.
pub const AIEX_IGNORE: &str = ".aiexignore";

/// How to walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOptions {
    /// Also yield `.heex` and `.eex` templates.
    pub include_heex: bool,
    /// Files larger than this many bytes are skipped (by default those too large for a
    /// syntax tree, which nothing could use).
    pub max_file_size: u64,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            include_heex: false,
            max_file_size: crate::syntax::MAX_PARSE_BYTES as u64,
            threads: 0,
        }
    }
}

/// A file found by the walk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalkedFile {
    /// The path as found (under the root as given).
    pub path: PathBuf,
    /// The path relative to the root it was found under (the file name when the root is a file).
    pub relative: PathBuf,
}

/// Why a walk or a read failed.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// A root does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Root {
        /// The root as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Whether a path has an extension the walk yields.
pub fn is_elixir_path(path: &Path, include_heex: bool) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ex" | "exs") => true,
        Some("heex" | "eex") => include_heex,
        _ => false,
    }
}

/// Finds the Elixir files under `roots`, sorted by path. A root that is a file is yielded as is
/// (when it has an Elixir extension), whatever the ignore files say: the user named it.
/// Errors inside the tree (unreadable directories) are logged and skipped.
pub fn elixir_files(
    roots: &[PathBuf],
    options: &WalkOptions,
) -> Result<Vec<WalkedFile>, WalkError> {
    let mut files = Vec::new();
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|source| WalkError::Root {
            path: root.clone(),
            source,
        })?;
        if meta.is_file() {
            if is_elixir_path(root, options.include_heex) {
                let relative = root.file_name().map(PathBuf::from).unwrap_or_default();
                files.push(WalkedFile {
                    path: root.clone(),
                    relative,
                });
            }
            continue;
        }
        files.extend(walk_dir(root, options));
    }
    files.sort();
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

fn walk_dir(root: &Path, options: &WalkOptions) -> Vec<WalkedFile> {
    let found = Mutex::new(Vec::new());
    let max_size = options.max_file_size;
    let include_heex = options.include_heex;
    WalkBuilder::new(root)
        .require_git(false)
        .add_custom_ignore_filename(AIEX_IGNORE)
        .threads(options.threads)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && entry.depth() > 0 && SKIPPED_DIRS.iter().any(|d| entry.file_name() == *d))
        })
        .build_parallel()
        .run(|| {
            let found = &found;
            Box::new(move |entry| {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(err) => {
                        tracing::warn!("skipping unreadable entry: {err}");
                        return WalkState::Continue;
                    }
                };
                if !entry.file_type().is_some_and(|t| t.is_file())
                    || !is_elixir_path(entry.path(), include_heex)
                {
                    return WalkState::Continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
                if size > max_size {
                    tracing::debug!(path = %entry.path().display(), size, "skipping oversized file");
                    return WalkState::Continue;
                }
                let path = entry.path().to_path_buf();
                let relative = path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.clone());
                if let Ok(mut found) = found.lock() {
                    found.push(WalkedFile { path, relative });
                }
                WalkState::Continue
            })
        });
    found
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads a source file; `Ok(None)` when it is binary (a NUL byte in its first 8 KiB), not UTF-8,
/// or larger than `max_file_size`.
pub fn read_source(path: &Path, max_file_size: u64) -> Result<Option<String>, WalkError> {
    let bytes = std::fs::read(path).map_err(|source| WalkError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() as u64 > max_file_size || bytes[..bytes.len().min(8192)].contains(&0) {
        return Ok(None);
    }
    Ok(String::from_utf8(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &[u8]) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }

    fn listing(root: &Path, options: &WalkOptions) -> String {
        elixir_files(&[root.to_path_buf()], options)
            .unwrap()
            .iter()
            .map(|f| f.relative.display().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn walks_elixir_files_honouring_ignore_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "mix.exs", b"defmodule M do end");
        write(root, "lib/a.ex", b"");
        write(root, "lib/b/c.ex", b"");
        write(root, "lib/page.html.heex", b"<p/>");
        write(root, "lib/readme.md", b"");
        write(root, "test/a_test.exs", b"");
        write(root, "_build/dev/x.ex", b"");
        write(root, "deps/plug/lib/plug.ex", b"");
        write(root, "assets/node_modules/x/y.ex", b"");
        write(root, "lib/generated/g.ex", b"");
        write(root, "lib/secret/s.ex", b"");
        write(root, "priv/ignored.exs", b"");
        write(root, ".gitignore", b"/lib/generated/\n");
        write(root, ".aiexignore", b"lib/secret/\n");
        write(root, ".ignore", b"priv/\n");
        write(root, "big.ex", &vec![b'a'; 2048]);
        let options = WalkOptions {
            max_file_size: 1024,
            ..WalkOptions::default()
        };
        assert_eq!(
            listing(root, &options),
            "lib/a.ex\nlib/b/c.ex\nmix.exs\ntest/a_test.exs"
        );
        let with_heex = WalkOptions {
            include_heex: true,
            ..options
        };
        assert!(listing(root, &with_heex).contains("lib/page.html.heex"));
    }

    #[test]
    fn a_file_root_is_yielded_and_a_missing_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "one.ex", b"");
        let files = elixir_files(&[dir.path().join("one.ex")], &WalkOptions::default()).unwrap();
        assert_eq!(files.len(), 1);
        let err = elixir_files(&[dir.path().join("nope")], &WalkOptions::default()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn read_source_refuses_binary_and_oversized() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bin.ex", b"abc\0def");
        write(dir.path(), "ok.ex", b"defmodule A do end");
        write(dir.path(), "latin1.ex", &[0xE9, b'a']);
        assert_eq!(read_source(&dir.path().join("bin.ex"), 100).unwrap(), None);
        assert_eq!(
            read_source(&dir.path().join("latin1.ex"), 100).unwrap(),
            None
        );
        assert_eq!(read_source(&dir.path().join("ok.ex"), 5).unwrap(), None);
        assert_eq!(
            read_source(&dir.path().join("ok.ex"), 100)
                .unwrap()
                .as_deref(),
            Some("defmodule A do end")
        );
    }
}
