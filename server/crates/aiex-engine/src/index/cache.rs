//! The index's on-disk cache: chunks by content hash, one file per workspace.
//!
//! A cache that cannot be read, is corrupt, or was written by another format version is
//! discarded with a warning and rebuilt; it is never trusted blindly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ContentHash, PackedChunks, WorkspaceIndex};
use crate::chunks::FileChunks;

/// Bumped whenever the cached data's shape or meaning changes. 3: chunks without their call
/// sites, and each file's remote calls counted by target beside them.
pub(super) const FORMAT_VERSION: u32 = 3;

/// The directory for Aiex's caches: `$AIEX_CACHE_DIR`, or the platform's cache directory.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AIEX_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|dir| dir.join("aiex"))
}

/// A file's remote calls as the index keeps them: (module, function, call sites).
pub type RemoteCalls = Box<[(Arc<str>, Arc<str>, u32)]>;

/// Chunks by content hash, loaded from and saved to one file.
#[derive(Debug, Default)]
pub struct IndexCache {
    path: PathBuf,
    entries: HashMap<ContentHash, (PackedChunks, RemoteCalls)>,
}

/// A remote call as the cache file holds it: (module, function, call sites).
type SavedCall = (String, String, u32);
/// [`SavedCall`] as written, borrowed from the index.
type SavedCallRef<'a> = (&'a str, &'a str, u32);

#[derive(Deserialize)]
struct CacheFile {
    format: u32,
    entries: PackedEntries,
}

/// The cache file's entries, each packed as soon as it is read: the whole file's chunks as
/// structs (~20 MB with 300,000 lines, lists grown by doubling) never exist at once.
struct PackedEntries(Vec<(ContentHash, PackedChunks, RemoteCalls)>);

impl<'de> Deserialize<'de> for PackedEntries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = PackedEntries;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of [hash, chunks, remote calls]")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut entries: A,
            ) -> Result<PackedEntries, A::Error> {
                let mut packed = Vec::with_capacity(entries.size_hint().unwrap_or(0));
                while let Some((hash, chunks, calls)) =
                    entries.next_element::<(ContentHash, FileChunks, Vec<SavedCall>)>()?
                {
                    let calls = calls
                        .into_iter()
                        .map(|(module, function, count)| {
                            (Arc::from(module), Arc::from(function), count)
                        })
                        .collect();
                    packed.push((hash, PackedChunks::pack(&chunks), calls));
                }
                Ok(PackedEntries(packed))
            }
        }
        deserializer.deserialize_seq(Entries)
    }
}

/// Only the version of a cache file, read when the whole does not parse as this version's.
#[derive(Deserialize)]
struct CacheFormat {
    format: u32,
}

/// [`CacheFile`] as written: borrowed from the index, each file's chunks unpacked only while
/// they are written (the same JSON as [`FileChunks`]).
#[derive(Serialize)]
struct CacheFileRef<'a> {
    format: u32,
    entries: Vec<(&'a ContentHash, Unpacked<'a>, Vec<SavedCallRef<'a>>)>,
}

/// Packed chunks written as the [`FileChunks`] they hold.
struct Unpacked<'a>(&'a PackedChunks);

impl Serialize for Unpacked<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.unpack().serialize(serializer)
    }
}

impl IndexCache {
    /// The cache file for a workspace with these roots, under `cache_dir`.
    pub fn path_for(cache_dir: &Path, roots: &[PathBuf]) -> PathBuf {
        let key: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        cache_dir
            .join("index")
            .join(format!("{}.json", super::content_hash(&key.join("\n"))))
    }

    /// An empty cache that will be written to `path`: for saving an index without reading
    /// the file first (at shutdown).
    pub fn empty_at(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            entries: HashMap::new(),
        }
    }

    /// Loads the cache at `path`; a missing file gives an empty cache, a bad one an empty
    /// cache and a warning to show.
    pub fn load(path: &Path) -> (Self, Option<String>) {
        let empty = Self {
            path: path.to_owned(),
            entries: HashMap::new(),
        };
        // Read through a buffer, not as one allocation of the whole file (tens of MB for a
        // large workspace).
        let reader = match std::fs::File::open(path) {
            Ok(file) => std::io::BufReader::new(file),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return (empty, None),
            Err(error) => {
                return (
                    empty,
                    Some(format!(
                        "index cache {} unreadable ({error}); rebuilding",
                        path.display()
                    )),
                )
            }
        };
        match serde_json::from_reader::<_, CacheFile>(reader) {
            Ok(file) if file.format == FORMAT_VERSION => {
                let entries = file
                    .entries
                    .0
                    .into_iter()
                    .map(|(hash, chunks, calls)| (hash, (chunks, calls)))
                    .collect();
                (
                    Self {
                        path: path.to_owned(),
                        entries,
                    },
                    None,
                )
            }
            Ok(file) => (empty, Some(Self::other_format(path, file.format))),
            // Another version's entries have another shape: say which version it was.
            Err(error) => match std::fs::File::open(path).ok().and_then(|file| {
                serde_json::from_reader::<_, CacheFormat>(std::io::BufReader::new(file)).ok()
            }) {
                Some(found) if found.format != FORMAT_VERSION => {
                    (empty, Some(Self::other_format(path, found.format)))
                }
                _ => (
                    empty,
                    Some(format!(
                        "index cache {} is corrupt ({error}); discarded and rebuilt",
                        path.display()
                    )),
                ),
            },
        }
    }

    fn other_format(path: &Path, format: u32) -> String {
        format!(
            "index cache {} has format {format} (this Aiex writes {FORMAT_VERSION}); discarded and rebuilt",
            path.display()
        )
    }

    /// The cached chunks of a content hash (without call sites) and its remote calls.
    pub fn get(&self, hash: &str) -> Option<(PackedChunks, RemoteCalls)> {
        self.entries
            .get(hash)
            .map(|(chunks, calls)| (chunks.clone(), calls.clone()))
    }

    /// Number of cached files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the chunks of every file in `index` to the cache file, atomically.
    ///
    /// The JSON is streamed to the file from the index's own chunks: with 300,000 lines
    /// indexed, a copy of every chunk and the whole JSON in memory (28 + 34 MB, heaptrack) made
    /// the heap's peak, and glibc kept most of it resident afterwards.
    pub fn save(&self, index: &WorkspaceIndex) -> std::io::Result<u64> {
        let files = index.files();
        let cache = CacheFileRef {
            format: FORMAT_VERSION,
            entries: files
                .iter()
                .map(|f| {
                    let calls = f
                        .remote_calls
                        .iter()
                        .map(|(module, function, count)| (&**module, &**function, *count))
                        .collect();
                    (&f.hash, Unpacked(f.packed()), calls)
                })
                .collect(),
        };
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let temporary = self.path.with_extension("json.tmp");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        serde_json::to_writer(&mut out, &cache).map_err(std::io::Error::other)?;
        let file = out.into_inner().map_err(|error| error.into_error())?;
        let written = file.metadata()?.len();
        drop(file);
        std::fs::rename(&temporary, &self.path)?;
        Ok(written)
    }
}
