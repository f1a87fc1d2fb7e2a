//! Incremental parsers that cut a response body into frames, whatever the chunk boundaries:
//! Server-Sent Events, newline-delimited JSON, and JSON arrays or plain JSON bodies.

pub mod json_values;
pub mod ndjson;
pub mod sse;

/// One unit of a response body: an SSE event, an NDJSON line, or one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The SSE event name when the stream gave one (`event:` field); `None` otherwise.
    pub event: Option<String>,
    /// The payload: the SSE data (lines joined by `\n`) or the JSON text.
    pub data: String,
}

/// How a body is framed, chosen from the response's content type.
#[derive(Debug, Clone)]
pub enum Framer {
    /// `text/event-stream`.
    Sse(sse::SseParser),
    /// `application/x-ndjson`.
    Ndjson(ndjson::NdjsonParser),
    /// Anything else: a JSON value, several, or a JSON array of values (Gemini without SSE).
    Json(json_values::JsonValuesParser),
}

impl Framer {
    /// Picks the framing for a response `Content-Type`.
    pub fn for_content_type(content_type: &str) -> Self {
        let content_type = content_type.to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            Self::Sse(sse::SseParser::default())
        } else if content_type.contains("ndjson") || content_type.contains("jsonl") {
            Self::Ndjson(ndjson::NdjsonParser::default())
        } else {
            Self::Json(json_values::JsonValuesParser::default())
        }
    }

    /// Feeds the next chunk of the body, appending every frame it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
        match self {
            Self::Sse(parser) => {
                parser.feed(chunk, out);
                Ok(())
            }
            Self::Ndjson(parser) => {
                parser.feed(chunk, out);
                Ok(())
            }
            Self::Json(parser) => parser.feed(chunk, out),
        }
    }

    /// Ends the body, appending a last frame if the format allows one without a terminator.
    /// Returns true when bytes of an incomplete frame were left over (a cut stream).
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> bool {
        match self {
            Self::Sse(parser) => parser.finish(),
            Self::Ndjson(parser) => parser.finish(out),
            Self::Json(parser) => parser.finish(),
        }
    }
}

/// Decodes a complete frame's bytes, replacing invalid UTF-8 rather than failing: a provider
/// that sends a bad byte should cost one odd character, not the whole answer.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
