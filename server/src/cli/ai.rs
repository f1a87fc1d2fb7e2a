//! `aiex complete FILE:LINE:COL` and `aiex explain FILE:LINE`: the AI pipeline from a
//! terminal, for scripts and for trying a model without an editor.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use futures::StreamExt;

use super::context::{build_index, byte_offset, parse_position, workspace_root};
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
    let (path, line, column) = parse_position(&args.location)?;
    let text = read(&path)?;
    let cursor = byte_offset(&text, line, column)
        .with_context(|| format!("{}:{line}:{column} is outside the file", path.display()))?;
    let tree = crate::syntax::parse_str(&text)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let loaded = load_config(&path);
    let settings = &loaded.config.features.completion;
    let site = completion::Site {
        text: &text,
        cursor,
    };
    let mode = completion::decide_mode(&tree, &site);
    let timeout = Duration::from_millis(settings.timeout_ms.max(30_000));
    // The same context as in the editor: the workspace index (through its disk cache) and the
    // context engine.
    let absolute = path
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let root = workspace_root(&absolute);
    let index = build_index(&root, false)?;
    let relative = absolute
        .strip_prefix(&root)
        .unwrap_or(&absolute)
        .to_path_buf();
    let chunks = crate::chunks::extract(&tree, &text);
    let context_request = crate::context::ContextRequest {
        task: crate::context::Task::Completion,
        path: &relative,
        text: &text,
        tree: &tree,
        chunks: &chunks,
        cursor,
        budget_tokens: settings.context_tokens,
        recent_edits: &[],
    };
    let context = crate::context::assemble(&context_request, &index, &[]);
    let request = completion::fim_request_with_context(&context, mode, timeout);
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
    let (path, line, _) = parse_position(&format!("{}:1", args.location))
        .map_err(|_| anyhow::anyhow!("`{}` is not FILE:LINE (line from 1)", args.location))?;
    let text = read(&path)?;
    let line_start = byte_offset(&text, line, 1)
        .with_context(|| format!("{} has no line {line}", path.display()))?;
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

fn read(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
}

/// The configuration for a file: the user's, then the `.aiex.toml` of its project.
fn load_config(file: &Path) -> LoadedConfig {
    let absolute = file.canonicalize().unwrap_or_else(|_| file.to_owned());
    let root = workspace_root(&absolute);
    let loaded = ConfigLayers::from_files(user_config_path().as_deref(), Some(&root)).resolve();
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
