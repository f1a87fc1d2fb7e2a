//! `aiex usage [--team]`: what AI requests cost, from this machine's ledger or, in team mode,
//! from the team's shared spend.

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::outln;
use crate::config::{user_config_path, Config, ConfigLayers};

/// Arguments of `aiex usage`.
#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// The team's spend and usage, from its Redis (needs `[team] redis_url`).
    #[arg(long)]
    pub team: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The workspace root (the current directory when absent).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// Runs `aiex usage`.
pub fn run(args: UsageArgs) -> anyhow::Result<()> {
    let workspace = match args.workspace {
        Some(dir) => dir,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let loaded =
        ConfigLayers::from_files(user_config_path().as_deref(), Some(&workspace)).resolve();
    if !args.team {
        let ledger = crate::llm::cost::UsageLedger::open(
            crate::llm::cost::default_ledger_path(),
            std::time::Duration::from_secs(3600),
        );
        let summary = ledger.summary();
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&summary)?)?;
        } else {
            crate::cli::out!("{}", summary.to_text())?;
        }
        return Ok(());
    }
    let usage = team_usage(&loaded.config)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&usage)?)?;
    } else {
        crate::cli::out!("{}", usage.to_text())?;
    }
    Ok(())
}

/// The team's usage, or why it cannot be had.
fn team_usage(config: &Config) -> anyhow::Result<crate::team::TeamUsage> {
    if !config.team.enabled() {
        bail!(
            "team mode is off: set `[team] redis_url` in your user configuration ({})",
            user_config_path().map_or_else(
                || "~/.config/aiex/config.toml".into(),
                |p| p.display().to_string()
            )
        );
    }
    let team = crate::team::Team::new(&config.team, crate::team::current_user(), &|var| {
        std::env::var(var).ok()
    })
    .map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(team.usage()) {
        Some(usage) => Ok(usage),
        None => bail!(
            "the team's Redis ({}) cannot be reached; the team's spend is unknown",
            crate::llm::config::mask_url_credentials(
                config.team.redis_url.as_deref().unwrap_or("")
            )
        ),
    }
}

/// A few lines for `aiex doctor`: off, or the team's Redis and spend.
pub(super) fn team_report(config: &Config, offline: bool) -> String {
    if !config.team.enabled() {
        return "off (set `[team] redis_url` in your user configuration to share limits, budget and cache)\n".to_owned();
    }
    let url =
        crate::llm::config::mask_url_credentials(config.team.redis_url.as_deref().unwrap_or(""));
    if offline {
        return format!("Redis {url} (not contacted: --offline)\n");
    }
    match team_usage(config) {
        Ok(usage) => format!("Redis {url}: reachable\n{}", usage.to_text()),
        Err(error) => format!("Redis {url}: {error:#}\n"),
    }
}
