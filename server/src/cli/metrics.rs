//! `aiex metrics`: Prometheus text (or the OTLP JSON the language server exports) of the AI
//! requests this machine made, counted from the audit log (the one record every entry point
//! writes); the counting and rendering are the engine's (`aiex_engine::metrics`), this command
//! only reads and prints.

use anyhow::Context;

use super::out;
use crate::config::{user_config_path, ConfigLayers};
use crate::engine::AuditLog;

/// Arguments of `aiex metrics`.
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// `prometheus` (the text exposition) or `otlp-json` (the OTLP export request a language
    /// server sends to `[telemetry] otlp_endpoint`).
    #[arg(long, value_enum, default_value_t = MetricsFormat::Prometheus)]
    pub format: MetricsFormat,
}

/// How `aiex metrics` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsFormat {
    /// The Prometheus text exposition format, version 0.0.4.
    Prometheus,
    /// An OTLP/HTTP JSON `ExportMetricsServiceRequest`.
    OtlpJson,
}

/// The long help of `aiex metrics` (`aiex metrics --help`).
pub(crate) const LONG_ABOUT: &str =
    "Print metrics of the AI requests made on this machine in the Prometheus text exposition \
     format: requests by outcome, failures by kind, latency histograms, tokens in and out, cost \
     and cache hits (local and team), per provider and feature.\n\nThe numbers are counted \
     from the audit log (audit.jsonl in the cache directory, $AIEX_CACHE_DIR or ~/.cache/aiex, \
     with its rotated files), so every editor and command that ran here is included; with \
     `audit.enabled = false` they stop at the last request recorded. Circuit breaker states \
     belong to a running language server: its `GET /metrics` shows them when `[telemetry] \
     prometheus_addr` is set in your user configuration.\n\nWith `[telemetry] otlp_endpoint` \
     (for example `http://127.0.0.1:4318`) the language server also sends these metrics to an \
     OpenTelemetry collector as OTLP/HTTP JSON every `otlp_interval_secs` (60 by default) and \
     when it stops, with one span per model request to its `/v1/traces` (never the prompt \
     or a path); headers a collector needs come from OTEL_EXPORTER_OTLP_HEADERS. \
     `--format otlp-json` prints the metrics it sends.";

/// Runs `aiex metrics`.
pub fn run(args: MetricsArgs) -> anyhow::Result<()> {
    let path = AuditLog::default_path().context(
        "there is no cache directory to find the audit log in (set AIEX_CACHE_DIR or HOME)",
    )?;
    let metrics = crate::metrics::read_audit_log(&path)?;
    let loaded = ConfigLayers::from_files(user_config_path().as_deref(), None).resolve();
    // A bad `otlp_endpoint` or `prometheus_addr`: said here too.
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
    match args.format {
        MetricsFormat::Prometheus => out!("{}", metrics.render(&[]))?,
        MetricsFormat::OtlpJson => {
            // One process's window: the counts are the audit log's, taken now.
            let now = crate::metrics::unix_nanos(std::time::SystemTime::now());
            let window = crate::metrics::OtlpWindow {
                service_version: env!("CARGO_PKG_VERSION"),
                start_unix_nano: now,
                now_unix_nano: now,
            };
            out!("{}", metrics.otlp_json(&[], window))?
        }
    }
    Ok(())
}
