//! Ollama's native API: `/api/chat` and `/api/generate` (with `suffix` for fill-in-the-middle, or
//! `raw` with a rendered template), both streamed as NDJSON; `keep_alive`; `/api/tags`.

use serde_json::{json, Map, Value};

use super::{
    chat_messages, parse_frame, str_at, u64_at, url, Endpoint, ErrorDetails, FrameDecoder,
    HttpCall, Outcome,
};
use crate::error::LlmError;
use crate::fim::{self, FimPlan};
use crate::framing::Frame;
use crate::types::{FinishReason, LlmRequest, Prompt};

/// Builds a streaming `/api/chat` or `/api/generate` call.
pub fn build_call(endpoint: &Endpoint<'_>, request: &LlmRequest) -> HttpCall {
    let mut body = Map::new();
    body.insert("model".into(), json!(endpoint.model));
    body.insert("stream".into(), json!(true));
    // Ollama takes a duration string or a number of seconds. Its default (5 minutes) unloads
    // the model during a pause in typing, and the next completion pays for loading it again.
    let keep_alive = endpoint.config.keep_alive.as_deref().unwrap_or("30m");
    let value = keep_alive
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(keep_alive));
    body.insert("keep_alive".into(), value);
    let mut options = Map::new();
    options.insert("num_predict".into(), json!(request.max_tokens));
    if let Some(temperature) = request.temperature {
        options.insert("temperature".into(), json!(temperature));
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
            "api/generate"
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
            body.insert("raw".into(), json!(true));
            stop.extend(template.stop.iter().cloned());
            "api/generate"
        }
        _ => {
            let messages = chat_messages(request);
            body.insert("messages".into(), Value::Array(messages));
            "api/chat"
        }
    };
    if !stop.is_empty() {
        options.insert("stop".into(), json!(stop));
    }
    body.insert("options".into(), Value::Object(options));
    HttpCall::post(url(endpoint.base_url, path), Value::Object(body)).secret_header(
        "authorization",
        endpoint.api_key.map(|k| format!("Bearer {k}")).as_deref(),
    )
}

/// Reads `/api/chat` and `/api/generate` lines.
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
        if let Some(message) = json.get("error").and_then(Value::as_str) {
            return Err(super::classify(&self.provider, 500, message, None, None));
        }
        if let Some(model) = str_at(&json, "/model") {
            self.outcome.model = Some(model.to_owned());
        }
        let text = str_at(&json, "/message/content").or_else(|| str_at(&json, "/response"));
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            deltas.push(text.to_owned());
        }
        if json.get("done").and_then(Value::as_bool) == Some(true) {
            self.outcome.complete = true;
            let reason = str_at(&json, "/done_reason").unwrap_or("stop");
            self.outcome.finish_reason = Some(FinishReason::from_provider(reason));
            self.outcome.input_tokens = u64_at(&json, "/prompt_eval_count");
            self.outcome.output_tokens = u64_at(&json, "/eval_count");
            // Durations in nanoseconds; a prompt Ollama had cached is not counted in
            // `prompt_eval_count`.
            let millis = |pointer| u64_at(&json, pointer).map(|ns| ns as f64 / 1e6);
            if let (Some(prompt_ms), Some(generation_ms)) =
                (millis("/prompt_eval_duration"), millis("/eval_duration"))
            {
                self.outcome.timings = Some(crate::types::Timings {
                    prompt_tokens: self.outcome.input_tokens.unwrap_or(0),
                    cached_tokens: 0,
                    prompt_ms,
                    generated_tokens: self.outcome.output_tokens.unwrap_or(0),
                    generation_ms,
                });
            }
        }
        Ok(())
    }

    fn outcome(&self) -> Outcome {
        self.outcome.clone()
    }
}

/// Reads `{"error": "..."}`; a missing model gets a hint to pull it.
pub fn error_details(json: &Value) -> ErrorDetails {
    let message = json.get("error").and_then(Value::as_str).map(|message| {
        if message.contains("not found") && message.contains("model") {
            format!("{message} (run `ollama pull <model>`)")
        } else {
            message.to_owned()
        }
    });
    ErrorDetails {
        message,
        code: None,
        retry_after: None,
    }
}
