//! `aiex context FILE:LINE:COL`: builds the index of the file's workspace (reusing the disk
//! cache), assembles the context a request at that position would get, and prints each piece
//! with the reason it was chosen and its token count.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;

use super::workspace;
use super::{out, outln};
use crate::context::{AssembledContext, Task, TokenCounter};
use crate::document::{position, Position, PositionEncoding};
use crate::engine::{AiError, Cursor, IndexCacheUse};

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
    let cache = if args.no_cache {
        IndexCacheUse::Off
    } else {
        IndexCacheUse::ReadWrite
    };
    let opened = match workspace::open(&file, args.root.as_deref(), cache) {
        Ok(opened) => opened,
        Err(error) => match error.downcast_ref::<AiError>() {
            // A file no prompt may hold: say so, and show the empty context it gets.
            Some(AiError::Refused(refusal)) => {
                eprintln!("aiex: {refusal}");
                return print_context(
                    &args,
                    task,
                    &file,
                    line,
                    column,
                    &AssembledContext::default(),
                    0.0,
                    0.0,
                    &TokenCounter::cl100k(),
                );
            }
            _ => return Err(error),
        },
    };
    let relative = opened
        .file
        .strip_prefix(&opened.root)
        .unwrap_or(&opened.file)
        .to_path_buf();
    let engine = &opened.engine;
    let text = opened.text()?;
    let Some(cursor) = byte_offset(&text, line, column) else {
        bail!(
            "{}:{line}:{column} is past the end of the file (it has {} lines)",
            relative.display(),
            text.lines().count()
        );
    };
    // Prepare what the server keeps between requests, so the time printed is a request's.
    let prepared = Instant::now();
    engine.count_tokens("defmodule");
    let prepared = prepared.elapsed();
    let runtime = super::workspace::runtime()?;
    // Parse first, as the server has by the time a request comes.
    runtime.block_on(engine.documents().syntax(&opened.key));
    let started = Instant::now();
    let context =
        runtime.block_on(engine.context(&opened.key, Cursor::Byte(cursor), task, args.budget))?;
    let elapsed = started.elapsed();
    print_context(
        &args,
        task,
        &relative,
        line,
        column,
        &context,
        elapsed.as_secs_f64() * 1000.0,
        prepared.as_secs_f64() * 1000.0,
        &engine.tokens(),
    )
}

/// Prints a context as JSON or as text, piece by piece.
#[allow(clippy::too_many_arguments)]
fn print_context(
    args: &ContextArgs,
    task: Task,
    relative: &Path,
    line: usize,
    column: usize,
    context: &AssembledContext,
    elapsed_ms: f64,
    prepared_ms: f64,
    tokens: &TokenCounter,
) -> anyhow::Result<()> {
    if args.format == "json" {
        outln!("{}", serde_json::to_string_pretty(context)?)?;
        return Ok(());
    }
    outln!(
        "{}:{line}:{column} — task {}, budget {} tokens, used {}, {} redactions, assembled in {:.2} ms (retrieval index and tokenizer ready in {:.0} ms)",
        relative.display(),
        task.name(),
        args.budget,
        context.tokens,
        context.redactions,
        elapsed_ms,
        prepared_ms
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
        tokens.count(&context.prefix),
        context.prefix
    )?;
    outln!(
        "── suffix ({} tokens)\n{}",
        tokens.count(&context.suffix),
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
/// lands at its end, a line past the file's is `None`. The one line index does the counting.
pub(super) fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let rope = ropey::Rope::from_str(text);
    let at = Position::new(
        u32::try_from(line.checked_sub(1)?).ok()?,
        u32::try_from(column.saturating_sub(1)).unwrap_or(u32::MAX),
    );
    if at.line as usize >= rope.len_lines() {
        return None;
    }
    Some(position::offset_of(&rope, at, PositionEncoding::Utf32).byte)
}

#[cfg(test)]
mod tests {
    use super::*;

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
