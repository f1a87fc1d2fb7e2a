//! Release engineering for Aiex, as `cargo xtask <command>` (the cargo-xtask convention: plain
//! Rust instead of shell scripts, run from any directory of the workspace).
//!
//! `cargo xtask dist` builds the `aiex` binary for release platforms (statically linked Linux
//! through musl; other platforms through `cargo zigbuild`), packs each in a `.tar.gz` with the
//! README, LICENSE and CHANGELOG, and writes its SHA-256 next to it, plus `SHA256SUMS` and
//! `manifest.json` for installers. `--vsix` also builds the platform-specific VS Code
//! extensions with the binary inside.

mod archive;
mod dist;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Release engineering for Aiex")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build release archives (and optionally VS Code packages) with their checksums.
    Dist(DistArgs),
}

/// Arguments of `cargo xtask dist`.
#[derive(Debug, clap::Args)]
pub struct DistArgs {
    /// A target triple to build (repeatable); default x86_64-unknown-linux-musl.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// Every release platform (Linux x86_64/aarch64, Windows x86_64, macOS x86_64/aarch64).
    #[arg(long, conflicts_with = "targets")]
    pub all: bool,
    /// Where the archives go (default target/release-archives; not target/dist, which is cargo's directory for the dist profile).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also build a platform-specific VS Code extension (.vsix) around each binary; needs
    /// `npm ci` done in editors/vscode.
    #[arg(long)]
    pub vsix: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dist(args) => dist::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::from(2)
        }
    }
}
