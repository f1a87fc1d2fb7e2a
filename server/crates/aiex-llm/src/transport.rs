//! The HTTP side of one attempt: sending a call with the first-byte deadline, reading an error
//! body, and pulling a response body chunk by chunk through its framer and decoder with the
//! idle and total deadlines.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use tokio::time::Instant;

use super::adapters::{self, FrameDecoder, HttpCall, Outcome, ProviderKind};
use super::error::{LlmError, TimeoutPhase};
use super::framing::{Frame, Framer};

/// Largest response body read, streamed or not: a runaway answer fails instead of filling memory.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Largest error body read.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The waits of one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the response headers arrive (connecting included).
    pub first_byte: Duration,
    /// Between two chunks of a body.
    pub idle: Duration,
    /// A whole request, when the caller gave no deadline.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            first_byte: Duration::from_secs(10),
            idle: Duration::from_secs(15),
            request: Duration::from_secs(60),
        }
    }
}

/// Turns a reqwest failure into a typed error; the URL is dropped so no query string (and no
/// key, should a server ever want one there) reaches a message.
pub fn network_error(provider: &str, error: reqwest::Error) -> LlmError {
    let connect = error.is_connect();
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if connect {
        message = format!(
            "cannot connect ({message}); is the server running at the configured `base_url`?"
        );
    }
    LlmError::Network {
        provider: provider.to_owned(),
        message,
    }
}

/// Sends `call` and waits for the response headers, until `first_byte` or `deadline`.
pub async fn send(
    client: &reqwest::Client,
    provider: &str,
    call: &HttpCall,
    body: Option<&Bytes>,
    first_byte: Duration,
    deadline: Instant,
) -> Result<reqwest::Response, LlmError> {
    let mut builder = client.request(call.method.clone(), &call.url);
    for (name, value, secret) in &call.headers {
        let mut value = HeaderValue::from_str(value).map_err(|_| LlmError::Config {
            provider: provider.to_owned(),
            // The value may be a key: say which header, never what was in it.
            message: format!("the `{name}` header value has characters HTTP does not allow (check the API key variable)"),
        })?;
        value.set_sensitive(*secret);
        builder = builder.header(HeaderName::from_static(name), value);
    }
    if let Some(body) = body {
        builder = builder
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
    }
    let (limit, phase) = earliest(first_byte, TimeoutPhase::FirstByte, deadline);
    // A pooled connection the server closed while idle (llama.cpp's keeps one 5 s) fails as
    // the request goes out, before the server read it: the same request on a new connection
    // is sent once more, whatever the retry policy, as it never reached the model.
    let retry = builder.try_clone();
    let sent = match tokio::time::timeout_at(limit, builder.send()).await {
        Ok(Err(error)) if closed_before_answering(&error) => match retry {
            Some(retry) => {
                tracing::debug!(
                    provider,
                    "a pooled connection was closed by the server: sending again"
                );
                tokio::time::timeout_at(limit, retry.send()).await
            }
            None => Ok(Err(error)),
        },
        other => other,
    };
    match sent {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) if error.is_timeout() => Err(LlmError::Timeout {
            provider: provider.to_owned(),
            phase: TimeoutPhase::Connect,
            after: first_byte,
        }),
        Ok(Err(error)) => Err(network_error(provider, error)),
        Err(_) => Err(LlmError::Timeout {
            provider: provider.to_owned(),
            phase,
            after: first_byte,
        }),
    }
}

/// Whether `error` is a connection closed before any answer came (hyper's "connection closed
/// before message completed"), as a pooled connection the server dropped while idle fails.
fn closed_before_answering(error: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(error) = source {
        if error
            .to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// The earlier of `now + wait` (reported as `phase`) and the deadline.
fn earliest(wait: Duration, phase: TimeoutPhase, deadline: Instant) -> (Instant, TimeoutPhase) {
    let by_phase = Instant::now() + wait;
    if by_phase < deadline {
        (by_phase, phase)
    } else {
        (deadline, TimeoutPhase::Deadline)
    }
}

/// Reads an error response's body (bounded) and types it.
pub async fn read_error(
    kind: ProviderKind,
    provider: &str,
    response: reqwest::Response,
    idle: Duration,
    deadline: Instant,
) -> LlmError {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut chunks = response.bytes_stream();
    let mut body = Vec::new();
    loop {
        let (limit, _) = earliest(idle, TimeoutPhase::Idle, deadline);
        match tokio::time::timeout_at(limit, chunks.next()).await {
            Ok(Some(Ok(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() >= MAX_ERROR_BYTES {
                    break;
                }
            }
            // A broken or slow error body still leaves the status to go by.
            Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
        }
    }
    adapters::parse_error(kind, provider, status, &headers, &body)
}

type Chunks = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A successful response body being read: chunks in, text deltas out.
pub struct BodyReader {
    provider: String,
    chunks: Chunks,
    framer: Framer,
    decoder: Box<dyn FrameDecoder>,
    frames: Vec<Frame>,
    idle: Duration,
    deadline: Instant,
    bytes_read: usize,
    ended: bool,
    /// An error found after some text in the same read: the text goes out first, so what the
    /// user sees does not depend on where the network cut the chunks.
    deferred: Option<LlmError>,
}

impl BodyReader {
    /// Starts reading `response` (status already checked) with the provider's decoder.
    pub fn new(
        kind: ProviderKind,
        provider: &str,
        response: reqwest::Response,
        idle: Duration,
        deadline: Instant,
    ) -> Self {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        let framer = Framer::for_content_type(content_type);
        Self {
            provider: provider.to_owned(),
            framer,
            decoder: adapters::decoder(kind, provider),
            chunks: Box::pin(response.bytes_stream()),
            frames: Vec::new(),
            idle,
            deadline,
            bytes_read: 0,
            ended: false,
            deferred: None,
        }
    }

    /// True once the body ended cleanly (no error left to report).
    pub fn ended(&self) -> bool {
        self.ended && self.deferred.is_none()
    }

    /// What the decoder learnt.
    pub fn outcome(&self) -> Outcome {
        self.decoder.outcome()
    }

    /// Reads until at least one delta is ready or the body ends. Errors on a broken, cut,
    /// oversized or silent body, or on an error event inside it; text decoded before such an
    /// error is delivered first and the error comes on the next call.
    pub async fn pull(&mut self, deltas: &mut VecDeque<String>) -> Result<(), LlmError> {
        if let Some(error) = self.deferred.take() {
            return Err(error);
        }
        let mut out = Vec::new();
        let result = self.read_some(&mut out).await;
        let delivered = !out.is_empty();
        deltas.extend(out);
        match result {
            Err(error) if delivered => {
                self.deferred = Some(error);
                Ok(())
            }
            other => other,
        }
    }

    async fn read_some(&mut self, out: &mut Vec<String>) -> Result<(), LlmError> {
        while out.is_empty() && !self.ended {
            let (limit, phase) = earliest(self.idle, TimeoutPhase::Idle, self.deadline);
            let next = tokio::time::timeout_at(limit, self.chunks.next()).await;
            let chunk = match next {
                Err(_) => {
                    return Err(LlmError::Timeout {
                        provider: self.provider.clone(),
                        phase,
                        after: self.idle,
                    })
                }
                Ok(Some(Err(error))) => return Err(network_error(&self.provider, error)),
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => {
                    self.ended = true;
                    let cut = self.framer.finish(&mut self.frames);
                    self.decode_frames(out)?;
                    if cut || !self.decoder.outcome().complete {
                        return Err(LlmError::Network {
                            provider: self.provider.clone(),
                            message: "the response ended before the provider finished it (connection cut mid-stream)".to_owned(),
                        });
                    }
                    break;
                }
            };
            self.bytes_read += chunk.len();
            if self.bytes_read > MAX_RESPONSE_BYTES {
                return Err(LlmError::Malformed {
                    provider: self.provider.clone(),
                    message: format!(
                        "response larger than {} MiB; stopped reading",
                        MAX_RESPONSE_BYTES >> 20
                    ),
                });
            }
            if let Err(message) = self.framer.feed(&chunk, &mut self.frames) {
                return Err(LlmError::Malformed {
                    provider: self.provider.clone(),
                    message,
                });
            }
            self.decode_frames(out)?;
        }
        Ok(())
    }

    fn decode_frames(&mut self, out: &mut Vec<String>) -> Result<(), LlmError> {
        for frame in self.frames.drain(..) {
            self.decoder.frame(&frame, out)?;
        }
        Ok(())
    }
}
