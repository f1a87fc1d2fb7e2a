//! What names an open document inside the engine: its absolute path on disk, or, for a buffer
//! that has no file yet, the name the editor gave it. URIs stay at the protocol's edge.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The identity of an open document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentKey {
    /// A file, by its absolute path, normalised lexically (no `.`, `..` or repeated `/`).
    File(PathBuf),
    /// A buffer with no file (an editor's "untitled" document), by the editor's name for it.
    Unsaved(String),
}

impl DocumentKey {
    /// The key of the file at `path` (absolute), normalised so that two spellings of one path
    /// (`/a//b/./c.ex`, `/a/b/x/../c.ex`) name one document.
    pub fn file(path: &Path) -> Self {
        Self::File(normalize(path))
    }

    /// The key of a buffer with no file.
    pub fn unsaved(name: impl Into<String>) -> Self {
        Self::Unsaved(name.into())
    }

    /// The document's file, when it has one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            Self::Unsaved(_) => None,
        }
    }
}

impl fmt::Display for DocumentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Unsaved(name) => write!(f, "{name}"),
        }
    }
}

/// `path` without `.` components, repeated separators, or `..` that can be resolved without
/// touching the disk (a `..` above the root is dropped, as the OS does).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(part);
                }
                // `/..` is `/`: popping past the root leaves it in place.
                if out.as_os_str().is_empty() && path.has_root() {
                    out.push(Component::RootDir);
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_spellings_of_one_file_are_one_document() {
        let plain = DocumentKey::file(Path::new("/work/app/lib/x.ex"));
        for spelling in [
            "/work/app//lib/x.ex",
            "/work/app/./lib/x.ex",
            "/work/app/lib/../lib/x.ex",
            "/work//app/lib/./y/../x.ex",
        ] {
            assert_eq!(DocumentKey::file(Path::new(spelling)), plain, "{spelling}");
        }
    }

    #[test]
    fn parent_components_never_climb_above_the_root() {
        assert_eq!(
            normalize(Path::new("/../../etc/x.ex")),
            Path::new("/etc/x.ex")
        );
    }

    #[test]
    fn an_unsaved_buffer_has_no_path() {
        assert_eq!(DocumentKey::unsaved("untitled:Untitled-1").path(), None);
    }
}
