//! `aiex context FILE:LINE:COL`: builds the index of the file's workspace (reusing the disk
//! cache), assembles the context a request at that position would get, and prints each piece
//! with the reason it was chosen and its token count.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use super::{out, outln};
use crate::context::{assemble, ContextRequest, Task};
use crate::index::{default_cache_dir, IndexCache, IndexOptions, WorkspaceIndex};

/// Arguments of `aiex context`.
#[derive(Debug, clap::Args)]
pub struct ContextArgs {
    /// The position: `FILE:LINE:COL`, line and column counted from 1 (columns in characters).
    pub position: String,
    /// What the context is for: completion, explain, refactor, tests or docs.
    #[arg(long, default_value = "completion")]
    pub task: String,
    /// The token budget.
    #[arg(long, default_value_t = 2_048)]
    pub budget: usize,
    /// Output format: text or json.
    #[arg(long, default_value = "text")]
    pub format: String,
    /// The workspace root (default: the nearest directory above the file holding `mix.exs`
    /// or `.git`, else the file's directory).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Ignore the on-disk index cache (and do not write it).
    #[arg(long)]
    pub no_cache: bool,
}

/// Runs `aiex context`.
pub fn run(args: ContextArgs) -> anyhow::Result<()> {
    let Some(task) = Task::from_name(&args.task) else {
        bail!(
            "unknown task `{}`: use completion, explain, refactor, tests or docs",
            args.task
        );
    };
    if args.format != "text" && args.format != "json" {
        bail!("unknown format `{}`: use text or json", args.format);
    }
    let (file, line, column) = parse_position(&args.position)?;
    let file = file
        .canonicalize()
        .with_context(|| format!("cannot open {}", file.display()))?;
    let root = match args.root {
        Some(root) => root
            .canonicalize()
            .with_context(|| format!("the workspace {} does not exist", root.display()))?,
        None => workspace_root(&file),
    };
    let relative = file
        .strip_prefix(&root)
        .with_context(|| {
            format!(
                "{} is outside the workspace {}: pass --root",
                file.display(),
                root.display()
            )
        })?
        .to_path_buf();
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
    let Some(cursor) = byte_offset(&text, line, column) else {
        bail!(
            "{}:{line}:{column} is past the end of the file (it has {} lines)",
            relative.display(),
            text.lines().count()
        );
    };

    let index = build_index(&root, args.no_cache)?;
    let tree = crate::syntax::parse_str(&text)
        .map_err(|_| anyhow::anyhow!("cannot parse {}", file.display()))?;
    let chunks = crate::chunks::extract(&tree, &text);
    let request = ContextRequest {
        task,
        path: &relative,
        text: &text,
        tree: &tree,
        chunks: &chunks,
        cursor,
        budget_tokens: args.budget,
        recent_edits: &[],
    };
    if !crate::context::is_allowed(&relative) {
        eprintln!(
            "aiex: {} is a secret file (.env*, *.pem, *.key, config/*secret*...): nothing of it goes into a prompt",
            relative.display()
        );
    }
    // Prepare what the server keeps between requests, so the time printed is a request's.
    let prepared = Instant::now();
    crate::context::warm_retrieval(&index);
    crate::context::count_tokens("defmodule");
    let prepared = prepared.elapsed();
    let started = Instant::now();
    let context = assemble(&request, &index, &[]);
    let elapsed = started.elapsed();

    if args.format == "json" {
        outln!("{}", serde_json::to_string_pretty(&context)?)?;
        return Ok(());
    }
    outln!(
        "{}:{line}:{column} — task {}, budget {} tokens, used {}, {} redactions, assembled in {:.2} ms (retrieval index and tokenizer ready in {:.0} ms)",
        relative.display(),
        task.name(),
        args.budget,
        context.tokens,
        context.redactions,
        elapsed.as_secs_f64() * 1000.0,
        prepared.as_secs_f64() * 1000.0
    )?;
    for piece in &context.pieces {
        outln!(
            "\n── {} — {} ({} tokens)",
            piece.reason,
            piece.path.display(),
            piece.tokens
        )?;
        out!("{}", piece.text)?;
        if !piece.text.ends_with('\n') {
            outln!()?;
        }
    }
    outln!(
        "\n── prefix ({} tokens)\n{}⟨cursor⟩",
        crate::context::count_tokens(&context.prefix),
        context.prefix
    )?;
    outln!(
        "── suffix ({} tokens)\n{}",
        crate::context::count_tokens(&context.suffix),
        context.suffix
    )?;
    Ok(())
}

/// Splits `FILE:LINE:COL` (the file name may itself hold colons).
pub(super) fn parse_position(position: &str) -> anyhow::Result<(PathBuf, usize, usize)> {
    let mut parts = position.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse::<usize>().ok());
    let line = parts.next().and_then(|l| l.parse::<usize>().ok());
    match (parts.next(), line, column) {
        (Some(file), Some(line), Some(column)) if line > 0 && column > 0 => {
            Ok((PathBuf::from(file), line, column))
        }
        _ => bail!("`{position}` is not FILE:LINE:COL (line and column from 1)"),
    }
}

/// The byte offset of a 1-based line and character column; a column past the line's end
/// lands at its end.
pub(super) fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let line_text = text[start..].split('\n').next().unwrap_or("");
    let within = line_text
        .char_indices()
        .nth(column - 1)
        .map_or(line_text.len(), |(at, _)| at);
    Some(start + within)
}

/// The nearest directory above `file` holding `mix.exs` or `.git`, else the file's directory.
pub(super) fn workspace_root(file: &Path) -> PathBuf {
    let directory = file.parent().unwrap_or(file);
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

/// The index of `root`, through the disk cache as `aiex index` builds it.
pub(super) fn build_index(root: &Path, no_cache: bool) -> anyhow::Result<WorkspaceIndex> {
    let roots = vec![root.to_path_buf()];
    let cache_path = (!no_cache)
        .then(|| default_cache_dir().map(|dir| IndexCache::path_for(&dir, &roots)))
        .flatten();
    let cache = cache_path.as_ref().map(|path| {
        let (cache, warning) = IndexCache::load(path);
        if let Some(warning) = warning {
            eprintln!("aiex: {warning}");
        }
        cache
    });
    let index = WorkspaceIndex::new();
    index.rebuild(&IndexOptions::new(roots), cache.as_ref(), &|_| {})?;
    if let (Some(cache), Some(path)) = (cache, cache_path) {
        if let Err(error) = cache.save(&index) {
            eprintln!(
                "aiex: cannot write the index cache {}: {error}",
                path.display()
            );
        }
    }
    Ok(index)
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

    #[test]
    fn positions_parse_and_convert_to_bytes() {
        assert_eq!(
            parse_position("lib/a:b.ex:3:7").expect("valid"),
            (PathBuf::from("lib/a:b.ex"), 3, 7)
        );
        assert!(parse_position("lib/a.ex:3").is_err());
        assert!(parse_position("lib/a.ex:0:1").is_err());
        let text = "ab\nçd\nlast";
        assert_eq!(byte_offset(text, 1, 1), Some(0));
        assert_eq!(byte_offset(text, 2, 2), Some(5));
        assert_eq!(byte_offset(text, 2, 99), Some(6));
        assert_eq!(byte_offset(text, 3, 1), Some(7));
        assert_eq!(byte_offset(text, 4, 1), None);
    }
}
