//! A guard around stdio that keeps malformed input from killing the server.
//!
//! tower-lsp-server's reader stops for good at the first message it cannot decode (a framing
//! error ends tokio-util's `FramedRead`), which would take the whole server down on one bad
//! byte. So Aiex frames stdin itself: well-formed JSON-RPC messages are passed on to
//! tower-lsp-server unchanged; anything else is answered here with the JSON-RPC error it
//! deserves (-32700 parse error, -32600 invalid request) and skipped. Responses from both
//! sources reach stdout whole, one frame at a time.

use serde_json::{json, Value};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

/// The largest message accepted: 64 MiB. What a real client sends that is largest is a whole
/// document in `didOpen`/`didChange`; the server has syntax features up to 320 KiB and keeps
/// larger files as plain text, so the bound only has to carry any file a user edits. JSON
/// escapes a byte into at most 6 (`\u0001`), 2 for the common `\n`, `\"`, `\\`: an 8 MiB file
/// of any content fits (6 × 8 MiB = 48 MiB, with room for the envelope), and so does 50 MB of
/// ordinary text. A larger body is refused and skipped in [`SKIP_CHUNK_BYTES`] pieces, never
/// allocated: the server holds at most about 3 copies of a message while decoding it (the
/// body, the guard's check, tower-lsp-server's decode), so this bounds a message at ~200 MB.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The piece size in which a refused body is read and dropped.
const SKIP_CHUNK_BYTES: usize = 64 * 1024;
/// The longest header line accepted.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// Buffer of the in-process pipes to and from tower-lsp-server. A larger message passes in
/// pieces; a pipe keeps the most it ever held for the life of the server (1 MiB pipes held
/// 2.3 MB after an edit storm).
const PIPE_BYTES: usize = 64 * 1024;

/// The server's side of the guarded transport.
pub struct GuardedStdio {
    /// What tower-lsp-server reads: only well-formed messages.
    pub input: DuplexStream,
    /// What tower-lsp-server writes: framed into stdout by the writer task.
    pub output: DuplexStream,
    /// The task writing stdout; await it to flush the last responses before exiting.
    pub writer: JoinHandle<()>,
}

/// Puts the guard between `stdin`/`stdout` and the server.
pub fn guard<R, W>(stdin: R, stdout: W) -> GuardedStdio
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (server_input, mut to_server) = tokio::io::duplex(PIPE_BYTES);
    let (server_output, from_server) = tokio::io::duplex(PIPE_BYTES);
    let (frames, mut frames_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (error_frames, mut error_frames_rx) = mpsc::unbounded_channel::<Vec<u8>>();

    tokio::spawn(async move {
        let mut reader = BufReader::new(stdin);
        loop {
            match read_frame(&mut reader).await {
                Ok(Some(body)) => match check_message(&body) {
                    Ok(()) => {
                        if to_server.write_all(&frame(&body)).await.is_err() {
                            break;
                        }
                    }
                    Err(response) => {
                        let _ = error_frames.send(frame(response.to_string().as_bytes()));
                    }
                },
                Ok(None) => break,
                Err(FrameError::Io(error)) => {
                    warn!("reading stdin failed: {error}");
                    break;
                }
                Err(FrameError::Header(reason)) => {
                    warn!("malformed message header: {reason}");
                    let response =
                        error_response(Value::Null, -32700, &format!("Parse error: {reason}"));
                    let _ = error_frames.send(frame(response.to_string().as_bytes()));
                }
            }
        }
        // Dropping `to_server` tells tower-lsp-server the client is gone.
    });

    tokio::spawn(async move {
        let mut reader = BufReader::new(from_server);
        while let Ok(Some(body)) = read_frame(&mut reader).await {
            if frames.send(frame(&body)).is_err() {
                break;
            }
        }
    });

    // Ends when tower-lsp-server closes its output (after `exit`), even though the stdin
    // reader, blocked in a read, still holds the error channel.
    let writer = tokio::spawn(async move {
        let mut stdout = stdout;
        loop {
            let bytes = tokio::select! {
                biased;
                server_frame = frames_rx.recv() => match server_frame {
                    Some(bytes) => bytes,
                    None => break,
                },
                Some(bytes) = error_frames_rx.recv() => bytes,
            };
            if stdout.write_all(&bytes).await.is_err() || stdout.flush().await.is_err() {
                return;
            }
        }
        while let Ok(bytes) = error_frames_rx.try_recv() {
            if stdout.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = stdout.flush().await;
    });

    GuardedStdio {
        input: server_input,
        output: server_output,
        writer,
    }
}

#[derive(Debug)]
enum FrameError {
    Io(std::io::Error),
    Header(String),
}

/// Reads one `Content-Length`-framed body. `Ok(None)` at a clean end of input.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut content_length: Option<usize> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        let read = (&mut *reader)
            .take(MAX_HEADER_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(FrameError::Io)?;
        if read == 0 {
            return if saw_header {
                Err(FrameError::Header(
                    "the input ended inside a header".to_owned(),
                ))
            } else {
                Ok(None)
            };
        }
        if !line.ends_with(b"\n") && line.len() >= MAX_HEADER_LINE {
            return Err(FrameError::Header("a header line is too long".to_owned()));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !saw_header {
                // Blank lines between messages are tolerated.
                continue;
            }
            break;
        }
        saw_header = true;
        // Garbage left before a header (the tail of a broken message) is skipped.
        let text = match text.find("Content-Length") {
            Some(start) if start > 0 => &text[start..],
            _ => text,
        };
        let Some((name, value)) = text.split_once(':') else {
            return Err(FrameError::Header(format!(
                "`{}` is not a header",
                truncate(text)
            )));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let length = value.trim().parse::<usize>().map_err(|_| {
                FrameError::Header(format!("bad Content-Length `{}`", truncate(value.trim())))
            })?;
            content_length = Some(length);
        }
    }
    let length =
        content_length.ok_or_else(|| FrameError::Header("no Content-Length header".to_owned()))?;
    if length > MAX_MESSAGE_BYTES {
        // Skipped rather than left in the stream, where its bytes would be read as headers.
        skip_body(reader, length).await?;
        return Err(FrameError::Header(format!(
            "a {length}-byte message is over the {MAX_MESSAGE_BYTES}-byte limit"
        )));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.map_err(FrameError::Io)?;
    Ok(Some(body))
}

/// Reads and drops `length` bytes in bounded pieces.
async fn skip_body<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    length: usize,
) -> Result<(), FrameError> {
    let mut left = length;
    let mut piece = vec![0; SKIP_CHUNK_BYTES];
    while left > 0 {
        let want = left.min(SKIP_CHUNK_BYTES);
        let read = reader
            .read(&mut piece[..want])
            .await
            .map_err(FrameError::Io)?;
        if read == 0 {
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        left -= read;
    }
    Ok(())
}

fn truncate(text: &str) -> String {
    text.chars().take(60).collect()
}

/// The longest `workspace/symbol` query answered: a fuzzy match costs query × name, so a
/// megabyte query would hold a handler for minutes.
const MAX_SYMBOL_QUERY_CHARS: usize = 1024;
/// The longest string accepted in a request's parameters (document text travels in
/// notifications, which this does not bound).
const MAX_REQUEST_STRING_BYTES: usize = 1024 * 1024;

/// Client-to-server notifications: sent with an id, tower-lsp-server would run them and never
/// answer (and `exit` would end the server).
const NOTIFICATIONS: &[&str] = &[
    "exit",
    "initialized",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "textDocument/willSave",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWatchedFiles",
    "workspace/didChangeWorkspaceFolders",
    "workspace/didCreateFiles",
    "workspace/didRenameFiles",
    "workspace/didDeleteFiles",
    "window/workDoneProgress/cancel",
    "notebookDocument/didOpen",
    "notebookDocument/didChange",
    "notebookDocument/didSave",
    "notebookDocument/didClose",
];

/// Requests that change the server's lifecycle: sent without an id (as notifications),
/// `shutdown` would stop the server answering anything, unasked.
const LIFECYCLE_REQUESTS: &[&str] = &["initialize", "shutdown"];

/// Requests whose arrival is logged under `SERVER_TIME_LOG`: the start of their server time.
const COMPLETION_REQUESTS: &[&str] = &["textDocument/completion", "textDocument/inlineCompletion"];

/// Checks that a body is a JSON-RPC 2.0 message tower-lsp-server can decode and that the
/// server can answer in bounded time; if not, the error response to send instead.
fn check_message(body: &[u8]) -> Result<(), Value> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| error_response(Value::Null, -32700, &format!("Parse error: {error}")))?;
    let Value::Object(message) = &value else {
        return Err(error_response(
            Value::Null,
            -32600,
            "Invalid request: a message must be a JSON object (batches are not part of LSP)",
        ));
    };
    let duplicate = duplicate_top_level_key(body);
    let id = message.get("id").cloned();
    let id_ok = match &id {
        None | Some(Value::Null) | Some(Value::String(_)) => true,
        Some(Value::Number(number)) => number.is_i64(),
        Some(_) => false,
    };
    // A duplicated id is ambiguous: the answer goes to none of them.
    let reply_id = if id_ok && duplicate.as_deref() != Some("id") {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let invalid = |reason: &str| {
        error_response(
            reply_id.clone(),
            -32600,
            &format!("Invalid request: {reason}"),
        )
    };
    // serde_json keeps the last of duplicate keys but tower-lsp-server's decoder refuses them
    // and stops reading for good: they are refused here.
    if let Some(key) = duplicate {
        return Err(invalid(&format!(
            "the key `{}` appears twice",
            truncate(&key)
        )));
    }
    if message.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    if !id_ok {
        return Err(invalid("`id` must be an integer, a string or null"));
    }
    match message.get("method") {
        Some(Value::String(method)) => {
            match message.get("params") {
                None | Some(Value::Object(_)) | Some(Value::Array(_)) | Some(Value::Null) => {}
                Some(_) => {
                    return Err(error_response(
                        reply_id.clone(),
                        -32602,
                        "Invalid params: `params` must be an object or an array",
                    ))
                }
            }
            match id {
                Some(_) => {
                    if COMPLETION_REQUESTS.contains(&method.as_str()) {
                        // Where a completion's server time starts (benchmark `typing_burst`).
                        tracing::debug!(
                            target: crate::llm::types::SERVER_TIME_LOG,
                            method = method.as_str(),
                            "completion request read"
                        );
                    }
                    check_request(method, message.get("params"), &reply_id)
                }
                None if LIFECYCLE_REQUESTS.contains(&method.as_str()) => Err(invalid(&format!(
                    "`{method}` is a request: send it with an id"
                ))),
                None => Ok(()),
            }
        }
        Some(_) => Err(invalid("`method` must be a string")),
        None if id.is_some()
            && (message.contains_key("result") || message.contains_key("error")) =>
        {
            Ok(())
        }
        None => Err(invalid("neither a request, a notification nor a response")),
    }
}

/// What a request (a message with a method and an id) must satisfy beyond its shape.
fn check_request(method: &str, params: Option<&Value>, id: &Value) -> Result<(), Value> {
    if NOTIFICATIONS.contains(&method) {
        return Err(error_response(
            id.clone(),
            -32600,
            &format!("Invalid request: `{method}` is a notification: send it without an id"),
        ));
    }
    if method.starts_with("$/") {
        // tower-lsp-server drops unknown `$/` requests without an answer; the client would
        // wait forever.
        return Err(error_response(
            id.clone(),
            -32601,
            &format!("Method not found: `{}` is not supported", truncate(method)),
        ));
    }
    let Some(params) = params else {
        return Ok(());
    };
    if method == "workspace/symbol" {
        if let Some(query) = params.get("query").and_then(Value::as_str) {
            let chars = query.chars().count();
            if chars > MAX_SYMBOL_QUERY_CHARS {
                return Err(error_response(
                    id.clone(),
                    -32602,
                    &format!(
                        "Invalid params: the symbol query is {chars} characters long; at most \
                         {MAX_SYMBOL_QUERY_CHARS} are searched"
                    ),
                ));
            }
        }
    }
    if let Some(bytes) = longest_string(params).filter(|&b| b > MAX_REQUEST_STRING_BYTES) {
        return Err(error_response(
            id.clone(),
            -32602,
            &format!(
                "Invalid params: a {bytes}-byte string is over the {MAX_REQUEST_STRING_BYTES}-byte \
                 limit of request parameters"
            ),
        ));
    }
    Ok(())
}

/// The length of the longest string in a JSON value (iteratively: no recursion on depth).
fn longest_string(value: &Value) -> Option<usize> {
    let mut longest = None;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) => longest = longest.max(Some(s.len())),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (key, item) in map {
                    longest = longest.max(Some(key.len()));
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    longest
}

/// The first key that appears twice at the top level of a JSON object, if any.
fn duplicate_top_level_key(body: &[u8]) -> Option<String> {
    struct Keys(Option<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(KeysVisitor)
        }
    }
    struct KeysVisitor;
    impl<'de> serde::de::Visitor<'de> for KeysVisitor {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut duplicate = None;
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                if duplicate.is_none() && !seen.insert(key.clone()) {
                    duplicate = Some(key);
                }
            }
            Ok(Keys(duplicate))
        }
    }
    serde_json::from_slice::<Keys>(body).ok()?.0
}

fn error_response(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames_of(input: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        let mut reader = BufReader::new(input);
        let mut out = Vec::new();
        loop {
            match read_frame(&mut reader).await {
                Ok(Some(body)) => out.push(Ok(body)),
                Ok(None) => return out,
                Err(FrameError::Header(reason)) => out.push(Err(reason)),
                Err(FrameError::Io(error)) => {
                    out.push(Err(error.to_string()));
                    return out;
                }
            }
        }
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_skipped_and_the_next_message_read() {
        let length = MAX_MESSAGE_BYTES + 1;
        let mut input = format!("Content-Length: {length}\r\n\r\n").into_bytes();
        input.resize(input.len() + length, b'x');
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        let frames = frames_of(&input).await;
        assert_eq!(frames.len(), 2, "one refusal, then the next message");
        assert!(
            frames[0].as_ref().is_err_and(|e| e.contains("over the")),
            "{:?}",
            frames[0].as_ref().err()
        );
        assert_eq!(frames[1], Ok(b"{}".to_vec()));
    }

    #[tokio::test]
    async fn a_claimed_huge_length_is_never_allocated() {
        // 2^60 bytes announced, none sent: refused at the end of input, not by a failed
        // allocation.
        let input = b"Content-Length: 1152921504606846976\r\n\r\nabc";
        let frames = frames_of(input).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert!(frames[0].is_err());
    }

    #[tokio::test]
    async fn frames_survive_garbage_and_resynchronise() {
        let input = b"Content-Length: 2\r\n\r\n{}Content-Lenght: 2\r\n\r\n{}Content-Length: 4\r\ncontent-type: x\r\n\r\nnull";
        let frames = frames_of(input).await;
        assert_eq!(frames.len(), 3, "{frames:?}");
        assert_eq!(frames[0], Ok(b"{}".to_vec()));
        assert_eq!(frames[1], Err("no Content-Length header".to_owned()));
        assert_eq!(frames[2], Ok(b"null".to_vec()));
    }

    #[test]
    fn messages_tower_lsp_cannot_decode_get_the_right_errors() {
        let code = |body: &str| {
            check_message(body.as_bytes())
                .err()
                .map(|e| e["error"]["code"].clone())
        };
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{}}"#),
            None
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","method":"x"}"#), None);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":"a","result":null}"#), None);
        assert_eq!(code("{not json"), Some(json!(-32700)));
        assert_eq!(
            code(r#"[{"jsonrpc":"2.0","method":"x"}]"#),
            Some(json!(-32600))
        );
        assert_eq!(code(r#"{"jsonrpc":1}"#), Some(json!(-32600)));
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#),
            Some(json!(-32600))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":7,"method":"x","params":3}"#),
            Some(json!(-32602))
        );
        let reply = check_message(br#"{"jsonrpc":"2.0","id":7,"method":5}"#).expect_err("invalid");
        assert_eq!(reply["id"], 7, "the id is echoed when it is usable");
    }
}

#[cfg(test)]
mod hostile_message_tests {
    use super::*;
    use proptest::prelude::*;

    fn error_of(body: &str) -> Option<(Value, i64)> {
        check_message(body.as_bytes())
            .err()
            .map(|e| (e["id"].clone(), e["error"]["code"].as_i64().unwrap_or(0)))
    }

    #[test]
    fn duplicate_top_level_keys_are_refused_with_invalid_request() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#,
            r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{},"params":{}}"#,
        ] {
            assert_eq!(error_of(body), Some((json!(1), -32600)), "{body}");
        }
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}"#),
            Some((Value::Null, -32600)),
            "a duplicated id is answered with a null id"
        );
        // Nested duplicates are the handler's business (tower-lsp-server answers -32602).
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1,"x":2}}"#),
            None
        );
    }

    #[test]
    fn lifecycle_messages_of_the_wrong_kind_are_answered_not_obeyed() {
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","id":3,"method":"exit"}"#),
            Some((json!(3), -32600))
        );
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","id":"x","method":"textDocument/didOpen","params":{}}"#),
            Some((json!("x"), -32600))
        );
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","method":"shutdown"}"#),
            Some((Value::Null, -32600))
        );
        assert_eq!(error_of(r#"{"jsonrpc":"2.0","method":"exit"}"#), None);
    }

    #[test]
    fn dollar_requests_with_an_id_get_method_not_found_and_notifications_pass() {
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","id":4,"method":"$/unknown","params":{}}"#),
            Some((json!(4), -32601))
        );
        assert_eq!(
            error_of(r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#),
            None
        );
    }

    #[test]
    fn oversized_request_parameters_are_refused_at_once() {
        let query = "a".repeat(1024 * 1024);
        let body =
            json!({"jsonrpc":"2.0","id":5,"method":"workspace/symbol","params":{"query":query}});
        assert_eq!(error_of(&body.to_string()), Some((json!(5), -32602)));
        let fine =
            json!({"jsonrpc":"2.0","id":5,"method":"workspace/symbol","params":{"query":"Repo"}});
        assert_eq!(error_of(&fine.to_string()), None);
        let big = "b".repeat(2 * 1024 * 1024);
        let hover = json!({"jsonrpc":"2.0","id":6,"method":"textDocument/hover","params":{"textDocument":{"uri":big}}});
        assert_eq!(error_of(&hover.to_string()), Some((json!(6), -32602)));
        // Document text travels in notifications, which are not bounded here.
        let open = json!({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"text":big}});
        assert_eq!(error_of(&open.to_string()), None);
    }

    /// Pieces hostile messages are made of: every key the decoders look at, with values of
    /// every type, duplicated at will.
    fn hostile_message() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("jsonrpc"),
            Just("id"),
            Just("method"),
            Just("params"),
            Just("result"),
            Just("error"),
            Just("other"),
        ];
        let value = prop_oneof![
            Just("\"2.0\"".to_owned()),
            Just("\"1.0\"".to_owned()),
            Just("null".to_owned()),
            Just("1".to_owned()),
            Just("-1".to_owned()),
            Just("1.5".to_owned()),
            Just("1e3".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("true".to_owned()),
            Just("\"exit\"".to_owned()),
            Just("\"$/x\"".to_owned()),
            Just("\"shutdown\"".to_owned()),
            Just("\"textDocument/hover\"".to_owned()),
            Just("{}".to_owned()),
            Just("[]".to_owned()),
            Just("{\"code\":1,\"message\":\"m\"}".to_owned()),
            Just("{\"code\":\"x\"}".to_owned()),
            "[a-z0-9\"{}\\[\\]:,]{0,12}",
        ];
        proptest::collection::vec((key, value), 0..7).prop_map(|pairs| {
            let body = pairs
                .iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect::<Vec<_>>()
                .join(",");
            format!("{{{body}}}")
        })
    }

    /// What tower-lsp-server's reader does with a body: decode it as a response or a request.
    fn tower_lsp_decodes(body: &[u8]) -> bool {
        serde_json::from_slice::<tower_lsp_server::jsonrpc::Response>(body).is_ok()
            || serde_json::from_slice::<tower_lsp_server::jsonrpc::Request>(body).is_ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        #[test]
        fn whatever_the_guard_passes_tower_lsp_decodes(body in hostile_message()) {
            if check_message(body.as_bytes()).is_ok() {
                prop_assert!(tower_lsp_decodes(body.as_bytes()), "passed but undecodable: {body}");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_guard(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = check_message(&body);
        }
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    #[tokio::test]
    async fn back_to_back_frames_all_reach_the_server() {
        let one = br#"{"jsonrpc":"2.0","method":"a","params":{}}"#;
        let two = br#"{"jsonrpc":"2.0","method":"b","params":{}}"#;
        let mut input = frame(one);
        input.extend(frame(two));
        let (mut client, server_stdin) = tokio::io::duplex(1024);
        let (server_stdout, _client_out) = tokio::io::duplex(1024);
        let stdio = guard(server_stdin, server_stdout);
        client.write_all(&input).await.expect("write");
        let mut reader = BufReader::new(stdio.input);
        let first = read_frame(&mut reader).await.expect("frame").expect("some");
        let second = read_frame(&mut reader).await.expect("frame").expect("some");
        assert_eq!((first.as_slice(), second.as_slice()), (&one[..], &two[..]));
    }
}

#[cfg(test)]
mod guard_pause_tests {
    use super::*;

    #[tokio::test]
    async fn frames_after_a_pause_reach_the_server() {
        let one = br#"{"jsonrpc":"2.0","method":"a","params":{}}"#;
        let two = br#"{"jsonrpc":"2.0","method":"b","params":{}}"#;
        let three = br#"{"jsonrpc":"2.0","method":"c","params":{}}"#;
        let (mut client, server_stdin) = tokio::io::duplex(1024);
        let (server_stdout, _client_out) = tokio::io::duplex(1024);
        let stdio = guard(server_stdin, server_stdout);
        client.write_all(&frame(one)).await.expect("write");
        let mut reader = BufReader::new(stdio.input);
        let first = read_frame(&mut reader).await.expect("frame").expect("some");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut rest = frame(two);
        rest.extend(frame(three));
        client.write_all(&rest).await.expect("write");
        let second = read_frame(&mut reader).await.expect("frame").expect("some");
        let third = read_frame(&mut reader).await.expect("frame").expect("some");
        assert_eq!(
            (first.as_slice(), second.as_slice(), third.as_slice()),
            (&one[..], &two[..], &three[..])
        );
    }
}
