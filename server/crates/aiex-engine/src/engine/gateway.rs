//! The engine's one way to a model. Every request for every feature and entry point leaves
//! through here: the privacy gate redacts it as a whole, the request goes to the feature's
//! provider chain, and one audit line records it once it ends (answered, failed, or dropped
//! because the user moved on).
//!
//! Architecture invariant: nothing else in the workspace calls `ProviderChain::stream` or
//! `ProviderChain::complete`, or writes the audit log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::llm::{LlmError, LlmRequest, LlmResponse, LlmStream, ProviderChain};

use super::audit::{AuditLog, AuditRequest, PendingWrites};
use super::Engine;
use crate::context::TokenCounter;

/// What the gateway needs to know of a request besides the request itself.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    /// The feature asking: `completion`, `hover`, `explain`, `docs`, `refactor`, `tests`, `fix`.
    pub feature: &'static str,
    /// Workspace-relative paths of the files the prompt draws on.
    pub files: Vec<PathBuf>,
    /// Secrets already replaced while the prompt was built (the context engine redacts as it
    /// packs, to count tokens truly).
    pub redactions: usize,
}

/// The audit line of a request in flight. Written once: by [`AuditTicket::finish`] or
/// [`AuditTicket::fail`], or, when the request is dropped first (superseded, cancelled), on
/// drop with the outcome `cancelled`.
#[derive(Debug)]
pub(crate) struct AuditTicket {
    log: Option<AuditLog>,
    pending: PendingWrites,
    /// Where the request's span goes (kept only while an OTLP exporter runs).
    spans: std::sync::Arc<crate::metrics::SpanBuffer>,
    line: Option<PendingLine>,
    /// When the request passed the gate: its latency is measured from here, whatever its end.
    started: Instant,
}

#[derive(Debug)]
struct PendingLine {
    feature: &'static str,
    provider: String,
    model: String,
    files: Vec<PathBuf>,
    /// Counts the prompt when the line is written, on the blocking pool: a count of a
    /// completion prompt costs more than the rest of the way to the network.
    tokens: Arc<TokenCounter>,
    redactions: usize,
    prompt: String,
    /// Which cache answered, when the stream said so before its end.
    cache: Option<&'static str>,
}

/// How a request ended, as its audit line says it.
struct Ending {
    outcome: String,
    error_kind: Option<&'static str>,
    completion_tokens: Option<usize>,
    cost_usd: Option<f64>,
    cache: Option<&'static str>,
    latency_ms: u64,
}

impl AuditTicket {
    /// Records how the request ended; `response` when the model answered in full.
    pub fn finish(mut self, outcome: &str, response: Option<&LlmResponse>) {
        if let Some(mut line) = self.line.take() {
            if let Some(response) = response {
                line.provider = response.provider.clone();
                line.model = response.model.clone();
            }
            let ending = Ending {
                outcome: outcome.to_owned(),
                error_kind: None,
                completion_tokens: response.map(|r| r.usage.output_tokens as usize),
                cost_usd: response.map(|r| r.cost_usd),
                // A caller that stopped reading early has no result, but the stream said.
                cache: match response {
                    Some(r) => r
                        .cached
                        .then_some(if r.team_cache { "team" } else { "local" }),
                    None => line.cache,
                },
                latency_ms: elapsed_ms(self.started),
            };
            write(self.log.take(), &self.pending, &self.spans, line, ending);
        }
    }

    /// Records that the request failed with `error` (its message and its kind).
    pub fn fail(mut self, error: &LlmError) {
        if let Some(line) = self.line.take() {
            let ending = Ending {
                outcome: format!("error: {error}"),
                error_kind: Some(error.kind()),
                completion_tokens: None,
                cost_usd: None,
                cache: None,
                latency_ms: elapsed_ms(self.started),
            };
            write(self.log.take(), &self.pending, &self.spans, line, ending);
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Drop for AuditTicket {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            let ending = Ending {
                outcome: "cancelled".to_owned(),
                error_kind: None,
                completion_tokens: None,
                cost_usd: None,
                cache: line.cache,
                latency_ms: elapsed_ms(self.started),
            };
            write(self.log.take(), &self.pending, &self.spans, line, ending);
        }
    }
}

/// Appends the line off the message loop on a multi-threaded runtime (the server), at once on
/// a single-threaded one or none (the command line, which exits right after: a blocking task
/// queued then could be dropped with the runtime, and its line lost).
fn write(
    log: Option<AuditLog>,
    pending: &PendingWrites,
    spans: &crate::metrics::SpanBuffer,
    line: PendingLine,
    ending: Ending,
) {
    // Counted here only for a span (the request has ended: no one waits on it); else on the
    // blocking pool with the line.
    let mut prompt_tokens = None;
    if spans.is_enabled() {
        let tokens = line.tokens.count(&line.prompt);
        prompt_tokens = Some(tokens);
        spans.push(span_of(&line, tokens, &ending));
    }
    let Some(log) = log else { return };
    let pending = pending.start();
    let record = move || {
        let _pending = pending;
        let request = AuditRequest {
            feature: line.feature,
            provider: &line.provider,
            model: &line.model,
            files: &line.files,
            prompt_tokens: prompt_tokens.unwrap_or_else(|| line.tokens.count(&line.prompt)),
            completion_tokens: ending.completion_tokens,
            redactions: line.redactions,
            prompt: &line.prompt,
            outcome: &ending.outcome,
            error_kind: ending.error_kind,
            latency_ms: ending.latency_ms,
            cost_usd: ending.cost_usd,
            cache: ending.cache,
        };
        if let Err(error) = log.record(&request) {
            tracing::warn!(
                "could not write the audit log {}: {error}",
                log.path.display()
            );
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            runtime.spawn_blocking(record);
        }
        _ => record(),
    }
}

/// The request's span: its audit line without the files and the prompt.
fn span_of(
    line: &PendingLine,
    prompt_tokens: usize,
    ending: &Ending,
) -> crate::metrics::RequestSpan {
    let end = std::time::SystemTime::now();
    let start = end - std::time::Duration::from_millis(ending.latency_ms);
    let outcome = if ending.outcome == "ok" {
        "ok"
    } else if ending.outcome == "cancelled" {
        "cancelled"
    } else {
        "error"
    };
    crate::metrics::RequestSpan {
        feature: line.feature.to_owned(),
        provider: line.provider.clone(),
        model: line.model.clone(),
        input_tokens: prompt_tokens as u64,
        output_tokens: ending.completion_tokens.map(|t| t as u64),
        outcome,
        error_kind: ending.error_kind,
        cache: ending.cache,
        cost_usd: ending.cost_usd,
        start_unix_nano: crate::metrics::unix_nanos(start),
        end_unix_nano: crate::metrics::unix_nanos(end),
    }
}

impl Engine {
    /// Redacts `request`, opens its audit line and streams it from `chain`.
    pub(crate) async fn stream(
        &self,
        chain: &ProviderChain,
        mut request: LlmRequest,
        outbound: Outbound,
    ) -> Result<(LlmStream, AuditTicket), LlmError> {
        let mut ticket = self.pass_gate(chain, &mut request, outbound);
        match chain.stream(&request).await {
            Ok(stream) => {
                // After a failover the provider answering is not the first one listed.
                if let (Some((provider, model)), Some(line)) = (stream.source(), &mut ticket.line) {
                    line.provider = provider.to_owned();
                    line.model = model.to_owned();
                }
                if let Some(line) = &mut ticket.line {
                    line.cache = stream
                        .cached()
                        .map(|team| if team { "team" } else { "local" });
                }
                Ok((stream, ticket))
            }
            Err(error) => {
                ticket.fail(&error);
                Err(error)
            }
        }
    }

    /// Redacts `request`, asks `chain` for a whole answer, and records how it went.
    pub(crate) async fn ask(
        &self,
        chain: &ProviderChain,
        mut request: LlmRequest,
        outbound: Outbound,
    ) -> Result<LlmResponse, LlmError> {
        let ticket = self.pass_gate(chain, &mut request, outbound);
        let result = chain.complete(&request).await;
        match &result {
            Ok(response) => ticket.finish("ok", Some(response)),
            Err(error) => ticket.fail(error),
        }
        result
    }

    /// Redacts `request`, streams the answer from `chain` to `on_delta` as it comes, and
    /// records how it went: [`Engine::ask`] for an entry point that shows the answer while the
    /// model writes it (`aiex explain --format json-lines`, the IEx helpers).
    pub(crate) async fn ask_streamed(
        &self,
        chain: &ProviderChain,
        request: LlmRequest,
        outbound: Outbound,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, LlmError> {
        use futures::StreamExt as _;
        let (mut stream, ticket) = self.stream(chain, request, outbound).await?;
        let mut streamed = String::new();
        let mut response = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(crate::llm::StreamEvent::Delta(delta)) => {
                    streamed.push_str(&delta);
                    on_delta(&delta);
                }
                Ok(crate::llm::StreamEvent::Done(done)) => {
                    response = Some(done);
                    break;
                }
                Err(error) => {
                    ticket.fail(&error);
                    return Err(error);
                }
            }
        }
        ticket.finish("ok", response.as_ref());
        match response {
            // A cached answer may come whole, without deltas: shown at once.
            Some(done) if streamed.is_empty() && !done.text.is_empty() => {
                on_delta(&done.text);
                Ok(done.text)
            }
            _ => Ok(streamed),
        }
    }

    /// The last step before the network: redaction of the whole request, and its audit line.
    fn pass_gate(
        &self,
        chain: &ProviderChain,
        request: &mut LlmRequest,
        outbound: Outbound,
    ) -> AuditTicket {
        let redactions = outbound.redactions + self.gate().redact(request);
        let prompt = request.prompt_text();
        let first = chain.providers().first();
        AuditTicket {
            log: self.audit_log(),
            pending: self.audit_writes.clone(),
            spans: std::sync::Arc::clone(&self.spans),
            line: Some(PendingLine {
                feature: outbound.feature,
                provider: first.map(|p| p.name().to_owned()).unwrap_or_default(),
                model: first.map(|p| p.config().model.clone()).unwrap_or_default(),
                files: outbound.files,
                tokens: self.tokens(),
                redactions,
                prompt,
                cache: None,
            }),
            started: Instant::now(),
        }
    }
}
