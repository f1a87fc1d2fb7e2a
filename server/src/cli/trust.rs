//! `aiex trust`: the user's explicit decision to let a workspace's `.aiex.toml` set what only
//! they may set otherwise (providers, their endpoints and key variables, outside paths).
//!
//! The decision is recorded in the user's data directory, never in the workspace, keyed by the
//! workspace's path and the content hash of its `.aiex.toml`: any change to the file revokes it.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::trust::{restrict_workspace, TrustStore, WorkspaceTrust};

/// Arguments of `aiex trust`.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// The workspace root (the current directory when absent).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Forget the decision instead: the workspace is untrusted again.
    #[arg(long, conflicts_with = "status")]
    pub revoke: bool,
    /// Only show whether the workspace is trusted.
    #[arg(long)]
    pub status: bool,
}

/// Runs `aiex trust`.
pub fn run(args: TrustArgs) -> anyhow::Result<()> {
    run_with(args, &TrustStore::default())
}

fn run_with(args: TrustArgs, store: &TrustStore) -> anyhow::Result<()> {
    let workspace = match args.workspace {
        Some(dir) => dir,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let root = workspace
        .canonicalize()
        .with_context(|| format!("the workspace {} does not exist", workspace.display()))?;
    let file = root.join(".aiex.toml");
    if args.revoke {
        if store.revoke(&root)? {
            println!("{} is no longer trusted", root.display());
        } else {
            println!("{} was not trusted; nothing to revoke", root.display());
        }
        return Ok(());
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "{} has no .aiex.toml: there is nothing to trust",
                root.display()
            )
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", file.display())),
    };
    let decision = store.decision(&root, &text);
    if args.status {
        println!("{}: {}", root.display(), decision.describe());
        return Ok(());
    }
    let value: serde_json::Value = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid TOML; fix it before trusting it",
            file.display()
        )
    })?;
    // What trust changes: the keys an untrusted file may not set.
    let (_, unlocked) = restrict_workspace(value, &root, &WorkspaceTrust::Untrusted);
    store.trust(&root, &text)?;
    println!(
        "trusted {} (sha256 {})",
        file.display(),
        crate::config::trust::config_hash(&text)
    );
    if unlocked.is_empty() {
        println!("it sets nothing beyond what an untrusted workspace may set");
    } else {
        println!("it may now set: {}", unlocked.join(", "));
        println!("(audit settings stay yours: a workspace never sets them)");
    }
    if let Some(path) = store.path() {
        println!(
            "recorded in {}; any change to .aiex.toml revokes it",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(workspace: &std::path::Path) -> TrustArgs {
        TrustArgs {
            workspace: Some(workspace.to_owned()),
            revoke: false,
            status: false,
        }
    }

    #[test]
    fn trusting_records_the_current_content_and_revoking_forgets_it() {
        let data = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        let text = "[providers.mine]\nkind = \"ollama\"\nmodel = \"m\"\n";
        std::fs::write(root.path().join(".aiex.toml"), text).expect("write");
        let store = TrustStore::at(Some(data.path().join("trust.json")));
        run_with(args(root.path()), &store).expect("trust");
        assert_eq!(store.decision(root.path(), text), WorkspaceTrust::Trusted);
        run_with(
            TrustArgs {
                revoke: true,
                ..args(root.path())
            },
            &store,
        )
        .expect("revoke");
        assert_eq!(store.decision(root.path(), text), WorkspaceTrust::Untrusted);
    }

    #[test]
    fn a_workspace_without_a_configuration_file_has_nothing_to_trust() {
        let data = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        let store = TrustStore::at(Some(data.path().join("trust.json")));
        let error = run_with(args(root.path()), &store).expect_err("nothing to trust");
        assert!(error.to_string().contains("has no .aiex.toml"), "{error}");
    }

    #[test]
    fn broken_toml_is_not_trusted() {
        let data = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join(".aiex.toml"), "[providers").expect("write");
        let store = TrustStore::at(Some(data.path().join("trust.json")));
        assert!(run_with(args(root.path()), &store).is_err());
        assert_eq!(
            store.decision(root.path(), "[providers"),
            WorkspaceTrust::Untrusted
        );
    }
}
