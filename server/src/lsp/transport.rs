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

/// The largest message accepted (a 50 MB file opened in full fits).
const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;
/// The longest header line accepted.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// Buffer of the in-process pipes to and from tower-lsp-server.
const PIPE_BYTES: usize = 1024 * 1024;

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
        return Err(FrameError::Header(format!(
            "a {length}-byte message is over the {MAX_MESSAGE_BYTES}-byte limit"
        )));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.map_err(FrameError::Io)?;
    Ok(Some(body))
}

fn truncate(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Checks that a body is a JSON-RPC 2.0 message tower-lsp-server can decode; if not, the
/// error response to send instead.
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
    let id = message.get("id").cloned();
    let id_ok = match &id {
        None | Some(Value::Null) | Some(Value::String(_)) => true,
        Some(Value::Number(number)) => number.is_i64(),
        Some(_) => false,
    };
    let reply_id = if id_ok {
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
    if message.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    if !id_ok {
        return Err(invalid("`id` must be an integer, a string or null"));
    }
    match message.get("method") {
        Some(Value::String(_)) => match message.get("params") {
            None | Some(Value::Object(_)) | Some(Value::Array(_)) | Some(Value::Null) => Ok(()),
            Some(_) => Err(error_response(
                reply_id.clone(),
                -32602,
                "Invalid params: `params` must be an object or an array",
            )),
        },
        Some(_) => Err(invalid("`method` must be a string")),
        None if id.is_some()
            && (message.contains_key("result") || message.contains_key("error")) =>
        {
            Ok(())
        }
        None => Err(invalid("neither a request, a notification nor a response")),
    }
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
