//! The real server against hostile protocol input: malformed lifecycle messages, duplicate
//! keys, `$/` requests, wrong types in every field, oversized parameters and bodies, then, for
//! a bounded time each (`AIEX_FUZZ_SECONDS`, default 5; CI runs 60), random JSON-RPC messages
//! built from real method names and arbitrary parameters, and arbitrary bytes (framed and not).
//! Every request with a usable id must be answered, and the server must answer a normal
//! request afterwards.

#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::time::{Duration, Instant};

use lsp_client::LspClient;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

const DOC: &str = "file:///tmp/fuzz/lib/a.ex";

fn started() -> LspClient {
    let mut client = LspClient::spawn(None);
    client.initialize(json!({}), json!({}), None);
    client.open(DOC, "defmodule A do\n  def f(x), do: x\nend\n");
    client
}

/// Sends a raw body with `id` and returns the answer to it.
fn answer_to(client: &mut LspClient, body: &str, id: Value) -> Value {
    let framed = format!("Content-Length: {}\r\n\r\n{}", body.len(), body);
    client.send_raw(framed.as_bytes());
    client.wait_for(|m| m.get("id") == Some(&id) && m.get("method").is_none())
}

/// The server still serves a normal request, on a document of its own (the fuzz may have
/// changed or closed the others).
fn still_alive(client: &mut LspClient) {
    static CHECKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let uri = format!("file:///tmp/fuzz/lib/alive_{n}.ex");
    client.open(&uri, "defmodule Alive do\n  def f(x), do: x\nend\n");
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(outline["result"][0]["name"], "Alive", "{outline}");
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": uri } }),
    );
}

#[test]
fn malformed_lifecycle_messages_duplicate_keys_and_dollar_requests_are_answered_and_survived() {
    let mut client = started();
    let cases = [
        (r#"{"jsonrpc":"2.0","id":101,"method":"exit"}"#, -32600),
        (
            r#"{"jsonrpc":"2.0","id":102,"method":"initialized","params":{}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":103,"method":"x","method":"y"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":104,"method":"shutdown"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":105,"method":"textDocument/hover","params":{},"params":{}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":106,"method":"$/anything","params":{}}"#,
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":107,"method":"textDocument/didClose","params":{"textDocument":{"uri":"file:///x.ex"}}}"#,
            -32600,
        ),
    ];
    for (body, code) in cases {
        let id: Value = serde_json::from_str::<Value>(body).expect("json")["id"].clone();
        let answer = answer_to(&mut client, body, id);
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        still_alive(&mut client);
    }
    // `shutdown` as a notification is refused (with a null id), not obeyed.
    client.send_raw(b"Content-Length: 36\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"shutdown\"}");
    still_alive(&mut client);
    assert!(client.shutdown().success());
}

#[test]
fn wrong_types_in_every_field_and_malformed_lifecycle_messages_are_answered_with_errors() {
    let mut client = started();
    let cases = [
        // The envelope.
        (
            r#"{"jsonrpc":2.0,"id":201,"method":"textDocument/hover"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":202,"method":["textDocument/hover"]}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":203,"method":"textDocument/hover","params":"x"}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":204,"method":"textDocument/hover","params":7}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":205,"id":206,"method":"textDocument/hover"}"#,
            -32600,
        ),
        // Lifecycle messages, malformed (`initialize` a second time is refused before its
        // params are read).
        (
            r#"{"jsonrpc":"2.0","id":207,"method":"initialize","params":{"processId":"x"}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":208,"method":"initialized"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":209,"method":"exit","params":{}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":210,"method":"shutdown","method":"exit"}"#,
            -32600,
        ),
        // Every field of a request's parameters, of the wrong type.
        (
            r#"{"jsonrpc":"2.0","id":211,"method":"textDocument/hover","params":{}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":212,"method":"textDocument/hover","params":{"textDocument":7,"position":{"line":0,"character":0}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":213,"method":"textDocument/hover","params":{"textDocument":{"uri":["x"]},"position":{"line":0,"character":0}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":214,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex"},"position":"0:0"}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":215,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex"},"position":{"line":-1,"character":0}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":216,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex"},"position":{"line":0,"character":1.5}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":217,"method":"textDocument/documentSymbol","params":{"textDocument":null}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":218,"method":"textDocument/codeAction","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex"},"range":{"start":0,"end":1},"context":{"diagnostics":[]}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":219,"method":"workspace/symbol","params":{"query":42}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":220,"method":"workspace/executeCommand","params":{"command":{},"arguments":3}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":221,"method":"textDocument/completion","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex"},"position":{"line":"0","character":0}}}"#,
            -32602,
        ),
    ];
    for (body, code) in cases {
        let id: Value = serde_json::from_str::<Value>(body).expect("json")["id"].clone();
        // A duplicated id is answered with a null one: it names neither request.
        let id = if body.contains(r#""id":205,"id""#) {
            Value::Null
        } else {
            id
        };
        let answer = answer_to(&mut client, body, id);
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        still_alive(&mut client);
    }
    // Notifications of the wrong shape get no answer (there is no id to answer) and change
    // nothing; the server goes on.
    for body in [
        r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":5}}"#,
        r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex","version":"2"},"contentChanges":{}}}"#,
        r#"{"jsonrpc":"2.0","method":"initialized","params":"now"}"#,
        r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{}}}"#,
    ] {
        let framed = format!("Content-Length: {}\r\n\r\n{}", body.len(), body);
        client.send_raw(framed.as_bytes());
        still_alive(&mut client);
    }
    assert!(client.shutdown().success());
}

#[test]
fn a_body_over_the_message_limit_is_refused_unread_and_the_next_message_answered() {
    let mut client = started();
    // 65 MiB announced and sent: skipped in pieces, never held whole.
    let length = 65 * 1024 * 1024;
    let mut framed = format!("Content-Length: {length}\r\n\r\n").into_bytes();
    framed.resize(framed.len() + length, b' ');
    client.send_raw(&framed);
    let refusal = client.wait_for(|m| {
        m["error"]["code"] == -32700
            && m["error"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("over the"))
    });
    assert_eq!(refusal["id"], Value::Null, "{refusal}");
    still_alive(&mut client);
    let peak = peak_rss_bytes(client.pid());
    assert!(
        peak < 60 * 1024 * 1024 + 36 * 1024 * 1024,
        "the refused body was held: peak {} MB",
        peak >> 20
    );
    assert!(client.shutdown().success());
}

/// The peak resident set of a process (`VmHWM`), in bytes.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[test]
fn a_megabyte_workspace_symbol_query_is_refused_at_once() {
    let mut client = started();
    let started_at = Instant::now();
    let answer = client.request(
        "workspace/symbol",
        json!({ "query": "q".repeat(1024 * 1024) }),
    );
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(started_at.elapsed() < Duration::from_secs(2));
    still_alive(&mut client);
    assert!(client.shutdown().success());
}

/// Method names the server knows, and a few it does not.
const METHODS: &[&str] = &[
    "textDocument/hover",
    "textDocument/documentSymbol",
    "textDocument/foldingRange",
    "textDocument/codeAction",
    "textDocument/completion",
    "textDocument/inlineCompletion",
    "textDocument/diagnostic",
    "textDocument/didChange",
    "textDocument/didOpen",
    "textDocument/didClose",
    "workspace/symbol",
    "workspace/executeCommand",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWatchedFiles",
    "aiex/documentText",
    "$/cancelRequest",
    "$/setTrace",
    "unknown/method",
    "initialize",
];

/// Arbitrary JSON, shallow enough to build quickly, deep enough to reach every decoder.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[a-zA-Z0-9:/._ \u{e9}\u{1F600}-]{0,20}".prop_map(Value::from),
        Just(json!(DOC)),
        Just(json!({ "line": 0, "character": 3 })),
        Just(json!({ "line": 4294967295u64, "character": -1 })),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("textDocument".to_owned()),
                    Just("uri".to_owned()),
                    Just("position".to_owned()),
                    Just("range".to_owned()),
                    Just("contentChanges".to_owned()),
                    Just("text".to_owned()),
                    Just("query".to_owned()),
                    Just("command".to_owned()),
                    Just("arguments".to_owned()),
                    Just("settings".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn message() -> impl Strategy<Value = (Value, bool)> {
    (
        proptest::sample::select(METHODS),
        prop_oneof![Just(None), any_json().prop_map(Some)],
        any::<bool>(),
    )
        .prop_map(|(method, params, with_id)| {
            let mut message = json!({ "jsonrpc": "2.0", "method": method });
            if let Some(params) = params {
                message["params"] = params;
            }
            (message, with_id)
        })
}

/// How long each fuzz runs: `AIEX_FUZZ_SECONDS`, 5 s unless set.
fn fuzz_seconds() -> u64 {
    std::env::var("AIEX_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// Arbitrary bytes as a body: none of it need be JSON, UTF-8 or a message, and some of it is
/// almost one (the start of a request, cut or corrupted).
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (proptest::collection::vec(any::<u8>(), 0..40), 0usize..60).prop_map(|(noise, cut)| {
            let request = br#"{"jsonrpc":"2.0","id":1,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///tmp/fuzz/lib/a.ex"},"position":{"line":0,"character":3}}}"#;
            let mut body = request[..cut.min(request.len())].to_vec();
            body.extend(noise);
            body
        }),
    ]
}

#[test]
fn arbitrary_bytes_framed_or_not_never_end_the_server() {
    let mut client = started();
    let mut runner = TestRunner::default();
    let strategy = (any_body(), 0u8..4);
    let stop = Instant::now() + Duration::from_secs(fuzz_seconds());
    let mut sent = 0;
    while Instant::now() < stop {
        let (body, framing) = strategy.new_tree(&mut runner).expect("bytes").current();
        let bytes = match framing {
            // Framed with its true length: the guard must answer or drop it.
            0 | 1 => {
                let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                framed.extend(&body);
                framed
            }
            // A header of garbage (never a number, which would swallow the next message).
            2 => {
                let mut framed = b"Content-Length: x".to_vec();
                framed.extend(&body);
                framed.extend(b"\r\n\r\n");
                framed
            }
            // Raw bytes between messages.
            _ => body,
        };
        client.send_raw(&bytes);
        sent += 1;
        if sent % 25 == 0 {
            // A framed blank line ends whatever header the garbage left open.
            client.send_raw(b"\r\n\r\n");
            still_alive(&mut client);
        }
    }
    client.send_raw(b"\r\n\r\n");
    still_alive(&mut client);
    eprintln!("{sent} arbitrary bodies survived");
    assert!(client.shutdown().success());
}

#[test]
fn random_messages_are_all_answered_and_the_server_survives_them() {
    let seconds = fuzz_seconds();
    let mut client = started();
    let mut runner = TestRunner::default();
    let strategy = message();
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut id = 10_000i64;
    let mut sent = 0;
    while Instant::now() < stop {
        let (mut message, with_id) = strategy.new_tree(&mut runner).expect("a message").current();
        // `initialize` again and `exit` would end the session on purpose: not what is fuzzed.
        if message["method"] == "initialize" && !with_id {
            continue;
        }
        if with_id {
            id += 1;
            message["id"] = json!(id);
            let body = message.to_string();
            let answer = answer_to(&mut client, &body, json!(id));
            assert!(
                answer.get("result").is_some() || answer.get("error").is_some(),
                "{body}: {answer}"
            );
        } else {
            client.send(&message);
        }
        sent += 1;
        if sent % 50 == 0 {
            still_alive(&mut client);
        }
    }
    still_alive(&mut client);
    eprintln!("{sent} random messages answered");
}
