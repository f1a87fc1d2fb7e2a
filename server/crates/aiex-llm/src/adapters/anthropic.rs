//! Anthropic Messages: `POST /v1/messages` streamed as typed SSE events (message_start ...
//! message_stop), including `event: error` inside a 200 stream.

use serde_json::{json, Map, Value};

use super::{
    hole_prompt, parse_frame, str_at, u64_at, url, Endpoint, ErrorDetails, FrameDecoder, HttpCall,
    Outcome,
};
use crate::error::LlmError;
use crate::framing::Frame;
use crate::types::{FinishReason, LlmRequest, Prompt, Role};

/// The `anthropic-version` header Aiex speaks.
pub const API_VERSION: &str = "2023-06-01";

/// Builds a streaming Messages call. Fill-in-the-middle becomes a "fill the hole" chat.
pub fn build_call(endpoint: &Endpoint<'_>, request: &LlmRequest) -> HttpCall {
    let mut body = Map::new();
    body.insert("model".into(), json!(endpoint.model));
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    match (&request.prompt, hole_prompt(request)) {
        (_, Some((system, user))) => {
            body.insert("system".into(), json!(system));
            body.insert(
                "messages".into(),
                json!([{ "role": "user", "content": user }]),
            );
        }
        (Prompt::Chat { system, messages }, None) => {
            if let Some(system) = system {
                body.insert("system".into(), json!(system));
            }
            let messages: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let role = match m.role {
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    json!({ "role": role, "content": m.content })
                })
                .collect();
            body.insert("messages".into(), Value::Array(messages));
        }
        (Prompt::Fim { .. }, None) => {}
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    // Anthropic rejects stop sequences made only of whitespace.
    let stop: Vec<&String> = request
        .stop
        .iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !stop.is_empty() {
        body.insert("stop_sequences".into(), json!(stop));
    }
    HttpCall::post(url(endpoint.base_url, "messages"), Value::Object(body))
        .secret_header("x-api-key", endpoint.api_key)
        .header("anthropic-version", API_VERSION)
}

/// Reads Messages stream events, or a whole non-streaming message.
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

    fn usage(&mut self, usage: &Value) {
        self.outcome.input_tokens = u64_at(usage, "/input_tokens").or(self.outcome.input_tokens);
        self.outcome.output_tokens = u64_at(usage, "/output_tokens").or(self.outcome.output_tokens);
    }
}

impl FrameDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, deltas: &mut Vec<String>) -> Result<(), LlmError> {
        let json = parse_frame(&self.provider, frame)?;
        let kind = json
            .get("type")
            .and_then(Value::as_str)
            .or(frame.event.as_deref())
            .unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(model) = str_at(&json, "/message/model") {
                    self.outcome.model = Some(model.to_owned());
                }
                if let Some(usage) = json.pointer("/message/usage") {
                    self.usage(usage);
                }
            }
            "content_block_start" => {
                if let Some(text) = str_at(&json, "/content_block/text").filter(|t| !t.is_empty()) {
                    deltas.push(text.to_owned());
                }
            }
            "content_block_delta" => {
                if let Some(text) = str_at(&json, "/delta/text").filter(|t| !t.is_empty()) {
                    deltas.push(text.to_owned());
                }
            }
            "message_delta" => {
                if let Some(reason) = str_at(&json, "/delta/stop_reason") {
                    self.outcome.finish_reason = Some(FinishReason::from_provider(reason));
                }
                if let Some(usage) = json.get("usage") {
                    self.usage(usage);
                }
            }
            "message_stop" => self.outcome.complete = true,
            "message" => {
                // A non-streaming answer.
                self.outcome.model = str_at(&json, "/model").map(str::to_owned);
                for block in json
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(text) = block
                        .get("text")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                    {
                        deltas.push(text.to_owned());
                    }
                }
                if let Some(reason) = str_at(&json, "/stop_reason") {
                    self.outcome.finish_reason = Some(FinishReason::from_provider(reason));
                }
                if let Some(usage) = json.get("usage") {
                    self.usage(usage);
                }
                self.outcome.complete = true;
            }
            "error" => {
                let details = error_details(&json);
                let status = if details.code.as_deref() == Some("overloaded_error") {
                    529
                } else {
                    500
                };
                return Err(super::classify(
                    &self.provider,
                    status,
                    details
                        .message
                        .as_deref()
                        .unwrap_or("error event in the stream"),
                    details.code.as_deref(),
                    None,
                ));
            }
            // ping, content_block_stop, and event types added after this was written.
            _ => {}
        }
        Ok(())
    }

    fn outcome(&self) -> Outcome {
        self.outcome.clone()
    }
}

/// Reads `{"type":"error","error":{"type","message"}}`.
pub fn error_details(json: &Value) -> ErrorDetails {
    ErrorDetails {
        message: str_at(json, "/error/message").map(str::to_owned),
        code: str_at(json, "/error/type").map(str::to_owned),
        retry_after: None,
    }
}
