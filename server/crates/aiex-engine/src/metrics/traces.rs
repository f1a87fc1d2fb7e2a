//! One span per model request, as an OTLP/HTTP JSON export request (`ExportTraceServiceRequest`,
//! the JSON mapping of OpenTelemetry's protobuf: camelCase names, 64-bit integers as strings,
//! trace and span ids as hex), for `[telemetry] otlp_endpoint` (`POST <endpoint>/v1/traces`).
//!
//! The spans come from where the audit line of each request is written (the gateway), so the
//! traces, the audit log and the metrics counted from it always agree. A span says what a
//! request's audit line says minus the private parts: feature, provider, model, tokens,
//! latency, outcome, which cache answered and the cost; never the prompt, its hash, the
//! answer or a file path.
//!
//! Invariants: spans are kept only while an exporter runs ([`SpanBuffer::set_enabled`]), and
//! at most [`MAX_PENDING_SPANS`] of them (the oldest go first, counted): a collector that is
//! down costs bounded memory; rendering is pure (callers pass ids and times).

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{json, Value};

/// Spans waiting for the next export, at most.
pub const MAX_PENDING_SPANS: usize = 2_048;

/// `SPAN_KIND_CLIENT`: a request to a remote service.
const CLIENT: u8 = 3;
/// `STATUS_CODE_OK` and `STATUS_CODE_ERROR`.
const STATUS_OK: u8 = 1;
const STATUS_ERROR: u8 = 2;

/// One model request, as its span tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpan {
    /// `completion`, `explain`, ...
    pub feature: String,
    /// The provider's configured name.
    pub provider: String,
    /// The model asked (or that answered).
    pub model: String,
    /// Tokens sent.
    pub input_tokens: u64,
    /// Tokens received, when known.
    pub output_tokens: Option<u64>,
    /// `ok`, `error` or `cancelled`.
    pub outcome: &'static str,
    /// For an error, its kind (`timeout`, `team_rate_limit`...).
    pub error_kind: Option<&'static str>,
    /// Which response cache answered: `local` or `team`.
    pub cache: Option<&'static str>,
    /// What the answer cost, in US dollars, when the model answered in full.
    pub cost_usd: Option<f64>,
    /// When the request passed the privacy gate, in ns since the Unix epoch.
    pub start_unix_nano: u64,
    /// When it ended.
    pub end_unix_nano: u64,
}

/// The spans of requests not exported yet.
#[derive(Debug, Default)]
pub struct SpanBuffer {
    enabled: AtomicBool,
    spans: Mutex<VecDeque<RequestSpan>>,
    /// Spans dropped because the buffer was full (a collector down for long).
    dropped: AtomicU64,
}

impl SpanBuffer {
    /// Keeps spans from now on (an exporter started), or stops and forgets them.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
        if !enabled {
            self.spans.lock().clear();
        }
    }

    /// Whether spans are kept.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Keeps `span` for the next export, when an exporter runs.
    pub fn push(&self, span: RequestSpan) {
        if !self.is_enabled() {
            return;
        }
        let mut spans = self.spans.lock();
        if spans.len() >= MAX_PENDING_SPANS {
            spans.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        spans.push_back(span);
    }

    /// Takes every span kept so far.
    pub fn drain(&self) -> Vec<RequestSpan> {
        self.spans.lock().drain(..).collect()
    }

    /// Spans dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Puts back spans an export could not deliver, ahead of newer ones, within the bound.
    pub fn put_back(&self, mut failed: Vec<RequestSpan>) {
        if !self.is_enabled() {
            return;
        }
        let mut spans = self.spans.lock();
        let room = MAX_PENDING_SPANS.saturating_sub(spans.len());
        if failed.len() > room {
            let excess = failed.len() - room;
            failed.drain(..excess);
            self.dropped.fetch_add(excess as u64, Ordering::Relaxed);
        }
        for span in failed.into_iter().rev() {
            spans.push_front(span);
        }
    }
}

/// A random id of `bytes` bytes (8 for a span, 16 for a trace), in hex. Random enough for ids:
/// the standard library's randomly keyed hasher, fed a counter.
pub fn random_hex_id(bytes: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(bytes * 2);
    out
}

/// The export request for `spans`, each its own trace (a model request is a root: the editor
/// has no trace to join). `id` makes the ids (`random_hex_id` in production).
pub fn traces_json(
    spans: &[RequestSpan],
    service_version: &str,
    mut id: impl FnMut(usize) -> String,
) -> Value {
    let string = |key: &str, value: &str| json!({ "key": key, "value": { "stringValue": value } });
    let int =
        |key: &str, value: u64| json!({ "key": key, "value": { "intValue": value.to_string() } });
    let rendered: Vec<Value> = spans
        .iter()
        .map(|span| {
            let mut attributes = vec![
                string("aiex.feature", &span.feature),
                string("aiex.provider", &span.provider),
                string("gen_ai.request.model", &span.model),
                int("gen_ai.usage.input_tokens", span.input_tokens),
                int(
                    "aiex.latency_ms",
                    span.end_unix_nano.saturating_sub(span.start_unix_nano) / 1_000_000,
                ),
                string("aiex.outcome", span.outcome),
                string("aiex.cache", span.cache.unwrap_or("none")),
            ];
            if let Some(tokens) = span.output_tokens {
                attributes.push(int("gen_ai.usage.output_tokens", tokens));
            }
            if let Some(cost) = span.cost_usd.filter(|c| c.is_finite()) {
                attributes
                    .push(json!({ "key": "aiex.cost_usd", "value": { "doubleValue": cost } }));
            }
            if let Some(kind) = span.error_kind {
                attributes.push(string("error.type", kind));
            }
            let status = match (span.outcome, span.error_kind) {
                ("ok", _) => json!({ "code": STATUS_OK }),
                ("error", kind) => {
                    json!({ "code": STATUS_ERROR, "message": kind.unwrap_or("error") })
                }
                // Cancelled: neither a success nor a failure of the provider.
                _ => json!({}),
            };
            json!({
                "traceId": id(16),
                "spanId": id(8),
                "name": format!("{} {}", span.feature, span.model),
                "kind": CLIENT,
                "startTimeUnixNano": span.start_unix_nano.to_string(),
                "endTimeUnixNano": span.end_unix_nano.to_string(),
                "attributes": attributes,
                "status": status,
            })
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                string("service.name", "aiex"),
                string("service.version", service_version),
            ] },
            "scopeSpans": [{
                "scope": { "name": "aiex", "version": service_version },
                "spans": rendered,
            }],
        }]
    })
}
