//! The workspace of a file named on the command line, set up as the language server sets up
//! an editor's: the root found from the file, the user's and the workspace's configuration,
//! the index through the disk cache, and the file open in the engine.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{user_config_path, ConfigLayers};
use crate::document::DocumentKey;
use crate::engine::{Engine, IndexCacheUse};

/// An engine over the workspace of one file, with that file open.
pub(super) struct FileWorkspace {
    pub engine: std::sync::Arc<Engine>,
    pub key: DocumentKey,
    /// The file's absolute path, as named (links kept).
    pub file: PathBuf,
    /// The workspace root.
    pub root: PathBuf,
}

impl FileWorkspace {
    /// The file's text, as the engine holds it.
    pub fn text(&self) -> anyhow::Result<String> {
        Ok(self
            .engine
            .documents()
            .get(&self.key)
            .context("the file is not open")?
            .with_document(|d| d.rope().to_string()))
    }
}

/// Sets up the workspace of `file` (its root: `root`, or found from the file). Configuration
/// problems are printed to stderr and the rest of the configuration applies, as in the server.
pub(super) fn open(
    file: &Path,
    root: Option<&Path>,
    cache: IndexCacheUse,
) -> anyhow::Result<FileWorkspace> {
    // The file as named, made absolute but with its links kept: the workspace is found from
    // where the user says the file is, and the privacy gate then judges what it really is (a
    // link inside the project to a file outside it is refused, not taken for another project).
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let file = crate::document::key::normalize(&cwd.join(file));
    if !file.exists() {
        anyhow::bail!("cannot open {}: no such file", file.display());
    }
    let root = match root {
        Some(root) => {
            let root = crate::document::key::normalize(&cwd.join(root));
            if !root.is_dir() {
                anyhow::bail!("the workspace {} does not exist", root.display());
            }
            root
        }
        None => workspace_root(&file),
    };
    if !file.starts_with(&root) {
        anyhow::bail!(
            "{} is outside the workspace {}: pass --root",
            file.display(),
            root.display()
        );
    }
    let engine = engine_for(&root, cache)?;
    let key = engine.open_from_disk(&file)?;
    Ok(FileWorkspace {
        engine,
        key,
        file,
        root,
    })
}

/// An engine over the workspace at `root`: its configuration applied (problems printed to
/// stderr) and its index built through the disk cache.
pub(super) fn engine_for(
    root: &Path,
    cache: IndexCacheUse,
) -> anyhow::Result<std::sync::Arc<Engine>> {
    let engine = std::sync::Arc::new(Engine::new());
    engine.set_roots(vec![root.to_path_buf()]);
    let loaded = ConfigLayers::from_files(user_config_path().as_deref(), Some(root)).resolve();
    for issue in &loaded.issues {
        eprintln!("aiex: {issue}");
    }
    for problem in engine.configure(loaded) {
        eprintln!("aiex: {problem}");
    }
    engine.index_workspace(cache, &|_| {}, &|warning| eprintln!("aiex: {warning}"))?;
    Ok(engine)
}

/// Sets up the workspace of the current directory and opens the file defining
/// `module.name/arity`, with the byte offset where that function starts.
pub(super) fn open_function(
    module: &str,
    name: &str,
    arity: usize,
) -> anyhow::Result<(FileWorkspace, usize)> {
    let (engine, root) = current_engine()?;
    let Some((file, function)) = engine.index().function(module, name, arity) else {
        anyhow::bail!(
            "{module}.{name}/{arity} is not defined in the workspace {}: Aiex works on your \
             project's own code (is the module under lib/, and the arity right?); a \
             dependency's or Elixir's function is explained by `mix aiex.explain` or \
             `ai_explain` in IEx, which describe it from the loaded module (`--external`)",
            root.display()
        );
    };
    let key = engine.open_from_disk(&file.path)?;
    let workspace = FileWorkspace {
        engine,
        key,
        file: file.path.clone(),
        root,
    };
    Ok((workspace, function.range.start))
}

/// An engine over the workspace of the current directory (the Mix project it is in), and
/// that workspace's root.
pub(super) fn current_engine() -> anyhow::Result<(std::sync::Arc<Engine>, PathBuf)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = workspace_root(&cwd.join("mix.exs"));
    let engine = engine_for(&root, IndexCacheUse::ReadWrite)?;
    Ok((engine, root))
}

/// The nearest directory above `file` holding `mix.exs` or `.git`, else the file's directory.
pub(super) fn workspace_root(file: &Path) -> PathBuf {
    directory_root(file.parent().unwrap_or(file))
}

/// The workspace holding `directory`: as [`workspace_root`] finds a file's.
pub(super) fn directory_root(directory: &Path) -> PathBuf {
    let mut mix_root = None;
    for ancestor in directory.ancestors() {
        if ancestor.join(".git").exists() {
            return mix_root.unwrap_or_else(|| ancestor.to_path_buf());
        }
        if mix_root.is_none() && ancestor.join("mix.exs").is_file() {
            mix_root = Some(ancestor.to_path_buf());
        }
    }
    mix_root.unwrap_or_else(|| directory.to_path_buf())
}

/// A single-threaded runtime for one engine call.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_the_nearest_mix_project() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/context_app")
            .canonicalize()
            .expect("fixture");
        let file = fixture.join("lib/shop/payments/gateway.ex");
        assert_eq!(workspace_root(&file), fixture);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("app/lib")).expect("mkdir");
        std::fs::write(dir.path().join("app/mix.exs"), "").expect("write");
        let file = dir.path().join("app/lib/a.ex");
        assert_eq!(workspace_root(&file), dir.path().join("app"));
    }
}
