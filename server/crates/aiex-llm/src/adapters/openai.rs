//! OpenAI Chat Completions and legacy Completions (with `suffix`), also spoken by
//! OpenAI-compatible servers and by Mistral (chat and Codestral's `/v1/fim/completions`).

use serde_json::{json, Map, Value};

use super::{
    chat_messages, f64_at, parse_frame, str_at, u64_at, url, Endpoint, ErrorDetails, FrameDecoder,
    HttpCall, Outcome, ProviderKind,
};
use crate::error::LlmError;
use crate::fim::{self, FimPlan};
use crate::framing::Frame;
use crate::types::{FinishReason, LlmRequest, Prompt};

/// Builds a chat, completions or Mistral FIM call.
pub fn build_call(
    kind: ProviderKind,
    endpoint: &Endpoint<'_>,
    request: &LlmRequest,
) -> Result<HttpCall, LlmError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(endpoint.model));
    body.insert("stream".into(), json!(true));
    if kind != ProviderKind::Mistral {
        // Mistral rejects unknown fields; it sends usage in its last chunk anyway.
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    // OpenAI's newer models refuse `max_tokens`; compatible servers mostly only know it.
    let max_tokens_field = if kind == ProviderKind::OpenAi {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if kind == ProviderKind::OpenAiCompatible && caches_prompt(endpoint) {
        body.insert("cache_prompt".into(), json!(true));
    }
    let mut stop = request.stop.clone();

    let path = match (&request.prompt, endpoint.fim) {
        (
            Prompt::Fim {
                prefix,
                suffix,
                repository,
            },
            FimPlan::Native,
        ) => {
            body.insert(
                "prompt".into(),
                json!(fim::prefix_with_comments(prefix, repository.as_ref())),
            );
            body.insert("suffix".into(), json!(suffix));
            body.insert("max_tokens".into(), json!(request.max_tokens));
            if kind == ProviderKind::Mistral {
                "fim/completions"
            } else {
                "completions"
            }
        }
        (
            Prompt::Fim {
                prefix,
                suffix,
                repository,
            },
            FimPlan::Template(template),
        ) => {
            body.insert(
                "prompt".into(),
                json!(fim::render_prompt(
                    template,
                    prefix,
                    suffix,
                    repository.as_ref()
                )),
            );
            body.insert("max_tokens".into(), json!(request.max_tokens));
            stop.extend(template.stop.iter().cloned());
            "completions"
        }
        (Prompt::Fim { .. }, FimPlan::Chat) | (Prompt::Chat { .. }, _) => {
            let messages = chat_messages(request);
            body.insert("messages".into(), Value::Array(messages));
            body.insert(max_tokens_field.into(), json!(request.max_tokens));
            "chat/completions"
        }
    };
    if !stop.is_empty() {
        if kind == ProviderKind::OpenAi {
            // OpenAI accepts at most 4 stop sequences; the caller's come first. Compatible
            // servers (llama.cpp, vLLM) take more, which template stops need.
            stop.truncate(4);
        }
        body.insert("stop".into(), json!(stop));
    }
    let auth = endpoint.api_key.map(|key| format!("Bearer {key}"));
    Ok(
        HttpCall::post(url(endpoint.base_url, path), Value::Object(body))
            .secret_header("authorization", auth.as_deref()),
    )
}

/// True when the request asks the server to reuse its cached prompt prefix: as configured, else
/// for servers on this machine (llama.cpp's, typically), whose prompt reading on a CPU is what
/// a completion waits for.
fn caches_prompt(endpoint: &Endpoint<'_>) -> bool {
    endpoint
        .config
        .cache_prompt
        .unwrap_or_else(|| crate::config::is_on_this_machine(endpoint.base_url))
}

/// Reads the chunks (or the single body) of a chat, completions or FIM answer.
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
        if frame.data.trim() == "[DONE]" {
            self.outcome.complete = true;
            return Ok(());
        }
        let json = parse_frame(&self.provider, frame)?;
        if json.get("error").is_some_and(|e| !e.is_null()) {
            // OpenRouter and others report failures inside a 200 stream this way.
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
                None,
            ));
        }
        if let Some(model) = json.get("model").and_then(Value::as_str) {
            self.outcome.model = Some(model.to_owned());
        }
        if let Some(choice) = json.pointer("/choices/0") {
            let text = str_at(choice, "/delta/content")
                .or_else(|| str_at(choice, "/message/content"))
                .or_else(|| str_at(choice, "/text"));
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                deltas.push(text.to_owned());
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.outcome.finish_reason = Some(FinishReason::from_provider(reason));
                // A non-streaming body is complete in itself; a stream still waits for [DONE]
                // and its usage chunk, but compatible servers that omit [DONE] are accepted.
                self.outcome.complete = true;
            }
        }
        if let Some(usage) = json.get("usage").filter(|u| u.is_object()) {
            self.outcome.input_tokens =
                u64_at(usage, "/prompt_tokens").or(self.outcome.input_tokens);
            self.outcome.output_tokens =
                u64_at(usage, "/completion_tokens").or(self.outcome.output_tokens);
        }
        if let Some(timings) = json.get("timings").filter(|t| t.is_object()) {
            // llama.cpp's server: `prompt_n` counts only the tokens read, `cache_n` the reused.
            self.outcome.timings = Some(crate::types::Timings {
                prompt_tokens: u64_at(timings, "/prompt_n").unwrap_or(0),
                cached_tokens: u64_at(timings, "/cache_n").unwrap_or(0),
                prompt_ms: f64_at(timings, "/prompt_ms").unwrap_or(0.0),
                generated_tokens: u64_at(timings, "/predicted_n").unwrap_or(0),
                generation_ms: f64_at(timings, "/predicted_ms").unwrap_or(0.0),
            });
        }
        Ok(())
    }

    fn outcome(&self) -> Outcome {
        self.outcome.clone()
    }
}

/// Reads OpenAI-style error bodies: `{"error": {"message", "type", "code"}}`, OpenRouter's
/// `metadata.raw`, and Mistral's `{"message", "type"}` or `{"detail": ...}`.
pub fn error_details(json: &Value) -> ErrorDetails {
    let error = json.get("error").unwrap_or(json);
    let mut message = match (error, error.get("message")) {
        (Value::String(text), _) | (_, Some(Value::String(text))) => Some(text.clone()),
        // Mistral nests its validation details in `message`.
        (_, Some(nested)) if !nested.is_null() => Some(nested.to_string()),
        _ => None,
    };
    if let Some(raw) = str_at(error, "/metadata/raw") {
        message = Some(match message {
            Some(outer) => format!("{outer}: {raw}"),
            None => raw.to_owned(),
        });
    }
    if message.is_none() {
        message = match json.get("detail") {
            Some(Value::String(text)) => Some(text.clone()),
            Some(detail @ Value::Array(_)) => Some(detail.to_string()),
            _ => None,
        };
    }
    let code = error
        .get("code")
        .and_then(|c| c.as_str().map(str::to_owned))
        .or_else(|| str_at(error, "/type").map(str::to_owned));
    ErrorDetails {
        message,
        code,
        retry_after: None,
    }
}
