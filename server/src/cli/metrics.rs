//! `aiex metrics`: Prometheus text of the AI requests this machine made, counted from the
//! audit log (the one record every entry point writes); the counting is the engine's
//! (`aiex_engine::metrics`), this command only reads and prints.

use anyhow::Context;

use super::out;
use crate::config::{user_config_path, ConfigLayers};
use crate::engine::AuditLog;

/// Arguments of `aiex metrics`.
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {}

/// The long help of `aiex metrics` (`aiex metrics --help`).
pub(crate) const LONG_ABOUT: &str =
    "Print metrics of the AI requests made on this machine in the Prometheus text exposition \
     format: requests by outcome, failures by kind, latency histograms, tokens in and out, cost \
     and cache hits (local and team), per provider and feature.\n\nThe numbers are counted \
     from the audit log (audit.jsonl in the cache directory, $AIEX_CACHE_DIR or ~/.cache/aiex, \
     with its rotated files), so every editor and command that ran here is included; with \
     `audit.enabled = false` they stop at the last request recorded. Circuit breaker states \
     belong to a running language server: its `GET /metrics` shows them when `[telemetry] \
     prometheus_addr` is set in your user configuration.\n\nOpenTelemetry (OTLP) export is \
     not supported.";

/// Runs `aiex metrics`.
pub fn run(_args: MetricsArgs) -> anyhow::Result<()> {
    let path = AuditLog::default_path().context(
        "there is no cache directory to find the audit log in (set AIEX_CACHE_DIR or HOME)",
    )?;
    let metrics = crate::metrics::read_audit_log(&path)?;
    let loaded = ConfigLayers::from_files(user_config_path().as_deref(), None).resolve();
    // `telemetry.otlp_endpoint` (not supported) or a bad `prometheus_addr`: said here too.
    for issue in &loaded.issues {
        if issue.key.starts_with("telemetry") {
            eprintln!("aiex: {issue}");
        }
    }
    if !loaded.config.audit.enabled {
        eprintln!(
            "aiex: the audit log is off (`audit.enabled = false`): these metrics stop at the \
             last request it recorded"
        );
    }
    out!("{}", metrics.render(&[]))?;
    Ok(())
}
