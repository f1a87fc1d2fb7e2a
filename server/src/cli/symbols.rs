//! `aiex symbols FILE`: the chunks of one file, as JSON or text.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{out, outln};
use crate::chunks::{self, FileChunks, FunctionChunk, ModuleChunk};
use crate::document::{position, PositionEncoding};

/// Arguments of `aiex symbols`.
#[derive(Debug, clap::Args)]
pub struct SymbolsArgs {
    /// The Elixir file (.ex or .exs).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// How `aiex symbols` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The chunks as JSON (byte ranges).
    Json,
    /// An indented outline with line numbers.
    Text,
}

/// Runs `aiex symbols`.
pub fn run(args: SymbolsArgs) -> anyhow::Result<()> {
    let (text, chunks) = read_chunks(&args.file)?;
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&chunks)
                .context("cannot render the chunks as JSON")?;
            outln!("{json}")?;
        }
        Format::Text => out!("{}", outline(&text, &chunks))?,
    }
    Ok(())
}

/// Reads and chunks an Elixir file, with errors a user can act on.
pub fn read_chunks(path: &Path) -> anyhow::Result<(String, FileChunks)> {
    let is_elixir = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ex" | "exs")
    );
    if !is_elixir {
        bail!(
            "{} is not an Elixir file (expected .ex or .exs)",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        )
    })?;
    let tree = crate::syntax::parse_str(&text)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let chunks = chunks::extract(&tree, &text);
    Ok((text, chunks))
}

fn outline(text: &str, chunks: &FileChunks) -> String {
    let rope = ropey::Rope::from_str(text);
    let line = |byte: usize| position::position_of(&rope, byte, PositionEncoding::Utf8).line + 1;
    let mut out = String::new();
    let function = |out: &mut String, indent: &str, f: &FunctionChunk| {
        out.push_str(&format!(
            "{indent}{} {} (lines {}-{})\n",
            f.kind.keyword(),
            f.label(),
            line(f.range.start),
            line(f.range.end.saturating_sub(1))
        ));
    };
    fn module(
        out: &mut String,
        indent: &str,
        m: &ModuleChunk,
        line: &dyn Fn(usize) -> u32,
        function: &dyn Fn(&mut String, &str, &FunctionChunk),
    ) {
        out.push_str(&format!(
            "{indent}{} (lines {}-{})\n",
            m.name,
            line(m.range.start),
            line(m.range.end.saturating_sub(1))
        ));
        let inner = format!("{indent}  ");
        for t in &m.types {
            let kind = format!("{:?}", t.kind).to_lowercase();
            out.push_str(&format!("{inner}@{kind} {}/{}\n", t.name, t.arity));
        }
        for f in &m.functions {
            function(out, &inner, f);
        }
        for child in &m.modules {
            module(out, &inner, child, line, function);
        }
    }
    for m in &chunks.modules {
        module(&mut out, "", m, &line, &function);
    }
    for f in &chunks.functions {
        function(&mut out, "", f);
    }
    out
}
