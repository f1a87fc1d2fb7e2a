//! The same metrics as an OTLP/HTTP JSON export request (`ExportMetricsServiceRequest`, the
//! JSON mapping of OpenTelemetry's protobuf: camelCase names, 64-bit integers as strings,
//! enums as numbers), for `[telemetry] otlp_endpoint`.
//!
//! Sums are cumulative and monotonic, counted from the audit log as the Prometheus exposition
//! is, from `start` (when the exporting process began). Histograms carry per-bucket counts (not
//! cumulative, as OTLP wants) with one more bucket than bounds. Nothing but counts, provider
//! and feature names leaves: no path, no prompt, no answer.
//!
//! Invariant: pure, like the rest of `metrics`: no clock (callers pass the times), no I/O.

use serde_json::{json, Value};

use super::{BreakerSample, Histogram, Metrics, LATENCY_BUCKETS_MS};
use crate::llm::breaker::BreakerState;

/// `AGGREGATION_TEMPORALITY_CUMULATIVE` in the OTLP protobuf.
const CUMULATIVE: u8 = 2;

/// Who exports, and over which time window.
#[derive(Debug, Clone, Copy)]
pub struct OtlpWindow<'a> {
    /// The `service.version` resource attribute.
    pub service_version: &'a str,
    /// When the counts started (the exporting process's start), in ns since the Unix epoch.
    pub start_unix_nano: u64,
    /// When the counts were taken, in ns since the Unix epoch.
    pub now_unix_nano: u64,
}

impl Metrics {
    /// The export request for these metrics and `breakers`, taken at `window.now_unix_nano`.
    pub fn otlp_json(&self, breakers: &[BreakerSample], window: OtlpWindow) -> Value {
        let point = |attributes: Vec<Value>, value: Value| {
            let mut point = json!({
                "attributes": attributes,
                "startTimeUnixNano": window.start_unix_nano.to_string(),
                "timeUnixNano": window.now_unix_nano.to_string(),
            });
            let field = if value.is_f64() { "asDouble" } else { "asInt" };
            point[field] = value;
            point
        };
        let int = |n: u64| Value::String(n.to_string());
        let pair = |(provider, feature): &(String, String)| {
            vec![
                attribute("provider", provider),
                attribute("feature", feature),
            ]
        };

        let mut requests = Vec::new();
        let mut failures = Vec::new();
        let mut tokens = Vec::new();
        let mut cost = Vec::new();
        let mut cache_hits = Vec::new();
        let mut durations = Vec::new();
        for (key, series) in &self.series {
            for (outcome, count) in &series.requests {
                let mut attributes = pair(key);
                attributes.push(attribute("outcome", outcome));
                requests.push(point(attributes, int(*count)));
            }
            for (kind, count) in &series.failures {
                let mut attributes = pair(key);
                attributes.push(attribute("kind", kind));
                failures.push(point(attributes, int(*count)));
            }
            for (direction, count) in [
                ("input", series.input_tokens),
                ("output", series.output_tokens),
            ] {
                let mut attributes = pair(key);
                attributes.push(attribute("direction", direction));
                tokens.push(point(attributes, int(count)));
            }
            cost.push(point(pair(key), json!(series.cost_usd)));
            for (cache, count) in &series.cache_hits {
                let mut attributes = pair(key);
                attributes.push(attribute("cache", cache));
                cache_hits.push(point(attributes, int(*count)));
            }
            if series.latency.count > 0 {
                durations.push(histogram_point(&series.latency, pair(key), window));
            }
        }
        let mut breaker_states = Vec::new();
        let mut breaker_failures = Vec::new();
        for breaker in breakers {
            for (state, name) in [
                (BreakerState::Closed, "closed"),
                (BreakerState::Open, "open"),
                (BreakerState::HalfOpen, "half_open"),
            ] {
                let attributes = vec![
                    attribute("provider", &breaker.provider),
                    attribute("state", name),
                ];
                breaker_states.push(point(attributes, int(u64::from(breaker.state == state))));
            }
            breaker_failures.push(point(
                vec![attribute("provider", &breaker.provider)],
                int(u64::from(breaker.consecutive_failures)),
            ));
        }

        let metrics = vec![
            sum(
                "aiex.requests",
                "{request}",
                "Provider requests recorded in the audit log, by how they ended (ok, error, cancelled).",
                requests,
            ),
            sum(
                "aiex.request.failures",
                "{request}",
                "Failed provider requests by kind (timeout, rate_limited, circuit_open, ...).",
                failures,
            ),
            json!({
                "name": "aiex.request.duration",
                "unit": "s",
                "description": "Time from a request leaving Aiex to its answer, for answered requests.",
                "histogram": { "dataPoints": durations, "aggregationTemporality": CUMULATIVE },
            }),
            sum(
                "aiex.tokens",
                "{token}",
                "Tokens sent (input, as Aiex counts the prompt) and received (output, as the provider reports), cache hits excepted.",
                tokens,
            ),
            sum(
                "aiex.cost",
                "USD",
                "What answered requests cost, in US dollars, at the configured or known prices.",
                cost,
            ),
            sum(
                "aiex.cache.hits",
                "{request}",
                "Answers served from a response cache: local (this process) or team (team mode).",
                cache_hits,
            ),
            gauge(
                "aiex.circuit_breaker.state",
                "1",
                "1 for the state each provider's circuit breaker is in (closed, open, half_open).",
                breaker_states,
            ),
            gauge(
                "aiex.circuit_breaker.consecutive_failures",
                "{failure}",
                "Consecutive failed attempts of each provider.",
                breaker_failures,
            ),
        ];
        json!({
            "resourceMetrics": [{
                "resource": { "attributes": [
                    attribute("service.name", "aiex"),
                    attribute("service.version", window.service_version),
                ] },
                "scopeMetrics": [{
                    "scope": { "name": "aiex", "version": window.service_version },
                    "metrics": metrics,
                }],
            }]
        })
    }
}

/// Nanoseconds since the Unix epoch, as OTLP times are written (0 for a clock set before it).
pub fn unix_nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn attribute(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

fn sum(name: &str, unit: &str, description: &str, points: Vec<Value>) -> Value {
    json!({
        "name": name,
        "unit": unit,
        "description": description,
        "sum": { "dataPoints": points, "aggregationTemporality": CUMULATIVE, "isMonotonic": true },
    })
}

fn gauge(name: &str, unit: &str, description: &str, points: Vec<Value>) -> Value {
    json!({ "name": name, "unit": unit, "description": description, "gauge": { "dataPoints": points } })
}

/// A histogram data point in seconds: the buckets as counted (requests over the last bound
/// fall in the extra, unbounded bucket).
fn histogram_point(histogram: &Histogram, attributes: Vec<Value>, window: OtlpWindow) -> Value {
    let bounded: u64 = histogram.buckets.iter().sum();
    let mut counts: Vec<Value> = histogram
        .buckets
        .iter()
        .map(|n| Value::String(n.to_string()))
        .collect();
    counts.push(Value::String((histogram.count - bounded).to_string()));
    let bounds: Vec<f64> = LATENCY_BUCKETS_MS
        .iter()
        .map(|ms| *ms as f64 / 1000.0)
        .collect();
    json!({
        "attributes": attributes,
        "startTimeUnixNano": window.start_unix_nano.to_string(),
        "timeUnixNano": window.now_unix_nano.to_string(),
        "count": histogram.count.to_string(),
        "sum": histogram.sum_ms as f64 / 1000.0,
        "bucketCounts": counts,
        "explicitBounds": bounds,
    })
}
