//! `aiex complete FILE:LINE:COL` and `aiex explain FILE:LINE`: the engine's completion and
//! explanation from a terminal, for scripts and for trying a model without an editor. The
//! workspace is set up as the server sets up an editor's, so the prompt for a place is the
//! editor's prompt for that place.

use std::time::Duration;

use anyhow::{bail, Context};

use super::context::{byte_offset, parse_position};
use super::workspace::{self, FileWorkspace};
use super::{out, outln};
use crate::engine::{
    ActionKind, ActionOutcome, ActionRequest, AiError, CompletionOptions, Cursor, IndexCacheUse,
};

/// The least time a one-shot completion waits for a model: nobody is typing on, and a model on
/// a laptop CPU reads a prompt for seconds.
const CLI_COMPLETION_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `aiex complete`.
#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// Where to complete: `FILE:LINE:COL` (1-based; the column counts characters).
    pub location: String,
}

/// Arguments of `aiex explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The function to explain: `FILE:LINE`, any line of its definition (1-based).
    pub location: String,
}

/// Runs `aiex complete`: prints the suggestion for the cursor.
pub fn complete(args: CompleteArgs) -> anyhow::Result<()> {
    let (path, line, column) = parse_position(&args.location)?;
    let opened = workspace::open(&path, None, IndexCacheUse::ReadWrite)?;
    let text = opened.text()?;
    let FileWorkspace {
        engine, key, file, ..
    } = opened;
    let cursor = byte_offset(&text, line, column)
        .with_context(|| format!("{}:{line}:{column} is outside the file", file.display()))?;
    let settings = engine.config().config.features.completion.clone();
    let options = CompletionOptions {
        explicit: true,
        timeout: Some(Duration::from_millis(settings.timeout_ms).max(CLI_COMPLETION_TIMEOUT)),
    };
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let outcome = runtime.block_on(engine.complete(&key, Cursor::Byte(cursor), options))?;
    match outcome.suggestion {
        Some(suggestion) => {
            outln!("{}", suggestion.text)?;
            Ok(())
        }
        // The reason, not the editor's notice: the command line says it once, plainly.
        None => bail!(
            "no suggestion: {}",
            outcome
                .nothing_because
                .unwrap_or_else(|| "nothing useful at this place".to_owned())
        ),
    }
}

/// Runs `aiex explain`: prints the explanation of the function at a line.
pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let (path, line, _) = parse_position(&format!("{}:1", args.location))
        .map_err(|_| anyhow::anyhow!("`{}` is not FILE:LINE (line from 1)", args.location))?;
    let opened = workspace::open(&path, None, IndexCacheUse::ReadWrite)?;
    let text = opened.text()?;
    let FileWorkspace {
        engine, key, file, ..
    } = opened;
    let line_start = byte_offset(&text, line, 1)
        .with_context(|| format!("{} has no line {line}", file.display()))?;
    let indent = text[line_start..]
        .chars()
        .take_while(|c| c.is_whitespace() && *c != '\n')
        .map(char::len_utf8)
        .sum::<usize>();
    let request = ActionRequest {
        key,
        cursor: Cursor::Byte(line_start + indent),
        kind: ActionKind::Explain,
        instruction: None,
    };
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let outcome = runtime
        .block_on(engine.action(request))
        .map_err(|error| match error {
            AiError::NotApplicable(_) => anyhow::anyhow!(
                "no function at {}: give a line of a function's definition",
                args.location
            ),
            other => other.into(),
        })?;
    match outcome {
        ActionOutcome::Explanation { markdown, .. } => {
            out!("{markdown}")?;
            Ok(())
        }
        other => bail!("the explanation came back as an edit: {other:?}"),
    }
}
