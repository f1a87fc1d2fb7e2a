//! `aiex doctor`: what Aiex finds on this machine and in this workspace, and what it will use.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

use crate::config::{user_config_path, Config, ConfigLayers};

/// Arguments of `aiex doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The workspace root (the current directory when absent).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Do not contact the providers (no live check of models and keys).
    #[arg(long)]
    pub offline: bool,
}

/// Runs `aiex doctor`.
pub fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let workspace = match args.workspace {
        Some(dir) => dir,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let workspace = workspace
        .canonicalize()
        .with_context(|| format!("the workspace {} does not exist", workspace.display()))?;
    let user_file = user_config_path();
    let loaded = ConfigLayers::from_files(user_file.as_deref(), Some(&workspace)).resolve();
    println!("aiex {}", crate::lifecycle::version::LONG);
    println!("workspace: {}", workspace.display());
    println!("\nconfiguration sources (later ones win):");
    if loaded.sources.is_empty() {
        println!("  none found: defaults apply");
    }
    for source in &loaded.sources {
        println!("  {source}");
    }
    if let Some(path) = &user_file {
        if !path.exists() {
            println!("  (no user file at {})", path.display());
        }
    }
    println!("\nworkspace trust:");
    println!("  {}", loaded.trust.describe());
    if !loaded.ignored_workspace_keys.is_empty() {
        println!(
            "  ignored from .aiex.toml: {}",
            loaded.ignored_workspace_keys.join(", ")
        );
    }
    println!("\nproblems:");
    if loaded.issues.is_empty() {
        println!("  none");
    }
    for issue in &loaded.issues {
        println!("  {issue}");
    }
    println!("\nfeatures:");
    let config = &loaded.config;
    for (name, enabled, providers) in config.features.list() {
        println!("  {name}: {}", describe_feature(config, enabled, providers));
    }
    println!("  symbols, hover docs, folding, checks: built in, no model needed");
    let providers_config = config.effective_providers();
    let (providers, problems) = crate::llm::Providers::from_config(
        providers_config.iter(),
        crate::llm::LlmOptions::default(),
    );
    println!("\nproviders:");
    for problem in problems {
        println!("  problem: {problem}");
    }
    if args.offline {
        println!("  (not contacted: --offline)");
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        for report in runtime.block_on(providers.doctor()) {
            for line in report.to_text().lines() {
                println!("  {line}");
            }
        }
    }
    println!("\nspeed (learnt from answers; completions are sized to it):");
    for name in providers_config.keys() {
        let Some(provider) = providers.get(name) else {
            continue;
        };
        println!("  {name}: {}", describe_speed(&provider.speed()));
    }
    println!("\nlast prompt sent (from the audit log):");
    match last_audited_prompt() {
        Some(line) => println!("  {line}"),
        None => println!("  none recorded yet"),
    }
    println!("\nusage:");
    for line in providers.usage().to_text().lines() {
        println!("  {line}");
    }
    println!("\nteam mode:");
    for line in super::usage::team_report(config, args.offline).lines() {
        println!("  {line}");
    }
    println!("\neffective configuration (secrets masked):");
    let mut effective = serde_json::to_value(config).context("cannot render the configuration")?;
    mask_secrets(&mut effective);
    let rendered =
        serde_json::to_string_pretty(&effective).context("cannot render the configuration")?;
    for line in rendered.lines() {
        println!("  {line}");
    }
    Ok(())
}

/// How fast a provider reads and writes, and whether that was measured.
fn describe_speed(speed: &crate::llm::SpeedEstimate) -> String {
    let source = match speed.samples {
        0 => "assumed, no answer yet".to_owned(),
        1 => "learnt from 1 answer".to_owned(),
        n => format!("learnt from {n} answers"),
    };
    format!(
        "reads {:.0} prompt tokens/s, writes {:.0} tokens/s ({source})",
        speed.prompt_tokens_per_s, speed.generated_tokens_per_s
    )
}

/// One line saying which providers a feature will try, and what each lacks.
fn describe_feature(config: &Config, enabled: bool, listed: &[String]) -> String {
    if !enabled {
        return "off".to_owned();
    }
    let providers = config.effective_providers();
    let names = config.feature_providers(listed);
    let described: Vec<String> = names
        .iter()
        .map(|name| match providers.get(name) {
            None => format!("{name} (not configured)"),
            Some(provider) => {
                let key = match &provider.api_key_env {
                    Some(var) if std::env::var_os(var).is_some_and(|v| !v.is_empty()) => {
                        format!(", key from ${var}")
                    }
                    Some(var) => format!(", MISSING KEY: ${var} is not set"),
                    None => String::new(),
                };
                let implicit = if config.providers.is_empty() {
                    ", implicit default"
                } else {
                    ""
                };
                format!(
                    "{name} ({} {}{key}{implicit})",
                    provider.kind, provider.model
                )
            }
        })
        .collect();
    format!("tries {}", described.join(", then "))
}

/// The last line of the audit log, summarised: feature, provider, tokens, files, redactions.
fn last_audited_prompt() -> Option<String> {
    let path = crate::engine::AuditLog::default_path()?;
    let text = std::fs::read_to_string(path).ok()?;
    let entry: Value = serde_json::from_str(text.lines().last()?).ok()?;
    let files: Vec<&str> = entry["files"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    Some(format!(
        "{} at {} to {}: {} tokens from {} file(s) ({}), {} secret(s) redacted; `aiex context FILE:LINE:COL` shows each piece",
        entry["feature"].as_str().unwrap_or("?"),
        entry["time"].as_str().unwrap_or("?"),
        entry["provider"].as_str().unwrap_or("?"),
        entry["prompt_tokens"],
        files.len(),
        files.join(", "),
        entry["redactions"],
    ))
}

/// Masks what could be a secret in the configuration: credentials in URLs and any value under
/// a key that names a secret.
fn mask_secrets(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, item) in object.iter_mut() {
                let secret_key = ["key", "token", "secret", "password"]
                    .iter()
                    .any(|word| key.contains(word) && !key.ends_with("_env"));
                match item {
                    Value::String(text) if secret_key => *text = "********".to_owned(),
                    Value::String(text) => *text = crate::llm::config::mask_url_credentials(text),
                    other => mask_secrets(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_url_credentials_are_masked() {
        let mut value = serde_json::json!({
            "providers": { "a": { "base_url": "https://bob:hunter2@llm.local/v1", "api_key_env": "A_KEY", "api_key": "sk-123" } }
        });
        mask_secrets(&mut value);
        assert_eq!(
            value["providers"]["a"]["base_url"],
            "https://****@llm.local/v1"
        );
        assert_eq!(value["providers"]["a"]["api_key_env"], "A_KEY");
        assert_eq!(value["providers"]["a"]["api_key"], "********");
    }
}
