//! Metrics in the Prometheus text exposition format (version 0.0.4), counted from the audit
//! log: request counts by outcome, failures by kind, latency histograms, tokens in and out,
//! cost and cache hits (local and team), per provider and feature; plus the circuit breakers'
//! states of the process that serves them.
//!
//! The audit log (`engine::audit`) is the one source of truth: every provider request of every
//! entry point writes one line there, so `aiex metrics` (another process) and the server's
//! `GET /metrics` read the same lines and print the same numbers. Nothing here counts requests
//! on the side. Breaker states are the exception: they live in the serving process only, are
//! not counts, and are given to [`Metrics::render`] by the caller (none for the command line).
//!
//! Invariant: pure. [`Metrics::add_line`] and [`Metrics::render`] do no I/O; only
//! [`read_audit_log`] touches files, and only to read them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::llm::breaker::BreakerState;

mod otlp;
mod traces;
pub use otlp::{unix_nanos, OtlpWindow};
pub use traces::{random_hex_id, traces_json, RequestSpan, SpanBuffer, MAX_PENDING_SPANS};

/// Upper bounds of the latency histogram's buckets, in milliseconds (rendered in seconds):
/// from a cache hit to a long generation on a CPU model.
pub const LATENCY_BUCKETS_MS: [u64; 11] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000,
];

/// Rotated audit files read after the current one (`audit.jsonl.1`, `.2`, ...), at most.
const MAX_ROTATED_FILES: usize = 64;

/// What metrics need of one audit line. Fields added after the first audit lines were written
/// (`error_kind`, `latency_ms`, `cost_usd`, `cache`) are optional: older lines still count.
#[derive(Debug, Deserialize)]
struct AuditLine {
    feature: String,
    provider: String,
    outcome: String,
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    error_kind: Option<String>,
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    cost_usd: Option<f64>,
    #[serde(default)]
    cache: Option<String>,
}

/// Counts of one provider and feature.
#[derive(Debug, Clone, Default, PartialEq)]
struct Series {
    /// Requests by outcome: `ok`, `error`, `cancelled` (`other` for anything else).
    requests: BTreeMap<&'static str, u64>,
    /// Failed requests by error kind (`unknown` for lines older than the kind).
    failures: BTreeMap<String, u64>,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
    /// Answers from a response cache, by cache: `local` or `team`.
    cache_hits: BTreeMap<&'static str, u64>,
    latency: Histogram,
}

/// A latency histogram: per-bucket counts (not cumulative), the sum and the count.
#[derive(Debug, Clone, Default, PartialEq)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS_MS.len()],
    sum_ms: u64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, ms: u64) {
        if let Some(bucket) = LATENCY_BUCKETS_MS.iter().position(|&le| ms <= le) {
            self.buckets[bucket] += 1;
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }
}

/// The state of one provider's circuit breaker, as the serving process sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSample {
    /// The provider's configured name.
    pub provider: String,
    /// Its breaker's state.
    pub state: BreakerState,
    /// Consecutive failed attempts.
    pub consecutive_failures: u32,
}

/// Metrics counted from audit lines, by provider and feature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    series: BTreeMap<(String, String), Series>,
    /// Lines that could not be read (not JSON, or without feature, provider or outcome).
    skipped_lines: u64,
}

impl Metrics {
    /// Metrics of every line of `text` (one audit line per line).
    pub fn from_lines(text: &str) -> Self {
        let mut metrics = Self::default();
        for line in text.lines() {
            metrics.add_line(line);
        }
        metrics
    }

    /// Counts one audit line. Blank lines are ignored; unreadable ones are counted as skipped.
    pub fn add_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let Ok(line) = serde_json::from_str::<AuditLine>(line) else {
            self.skipped_lines += 1;
            return;
        };
        let series = self
            .series
            .entry((line.provider, line.feature))
            .or_default();
        let outcome = outcome_label(&line.outcome);
        *series.requests.entry(outcome).or_default() += 1;
        if outcome == "error" {
            let kind = line.error_kind.unwrap_or_else(|| "unknown".to_owned());
            *series.failures.entry(kind).or_default() += 1;
        }
        let cache = match line.cache.as_deref() {
            Some("local") => Some("local"),
            Some("team") => Some("team"),
            _ => None,
        };
        match cache {
            Some(cache) => *series.cache_hits.entry(cache).or_default() += 1,
            // A cached answer was paid for once, by the request that filled the cache.
            None => {
                series.input_tokens += line.prompt_tokens;
                series.output_tokens += line.completion_tokens.unwrap_or(0);
            }
        }
        series.cost_usd += line.cost_usd.filter(|c| c.is_finite()).unwrap_or(0.0);
        if let (Some(ms), "ok") = (line.latency_ms, outcome) {
            series.latency.observe(ms);
        }
    }

    /// The lines that could not be read.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// Requests counted, whatever their outcome.
    pub fn requests(&self) -> u64 {
        self.series
            .values()
            .flat_map(|series| series.requests.values())
            .sum()
    }

    /// The exposition: every family with its `# HELP` and `# TYPE`, even without samples
    /// (no traffic yet gives a valid, empty exposition), samples sorted by labels.
    pub fn render(&self, breakers: &[BreakerSample]) -> String {
        let mut out = String::new();
        let pair = |(provider, feature): &(String, String)| {
            vec![("provider", provider.clone()), ("feature", feature.clone())]
        };

        family(
            &mut out,
            "aiex_requests_total",
            "counter",
            "Provider requests recorded in the audit log, by how they ended (ok, error, cancelled).",
        );
        for (key, series) in &self.series {
            for (outcome, count) in &series.requests {
                let mut labels = pair(key);
                labels.push(("outcome", (*outcome).to_owned()));
                sample(&mut out, "aiex_requests_total", &labels, &count.to_string());
            }
        }

        family(
            &mut out,
            "aiex_request_failures_total",
            "counter",
            "Failed provider requests by kind (timeout, rate_limited, circuit_open, ...).",
        );
        for (key, series) in &self.series {
            for (kind, count) in &series.failures {
                let mut labels = pair(key);
                labels.push(("kind", kind.clone()));
                sample(
                    &mut out,
                    "aiex_request_failures_total",
                    &labels,
                    &count.to_string(),
                );
            }
        }

        family(
            &mut out,
            "aiex_request_duration_seconds",
            "histogram",
            "Time from a request leaving Aiex to its answer, for answered requests.",
        );
        for (key, series) in &self.series {
            let histogram = &series.latency;
            if histogram.count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (le, count) in LATENCY_BUCKETS_MS.iter().zip(histogram.buckets) {
                cumulative += count;
                let mut labels = pair(key);
                labels.push(("le", number(*le as f64 / 1000.0)));
                sample(
                    &mut out,
                    "aiex_request_duration_seconds_bucket",
                    &labels,
                    &cumulative.to_string(),
                );
            }
            let mut labels = pair(key);
            labels.push(("le", "+Inf".to_owned()));
            sample(
                &mut out,
                "aiex_request_duration_seconds_bucket",
                &labels,
                &histogram.count.to_string(),
            );
            sample(
                &mut out,
                "aiex_request_duration_seconds_sum",
                &pair(key),
                &number(histogram.sum_ms as f64 / 1000.0),
            );
            sample(
                &mut out,
                "aiex_request_duration_seconds_count",
                &pair(key),
                &histogram.count.to_string(),
            );
        }

        family(
            &mut out,
            "aiex_tokens_total",
            "counter",
            "Tokens sent (input, as Aiex counts the prompt) and received (output, as the provider \
             reports), cache hits excepted.",
        );
        for (key, series) in &self.series {
            for (direction, count) in [
                ("input", series.input_tokens),
                ("output", series.output_tokens),
            ] {
                let mut labels = pair(key);
                labels.push(("direction", direction.to_owned()));
                sample(&mut out, "aiex_tokens_total", &labels, &count.to_string());
            }
        }

        family(
            &mut out,
            "aiex_cost_usd_total",
            "counter",
            "What answered requests cost, in US dollars, at the configured or known prices.",
        );
        for (key, series) in &self.series {
            sample(
                &mut out,
                "aiex_cost_usd_total",
                &pair(key),
                &number(series.cost_usd),
            );
        }

        family(
            &mut out,
            "aiex_cache_hits_total",
            "counter",
            "Answers served from a response cache: local (this process) or team (team mode).",
        );
        for (key, series) in &self.series {
            for (cache, count) in &series.cache_hits {
                let mut labels = pair(key);
                labels.push(("cache", (*cache).to_owned()));
                sample(
                    &mut out,
                    "aiex_cache_hits_total",
                    &labels,
                    &count.to_string(),
                );
            }
        }

        family(
            &mut out,
            "aiex_circuit_breaker_state",
            "gauge",
            "1 for the state each provider's circuit breaker is in (closed, open, half_open); \
             only a serving process has breakers.",
        );
        for breaker in breakers {
            for (state, name) in [
                (BreakerState::Closed, "closed"),
                (BreakerState::Open, "open"),
                (BreakerState::HalfOpen, "half_open"),
            ] {
                let labels = [
                    ("provider", breaker.provider.clone()),
                    ("state", name.to_owned()),
                ];
                let value = if breaker.state == state { "1" } else { "0" };
                sample(&mut out, "aiex_circuit_breaker_state", &labels, value);
            }
        }

        family(
            &mut out,
            "aiex_circuit_breaker_consecutive_failures",
            "gauge",
            "Consecutive failed attempts of each provider; its breaker opens at breaker_failures.",
        );
        for breaker in breakers {
            sample(
                &mut out,
                "aiex_circuit_breaker_consecutive_failures",
                &[("provider", breaker.provider.clone())],
                &breaker.consecutive_failures.to_string(),
            );
        }

        family(
            &mut out,
            "aiex_audit_lines_skipped",
            "gauge",
            "Audit log lines that could not be read, so are not counted above.",
        );
        sample(
            &mut out,
            "aiex_audit_lines_skipped",
            &[],
            &self.skipped_lines.to_string(),
        );
        out
    }
}

/// The label of an audit outcome: `ok`, `cancelled`, `error` (`error: <message>` in the
/// line; the message stays out of labels, which must have few values), or `other`.
fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "ok" => "ok",
        "cancelled" => "cancelled",
        other if other == "error" || other.starts_with("error:") => "error",
        _ => "other",
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, String)], value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the exposition format quotes it: `\`, `"` and newlines escaped.
pub fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Help text as the exposition format wants it: `\` and newlines escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: `+Inf`, `-Inf`, `NaN`, or the shortest decimal that reads back the same.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

/// Why the audit log could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the audit log {}: {source}", path.display())]
pub struct ReadError {
    /// The file that could not be read.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Metrics of the audit log at `path` and its rotated files (`path.1`, `path.2`, ...), oldest
/// first. A log not written yet (no request so far) gives empty metrics; a file that exists
/// but cannot be read is an error naming it. Lines are read one at a time (memory stays
/// bounded by the longest line); bytes that are not UTF-8 make their line skipped.
pub fn read_audit_log(path: &Path) -> Result<Metrics, ReadError> {
    let numbered = |n: usize| -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    let rotated = (1..=MAX_ROTATED_FILES)
        .map(numbered)
        .take_while(|file| file.exists());
    let mut files: Vec<PathBuf> = rotated.collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut metrics = Metrics::default();
    for file in files {
        let error = |source| ReadError {
            path: file.clone(),
            source,
        };
        let opened = match std::fs::File::open(&file) {
            Ok(opened) => opened,
            // Rotated away between the listing and now, or never written: nothing to count.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(error(e)),
        };
        let mut reader = BufReader::new(opened);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(error)? == 0 {
                break;
            }
            match std::str::from_utf8(&line) {
                Ok(text) => metrics.add_line(text),
                Err(_) => metrics.skipped_lines += 1,
            }
        }
    }
    Ok(metrics)
}

impl crate::Engine {
    /// The metrics exposition of this process: the audit log's counts (the file the audit
    /// writes, whether or not it is on now) and the providers' breakers.
    pub fn metrics_text(&self) -> Result<String, ReadError> {
        let (metrics, breakers) = self.metrics_snapshot()?;
        Ok(metrics.render(&breakers))
    }

    /// The OTLP export request of this process's metrics now: the audit log's counts since
    /// `start_unix_nano` (when the exporting process began) and the providers' breakers.
    pub fn metrics_otlp_json(&self, start_unix_nano: u64) -> Result<String, ReadError> {
        let (metrics, breakers) = self.metrics_snapshot()?;
        let window = OtlpWindow {
            service_version: env!("CARGO_PKG_VERSION"),
            start_unix_nano,
            now_unix_nano: unix_nanos(std::time::SystemTime::now()),
        };
        Ok(metrics.otlp_json(&breakers, window).to_string())
    }

    /// Keeps the spans of model requests from now on (an OTLP exporter started), or stops.
    pub fn keep_spans(&self, keep: bool) {
        self.spans.set_enabled(keep);
    }

    /// The OTLP export request of the spans of the model requests that ended since the last
    /// call, or `None` when there were none. Spans of an export that failed go back with
    /// [`Self::spans_not_delivered`].
    pub fn spans_otlp_json(&self) -> Option<(String, Vec<RequestSpan>)> {
        let spans = self.spans.drain();
        if spans.is_empty() {
            return None;
        }
        let body = traces_json(&spans, env!("CARGO_PKG_VERSION"), random_hex_id).to_string();
        Some((body, spans))
    }

    /// Puts back spans an export could not deliver (the next export carries them, within the
    /// buffer's bound).
    pub fn spans_not_delivered(&self, spans: Vec<RequestSpan>) {
        self.spans.put_back(spans);
    }

    /// The audit log's counts and the providers' breakers, now.
    fn metrics_snapshot(&self) -> Result<(Metrics, Vec<BreakerSample>), ReadError> {
        let metrics = match crate::engine::AuditLog::default_path() {
            Some(path) => read_audit_log(&path)?,
            None => Metrics::default(),
        };
        let breakers: Vec<BreakerSample> = self
            .providers()
            .map(|providers| {
                providers
                    .status()
                    .providers
                    .into_iter()
                    .map(|status| BreakerSample {
                        provider: status.name,
                        state: status.breaker,
                        consecutive_failures: status.consecutive_failures,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok((metrics, breakers))
    }
}

#[cfg(test)]
mod tests;
