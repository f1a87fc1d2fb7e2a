//! The platforms Aiex ships for, and how each is named by the editors that install it.

/// One release platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The Rust target triple; also the archive's platform name.
    pub triple: &'static str,
    /// VS Code's `--target` for a platform-specific `.vsix` (`vsce package --target`).
    pub vscode: &'static str,
    /// The executable's file name.
    pub binary: &'static str,
}

/// Every platform `cargo xtask dist --all` tries. Linux builds are static (musl): one archive
/// runs on any distribution. Windows uses the GNU ABI (MinGW), which zig can link; the MSVC ABI
/// needs Microsoft's SDK, which no registry here serves.
pub const PLATFORMS: &[Platform] = &[
    Platform {
        triple: "x86_64-unknown-linux-musl",
        vscode: "linux-x64",
        binary: "aiex",
    },
    Platform {
        triple: "aarch64-unknown-linux-musl",
        vscode: "linux-arm64",
        binary: "aiex",
    },
    Platform {
        triple: "x86_64-pc-windows-gnu",
        vscode: "win32-x64",
        binary: "aiex.exe",
    },
    Platform {
        triple: "x86_64-apple-darwin",
        vscode: "darwin-x64",
        binary: "aiex",
    },
    Platform {
        triple: "aarch64-apple-darwin",
        vscode: "darwin-arm64",
        binary: "aiex",
    },
];

/// The platform of a triple, or an error listing the known ones.
pub fn platform(triple: &str) -> anyhow::Result<Platform> {
    PLATFORMS
        .iter()
        .copied()
        .find(|platform| platform.triple == triple)
        .ok_or_else(|| {
            let known: Vec<&str> = PLATFORMS.iter().map(|p| p.triple).collect();
            anyhow::anyhow!("unknown target {triple}: known are {}", known.join(", "))
        })
}

/// The archive file name of a version for a platform.
pub fn archive_name(version: &str, platform: &Platform) -> String {
    format!("aiex-{version}-{}.tar.gz", platform.triple)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_has_a_distinct_triple_and_vscode_target() {
        for (i, a) in PLATFORMS.iter().enumerate() {
            for b in &PLATFORMS[i + 1..] {
                assert_ne!(a.triple, b.triple);
                assert_ne!(a.vscode, b.vscode);
            }
            assert_eq!(a.binary.ends_with(".exe"), a.triple.contains("windows"));
        }
        assert!(platform("sparc-sun-solaris").is_err());
        assert_eq!(
            archive_name("0.1.0", &platform("x86_64-unknown-linux-musl").unwrap()),
            "aiex-0.1.0-x86_64-unknown-linux-musl.tar.gz"
        );
    }
}
