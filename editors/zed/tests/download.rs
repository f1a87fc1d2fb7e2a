//! The download flow of `install.rs` on the host, against a local HTTP server on 127.0.0.1
//! serving `.tar.gz` archives in the layout `cargo xtask dist` writes: a fake Zed host whose
//! download is a real HTTP GET. With `AIEX_DIST_DIR` naming the output of `cargo xtask dist`,
//! the real Linux archive is installed and run too.
#![cfg(unix)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use zed_aiex::install::{self, ReleaseHost, AIEX_VERSION, RELEASE_REPO};
use zed_aiex::{server_command, BinarySettings};
use zed_extension_api::{
    Architecture, GithubRelease, GithubReleaseAsset, LanguageServerInstallationStatus, Os,
};

const LINUX: &str = "x86_64-unknown-linux-musl";

/// A download site on 127.0.0.1: file name → bytes; remembers the paths asked for.
struct Site {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Site {
    fn serve(files: HashMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap_or_default();
                let mut header = String::new();
                while reader.read_line(&mut header).unwrap_or(0) > 2 {
                    header.clear();
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
                seen.lock().unwrap().push(path.clone());
                let (status, body) = match files.get(path.trim_start_matches('/')) {
                    Some(body) => ("200 OK", body.as_slice()),
                    None => ("404 Not Found", b"not found".as_slice()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream
                    .write_all(head.as_bytes())
                    .and_then(|()| stream.write_all(body));
            }
        });
        Self { base, requests }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Zed as the extension sees it: the release lookup answers with `release`, a download is an
/// HTTP GET that, like Zed's, will not overwrite a file.
struct FakeZed {
    work: PathBuf,
    platform: (Os, Architecture),
    release: GithubRelease,
    lookups: Cell<usize>,
    downloads: RefCell<Vec<String>>,
    statuses: RefCell<Vec<String>>,
}

impl FakeZed {
    fn new(name: &str, release: GithubRelease) -> Self {
        let work = std::env::temp_dir().join(format!("zed-aiex-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        Self {
            work,
            platform: (Os::Linux, Architecture::X8664),
            release,
            lookups: Cell::new(0),
            downloads: RefCell::new(Vec::new()),
            statuses: RefCell::new(Vec::new()),
        }
    }

    /// Everything in the work directory, as sorted relative paths.
    fn files(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(root).unwrap().display().to_string());
                if path.is_dir() {
                    walk(root, &path, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.work, &self.work, &mut out);
        out.sort();
        out
    }
}

impl Drop for FakeZed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

impl ReleaseHost for FakeZed {
    fn platform(&self) -> (Os, Architecture) {
        self.platform
    }

    fn release(&self, repo: &str, tag: &str) -> Result<GithubRelease, String> {
        assert_eq!(repo, RELEASE_REPO);
        assert_eq!(tag, format!("v{AIEX_VERSION}"));
        self.lookups.set(self.lookups.get() + 1);
        Ok(self.release.clone())
    }

    fn download(&self, url: &str, path: &str) -> Result<(), String> {
        self.downloads.borrow_mut().push(path.to_owned());
        let agent = ureq::Agent::config_builder()
            .proxy(None)
            .build()
            .new_agent();
        let response = agent.get(url).call().map_err(|e| e.to_string())?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.work.join(path))
            .map_err(|e| format!("{path}: {e}"))?;
        std::io::copy(&mut response.into_body().into_reader(), &mut file)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn make_executable(&self, path: &str) -> Result<(), String> {
        std::fs::set_permissions(self.work.join(path), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())
    }

    fn set_status(&self, status: LanguageServerInstallationStatus) {
        let shown = match status {
            LanguageServerInstallationStatus::None => "None",
            LanguageServerInstallationStatus::Downloading => "Downloading",
            LanguageServerInstallationStatus::CheckingForUpdate => "CheckingForUpdate",
            LanguageServerInstallationStatus::Failed(_) => "Failed",
        };
        self.statuses.borrow_mut().push(shown.to_owned());
    }

    fn work_dir(&self) -> PathBuf {
        self.work.clone()
    }
}

/// `aiex-{version}-{triple}.tar.gz` as `cargo xtask dist` packs it: entries sorted under the
/// top directory, GNU headers, the binary 0755 (here a script printing a version).
fn dist_archive(triple: &str) -> (String, Vec<u8>) {
    let top = format!("aiex-{AIEX_VERSION}-{triple}");
    let script = format!(
        "#!/bin/sh\necho \"aiex {AIEX_VERSION} (commit test, built 2026-01-01, {triple})\"\n"
    );
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, bytes, mode) in [
        ("CHANGELOG.md", b"# Changelog\n".as_slice(), 0o644),
        ("README.md", b"# Aiex\n".as_slice(), 0o644),
        ("aiex", script.as_bytes(), 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{top}/{name}"), bytes)
            .unwrap();
    }
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    (format!("{top}.tar.gz"), bytes)
}

fn sha256_line(bytes: &[u8], name: &str) -> Vec<u8> {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hash}  {name}\n").into_bytes()
}

/// The release `v{AIEX_VERSION}` listing every file the site serves.
fn release_of(site: &Site, names: &[&str]) -> GithubRelease {
    GithubRelease {
        version: format!("v{AIEX_VERSION}"),
        assets: names
            .iter()
            .map(|name| GithubReleaseAsset {
                name: (*name).to_owned(),
                download_url: site.url(name),
            })
            .collect(),
    }
}

/// A site serving the Linux archive with `sum` as its `.sha256`, and the host that finds it.
fn linux_release(test: &str, sum: impl FnOnce(&[u8], &str) -> Vec<u8>) -> (Site, FakeZed) {
    let (name, bytes) = dist_archive(LINUX);
    let sum_name = format!("{name}.sha256");
    let sum = sum(&bytes, &name);
    let site = Site::serve(HashMap::from([
        (name.clone(), bytes),
        (sum_name.clone(), sum),
    ]));
    let host = FakeZed::new(test, release_of(&site, &[&name, &sum_name]));
    (site, host)
}

fn run_version(binary: &Path) -> String {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_fresh_download_installs_a_binary_that_runs() {
    let (site, host) = linux_release("fresh", sha256_line);
    // What an older extension version downloaded is removed.
    std::fs::create_dir_all(host.work.join("aiex-0.0.9")).unwrap();
    std::fs::write(host.work.join("aiex-0.0.9/aiex"), "old").unwrap();

    let mut cached = None;
    let binary = install::binary_path(&host, &mut cached).unwrap();

    assert_eq!(binary, format!("aiex-{AIEX_VERSION}/aiex"));
    assert_eq!(cached.as_deref(), Some(binary.as_str()));
    let path = host.work.join(&binary);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "not executable: {mode:o}");
    let version = run_version(&path);
    assert!(
        version.starts_with(&format!("aiex {AIEX_VERSION} ")),
        "{version}"
    );
    assert_eq!(
        *host.statuses.borrow(),
        ["CheckingForUpdate", "Downloading", "None"]
    );
    let archive = format!("aiex-{AIEX_VERSION}-{LINUX}.tar.gz");
    assert_eq!(
        *host.downloads.borrow(),
        [archive.clone(), format!("{archive}.sha256")]
    );
    assert_eq!(
        site.requests(),
        [format!("/{archive}"), format!("/{archive}.sha256")]
    );
    // The archive and its checksum are gone; so is the old version.
    let dir = format!("aiex-{AIEX_VERSION}");
    assert_eq!(
        host.files(),
        [
            dir.clone(),
            format!("{dir}/CHANGELOG.md"),
            format!("{dir}/README.md"),
            format!("{dir}/aiex"),
        ]
    );
    eprintln!("installed {binary}, which printed: {}", version.trim());
}

#[test]
fn a_second_call_reuses_the_download_without_asking_again() {
    let (site, host) = linux_release("reuse", sha256_line);
    let mut cached = None;
    let first = install::binary_path(&host, &mut cached).unwrap();
    let requests = site.requests().len();

    // The same extension instance: its cached path.
    assert_eq!(install::binary_path(&host, &mut cached).unwrap(), first);
    // A new instance (Zed restarted): the binary already in the work directory.
    let mut fresh_cache = None;
    assert_eq!(
        install::binary_path(&host, &mut fresh_cache).unwrap(),
        first
    );

    assert_eq!(host.lookups.get(), 1, "the release was looked up again");
    assert_eq!(host.downloads.borrow().len(), 2, "downloaded again");
    assert_eq!(site.requests().len(), requests);
    assert!(run_version(&host.work.join(&first)).contains(AIEX_VERSION));
}

#[test]
fn a_checksum_mismatch_fails_and_leaves_nothing_runnable() {
    let (_site, host) = linux_release("mismatch", |_, name| sha256_line(b"other bytes", name));
    let mut cached = None;
    let err = install::binary_path(&host, &mut cached).unwrap_err();

    assert!(err.starts_with("checksum mismatch for aiex-"), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
    assert!(
        err.contains("\"binary\""),
        "says how to set the path: {err}"
    );
    assert_eq!(cached, None);
    assert_eq!(host.files(), Vec::<String>::new(), "something was left");
    assert_eq!(
        *host.statuses.borrow(),
        ["CheckingForUpdate", "Downloading", "Failed"]
    );
    eprintln!("mismatch: {err}");

    // The next start tries again rather than trusting a leftover.
    assert!(install::binary_path(&host, &mut cached).is_err());
    assert_eq!(host.lookups.get(), 2);
}

#[test]
fn a_release_without_a_checksum_is_not_downloaded() {
    let (name, bytes) = dist_archive(LINUX);
    let site = Site::serve(HashMap::from([(name.clone(), bytes)]));
    let host = FakeZed::new("nosum", release_of(&site, &[&name]));
    let err = install::binary_path(&host, &mut None).unwrap_err();
    assert!(err.contains(".sha256 to check"), "{err}");
    assert!(site.requests().is_empty());
    assert_eq!(host.files(), Vec::<String>::new());
}

#[test]
fn an_unsupported_platform_says_so_and_downloads_nothing() {
    let (site, mut host) = linux_release("unsupported", sha256_line);
    host.platform = (Os::Windows, Architecture::Aarch64);
    let err = install::binary_path(&host, &mut None).unwrap_err();
    assert!(
        err.starts_with("no aiex release for Windows on aarch64"),
        "{err}"
    );
    assert!(err.contains("\"binary\": { \"path\""), "{err}");
    assert_eq!(host.lookups.get(), 0);
    assert!(site.requests().is_empty());
    eprintln!("unsupported: {err}");
}

#[test]
fn a_release_without_this_platform_says_so() {
    let (site, mut host) = linux_release("no-asset", sha256_line);
    host.platform = (Os::Mac, Architecture::Aarch64);
    let err = install::binary_path(&host, &mut None).unwrap_err();
    assert!(
        err.starts_with("no aiex release for this platform"),
        "{err}"
    );
    assert!(err.contains("aarch64-apple-darwin.tar.gz"), "{err}");
    assert!(site.requests().is_empty());
    assert_eq!(*host.statuses.borrow(), ["CheckingForUpdate", "Failed"]);
}

#[test]
fn a_failed_download_says_which_url_and_leaves_nothing() {
    let site = Site::serve(HashMap::new());
    let name = format!("aiex-{AIEX_VERSION}-{LINUX}.tar.gz");
    let host = FakeZed::new(
        "404",
        release_of(&site, &[&name, &format!("{name}.sha256")]),
    );
    let err = install::binary_path(&host, &mut None).unwrap_err();
    assert!(
        err.starts_with(&format!("cannot download {}", site.url(&name))),
        "{err}"
    );
    assert!(err.contains("404"), "{err}");
    assert_eq!(host.files(), Vec::<String>::new());
}

#[test]
fn the_configured_path_and_path_win_over_the_download() {
    let (site, host) = linux_release("order", sha256_line);
    let mut cached = None;
    let configured = BinarySettings {
        path: Some("/opt/aiex/bin/aiex".into()),
        ..Default::default()
    };
    let cmd = server_command(configured, Some("/usr/bin/aiex".into()), vec![], || {
        install::binary_path(&host, &mut cached)
    })
    .unwrap();
    assert_eq!(cmd.command, "/opt/aiex/bin/aiex");

    let cmd = server_command(
        BinarySettings::default(),
        Some("/usr/bin/aiex".into()),
        vec![],
        || install::binary_path(&host, &mut cached),
    )
    .unwrap();
    assert_eq!(cmd.command, "/usr/bin/aiex");

    assert_eq!(host.lookups.get(), 0);
    assert!(host.downloads.borrow().is_empty());
    assert!(site.requests().is_empty());

    // Neither: the download.
    let cmd = server_command(BinarySettings::default(), None, vec![], || {
        install::binary_path(&host, &mut cached)
    })
    .unwrap();
    assert_eq!(cmd.command, format!("aiex-{AIEX_VERSION}/aiex"));
}

/// The archive `cargo xtask dist` built, when `AIEX_DIST_DIR` has it.
#[test]
fn the_real_linux_archive_installs_and_runs() {
    let name = format!("aiex-{AIEX_VERSION}-{LINUX}.tar.gz");
    let Some(dist) = std::env::var_os("AIEX_DIST_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.join(&name).is_file())
    else {
        let message = format!(
            "SKIPPED: set AIEX_DIST_DIR to the output of cargo xtask dist to install {name}"
        );
        let required = std::env::var("AIEX_REQUIRE_DIST").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(!required, "{message} (AIEX_REQUIRE_DIST is set)");
        eprintln!("{message}");
        return;
    };
    let sum_name = format!("{name}.sha256");
    let read = |file: &str| std::fs::read(dist.join(file)).unwrap();
    let site = Site::serve(HashMap::from([
        (name.clone(), read(&name)),
        (sum_name.clone(), read(&sum_name)),
    ]));
    let host = FakeZed::new("real", release_of(&site, &[&name, &sum_name]));
    let binary = install::binary_path(&host, &mut None).unwrap();
    let version = run_version(&host.work.join(&binary));
    assert!(
        version.starts_with(&format!("aiex {AIEX_VERSION}")),
        "{version}"
    );
    eprintln!("real archive {name}: {}", version.trim());
}
