//! `aiex complete FILE:LINE:COL` and `aiex explain FILE:LINE`: the AI pipeline from a
//! terminal, for scripts and for trying a model without an editor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use futures::StreamExt;

use crate::ai::{actions, completion};
use crate::config::{user_config_path, ConfigLayers, LoadedConfig};
use crate::llm::{LlmOptions, ProviderChain, Providers, StreamEvent};

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
    let (path, line, column) = parse_location(&args.location, true)?;
    let text = read(&path)?;
    let cursor = offset(&text, line, column.unwrap_or(1)).with_context(|| {
        format!(
            "{}:{line}:{} is outside the file",
            path.display(),
            column.unwrap_or(1)
        )
    })?;
    let tree = crate::syntax::parse_str(&text)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let loaded = load_config(&path);
    let settings = &loaded.config.features.completion;
    let site = completion::Site {
        text: &text,
        cursor,
    };
    let mode = completion::decide_mode(&tree, &site);
    let request = completion::fim_request(
        &site,
        mode,
        Duration::from_millis(settings.timeout_ms.max(30_000)),
    );
    let chain = chain(&loaded, &settings.providers)?;
    let raw = runtime()?.block_on(async {
        let mut stream = chain.stream(&request).await?;
        let mut raw = String::new();
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::Delta(delta) => {
                    raw.push_str(&delta);
                    if completion::is_decided(&raw, &site, mode) {
                        break;
                    }
                }
                StreamEvent::Done(_) => break,
            }
        }
        Ok::<_, crate::llm::LlmError>(raw)
    })?;
    let cleaned = completion::clean(&raw, &site, mode)
        .context("the model's answer was empty once cleaned")?;
    let rope = ropey::Rope::from_str(&text);
    let fitted = completion::fit_to_syntax(&rope, &tree, cursor, &cleaned, mode)
        .context("the model's answer does not parse at this place")?;
    println!("{fitted}");
    Ok(())
}

/// Runs `aiex explain`: prints the explanation of the function at a line.
pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let (path, line, _) = parse_location(&args.location, false)?;
    let text = read(&path)?;
    let line_start =
        offset(&text, line, 1).with_context(|| format!("{} has no line {line}", path.display()))?;
    let indent = text[line_start..]
        .chars()
        .take_while(|c| c.is_whitespace() && *c != '\n')
        .map(char::len_utf8)
        .sum::<usize>();
    let tree = crate::syntax::parse_str(&text)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let chunks = crate::chunks::extract(&tree, &text);
    let target = actions::target_at(&chunks, line_start + indent)
        .with_context(|| format!("no function at {}:{line}", path.display()))?;
    let loaded = load_config(&path);
    let chain = chain(&loaded, &loaded.config.features.explain.providers)?;
    let request =
        actions::explain_request(&target, &text, "").with_timeout(Duration::from_secs(120));
    let response = runtime()?.block_on(chain.complete(&request))?;
    println!("# {}\n\n{}", target.label(), response.text.trim());
    Ok(())
}

/// `FILE:LINE[:COL]` into its parts.
fn parse_location(
    location: &str,
    with_column: bool,
) -> anyhow::Result<(PathBuf, usize, Option<usize>)> {
    let usage = if with_column {
        "FILE:LINE:COL"
    } else {
        "FILE:LINE"
    };
    let mut parts = location.rsplitn(if with_column { 3 } else { 2 }, ':');
    let (column, line) = if with_column {
        (
            parts.next().and_then(|c| c.parse().ok()),
            parts.next().and_then(|l| l.parse::<usize>().ok()),
        )
    } else {
        (None, parts.next().and_then(|l| l.parse::<usize>().ok()))
    };
    let file = parts.next().filter(|f| !f.is_empty());
    match (file, line) {
        (Some(file), Some(line))
            if line > 0 && (!with_column || column.is_some_and(|c: usize| c > 0)) =>
        {
            Ok((PathBuf::from(file), line, column))
        }
        _ => bail!("`{location}` is not a location: expected {usage} (1-based)"),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
}

/// The byte offset of a 1-based line and character column, if inside the text.
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line == 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map(|(at, _)| at + 1)?
    };
    let line_text = text[line_start..].split('\n').next().unwrap_or("");
    let within: usize = line_text.chars().take(column - 1).map(char::len_utf8).sum();
    (column - 1 <= line_text.chars().count()).then_some(line_start + within)
}

/// The configuration for a file: the user's, then the `.aiex.toml` of its project (the
/// nearest directory above it with a `mix.exs`, or the current directory).
fn load_config(file: &Path) -> LoadedConfig {
    let absolute = file.canonicalize().unwrap_or_else(|_| file.to_owned());
    let root = absolute
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("mix.exs").exists())
        .map(Path::to_path_buf);
    let root = root.or_else(|| std::env::current_dir().ok());
    let loaded = ConfigLayers::from_files(user_config_path().as_deref(), root.as_deref()).resolve();
    for issue in &loaded.issues {
        eprintln!("aiex: {issue}");
    }
    loaded
}

/// The provider chain of a feature.
fn chain(loaded: &LoadedConfig, listed: &[String]) -> anyhow::Result<ProviderChain> {
    let providers_config = loaded.config.effective_providers();
    let (providers, problems) =
        Providers::from_config(providers_config.iter(), LlmOptions::default());
    for problem in problems {
        eprintln!("aiex: {problem}");
    }
    let (chain, unknown) = providers.chain(&loaded.config.feature_providers(listed));
    for name in unknown {
        eprintln!("aiex: no provider named `{name}` is configured");
    }
    if chain.is_empty() {
        bail!("no model provider is configured; see `aiex doctor`");
    }
    Ok(chain)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_offsets_are_one_based() {
        assert_eq!(
            parse_location("lib/a.ex:3:5", true).expect("ok"),
            (PathBuf::from("lib/a.ex"), 3, Some(5))
        );
        assert_eq!(parse_location("C:x.ex:3", false).expect("ok").1, 3);
        assert!(parse_location("lib/a.ex:0:1", true).is_err());
        assert!(parse_location("lib/a.ex", false).is_err());
        assert_eq!(offset("ab\ncé d\n", 2, 3), Some(6));
        assert_eq!(offset("ab\n", 2, 1), Some(3));
        assert_eq!(offset("ab\n", 1, 9), None);
    }
}
