//! One adapter per provider API: how a normalized request becomes an HTTP call, how the frames of
//! the answer become text deltas and a result, and how error bodies become typed errors.
//!
//! Architecture Invariant: nothing outside this module knows a provider's wire format; the rest
//! of the layer sees `HttpCall`, `FrameDecoder` and `LlmError` only.

pub mod anthropic;
pub mod gemini;
pub mod ollama;
pub mod openai;

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::config::ProviderConfig;
use super::error::LlmError;
use super::fim::FimPlan;
use super::framing::Frame;
use super::types::{FinishReason, LlmRequest};

/// The API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI's own API.
    OpenAi,
    /// A server speaking OpenAI's API: LM Studio, llama.cpp, vLLM, OpenRouter, Groq...
    OpenAiCompatible,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// Mistral, including Codestral fill-in-the-middle.
    Mistral,
    /// Ollama's native API.
    Ollama,
}

impl ProviderKind {
    /// Reads the `kind` configuration value.
    pub fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "openai" => Self::OpenAi,
            "openai-compatible" => Self::OpenAiCompatible,
            "anthropic" => Self::Anthropic,
            "gemini" => Self::Gemini,
            "mistral" => Self::Mistral,
            "ollama" => Self::Ollama,
            _ => return None,
        })
    }

    /// The configuration name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::OpenAiCompatible => "openai-compatible",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Mistral => "mistral",
            Self::Ollama => "ollama",
        }
    }

    /// The public endpoint used when `base_url` is absent.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::OpenAiCompatible => "http://127.0.0.1:1234/v1",
            Self::Anthropic => "https://api.anthropic.com/v1",
            Self::Gemini => "https://generativelanguage.googleapis.com/v1beta",
            Self::Mistral => "https://api.mistral.ai/v1",
            Self::Ollama => "http://127.0.0.1:11434",
        }
    }

    /// Whether requests fail without an API key.
    pub fn requires_key(self) -> bool {
        matches!(
            self,
            Self::OpenAi | Self::Anthropic | Self::Gemini | Self::Mistral
        )
    }
}

/// Everything an adapter needs to know about the provider to build a call.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// Base URL without a trailing slash.
    pub base_url: &'a str,
    /// The API key, if any. Only ever placed in a sensitive header.
    pub api_key: Option<&'a str>,
    /// The model to use.
    pub model: &'a str,
    /// The provider's configuration.
    pub config: &'a ProviderConfig,
    /// How fill-in-the-middle is done for this model.
    pub fim: &'a FimPlan,
}

/// An HTTP call ready to send.
#[derive(Debug, Clone)]
pub struct HttpCall {
    /// `POST` or `GET`.
    pub method: reqwest::Method,
    /// Full URL. Never contains a key: keys go in headers.
    pub url: String,
    /// Extra headers; the flag marks values that must never be logged.
    pub headers: Vec<(&'static str, String, bool)>,
    /// JSON body for `POST`.
    pub body: Option<Value>,
}

impl HttpCall {
    fn post(url: String, body: Value) -> Self {
        Self {
            method: reqwest::Method::POST,
            url,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    fn get(url: String) -> Self {
        Self {
            method: reqwest::Method::GET,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into(), false));
        self
    }

    fn secret_header(mut self, name: &'static str, value: Option<&str>) -> Self {
        if let Some(value) = value {
            self.headers.push((name, value.to_owned(), true));
        }
        self
    }
}

/// What a decoder learnt by the end of a body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Why generation ended, when the provider said.
    pub finish_reason: Option<FinishReason>,
    /// Prompt tokens, when the provider said.
    pub input_tokens: Option<u64>,
    /// Generated tokens, when the provider said.
    pub output_tokens: Option<u64>,
    /// The model that answered, when the provider said.
    pub model: Option<String>,
    /// The server's measure of its reading and writing speed, when it said.
    pub timings: Option<crate::types::Timings>,
    /// The provider marked the end of the answer (`[DONE]`, `message_stop`, `done: true`...):
    /// a body that ends without it was cut.
    pub complete: bool,
}

/// Turns the frames of one response body into text deltas.
pub trait FrameDecoder: Send {
    /// Reads one frame, appending any text it carries to `deltas`. An error event inside a
    /// successful stream comes back as the matching `LlmError`.
    fn frame(&mut self, frame: &Frame, deltas: &mut Vec<String>) -> Result<(), LlmError>;
    /// What was learnt once the body ended.
    fn outcome(&self) -> Outcome;
}

/// Builds the generation call for `request`.
pub fn build_call(
    kind: ProviderKind,
    endpoint: &Endpoint<'_>,
    request: &LlmRequest,
) -> Result<HttpCall, LlmError> {
    match kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible | ProviderKind::Mistral => {
            openai::build_call(kind, endpoint, request)
        }
        ProviderKind::Anthropic => Ok(anthropic::build_call(endpoint, request)),
        ProviderKind::Gemini => Ok(gemini::build_call(endpoint, request)),
        ProviderKind::Ollama => Ok(ollama::build_call(endpoint, request)),
    }
}

/// A decoder for the answer to a call built by `build_call`.
pub fn decoder(kind: ProviderKind, provider: &str) -> Box<dyn FrameDecoder> {
    let provider = provider.to_owned();
    match kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible | ProviderKind::Mistral => {
            Box::new(openai::Decoder::new(provider))
        }
        ProviderKind::Anthropic => Box::new(anthropic::Decoder::new(provider)),
        ProviderKind::Gemini => Box::new(gemini::Decoder::new(provider)),
        ProviderKind::Ollama => Box::new(ollama::Decoder::new(provider)),
    }
}

/// Reads an error response (status not 2xx) into a typed error.
pub fn parse_error(
    kind: ProviderKind,
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> LlmError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let details = match (&json, kind) {
        (Some(json), ProviderKind::Anthropic) => anthropic::error_details(json),
        (Some(json), ProviderKind::Gemini) => gemini::error_details(json),
        (Some(json), ProviderKind::Ollama) => ollama::error_details(json),
        (Some(json), _) => openai::error_details(json),
        (None, _) => ErrorDetails::default(),
    };
    let message = details.message.clone().unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            truncate(text, 300)
        }
    });
    let retry_after = retry_after_from_headers(headers).or(details.retry_after);
    classify(
        provider,
        status,
        &message,
        details.code.as_deref(),
        retry_after,
    )
}

/// What an error body said, in the provider's own terms.
#[derive(Debug, Clone, Default)]
pub struct ErrorDetails {
    /// Human-readable explanation.
    pub message: Option<String>,
    /// The provider's error type or code (`rate_limit_error`, `context_length_exceeded`...).
    pub code: Option<String>,
    /// A retry delay given in the body (Gemini's `RetryInfo`).
    pub retry_after: Option<Duration>,
}

/// Maps an HTTP status and the provider's error code and message to a typed error.
pub fn classify(
    provider: &str,
    status: u16,
    message: &str,
    code: Option<&str>,
    retry_after: Option<Duration>,
) -> LlmError {
    let provider = provider.to_owned();
    let message = message.to_owned();
    let code = code.unwrap_or("").to_ascii_lowercase();
    let lower = message.to_ascii_lowercase();
    if code.contains("overloaded") || status == 529 || status == 503 {
        return LlmError::Overloaded {
            provider,
            message,
            retry_after,
        };
    }
    if status == 429 || code.contains("rate_limit") || code == "resource_exhausted" {
        return LlmError::RateLimited {
            provider,
            message,
            retry_after,
        };
    }
    if status == 401
        || status == 403
        || code.contains("authentication")
        || code.contains("permission")
        || code.contains("invalid_api_key")
        || code.contains("api_key_invalid")
    {
        return LlmError::Auth { provider, message };
    }
    let too_long = code.contains("context_length")
        || lower.contains("prompt is too long")
        || lower.contains("maximum context length")
        || lower.contains("context window")
        || lower.contains("context length")
        || lower.contains("too many tokens")
        || lower.contains("exceeds the maximum number of tokens");
    if too_long && (400..500).contains(&status) {
        return LlmError::ContextTooLong { provider, message };
    }
    // 408, 409 and 425 are transient by definition; OpenAI's own clients retry them.
    if status >= 500
        || matches!(status, 408 | 409 | 425)
        || code == "api_error"
        || code == "server_error"
    {
        return LlmError::Server {
            provider,
            status,
            message,
        };
    }
    if status == 404 {
        return LlmError::BadRequest {
            provider,
            message: format!("not found (check `model` and `base_url`): {message}"),
        };
    }
    LlmError::BadRequest { provider, message }
}

/// Reads `retry-after-ms` (milliseconds) or `Retry-After` (seconds or an HTTP date).
pub fn retry_after_from_headers(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) =
        header_str(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = header_str(headers, "retry-after")?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only date form servers send.
fn parse_http_date(value: &str) -> Option<std::time::SystemTime> {
    let mut parts = value.split_whitespace().skip(1);
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let days = super::cost::days_from_civil(year, month, day as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses a protobuf JSON duration such as `"34.4s"`.
pub fn parse_proto_duration(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// Parses a frame's JSON, or says which provider sent something unreadable.
fn parse_frame(provider: &str, frame: &Frame) -> Result<Value, LlmError> {
    serde_json::from_str(&frame.data).map_err(|error| LlmError::Malformed {
        provider: provider.to_owned(),
        message: format!(
            "unreadable JSON in the response ({error}): {}",
            truncate(&frame.data, 120)
        ),
    })
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn u64_at(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

fn f64_at(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_f64)
}

/// Joins a base URL and a path with exactly one slash.
fn url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The OpenAI-style `messages` of a request (Ollama's `/api/chat` takes the same shape): the
/// hole-filler prompt for a fill-in-the-middle request sent to a chat model, or the chat itself.
fn chat_messages(request: &LlmRequest) -> Vec<Value> {
    use super::types::{Prompt, Role};
    let mut messages = Vec::new();
    match (&request.prompt, hole_prompt(request)) {
        (_, Some((system, user))) => {
            messages.push(serde_json::json!({ "role": "system", "content": system }));
            messages.push(serde_json::json!({ "role": "user", "content": user }));
        }
        (
            Prompt::Chat {
                system,
                messages: turns,
            },
            None,
        ) => {
            if let Some(system) = system {
                messages.push(serde_json::json!({ "role": "system", "content": system }));
            }
            for turn in turns {
                let role = match turn.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                messages.push(serde_json::json!({ "role": role, "content": turn.content }));
            }
        }
        (Prompt::Fim { .. }, None) => {}
    }
    messages
}

/// Builds the user message of a chat "fill the hole" request for a FIM prompt on a chat model.
fn hole_prompt(request: &LlmRequest) -> Option<(String, String)> {
    match &request.prompt {
        super::types::Prompt::Fim {
            prefix,
            suffix,
            repository,
        } => Some(super::fim::hole_filler_prompt(
            &super::fim::prefix_with_comments(prefix, repository.as_ref()),
            suffix,
        )),
        super::types::Prompt::Chat { .. } => None,
    }
}

/// Parses the model list of `aiex doctor`.
pub fn parse_models(kind: ProviderKind, body: &[u8]) -> Result<Vec<String>, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("unreadable model list: {e}"))?;
    let (list, field) = match kind {
        ProviderKind::Ollama => ("/models", "name"),
        ProviderKind::Gemini => ("/models", "name"),
        _ => ("/data", "id"),
    };
    let items = json
        .pointer(list)
        .and_then(Value::as_array)
        .ok_or("no model list in the answer")?;
    Ok(items
        .iter()
        .filter_map(|item| item.get(field).and_then(Value::as_str))
        .map(|name| name.strip_prefix("models/").unwrap_or(name).to_owned())
        .collect())
}

/// The call that lists a provider's models.
pub fn models_call(kind: ProviderKind, endpoint: &Endpoint<'_>) -> HttpCall {
    match kind {
        ProviderKind::Ollama => HttpCall::get(url(endpoint.base_url, "api/tags")),
        ProviderKind::Gemini => HttpCall::get(url(endpoint.base_url, "models"))
            .secret_header("x-goog-api-key", endpoint.api_key),
        ProviderKind::Anthropic => HttpCall::get(url(endpoint.base_url, "models"))
            .secret_header("x-api-key", endpoint.api_key)
            .header("anthropic-version", anthropic::API_VERSION),
        _ => HttpCall::get(url(endpoint.base_url, "models")).secret_header(
            "authorization",
            endpoint.api_key.map(|k| format!("Bearer {k}")).as_deref(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_ms_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            retry_after_from_headers(&headers),
            Some(Duration::from_secs(7))
        );
        headers.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(
            retry_after_from_headers(&headers),
            Some(Duration::from_millis(1500))
        );
        let mut dated = HeaderMap::new();
        dated.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after_from_headers(&dated),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        );
    }

    #[test]
    fn mistral_and_openrouter_error_shapes_give_clear_messages() {
        let headers = HeaderMap::new();
        let unauthorized = parse_error(
            ProviderKind::Mistral,
            "m",
            401,
            &headers,
            br#"{"message":"Unauthorized","request_id":"x"}"#,
        );
        assert_eq!(unauthorized.to_string(), "m: authentication failed: Unauthorized (check the API key in the environment variable named by `api_key_env`)");
        let invalid = parse_error(
            ProviderKind::Mistral,
            "m",
            422,
            &headers,
            br#"{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","stream_options"],"msg":"Extra inputs are not permitted"}]},"type":"invalid_request_message_error"}"#,
        );
        assert_eq!(invalid.kind(), "bad_request");
        assert!(
            invalid
                .to_string()
                .contains("Extra inputs are not permitted"),
            "{invalid}"
        );
        let detail = parse_error(
            ProviderKind::Mistral,
            "m",
            422,
            &headers,
            br#"{"detail":[{"msg":"Field required"}]}"#,
        );
        assert!(detail.to_string().contains("Field required"), "{detail}");
        let html = parse_error(
            ProviderKind::OpenAiCompatible,
            "lm",
            502,
            &headers,
            b"<html>Bad Gateway</html>",
        );
        assert_eq!(
            html.to_string(),
            "lm: server error 502: <html>Bad Gateway</html>"
        );
    }

    #[test]
    fn proto_durations_parse() {
        assert_eq!(
            parse_proto_duration("34.4s"),
            Some(Duration::from_millis(34_400))
        );
        assert_eq!(parse_proto_duration("48s"), Some(Duration::from_secs(48)));
        assert_eq!(parse_proto_duration("soon"), None);
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        let kind =
            |status, code: Option<&str>, message| classify("p", status, message, code, None).kind();
        assert_eq!(kind(401, None, "x"), "auth");
        assert_eq!(kind(429, None, "x"), "rate_limited");
        assert_eq!(kind(529, None, "x"), "overloaded");
        assert_eq!(kind(500, Some("overloaded_error"), "x"), "overloaded");
        assert_eq!(
            kind(400, Some("context_length_exceeded"), "x"),
            "context_too_long"
        );
        assert_eq!(
            kind(400, None, "prompt is too long: 3 tokens > 2 maximum"),
            "context_too_long"
        );
        assert_eq!(kind(400, None, "bad"), "bad_request");
        assert_eq!(kind(502, None, "bad gateway"), "server_error");
        assert!(classify("p", 408, "request timeout", None, None).is_retryable());
    }
}
