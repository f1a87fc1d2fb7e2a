//! Loads the recorded provider responses of `fixtures/providers/` (Go httprr traces, Ruby VCR
//! cassettes, Vercel AI JSON bodies and SSE chunk lists) into status, headers and body bytes.

use std::path::PathBuf;

/// A recorded HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// HTTP status.
    pub status: u16,
    /// Headers, minus the hop-by-hop ones the fake server sets itself.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte (de-chunked when the trace kept the chunk framing).
    pub body: Vec<u8>,
}

impl Recording {
    /// A recording made up in a test (for faults no provider was recorded sending).
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The path of a fixture under `fixtures/providers/`.
pub fn fixture_path(relative: &str) -> PathBuf {
    // The tests run from the manifest of whichever crate registers them: find the repository.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .find(|dir| dir.join("fixtures/providers").is_dir())
        .unwrap_or(&manifest)
        .to_path_buf();
    root.join("fixtures/providers").join(relative)
}

/// Every fixture file of a provider directory, sorted.
pub fn fixtures_in(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_path(dir))
        .unwrap_or_else(|e| panic!("fixtures/providers/{dir}: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .map(|name| format!("{dir}/{name}"))
        .collect();
    names.sort();
    names
}

/// Loads a recording by its path under `fixtures/providers/`, whatever its format.
pub fn load(relative: &str) -> Recording {
    let path = fixture_path(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = relative.rsplit('/').next().unwrap_or(relative);
    if name.ends_with(".httprr") {
        from_httprr(&bytes).unwrap_or_else(|e| panic!("{relative}: {e}"))
    } else if name.ends_with(".yml") || name.ends_with(".yaml") {
        from_vcr(&bytes).unwrap_or_else(|e| panic!("{relative}: {e}"))
    } else if name.ends_with(".chunks.txt") {
        from_chunks(relative, &bytes)
    } else if name.ends_with(".json") {
        Recording::new(
            status_in_name(name).unwrap_or(200),
            "application/json",
            bytes,
        )
    } else {
        panic!("{relative}: unknown recording format")
    }
}

fn status_in_name(name: &str) -> Option<u16> {
    name.split(['_', '-', '.'])
        .filter_map(|part| part.parse::<u16>().ok())
        .find(|code| (400..600).contains(code))
}

fn keep_header(name: &str) -> bool {
    ![
        "content-length",
        "transfer-encoding",
        "connection",
        "content-encoding",
        "keep-alive",
    ]
    .iter()
    .any(|hop| name.eq_ignore_ascii_case(hop))
}

/// `httprr trace v1`, `<request-len> <response-len>`, the raw request, the raw response.
fn from_httprr(bytes: &[u8]) -> Result<Recording, String> {
    let rest = bytes
        .strip_prefix(b"httprr trace v1\n")
        .ok_or("not an httprr trace")?;
    let newline = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no length line")?;
    let lengths = std::str::from_utf8(&rest[..newline]).map_err(|e| e.to_string())?;
    let mut numbers = lengths.split_whitespace().map(|n| n.parse::<usize>());
    let request_len = numbers
        .next()
        .ok_or("no request length")?
        .map_err(|e| e.to_string())?;
    let response_len = numbers
        .next()
        .ok_or("no response length")?
        .map_err(|e| e.to_string())?;
    let rest = &rest[newline + 1..];
    let response = rest
        .get(request_len..request_len + response_len)
        .ok_or("lengths past the end")?;
    parse_raw_response(response)
}

fn parse_raw_response(raw: &[u8]) -> Result<Recording, String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let mut headers = Vec::new();
    let mut chunked = false;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header {line:?}"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        if keep_header(name) {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let body = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(Recording {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).ok_or("chunk past the end")?);
        body = body.get(size + 2..).ok_or("chunk without CRLF")?;
    }
}

/// A VCR cassette: the first interaction's response. ruby VCR keeps the raw body in
/// `body.string`; pydantic-ai's cassettes keep only a re-serialized `parsed_body`.
fn from_vcr(bytes: &[u8]) -> Result<Recording, String> {
    let doc: serde_yaml::Value = serde_yaml::from_slice(bytes).map_err(|e| e.to_string())?;
    let interactions = doc
        .get("http_interactions")
        .or_else(|| doc.get("interactions"))
        .and_then(|v| v.as_sequence())
        .ok_or("no interactions")?;
    let response = interactions
        .first()
        .and_then(|i| i.get("response"))
        .ok_or("no response")?;
    let status = response
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(|c| c.as_u64())
        .ok_or("no status code")? as u16;
    let mut headers = Vec::new();
    if let Some(map) = response.get("headers").and_then(|h| h.as_mapping()) {
        for (name, values) in map {
            let Some(name) = name.as_str() else { continue };
            if !keep_header(name) {
                continue;
            }
            for value in values.as_sequence().into_iter().flatten() {
                if let Some(value) = value.as_str() {
                    headers.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
    let string = response.get("body").and_then(|b| b.get("string"));
    // `!binary` bodies are base64, wrapped over several lines (checked first: `as_str` sees
    // through tags).
    let body = if let Some(serde_yaml::Value::Tagged(tagged)) = string {
        use base64::Engine;
        let encoded: String = tagged
            .value
            .as_str()
            .ok_or("binary body is not a string")?
            .split_whitespace()
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| e.to_string())?
    } else if let Some(text) = string.and_then(|s| s.as_str()) {
        text.as_bytes().to_vec()
    } else if let Some(parsed) = response.get("parsed_body") {
        let json: serde_json::Value =
            serde_yaml::from_value(parsed.clone()).map_err(|e| e.to_string())?;
        serde_json::to_vec(&json).map_err(|e| e.to_string())?
    } else {
        return Err("no body".into());
    };
    Ok(Recording {
        status,
        headers,
        body,
    })
}

/// Vercel AI's chunk lists keep one SSE `data:` payload per line and drop the framing; rebuild
/// it the way each provider frames its stream.
fn from_chunks(relative: &str, bytes: &[u8]) -> Recording {
    let text = String::from_utf8_lossy(bytes);
    let anthropic = relative.starts_with("anthropic/");
    let done_marker = relative.starts_with("openai") || relative.starts_with("mistral/");
    let mut body = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if anthropic {
            let event: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let name = event
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("message");
            body.push_str(&format!("event: {name}\n"));
        }
        body.push_str(&format!("data: {line}\n\n"));
    }
    if done_marker {
        body.push_str("data: [DONE]\n\n");
    }
    Recording::new(200, "text/event-stream", body)
}
