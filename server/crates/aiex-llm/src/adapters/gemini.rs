//! Google Gemini: `models/{model}:streamGenerateContent?alt=sse`, whose chunks have the same shape
//! as a `generateContent` body (also read here, as is the JSON-array stream without `alt=sse`).

use serde_json::{json, Map, Value};

use super::{
    hole_prompt, parse_frame, parse_proto_duration, str_at, u64_at, url, Endpoint, ErrorDetails,
    FrameDecoder, HttpCall, Outcome,
};
use crate::error::LlmError;
use crate::framing::Frame;
use crate::types::{FinishReason, LlmRequest, Prompt, Role};

/// Builds a streaming generateContent call. The key goes in `x-goog-api-key`, never in the URL.
pub fn build_call(endpoint: &Endpoint<'_>, request: &LlmRequest) -> HttpCall {
    let mut body = Map::new();
    let text_part = |text: &str| json!({ "parts": [{ "text": text }] });
    match (&request.prompt, hole_prompt(request)) {
        (_, Some((system, user))) => {
            body.insert("systemInstruction".into(), text_part(&system));
            body.insert(
                "contents".into(),
                json!([{ "role": "user", "parts": [{ "text": user }] }]),
            );
        }
        (Prompt::Chat { system, messages }, None) => {
            if let Some(system) = system {
                body.insert("systemInstruction".into(), text_part(system));
            }
            let contents: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let role = match m.role {
                        Role::User => "user",
                        Role::Assistant => "model",
                    };
                    json!({ "role": role, "parts": [{ "text": m.content }] })
                })
                .collect();
            body.insert("contents".into(), Value::Array(contents));
        }
        (Prompt::Fim { .. }, None) => {}
    }
    let mut config = Map::new();
    config.insert("maxOutputTokens".into(), json!(request.max_tokens));
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    body.insert("generationConfig".into(), Value::Object(config));
    let path = format!("models/{}:streamGenerateContent?alt=sse", endpoint.model);
    HttpCall::post(url(endpoint.base_url, &path), Value::Object(body))
        .secret_header("x-goog-api-key", endpoint.api_key)
}

/// Reads GenerateContentResponse chunks.
pub struct Decoder {
    provider: String,
    outcome: Outcome,
}

impl Decoder {
    /// A decoder for one answer from `provider`.
    pub fn new(provider: String) -> Self {
        Self {
            provider,
            outcome: Outcome::default(),
        }
    }
}

impl FrameDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        let json = parse_frame(&self.provider, frame)?;
        if json.get("error").is_some() {
            let details = error_details(&json);
            let status = u64_at(&json, "/error/code")
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            return Err(super::classify(
                &self.provider,
                status,
                details
                    .message
                    .as_deref()
                    .unwrap_or("error inside the stream"),
                details.code.as_deref(),
                details.retry_after,
            ));
        }
        if let Some(model) = str_at(&json, "/modelVersion") {
            self.outcome.model = Some(model.to_owned());
        }
        if let Some(candidate) = json.pointer("/candidates/0") {
            for part in candidate
                .pointer("/content/parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                // Thought summaries are not part of the answer.
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                if let Some(text) = part
                    .get("text")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    deltas.push(text.to_owned());
                }
            }
            let reason = match candidate.get("finishReason") {
                Some(Value::String(name)) => Some(FinishReason::from_provider(name)),
                // Older gRPC-transcoded answers give the enum's number.
                Some(Value::Number(number)) => Some(match number.as_u64() {
                    Some(1) => FinishReason::Stop,
                    Some(2) => FinishReason::Length,
                    Some(3 | 4) => FinishReason::ContentFilter,
                    _ => FinishReason::Other(number.to_string()),
                }),
                _ => None,
            };
            if let Some(reason) = reason {
                self.outcome.finish_reason = Some(reason);
                self.outcome.complete = true;
            }
        }
        if let Some(usage) = json.get("usageMetadata") {
            self.outcome.input_tokens =
                u64_at(usage, "/promptTokenCount").or(self.outcome.input_tokens);
            // Thinking tokens are billed as output.
            let candidates = u64_at(usage, "/candidatesTokenCount");
            let thoughts = u64_at(usage, "/thoughtsTokenCount");
            if candidates.is_some() || thoughts.is_some() {
                self.outcome.output_tokens = Some(candidates.unwrap_or(0) + thoughts.unwrap_or(0));
            }
        }
        Ok(())
    }

    fn outcome(&self) -> Outcome {
        self.outcome.clone()
    }
}

/// Reads `{"error": {"code", "message", "status", "details": [...]}}`, including the
/// `ErrorInfo.reason` (API_KEY_INVALID is an auth error despite its 400) and
/// `RetryInfo.retryDelay`.
pub fn error_details(json: &Value) -> ErrorDetails {
    let mut details = ErrorDetails {
        message: str_at(json, "/error/message").map(str::to_owned),
        code: str_at(json, "/error/status").map(str::to_owned),
        retry_after: None,
    };
    for detail in json
        .pointer("/error/details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = detail.get("@type").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("google.rpc.RetryInfo") {
            details.retry_after = str_at(detail, "/retryDelay").and_then(parse_proto_duration);
        }
        if kind.ends_with("google.rpc.ErrorInfo") {
            if let Some(reason) = str_at(detail, "/reason") {
                details.code = Some(reason.to_owned());
            }
        }
    }
    details
}
