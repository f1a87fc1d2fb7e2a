//! Fetches the aiex release this extension version expects, through Zed's extension API: the
//! archive for this platform from the pinned release of [`RELEASE_REPO`], checked against its
//! `.sha256` before anything in it is unpacked, into the extension's work directory.
//!
//! The flow talks to Zed only through [`ReleaseHost`], so that it runs on the host in
//! `cargo test` against a local HTTP server (`tests/download.rs`).
//!
//! Architecture Invariant: where a binary is downloaded from is decided here, by constants
//! compiled into the extension, never by settings or the worktree (Zed's `lsp` settings can come
//! from a project's `.zed/settings.json`).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use zed_extension_api::{self as zed, Architecture, GithubRelease, Os};

/// The version of aiex this extension downloads and expects (the server workspace's version;
/// `editors/neovim/lua/aiex/install.lua` pins the same one).
pub const AIEX_VERSION: &str = "0.1.0";

/// The GitHub repository ("owner/name") whose release `v{AIEX_VERSION}` carries the archives.
/// There is no public repository yet: set this to the real one when it is published.
pub const RELEASE_REPO: &str = "aiex-dev/aiex";

/// What to do when the download cannot give a binary.
const FIX: &str = "put aiex on PATH, or set \
     \"lsp\": { \"aiex\": { \"binary\": { \"path\": \"/path/to/aiex\" } } } in Zed's settings";

/// The Zed host calls the download needs. Paths are relative to the extension's work directory,
/// as Zed's `download_file` and `make_file_executable` take them.
pub trait ReleaseHost {
    /// The operating system and processor Zed runs on.
    fn platform(&self) -> (Os, Architecture);
    /// The release with this tag in `repo` ("owner/name").
    fn release(&self, repo: &str, tag: &str) -> Result<GithubRelease, String>;
    /// Saves what `url` serves, as is, at `path`.
    fn download(&self, url: &str, path: &str) -> Result<(), String>;
    /// Marks the file at `path` executable.
    fn make_executable(&self, path: &str) -> Result<(), String>;
    /// Shows how the installation is going.
    fn set_status(&self, status: zed::LanguageServerInstallationStatus);
    /// The extension's work directory, through which `std::fs` reaches the paths above.
    fn work_dir(&self) -> PathBuf;
}

/// The real Zed: the extension runs in its work directory (Zed sets the current directory of
/// the WebAssembly instance to it), so relative paths are inside it.
pub struct ZedHost<'a> {
    pub language_server_id: &'a zed::LanguageServerId,
}

impl ReleaseHost for ZedHost<'_> {
    fn platform(&self) -> (Os, Architecture) {
        zed::current_platform()
    }

    fn release(&self, repo: &str, tag: &str) -> Result<GithubRelease, String> {
        zed::github_release_by_tag_name(repo, tag)
    }

    fn download(&self, url: &str, path: &str) -> Result<(), String> {
        zed::download_file(url, path, zed::DownloadedFileType::Uncompressed)
    }

    fn make_executable(&self, path: &str) -> Result<(), String> {
        zed::make_file_executable(path)
    }

    fn set_status(&self, status: zed::LanguageServerInstallationStatus) {
        zed::set_language_server_installation_status(self.language_server_id, &status);
    }

    fn work_dir(&self) -> PathBuf {
        PathBuf::new()
    }
}

/// The Rust target triple of the release archive for a platform, or why there is none (the
/// platforms `xtask/src/targets.rs` builds).
pub fn triple(os: Os, arch: Architecture) -> Result<&'static str, String> {
    match (os, arch) {
        (Os::Linux, Architecture::X8664) => Ok("x86_64-unknown-linux-musl"),
        (Os::Linux, Architecture::Aarch64) => Ok("aarch64-unknown-linux-musl"),
        (Os::Mac, Architecture::X8664) => Ok("x86_64-apple-darwin"),
        (Os::Mac, Architecture::Aarch64) => Ok("aarch64-apple-darwin"),
        (Os::Windows, Architecture::X8664) => Ok("x86_64-pc-windows-gnu"),
        (os, arch) => Err(format!(
            "no aiex release for {} on {}: build aiex for this machine \
             (cargo install --path server) and {FIX}",
            match os {
                Os::Linux => "Linux",
                Os::Mac => "macOS",
                Os::Windows => "Windows",
            },
            match arch {
                Architecture::X8664 => "x86_64",
                Architecture::Aarch64 => "aarch64",
                Architecture::X86 => "x86",
            },
        )),
    }
}

/// Where the release of [`AIEX_VERSION`] lives in the work directory.
struct Layout {
    /// The archive's file name, also the release asset's: `aiex-{version}-{triple}.tar.gz`.
    archive: String,
    /// The directory at the top of the archive: the archive's name without `.tar.gz`.
    top: String,
    /// The directory the archive's content is unpacked into: `aiex-{version}`.
    dir: String,
    /// The binary's file name.
    exe: &'static str,
    /// The binary, relative to the work directory.
    binary: String,
}

impl Layout {
    fn of(os: Os, triple: &str) -> Self {
        let top = format!("aiex-{AIEX_VERSION}-{triple}");
        let dir = format!("aiex-{AIEX_VERSION}");
        let exe = if os == Os::Windows {
            "aiex.exe"
        } else {
            "aiex"
        };
        Self {
            archive: format!("{top}.tar.gz"),
            binary: format!("{dir}/{exe}"),
            exe,
            top,
            dir,
        }
    }
}

/// The binary of [`AIEX_VERSION`], relative to the work directory: the one `cached` names or a
/// previous download left, else downloaded now. Every error says what to do instead.
pub fn binary_path(host: &dyn ReleaseHost, cached: &mut Option<String>) -> Result<String, String> {
    let root = host.work_dir();
    if let Some(path) = cached.as_deref() {
        if root.join(path).is_file() {
            return Ok(path.to_owned());
        }
    }
    let (os, arch) = host.platform();
    let layout = Layout::of(os, triple(os, arch)?);
    if !root.join(&layout.binary).is_file() {
        if let Err(error) = install(host, &root, &layout) {
            host.set_status(zed::LanguageServerInstallationStatus::Failed(error.clone()));
            return Err(error);
        }
        host.set_status(zed::LanguageServerInstallationStatus::None);
    }
    *cached = Some(layout.binary.clone());
    Ok(layout.binary)
}

fn install(host: &dyn ReleaseHost, root: &Path, layout: &Layout) -> Result<(), String> {
    let tag = format!("v{AIEX_VERSION}");
    host.set_status(zed::LanguageServerInstallationStatus::CheckingForUpdate);
    let release = host
        .release(RELEASE_REPO, &tag)
        .map_err(|e| format!("cannot find the aiex release {tag} in {RELEASE_REPO}: {e}; {FIX}"))?;
    let url_of = |name: &str| {
        release
            .assets
            .iter()
            .find(|asset| asset.name == name)
            .map(|asset| asset.download_url.clone())
    };
    let archive_url = url_of(&layout.archive).ok_or_else(|| {
        format!(
            "no aiex release for this platform: release {tag} of {RELEASE_REPO} has no {}; {FIX}",
            layout.archive
        )
    })?;
    let sum_name = format!("{}.sha256", layout.archive);
    let sum_url = url_of(&sum_name).ok_or_else(|| {
        format!(
            "release {tag} of {RELEASE_REPO} has no {sum_name} to check {} with, so it was not \
             downloaded; {FIX}",
            layout.archive
        )
    })?;

    host.set_status(zed::LanguageServerInstallationStatus::Downloading);
    // Zed's download does not overwrite: clear what an interrupted attempt left.
    let staging = format!("{}.partial", layout.dir);
    for leftover in [&layout.archive, &sum_name, &staging] {
        remove(&root.join(leftover));
    }
    let result = download_and_unpack(host, root, layout, (&archive_url, &sum_url, &sum_name));
    for leftover in [&layout.archive, &sum_name, &staging] {
        remove(&root.join(leftover));
    }
    result?;
    if let Err(e) = host.make_executable(&layout.binary) {
        // Else the next start would take the file that is there for a working binary.
        remove(&root.join(&layout.dir));
        return Err(format!(
            "cannot make {} executable: {e}; {FIX}",
            layout.binary
        ));
    }
    remove_other_versions(root, &layout.dir);
    Ok(())
}

fn download_and_unpack(
    host: &dyn ReleaseHost,
    root: &Path,
    layout: &Layout,
    (archive_url, sum_url, sum_name): (&str, &str, &str),
) -> Result<(), String> {
    host.download(archive_url, &layout.archive)
        .map_err(|e| format!("cannot download {archive_url}: {e}; {FIX}"))?;
    host.download(sum_url, sum_name)
        .map_err(|e| format!("cannot download {sum_url}: {e}; {FIX}"))?;
    let sum_text = fs::read_to_string(root.join(sum_name))
        .map_err(|e| format!("cannot read {sum_name}: {e}"))?;
    let expected = parse_checksum(&sum_text, &layout.archive)?;
    let archive = root.join(&layout.archive);
    let actual =
        sha256_file(&archive).map_err(|e| format!("cannot read {}: {e}", layout.archive))?;
    if actual != expected {
        return Err(format!(
            "checksum mismatch for {}: expected {expected}, got {actual}. The download was \
             deleted and nothing was installed; {FIX}",
            layout.archive
        ));
    }
    let staging = root.join(format!("{}.partial", layout.dir));
    unpack(&archive, &layout.top, &staging)
        .map_err(|e| format!("cannot unpack {}: {e}; {FIX}", layout.archive))?;
    let dir = root.join(&layout.dir);
    remove(&dir);
    fs::rename(&staging, &dir).map_err(|e| format!("cannot move {}: {e}", layout.dir))?;
    if !root.join(&layout.binary).is_file() {
        remove(&dir);
        return Err(format!(
            "{} holds no {} under {}/; {FIX}",
            layout.archive, layout.exe, layout.top
        ));
    }
    Ok(())
}

/// The hash in a `.sha256` file (`sha256sum`'s line: hash, two spaces, file name), checked to
/// be for `archive` when it names a file.
pub fn parse_checksum(text: &str, archive: &str) -> Result<String, String> {
    let mut words = text.split_whitespace();
    let hash = words.next().unwrap_or_default().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{archive}.sha256 holds no SHA-256; nothing was installed; {FIX}"
        ));
    }
    match words.next().map(|name| name.trim_start_matches('*')) {
        Some(name) if name != archive => Err(format!(
            "{archive}.sha256 is the checksum of {name}; nothing was installed; {FIX}"
        )),
        _ => Ok(hash),
    }
}

/// The SHA-256 of a file in lowercase hex, read in pieces (the archive is tens of megabytes).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Unpacks the regular files and directories under `top/` of a `.tar.gz` into `into`, without
/// `top`. Anything else (a link, a path outside `top`, `..`) refuses the archive.
fn unpack(archive: &Path, top: &str, into: &Path) -> Result<(), String> {
    let file = File::open(archive).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    fs::create_dir_all(into).map_err(|e| e.to_string())?;
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut components = path.components();
        if components.next() != Some(Component::Normal(top.as_ref())) {
            return Err(format!("{} is outside {top}/", path.display()));
        }
        let inner: PathBuf = components
            .map(|c| match c {
                Component::Normal(part) => Ok(part),
                _ => Err(format!("{} is not a plain relative path", path.display())),
            })
            .collect::<Result<_, _>>()?;
        let target = into.join(&inner);
        match entry.header().entry_type() {
            tar::EntryType::Directory => fs::create_dir_all(&target).map_err(|e| e.to_string())?,
            tar::EntryType::Regular if !inner.as_os_str().is_empty() => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                let mut out = File::create(&target).map_err(|e| e.to_string())?;
                io::copy(&mut entry, &mut out).map_err(|e| e.to_string())?;
            }
            other => {
                return Err(format!(
                    "{} is a {other:?} entry, not a file or directory",
                    path.display()
                ))
            }
        }
    }
    Ok(())
}

/// Removes the directories of other aiex versions this extension downloaded.
fn remove_other_versions(root: &Path, keep: &str) {
    let dir = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("aiex-") && name != keep {
            remove(&entry.path());
        }
    }
}

/// Removes a file or a directory tree if it is there.
fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => drop(fs::remove_dir_all(path)),
        Ok(_) => drop(fs::remove_file(path)),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_platform_maps_to_a_release_triple() {
        let cases = [
            (Os::Linux, Architecture::X8664, "x86_64-unknown-linux-musl"),
            (
                Os::Linux,
                Architecture::Aarch64,
                "aarch64-unknown-linux-musl",
            ),
            (Os::Mac, Architecture::X8664, "x86_64-apple-darwin"),
            (Os::Mac, Architecture::Aarch64, "aarch64-apple-darwin"),
            (Os::Windows, Architecture::X8664, "x86_64-pc-windows-gnu"),
        ];
        for (os, arch, expected) in cases {
            assert_eq!(triple(os, arch), Ok(expected));
        }
        for (os, arch) in [
            (Os::Windows, Architecture::Aarch64),
            (Os::Linux, Architecture::X86),
        ] {
            let err = triple(os, arch).unwrap_err();
            assert!(err.starts_with("no aiex release for"), "{err}");
            assert!(err.contains("binary"), "{err}");
        }
    }

    #[test]
    fn the_layout_follows_the_dist_archives() {
        let linux = Layout::of(Os::Linux, "x86_64-unknown-linux-musl");
        assert_eq!(
            linux.archive,
            format!("aiex-{AIEX_VERSION}-x86_64-unknown-linux-musl.tar.gz")
        );
        assert_eq!(
            linux.top,
            format!("aiex-{AIEX_VERSION}-x86_64-unknown-linux-musl")
        );
        assert_eq!(linux.binary, format!("aiex-{AIEX_VERSION}/aiex"));
        let windows = Layout::of(Os::Windows, "x86_64-pc-windows-gnu");
        assert_eq!(windows.binary, format!("aiex-{AIEX_VERSION}/aiex.exe"));
    }

    #[test]
    fn a_checksum_file_is_sha256sums_line() {
        let hash = "ab".repeat(32);
        assert_eq!(
            parse_checksum(&format!("{hash}  a.tar.gz\n"), "a.tar.gz"),
            Ok(hash.clone())
        );
        assert_eq!(
            parse_checksum(&format!("{hash} *a.tar.gz"), "a.tar.gz"),
            Ok(hash.clone())
        );
        assert_eq!(
            parse_checksum(&hash.to_uppercase(), "a.tar.gz"),
            Ok(hash.clone())
        );
        let other = parse_checksum(&format!("{hash}  b.tar.gz\n"), "a.tar.gz").unwrap_err();
        assert!(other.contains("checksum of b.tar.gz"), "{other}");
        let empty = parse_checksum("", "a.tar.gz").unwrap_err();
        assert!(empty.contains("holds no SHA-256"), "{empty}");
        assert!(parse_checksum("abc  a.tar.gz", "a.tar.gz").is_err());
    }

    /// A `.tar.gz` of `(path, entry type, content)`, written with raw names so that a hostile
    /// path is kept as is.
    fn archive(dir: &Path, entries: &[(&str, tar::EntryType, &str)]) -> PathBuf {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, kind, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_entry_type(*kind);
            header.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                header.set_link_name(content).unwrap();
                header.set_size(0);
            } else {
                header.set_size(content.len() as u64);
            }
            header.set_cksum();
            let data = if *kind == tar::EntryType::Symlink {
                ""
            } else {
                content
            };
            tar.append(&header, data.as_bytes()).unwrap();
        }
        let path = dir.join("a.tar.gz");
        fs::write(&path, tar.into_inner().unwrap().finish().unwrap()).unwrap();
        path
    }

    #[test]
    fn unpacking_keeps_to_the_top_directory_and_plain_files() {
        use tar::EntryType::{Directory, Regular, Symlink};
        let dir = std::env::temp_dir().join(format!("zed-aiex-unpack-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let into = dir.join("out");

        // `tar -czf` also writes the top directory itself: accepted.
        let ok = archive(
            &dir,
            &[("top/", Directory, ""), ("top/aiex", Regular, "#!")],
        );
        assert_eq!(unpack(&ok, "top", &into), Ok(()));
        assert_eq!(fs::read_to_string(into.join("aiex")).unwrap(), "#!");

        for (entries, why) in [
            (vec![("other/aiex", Regular, "x")], "outside top/"),
            (
                vec![("top/../aiex", Regular, "x")],
                "not a plain relative path",
            ),
            (vec![("top/aiex", Symlink, "/bin/sh")], "Symlink entry"),
        ] {
            let bad = archive(&dir, &entries);
            let err = unpack(&bad, "top", &dir.join("bad")).unwrap_err();
            assert!(err.contains(why), "{err}");
            assert!(!dir.join("bad/aiex").exists() && !dir.join("aiex").exists());
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_pinned_version_is_the_server_workspace_version() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let manifest = fs::read_to_string(workspace).expect("the server workspace's Cargo.toml");
        let version = manifest
            .lines()
            .skip_while(|l| l.trim() != "[workspace.package]")
            .find_map(|l| l.strip_prefix("version = "))
            .map(|v| v.trim().trim_matches('"'));
        assert_eq!(version, Some(AIEX_VERSION));
    }
}
