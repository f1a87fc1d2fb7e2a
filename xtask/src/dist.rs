//! `cargo xtask dist`: build, pack, checksum; say plainly what could not be built.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::archive::{self, Entry};
use crate::targets::{self, Platform, PLATFORMS};
use crate::DistArgs;

/// The workspace version (xtask shares it).
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The platform built when none is named: the one CI builds and tests.
const DEFAULT_TARGET: &str = "x86_64-unknown-linux-musl";

/// What happened to one platform.
#[derive(Debug, Serialize)]
struct Outcome {
    target: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vsix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `manifest.json`: what an installer needs to pick and check an archive.
#[derive(Debug, Serialize)]
struct Manifest<'a> {
    version: &'static str,
    commit: &'a str,
    source_date_epoch: u64,
    platforms: &'a [Outcome],
}

/// Runs `dist`; `Ok(false)` when some platform could not be built (each is reported).
pub fn run(args: DistArgs) -> anyhow::Result<bool> {
    let root = workspace_root();
    let platforms: Vec<Platform> = if args.all {
        PLATFORMS.to_vec()
    } else if args.targets.is_empty() {
        vec![targets::platform(DEFAULT_TARGET)?]
    } else {
        args.targets
            .iter()
            .map(|t| targets::platform(t))
            .collect::<anyhow::Result<_>>()?
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/release-archives"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let stamp = Stamp::of(&root);
    eprintln!(
        "dist: aiex {VERSION} (commit {}, SOURCE_DATE_EPOCH {}) for {} platform(s) into {}",
        stamp.commit,
        stamp.epoch,
        platforms.len(),
        out.display()
    );
    let mut outcomes = Vec::new();
    for platform in &platforms {
        let outcome = match build_platform(&root, &out, platform, &stamp, args.vsix) {
            Ok(outcome) => outcome,
            Err(error) => Outcome {
                target: platform.triple,
                archive: None,
                sha256: None,
                size: None,
                vsix: None,
                error: Some(format!("{error:#}")),
            },
        };
        outcomes.push(outcome);
    }
    let sums: String = outcomes
        .iter()
        .filter_map(|o| {
            Some(archive::checksum_line(
                o.sha256.as_deref()?,
                o.archive.as_deref()?,
            ))
        })
        .collect();
    std::fs::write(out.join("SHA256SUMS"), sums).context("cannot write SHA256SUMS")?;
    let manifest = Manifest {
        version: VERSION,
        commit: &stamp.commit,
        source_date_epoch: stamp.epoch,
        platforms: &outcomes,
    };
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )
    .context("cannot write manifest.json")?;

    eprintln!("\ndist summary ({}):", out.display());
    for outcome in &outcomes {
        match (&outcome.archive, &outcome.error) {
            (Some(archive), _) => eprintln!(
                "  built     {:<28} {archive}{}",
                outcome.target,
                outcome
                    .vsix
                    .as_deref()
                    .map(|v| format!(" + {v}"))
                    .unwrap_or_default()
            ),
            (None, Some(error)) => eprintln!("  NOT BUILT {:<28} {error}", outcome.target),
            (None, None) => unreachable!("an outcome has an archive or an error"),
        }
    }
    Ok(outcomes.iter().all(|o| o.error.is_none()))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// What every binary of one run is stamped with: the commit and its time, so two runs on the
/// same commit give the same `--version` and the same archives.
struct Stamp {
    commit: String,
    epoch: u64,
}

impl Stamp {
    fn of(root: &Path) -> Self {
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(root)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let commit = std::env::var("AIEX_BUILD_COMMIT")
            .ok()
            .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
            .unwrap_or_else(|| "unknown".to_owned());
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .or_else(|| git(&["log", "-1", "--format=%ct"]))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Self { commit, epoch }
    }
}

fn build_platform(
    root: &Path,
    out: &Path,
    platform: &Platform,
    stamp: &Stamp,
    vsix: bool,
) -> anyhow::Result<Outcome> {
    eprintln!("\n== {}", platform.triple);
    let binary = build(root, platform, stamp)?;
    check_runs(&binary, platform, stamp)?;
    let name = targets::archive_name(VERSION, platform);
    let archive_path = out.join(&name);
    let top = name.trim_end_matches(".tar.gz");
    let mut entries = vec![Entry {
        source: binary.clone(),
        name: platform.binary.to_owned(),
        executable: true,
    }];
    for doc in ["README.md", "LICENSE", "CHANGELOG.md"] {
        entries.push(Entry {
            source: root.join(doc),
            name: doc.to_owned(),
            executable: false,
        });
    }
    archive::write_tar_gz(&archive_path, top, &entries, stamp.epoch)?;
    let sha256 = archive::sha256_file(&archive_path)?;
    std::fs::write(
        out.join(format!("{name}.sha256")),
        archive::checksum_line(&sha256, &name),
    )
    .context("cannot write the checksum file")?;
    let size = std::fs::metadata(&archive_path)?.len();
    eprintln!("   {name}: {size} bytes, sha256 {sha256}");
    let vsix = if vsix {
        Some(package_vsix(root, out, platform, &binary)?)
    } else {
        None
    };
    Ok(Outcome {
        target: platform.triple,
        archive: Some(name),
        sha256: Some(sha256),
        size: Some(size),
        vsix,
        error: None,
    })
}

/// Builds `aiex` for the platform with the `dist` profile; returns the binary's path.
/// Every release platform is a cross build (musl even on a glibc host), linked by zig through
/// `cargo zigbuild`, which also compiles the C and C++ dependencies (tree-sitter, ring,
/// tokenizers' suffix array) for the target.
fn build(root: &Path, platform: &Platform, stamp: &Stamp) -> anyhow::Result<PathBuf> {
    let zigbuild = Command::new("cargo")
        .args(["zigbuild", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !zigbuild {
        bail!(
            "cargo-zigbuild is not installed (`cargo install cargo-zigbuild --locked`; zig from \
             `pip install ziglang`, its `ziglang` directory on PATH)"
        );
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == platform.triple)
        })
        .unwrap_or(false);
    if !installed {
        bail!(
            "the Rust standard library for {0} is not installed (`rustup target add {0}`)",
            platform.triple
        );
    }
    let status = Command::new("cargo")
        .args([
            "zigbuild",
            "--locked",
            "--profile",
            "dist",
            "-p",
            "aiex",
            "--bin",
            "aiex",
        ])
        .args(["--target", platform.triple])
        .env("AIEX_BUILD_COMMIT", &stamp.commit)
        .env("SOURCE_DATE_EPOCH", stamp.epoch.to_string())
        .current_dir(root)
        .status()
        .context("cannot run cargo zigbuild")?;
    if !status.success() {
        bail!("cargo zigbuild failed ({status}); its errors are above");
    }
    let binary = root
        .join("target")
        .join(platform.triple)
        .join("dist")
        .join(platform.binary);
    if !binary.is_file() {
        bail!("the build succeeded but {} is missing", binary.display());
    }
    Ok(binary)
}

/// On a host that can run the binary, checks that it starts and carries this run's stamp.
fn check_runs(binary: &Path, platform: &Platform, stamp: &Stamp) -> anyhow::Result<()> {
    let host_runs = cfg!(all(target_os = "linux", target_arch = "x86_64"))
        && platform.triple == "x86_64-unknown-linux-musl";
    if !host_runs {
        eprintln!("   (not run: built for another machine)");
        return Ok(());
    }
    let output = Command::new(binary)
        .arg("--version")
        .env_clear()
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !version.contains(VERSION) || !version.contains(&stamp.commit) {
        bail!(
            "{} --version printed {version:?} ({})",
            binary.display(),
            output.status
        );
    }
    eprintln!("   {}", version.trim());
    Ok(())
}

/// Builds `aiex-vscode-<version>-<vscode target>.vsix` with the binary in the extension's
/// `bin/`, where the extension looks first (editors/vscode/src/serverPath.ts).
fn package_vsix(
    root: &Path,
    out: &Path,
    platform: &Platform,
    binary: &Path,
) -> anyhow::Result<String> {
    let extension = root.join("editors/vscode");
    if !extension.join("node_modules/.bin/vsce").exists() {
        bail!("editors/vscode has no node_modules: run `npm ci` there first");
    }
    let bin = extension.join("bin");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(binary, bin.join(platform.binary))
        .context("cannot copy the binary into the extension")?;
    let name = format!("aiex-vscode-{VERSION}-{}.vsix", platform.vscode);
    let status = Command::new(extension.join("node_modules/.bin/vsce"))
        .args(["package", "--target", platform.vscode, "--out"])
        .arg(out.join(&name))
        .current_dir(&extension)
        .status()
        .context("cannot run vsce");
    let _ = std::fs::remove_dir_all(&bin);
    if !status?.success() {
        bail!(
            "vsce package --target {} failed; its errors are above",
            platform.vscode
        );
    }
    let sha256 = archive::sha256_file(&out.join(&name))?;
    std::fs::write(
        out.join(format!("{name}.sha256")),
        archive::checksum_line(&sha256, &name),
    )?;
    Ok(name)
}
