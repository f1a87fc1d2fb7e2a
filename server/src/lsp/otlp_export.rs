//! `[telemetry] otlp_endpoint`: the metrics `GET /metrics` serves, pushed to an OpenTelemetry
//! collector as OTLP/HTTP JSON (`POST <endpoint>/v1/metrics`) every `otlp_interval_secs`, and
//! once more when the server stops; with them, one span per model request that ended since
//! the last export (`POST <endpoint>/v1/traces`, `metrics::traces`).
//!
//! Invariants: never on the message loop (one tokio task; the audit log is read and the body
//! built on the blocking pool); bounded (one export at a time, each within
//! [`EXPORT_DEADLINE`]; a failed export is not queued, the next one carries the same cumulative
//! counts; spans not delivered wait for the next export, within the engine's bound); a
//! failure is logged once until an export succeeds again; only what `metrics::otlp` and
//! `metrics::traces` render leaves (counts, names, tokens, times: no prompt, no path).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

/// Builds the body of one export: the OTLP JSON of the metrics now. Called on the blocking
/// pool (it reads the audit log).
pub(crate) type OtlpSource = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// How long one export may take, connection included.
const EXPORT_DEADLINE: Duration = Duration::from_secs(10);
/// How long the last export may hold up the server's exit.
const FLUSH_DEADLINE: Duration = Duration::from_secs(2);

/// The exporter, when the configuration asks for one.
#[derive(Default)]
pub(crate) struct OtlpExporter {
    exporting: Mutex<Option<Exporting>>,
}

struct Exporting {
    url: String,
    interval: Duration,
    target: Arc<Target>,
    task: tokio::task::AbortHandle,
}

impl Drop for Exporting {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where and how exports go.
struct Target {
    url: String,
    source: OtlpSource,
    /// `<endpoint>/v1/traces`.
    traces_url: String,
    /// Whose model requests' spans are exported.
    engine: Arc<crate::engine::Engine>,
    client: reqwest::Client,
    headers: reqwest::header::HeaderMap,
    /// Whether the last export failed (and was logged), so that a run of failures is logged
    /// once.
    failing: AtomicBool,
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exporting = self.exporting.lock();
        f.debug_struct("OtlpExporter")
            .field("url", &exporting.as_ref().map(|e| e.url.clone()))
            .finish()
    }
}

impl OtlpExporter {
    /// Exports to `url` every `interval`, or stops exporting when `url` is `None`. Keeps the
    /// running exporter when neither changed. Returns the problem to show the user when the
    /// exporter cannot be made. Must be called within the runtime.
    pub(crate) fn apply(
        &self,
        url: Option<String>,
        interval: Duration,
        engine: &Arc<crate::engine::Engine>,
        source: impl FnOnce() -> OtlpSource,
    ) -> Option<String> {
        let mut exporting = self.exporting.lock();
        if exporting.as_ref().map(|e| (e.url.as_str(), e.interval))
            == url.as_deref().map(|u| (u, interval))
        {
            return None;
        }
        *exporting = None;
        // Spans are kept only while they have somewhere to go.
        engine.keep_spans(url.is_some());
        let url = url?;
        let traces_url = format!(
            "{}/v1/traces",
            url.strip_suffix("/v1/metrics").unwrap_or(&url)
        );
        let (headers, bad_header) = headers_from_env();
        let client = match reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(EXPORT_DEADLINE)
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                return Some(format!(
                    "telemetry.otlp_endpoint: cannot make an HTTP client: {error}; metrics are \
                     not exported"
                ))
            }
        };
        let target = Arc::new(Target {
            url: url.clone(),
            source: source(),
            traces_url,
            engine: Arc::clone(engine),
            client,
            headers,
            failing: AtomicBool::new(false),
        });
        let task = tokio::spawn({
            let target = Arc::clone(&target);
            async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await; // the first tick is now: nothing to say yet
                loop {
                    ticks.tick().await;
                    target.export().await;
                }
            }
        })
        .abort_handle();
        tracing::info!(
            url,
            interval_secs = interval.as_secs(),
            "exporting metrics over OTLP"
        );
        *exporting = Some(Exporting {
            url,
            interval,
            target,
            task,
        });
        bad_header
    }

    /// One last export, so that the requests of the last interval are not lost; gives up after
    /// [`FLUSH_DEADLINE`].
    pub(crate) async fn flush(&self) {
        let target = self
            .exporting
            .lock()
            .as_ref()
            .map(|e| Arc::clone(&e.target));
        if let Some(target) = target {
            if tokio::time::timeout(FLUSH_DEADLINE, target.export())
                .await
                .is_err()
            {
                tracing::warn!(
                    url = target.url,
                    "the last OTLP export did not finish within 2 s"
                );
            }
        }
    }
}

impl Target {
    async fn export(&self) {
        self.export_metrics().await;
        self.export_spans().await;
    }

    /// The spans of the requests that ended since the last export; put back when the
    /// collector does not take them.
    async fn export_spans(&self) {
        let Some((body, spans)) = self.engine.spans_otlp_json() else {
            return;
        };
        let sent = self.post(&self.traces_url, body).await;
        let problem = match sent {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => format!("the collector answered {} to the spans", response.status()),
            Err(error) => format!("{error}"),
        };
        self.engine.spans_not_delivered(spans);
        self.failed(&problem);
    }

    /// Sends one OTLP/HTTP JSON body to `url`, with the user's headers.
    async fn post(&self, url: &str, body: String) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(url)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
    }

    async fn export_metrics(&self) {
        let source = Arc::clone(&self.source);
        let body = match tokio::task::spawn_blocking(move || source()).await {
            Ok(Ok(body)) => body,
            Ok(Err(error)) => return self.failed(&format!("cannot count the metrics: {error}")),
            Err(error) => return self.failed(&format!("counting the metrics failed: {error}")),
        };
        let sent = self.post(&self.url, body).await;
        match sent {
            Ok(response) if response.status().is_success() => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(url = self.url, "OTLP export works again");
                }
            }
            Ok(response) => self.failed(&format!("the collector answered {}", response.status())),
            Err(error) => self.failed(&format!("{error}")),
        }
    }

    fn failed(&self, why: &str) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                url = self.url,
                "OTLP export failed: {why}; retrying every interval (logged once)"
            );
        }
    }
}

/// Headers from `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key=value`, as OpenTelemetry's SDKs
/// read it), and the problem with it if any pair is unusable (that pair is left out).
fn headers_from_env() -> (reqwest::header::HeaderMap, Option<String>) {
    let raw = std::env::var("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default();
    parse_headers(&raw)
}

fn parse_headers(raw: &str) -> (reqwest::header::HeaderMap, Option<String>) {
    use reqwest::header::{HeaderName, HeaderValue};
    let mut headers = reqwest::header::HeaderMap::new();
    let mut bad = Vec::new();
    let pairs = raw.split(',').map(str::trim).filter(|p| !p.is_empty());
    for (number, pair) in pairs.enumerate() {
        let parsed = pair.split_once('=').and_then(|(key, value)| {
            Some((
                HeaderName::from_bytes(key.trim().as_bytes()).ok()?,
                HeaderValue::from_str(value.trim()).ok()?,
            ))
        });
        match parsed {
            Some((name, value)) => {
                headers.insert(name, value);
            }
            // The pair may hold a secret: name its position, never its text.
            None => bad.push((number + 1).to_string()),
        }
    }
    let problem = (!bad.is_empty()).then(|| {
        format!(
            "OTEL_EXPORTER_OTLP_HEADERS: pair {} is not `key=value` with a valid header name \
             and value; it is left out",
            bad.join(", ")
        )
    });
    (headers, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_as_opentelemetry_sdks_read_them() {
        let (headers, problem) = parse_headers(" x-api-key = abc123 ,authorization=Bearer t");
        assert_eq!(problem, None);
        assert_eq!(headers["x-api-key"], "abc123");
        assert_eq!(headers["authorization"], "Bearer t");
        let (headers, problem) = parse_headers("novalue,bad name=1,ok=2");
        assert_eq!(headers.len(), 1);
        assert_eq!(
            problem.as_deref(),
            Some(
                "OTEL_EXPORTER_OTLP_HEADERS: pair 1, 2 is not `key=value` with a valid header \
                 name and value; it is left out"
            )
        );
        assert_eq!(parse_headers("").0.len(), 0);
    }
}
