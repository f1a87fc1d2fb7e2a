//! AI features end to end: the real `aiex` binary over stdio, talking to a fake provider (a
//! real HTTP server on 127.0.0.1) that answers like Ollama.

#[path = "support/cli_project.rs"]
mod cli_project;
#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::time::{Duration, Instant};

use lsp_client::{apply_workspace_edit, LspClient};
use serde_json::{json, Value};
use support::fake_provider::{BlockingFake as Fake, Reply};
use support::ollama::{chat as ollama_chat, generate as ollama_stream};

/// The server's settings. Each test starts with no provider speed learnt (its own data
/// directory), and a server on this machine is assumed to be a slow CPU model until it has
/// answered: the latency target is set so that the first prompt still gets its whole context.
fn settings(providers: Value, completion_providers: &[&str]) -> Value {
    json!({
        "providers": providers,
        "features": { "completion": { "providers": completion_providers, "debounce_min_ms": 10, "debounce_max_ms": 40, "timeout_ms": 4000, "latency_target_ms": 60000 } }
    })
}

fn ollama(url: &str) -> Value {
    json!({ "kind": "ollama", "base_url": url, "model": "qwen2.5-coder:1.5b" })
}

fn started(settings: Value) -> LspClient {
    let mut client = LspClient::spawn(None);
    client.initialize(json!({}), settings, None);
    client
}

const DOC: &str = "file:///tmp/ai/lib/pricing.ex";
/// A document with multi-byte text before the cursor line, and the cursor line itself.
const TEXT: &str = "defmodule Pricing do\n  @doc \"Prix en €, avec remise 😀.\"\n  def total(items) do\n    sum = Enum.sum(items)\n    \n  end\nend\n";
const CURSOR_LINE: u32 = 4;

fn completion_at(client: &mut LspClient, line: u32, character: u32) -> Value {
    client.request("textDocument/completion", json!({ "textDocument": { "uri": DOC }, "position": { "line": line, "character": character } }))
}

#[test]
fn completion_items_and_inline_completions_insert_the_models_block_exactly() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&[
            "sum * 2\n",
            "  end\n",
            "end\n",
        ]))],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);

    let response = completion_at(&mut client, CURSOR_LINE, 4);
    let item = &response["result"]["items"][0];
    assert_eq!(item["textEdit"]["newText"], "sum * 2", "{response}");
    assert_eq!(
        item["textEdit"]["range"]["start"],
        json!({ "line": 4, "character": 4 })
    );
    assert_eq!(item["labelDetails"]["description"], "✨ aiex");
    assert_eq!(response["result"]["isIncomplete"], true);

    // The provider got a fill-in-the-middle request with the text around the cursor, the last
    // space of the indentation-only line left to the model (its tokenizer starts the next token
    // with it).
    let sent = fake.server.requests()[0].json();
    assert!(
        sent["prompt"]
            .as_str()
            .expect("prompt")
            .ends_with("sum = Enum.sum(items)\n   "),
        "{sent}"
    );
    assert!(!sent["prompt"].as_str().expect("prompt").ends_with("\n    "));
    assert!(
        sent["suffix"]
            .as_str()
            .expect("suffix")
            .starts_with("\n  end\nend"),
        "{sent}"
    );

    // Inline completion at the same place: served from the suggestion just made.
    let inline = client.request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": { "uri": DOC }, "position": { "line": CURSOR_LINE, "character": 4 }, "context": { "triggerKind": 1 } }),
    );
    assert_eq!(
        inline["result"]["items"][0]["insertText"], "sum * 2",
        "{inline}"
    );
    assert_eq!(fake.server.request_count(), 1, "no second provider call");

    // The user types the start of the suggestion: the rest is served without a provider call.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": DOC, "version": 2 }, "contentChanges": [{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 4 } }, "text": "sum *" }] }),
    );
    let rest = completion_at(&mut client, CURSOR_LINE, 9);
    assert_eq!(
        rest["result"]["items"][0]["textEdit"]["newText"], " 2",
        "{rest}"
    );
    assert_eq!(fake.server.request_count(), 1);
    assert!(client.shutdown().success());
}

#[test]
fn with_several_candidates_the_one_adding_no_finding_comes_first_and_the_others_follow() {
    let fake = Fake::start();
    // Three answers for three concurrent requests, in whatever order they arrive: a debugging
    // leftover (a finding of the built-in checks), a clean one, and the clean one again.
    fake.server.on(
        "/api/generate",
        vec![
            Reply::Recorded(ollama_stream(&["IO.inspect(sum)\n", "  end\n"])),
            Reply::Recorded(ollama_stream(&["sum * 2\n", "  end\n"])),
            Reply::Recorded(ollama_stream(&["sum * 2\n", "  end\n"])),
        ],
    );
    let mut client = started(json!({
        "providers": { "local": ollama(&fake.server.url()) },
        "features": { "completion": { "providers": ["local"], "debounce_min_ms": 0, "debounce_max_ms": 0, "timeout_ms": 4000, "candidates": 3 } }
    }));
    // Candidates are for blocks: the cursor is on the first line of a function body.
    let text =
        "defmodule Pricing do\n  def total(items) do\n    \n    Enum.sum(items)\n  end\nend\n";
    let line = 2;
    client.open(DOC, text);
    let inline = client.request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": { "uri": DOC }, "position": { "line": line, "character": 4 }, "context": { "triggerKind": 1 } }),
    );
    let offered: Vec<&str> = inline["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["insertText"].as_str().expect("text"))
        .collect();
    assert_eq!(offered, ["sum * 2", "IO.inspect(sum)"], "{inline}");
    assert_eq!(fake.server.request_count(), 3);
    // The first request is the usual one; the others are sampled.
    let temperatures: Vec<Value> = fake
        .server
        .requests()
        .iter()
        .map(|r| r.json()["options"]["temperature"].clone())
        .collect();
    assert_eq!(
        temperatures
            .iter()
            .filter(|t| t.as_f64().is_some_and(|t| (t - 0.8).abs() < 1e-3))
            .count(),
        2,
        "{temperatures:?}"
    );
    // Completion items: the same three, the best preselected.
    let items = completion_at(&mut client, line, 4);
    let items = items["result"]["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["preselect"], true);
    assert_eq!(items[1]["textEdit"]["newText"], "IO.inspect(sum)");
    assert!(client.shutdown().success());
}

#[test]
fn positions_after_multibyte_text_are_exact_in_utf16() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["ros.new(\"€\")"]))],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    let text = "defmodule P do\n  def f do\n    x = \"😀 é\" <> Pa\n  end\nend\n";
    client.open(DOC, text);
    // After `Pa` on line 2: `    x = "😀 é" <> Pa` is 20 UTF-16 units (the emoji counts 2).
    let response = completion_at(&mut client, 2, 20);
    let item = &response["result"]["items"][0];
    assert_eq!(
        item["textEdit"]["range"],
        json!({ "start": { "line": 2, "character": 18 }, "end": { "line": 2, "character": 20 } }),
        "{response}"
    );
    assert_eq!(item["textEdit"]["newText"], "Paros.new(\"€\")");
    assert!(client.shutdown().success());
}

#[test]
fn a_newer_request_supersedes_the_older_and_drops_its_provider_call() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Silence, Reply::Recorded(ollama_stream(&["sum * 3"]))],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);
    let first = client.send_request("textDocument/completion", json!({ "textDocument": { "uri": DOC }, "position": { "line": CURSOR_LINE, "character": 4 } }));
    assert!(
        fake.wait_for_requests(1),
        "the first request reached the provider"
    );
    // The text changed (a newer version): requests for the same place and version would
    // join the one in flight instead (VS Code sends completion and inline completion at once).
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": DOC, "version": 2 }, "contentChanges": [{ "range": { "start": { "line": 7, "character": 0 }, "end": { "line": 7, "character": 0 } }, "text": "# end\n" }] }),
    );
    let started_at = Instant::now();
    // (A completion request: an inline one lets a running completion list finish first, for
    // up to 300 ms, since VS Code stops asking for the list after an empty answer.)
    let second = client.send_request("textDocument/completion", json!({ "textDocument": { "uri": DOC }, "position": { "line": CURSOR_LINE, "character": 4 } }));
    let superseded = client.response(first);
    assert_eq!(
        superseded["result"]["items"],
        json!([]),
        "the older request is answered empty"
    );
    assert!(
        started_at.elapsed() < Duration::from_millis(500),
        "at once: {:?}",
        started_at.elapsed()
    );
    assert!(
        fake.wait_for_client_close(1),
        "its provider connection was dropped"
    );
    let answered = client.response(second);
    assert_eq!(
        answered["result"]["items"][0]["textEdit"]["newText"], "sum * 3",
        "{answered}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn completion_and_inline_completion_at_one_place_share_one_provider_call() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["sum * 4"]))],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);
    let at = json!({ "uri": DOC });
    let position = json!({ "line": CURSOR_LINE, "character": 4 });
    let items = client.send_request(
        "textDocument/completion",
        json!({ "textDocument": at, "position": position }),
    );
    let inline = client.send_request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": at, "position": position, "context": { "triggerKind": 2 } }),
    );
    let items = client.response(items);
    let inline = client.response(inline);
    assert_eq!(
        items["result"]["items"][0]["textEdit"]["newText"], "sum * 4",
        "{items}"
    );
    assert_eq!(
        inline["result"]["items"][0]["insertText"], "sum * 4",
        "{inline}"
    );
    assert_eq!(fake.server.request_count(), 1, "one provider call for both");
    assert!(client.shutdown().success());
}

#[test]
fn an_inline_completion_extends_the_completion_vs_code_has_selected() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["sum * 5"]))],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);
    // The suggest widget selected "sum" (a word), inserted over nothing at the cursor.
    let selected = |text: &str| json!({ "range": { "start": { "line": CURSOR_LINE, "character": 4 }, "end": { "line": CURSOR_LINE, "character": 4 } }, "text": text });
    let ask = |client: &mut LspClient, text: &str| {
        client.request("textDocument/inlineCompletion", json!({ "textDocument": { "uri": DOC }, "position": { "line": CURSOR_LINE, "character": 4 }, "context": { "triggerKind": 2, "selectedCompletionInfo": selected(text) } }))
    };
    let extending = ask(&mut client, "sum");
    assert_eq!(
        extending["result"]["items"][0]["insertText"], "sum * 5",
        "{extending}"
    );
    assert_eq!(
        extending["result"]["items"][0]["range"]["start"],
        json!({ "line": CURSOR_LINE, "character": 4 })
    );
    // A selected word the suggestion does not extend: VS Code would hide the item anyway.
    let other = ask(&mut client, "items");
    assert_eq!(other["result"]["items"], json!([]), "{other}");
    assert!(client.shutdown().success());
}

#[test]
fn cancel_request_answers_at_once_and_drops_the_provider_call() {
    let fake = Fake::start();
    fake.server.on("/api/generate", vec![Reply::Silence]);
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);
    let id = client.send_request("textDocument/completion", json!({ "textDocument": { "uri": DOC }, "position": { "line": CURSOR_LINE, "character": 4 } }));
    assert!(fake.wait_for_requests(1));
    let started_at = Instant::now();
    client.notify("$/cancelRequest", json!({ "id": id }));
    let response = client.response(id);
    let elapsed = started_at.elapsed();
    assert_eq!(response["error"]["code"], -32800, "{response}");
    assert!(
        elapsed < Duration::from_millis(100),
        "answered in {elapsed:?}"
    );
    assert!(
        fake.wait_for_client_close(1),
        "the provider connection was dropped"
    );
    assert!(client.shutdown().success());
}

#[test]
fn a_slow_provider_never_delays_edits_or_other_requests() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Drip {
            recording: ollama_stream(&["sum", " *", " 2"]),
            piece: 8,
            every: Duration::from_millis(100),
        }],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);
    let pending = client.send_request("textDocument/completion", json!({ "textDocument": { "uri": DOC }, "position": { "line": CURSOR_LINE, "character": 4 } }));
    assert!(fake.wait_for_requests(1));
    let started_at = Instant::now();
    for version in 2..50 {
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": DOC, "version": version }, "contentChanges": [{ "range": { "start": { "line": 6, "character": 3 }, "end": { "line": 6, "character": 3 } }, "text": "#" }] }),
        );
    }
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": DOC } }),
    );
    let (version, text) = client.server_text(DOC);
    let elapsed = started_at.elapsed();
    assert_eq!(symbols["result"][0]["name"], "Pricing");
    assert_eq!(version, 49);
    assert!(text.ends_with(&"#".repeat(48)) || text.contains(&"#".repeat(48)));
    assert!(
        elapsed < Duration::from_millis(500),
        "edits and requests took {elapsed:?} behind a slow provider"
    );
    let _ = client.response(pending);
    assert!(client.shutdown().success());
}

#[test]
fn an_overloaded_provider_fails_over_to_the_next() {
    let fake = Fake::start();
    let backup = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::status(529, r#"{"error":"overloaded"}"#, &[])],
    );
    backup.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["sum + 1"]))],
    );
    let mut providers = ollama(&fake.server.url());
    providers["max_attempts"] = json!(1);
    let mut client = started(settings(
        json!({ "first": providers, "second": ollama(&backup.server.url()) }),
        &["first", "second"],
    ));
    client.open(DOC, TEXT);
    let response = completion_at(&mut client, CURSOR_LINE, 4);
    assert_eq!(
        response["result"]["items"][0]["textEdit"]["newText"], "sum + 1",
        "{response}"
    );
    assert_eq!(fake.server.request_count(), 1);
    assert_eq!(backup.server.request_count(), 1);
    assert!(client.shutdown().success());
}

#[test]
fn suggestions_that_do_not_parse_are_dropped() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["case sum do do\n"]))],
    );
    let mut client = started(settings(
        json!({ "local": ollama(&fake.server.url()) }),
        &["local"],
    ));
    client.open(DOC, TEXT);
    let response = completion_at(&mut client, CURSOR_LINE, 4);
    assert_eq!(response["result"]["items"], json!([]), "{response}");
    assert!(client.shutdown().success());
}

#[test]
fn an_unreachable_provider_is_said_once_and_offline_features_keep_working() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let refused = runtime.block_on(support::fake_provider::refused_url());
    let mut client = started(settings(json!({ "local": ollama(&refused) }), &["local"]));
    client.open(DOC, TEXT);
    let first = completion_at(&mut client, CURSOR_LINE, 4);
    assert_eq!(first["result"]["items"], json!([]));
    let notice = client.notification("window/showMessage");
    let message = notice["params"]["message"].as_str().expect("message");
    assert!(
        message.contains("need a model provider") && message.contains("local"),
        "{message}"
    );
    let _ = completion_at(&mut client, CURSOR_LINE, 4);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": DOC } }),
    );
    assert_eq!(symbols["result"][0]["name"], "Pricing");
    assert!(
        !client
            .notifications
            .iter()
            .any(|m| m["method"] == "window/showMessage"),
        "said once only"
    );
    assert!(client.shutdown().success());
}

const ACTION_DOC: &str = "file:///tmp/ai/lib/cart.ex";
const ACTION_TEXT: &str = "defmodule Cart do\n  @moduledoc \"Carts.\"\n\n  def total(items) do\n    Enum.sum(items)\n  end\n\n  def empty?, do: true\nend\n";

fn action_client(fake: &Fake) -> LspClient {
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({
            "workspace": { "workspaceEdit": { "documentChanges": true, "changeAnnotationSupport": { "groupsOnLabel": false } } },
            "window": { "showDocument": { "support": true } }
        }),
        json!({ "providers": { "local": ollama(&fake.server.url()) }, "features": { "actions": { "providers": ["local"] }, "explain": { "providers": ["local"] } } }),
        None,
    );
    client.open(ACTION_DOC, ACTION_TEXT);
    client
}

/// The action with `command` offered at `line`, `character`.
#[test]
fn without_a_model_the_ai_actions_give_way_to_set_up_a_model() {
    // No provider configured: the server looks for a local Ollama, which must be absent here.
    if std::net::TcpStream::connect("127.0.0.1:11434").is_ok() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n*** SKIPPED without_a_model_...: something listens on 127.0.0.1:11434 (Ollama?)"
        );
        return;
    }
    let mut client = started(settings(json!({}), &[]));
    client.wait_for(|m| m["method"] == "window/showMessage");
    client.open(ACTION_DOC, ACTION_TEXT);
    let position = json!({ "line": 4, "character": 6 });
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": ACTION_DOC }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } }),
    );
    let commands: Vec<&str> = actions["result"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["command"]["command"].as_str())
        .collect();
    assert_eq!(commands, ["aiex.setUpModel"], "{actions}");
    let id = client.send_request(
        "workspace/executeCommand",
        json!({ "command": "aiex.setUpModel", "arguments": [] }),
    );
    let told = client.wait_for(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("ollama pull"))
    });
    assert!(told["params"]["message"]
        .as_str()
        .is_some_and(|t| t.contains("aiex doctor")));
    assert!(client.response(id)["error"].is_null());
    let status = client.request(
        "workspace/executeCommand",
        json!({ "command": "aiex.status", "arguments": [] }),
    );
    assert_eq!(status["result"]["state"], "offline", "{status}");
    assert!(client.shutdown().success());
}

fn action(client: &mut LspClient, command: &str, line: u32, character: u32) -> Value {
    client.code_action(ACTION_DOC, line, character, command)
}

#[test]
fn add_docs_inserts_doc_and_spec_above_the_function_only() {
    let fake = Fake::start();
    fake.server.on("/api/chat", vec![Reply::Recorded(ollama_chat("```elixir\n@doc \"Sums the prices of `items`.\"\n@spec total([number()]) :: number()\n```\n"))]);
    let mut client = action_client(&fake);
    let offered = action(&mut client, "aiex.addDocs", 4, 6);
    assert_eq!(offered["title"], "Aiex: Add @doc and @spec Cart.total/1");
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    let response = client.response(id);
    assert_eq!(response["result"]["applied"], true, "{response}");
    let edit = &apply["params"]["edit"];
    assert_eq!(
        edit["documentChanges"][0]["textDocument"]["version"], 1,
        "the edit names the version it was made for"
    );
    let edited = apply_workspace_edit(ACTION_TEXT, edit);
    assert_eq!(
        edited,
        "defmodule Cart do\n  @moduledoc \"Carts.\"\n\n  @doc \"Sums the prices of `items`.\"\n  @spec total([number()]) :: number()\n  def total(items) do\n    Enum.sum(items)\n  end\n\n  def empty?, do: true\nend\n"
    );
    let sent = fake.server.requests()[0].json();
    assert!(
        sent["messages"].to_string().contains("def total(items)"),
        "the prompt shows the function: {sent}"
    );
    assert!(client.shutdown().success());
}

/// The model was asked twice, the second time sampled.
fn asked_once_more_sampled(fake: &Fake) {
    assert_eq!(fake.server.request_count(), 2, "asked once more, not more");
    let second = fake.server.requests()[1].json();
    assert!(
        second["options"]["temperature"]
            .as_f64()
            .is_some_and(|t| t > 0.5),
        "{second}"
    );
}

#[test]
fn add_docs_asks_once_more_when_the_model_documents_another_function_and_then_stops() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(
                "@doc \"Empties a cart.\"\n@spec empty?() :: boolean()",
            )),
            Reply::Recorded(ollama_chat(
                "@doc \"Sums the prices.\"\n@spec total(list()) :: number()",
            )),
            Reply::Recorded(ollama_chat("@spec empty?() :: boolean()")),
        ],
    );
    let mut client = action_client(&fake);
    let offered = action(&mut client, "aiex.addDocs", 4, 6);
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    let edited = apply_workspace_edit(ACTION_TEXT, &apply["params"]["edit"]);
    assert!(
        edited.contains(
            "  @doc \"Sums the prices.\"\n  @spec total(list()) :: number()\n  def total(items) do"
        ),
        "{edited}"
    );
    asked_once_more_sampled(&fake);

    // Wrong twice: a clear refusal naming both functions, and nothing sent to apply.
    let refused = client.request("workspace/executeCommand", offered["command"].clone());
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("documents empty?/0, not total/1; nothing was changed"),
        "{refused}"
    );
    // The first answer came from the response cache this time; the second ask never does.
    assert_eq!(fake.server.request_count(), 3);
    assert!(client.shutdown().success());
}

#[test]
fn refactor_replaces_the_function_with_confirmation_and_refuses_what_does_not_fit() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(
                "Here you go:\n```elixir\ndef total(items), do: Enum.reduce(items, 0, &+/2)\n```\n",
            )),
            Reply::Recorded(ollama_chat(
                "```elixir\ndef sum_all(items), do: Enum.sum(items)\n```\n",
            )),
        ],
    );
    let mut client = action_client(&fake);
    let offered = action(&mut client, "aiex.refactor", 4, 6);
    let mut command = offered["command"].clone();
    command["arguments"][0]["instruction"] = json!("use reduce");
    let id = client.send_request("workspace/executeCommand", command.clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    let edit = &apply["params"]["edit"];
    assert_eq!(edit["changeAnnotations"]["aiex"]["needsConfirmation"], true);
    let edited = apply_workspace_edit(ACTION_TEXT, edit);
    assert_eq!(edited, "defmodule Cart do\n  @moduledoc \"Carts.\"\n\n  def total(items), do: Enum.reduce(items, 0, &+/2)\n\n  def empty?, do: true\nend\n");
    assert!(fake.server.requests()[0]
        .json()
        .to_string()
        .contains("use reduce"));

    // An answer that renames the function is refused, and nothing is sent to apply.
    let refused = client.request("workspace/executeCommand", command);
    let message = refused["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{refused}"));
    assert!(message.contains("does not define total/1"), "{message}");
    assert!(!client
        .notifications
        .iter()
        .any(|m| m["method"] == "workspace/applyEdit"));
    assert!(client.shutdown().success());
}

#[test]
fn a_refactor_in_several_versions_applies_the_best_and_offers_the_others_on_it() {
    let fake = Fake::start();
    // Three versions in whatever order the concurrent requests take them: one renames the
    // function (refused), one leaves a debugging call (a finding), one is clean.
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(
                "```elixir\ndef total(items), do: items |> IO.inspect() |> Enum.sum()\n```\n",
            )),
            Reply::Recorded(ollama_chat(
                "```elixir\ndef sum_all(items), do: Enum.sum(items)\n```\n",
            )),
            Reply::Recorded(ollama_chat(
                "```elixir\ndef total(items), do: Enum.reduce(items, 0, &+/2)\n```\n",
            )),
        ],
    );
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({ "workspace": { "workspaceEdit": { "documentChanges": true, "changeAnnotationSupport": { "groupsOnLabel": false } } } }),
        json!({ "providers": { "local": ollama(&fake.server.url()) }, "features": { "actions": { "providers": ["local"], "candidates": 3 } } }),
        None,
    );
    client.open(ACTION_DOC, ACTION_TEXT);
    let offered = action(&mut client, "aiex.refactor", 4, 6);
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    assert_eq!(fake.server.request_count(), 3);
    let edited = apply_workspace_edit(ACTION_TEXT, &apply["params"]["edit"]);
    assert!(
        edited.contains("def total(items), do: Enum.reduce(items, 0, &+/2)\n"),
        "{edited}"
    );
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": ACTION_DOC, "version": 2 }, "contentChanges": [{ "text": edited }] }),
    );

    // On the applied version: the other one that passed, as a code action.
    let other = action(&mut client, "aiex.useAlternative", 3, 8);
    assert_eq!(
        other["title"], "Aiex: refactor Cart.total/1 (version 2 of 2)",
        "{other}"
    );
    let id = client.send_request("workspace/executeCommand", other["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    let swapped = apply_workspace_edit(&edited, &apply["params"]["edit"]);
    assert!(
        swapped.contains("def total(items), do: items |> IO.inspect() |> Enum.sum()\n"),
        "{swapped}"
    );
    assert!(!swapped.contains("reduce"), "{swapped}");
    assert_eq!(fake.server.request_count(), 3, "no new provider call");

    // Once the code changed, the other versions no longer fit: not offered.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": ACTION_DOC, "version": 3 }, "contentChanges": [{ "text": swapped.replace("Enum.sum()", "Enum.sum() |> round()") }] }),
    );
    let position = json!({ "line": 3, "character": 8 });
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": ACTION_DOC }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } }),
    );
    assert!(
        !actions.to_string().contains("aiex.useAlternative"),
        "{actions}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn explain_shows_a_markdown_document_and_returns_the_text() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(
            "Sums the list.\n\n- **Input**: numbers\n- **Edge case**: `[]` gives `0`\n",
        ))],
    );
    let mut client = action_client(&fake);
    let offered = action(&mut client, "aiex.explain", 4, 6);
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let shown = client.answer_server_request("window/showDocument", json!({ "success": true }));
    let response = client.response(id);
    let markdown = response["result"]["markdown"].as_str().expect("markdown");
    assert!(
        markdown.starts_with("# Cart.total/1\n\nSums the list."),
        "{markdown}"
    );
    let uri = shown["params"]["uri"].as_str().expect("uri");
    assert_eq!(Some(uri), response["result"]["uri"].as_str());
    let path = uri.strip_prefix("file://").expect("a file");
    assert_eq!(std::fs::read_to_string(path).expect("written"), markdown);
    // Outside a function, no AI action is offered.
    let position = json!({ "line": 1, "character": 3 });
    let none = client.request("textDocument/codeAction", json!({ "textDocument": { "uri": ACTION_DOC }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } }));
    assert!(
        !none["result"]
            .as_array()
            .expect("list")
            .iter()
            .any(|a| a["command"]["command"] == "aiex.explain"),
        "{none}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn hover_adds_an_explanation_and_never_waits_past_its_timeout() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Drip {
            recording: ollama_chat("Adds up the prices.\n"),
            piece: 40,
            every: Duration::from_millis(150),
        }],
    );
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({}),
        json!({ "providers": { "local": ollama(&fake.server.url()) }, "features": { "explain": { "providers": ["local"], "hover_timeout_ms": 150 } } }),
        None,
    );
    client.open(ACTION_DOC, ACTION_TEXT);
    let hover_total = |client: &mut LspClient| {
        client.request("textDocument/hover", json!({ "textDocument": { "uri": ACTION_DOC }, "position": { "line": 3, "character": 7 } }))
    };
    let started_at = Instant::now();
    let first = hover_total(&mut client);
    let elapsed = started_at.elapsed();
    let markdown = first["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"));
    assert!(
        markdown.contains("Cart.total/1"),
        "the offline part is shown at once: {markdown}"
    );
    assert!(markdown.contains("AI explanation on its way"), "{markdown}");
    assert!(
        elapsed < Duration::from_millis(1_000),
        "hover took {elapsed:?}"
    );
    // The model finishes in the background; the next hover has it, with no second request.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = hover_total(&mut client);
        let markdown = again["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if markdown.contains("Adds up the prices.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the explanation never arrived: {markdown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(fake.server.request_count(), 1);
    assert!(client.shutdown().success());
}

fn aiex_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    cli_project::aiex_command(dir)
        .args(args)
        .output()
        .expect("run aiex")
}

/// `lib/cart.ex` holding the actions' text, with a user configuration pointing at `url`.
fn project_using(url: &str) -> tempfile::TempDir {
    cli_project::cart_project(url, ACTION_TEXT, "")
}

#[test]
fn the_command_line_completes_and_explains_with_the_same_pipeline() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&[
            "|> Enum.map(& &1.price)\n    |> more",
        ]))],
    );
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat("Sums the list.\n"))],
    );
    let dir = project_using(&fake.server.url());
    // Line 5 is `    Enum.sum(items)`: complete after `items`, in the argument list: one line.
    let output = aiex_cli(dir.path(), &["complete", "lib/cart.ex:5:19"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        " |> Enum.map(& &1.price)\n".replacen(' ', "", 1)
    );
    let output = aiex_cli(dir.path(), &["explain", "lib/cart.ex:4"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "# Cart.total/1\n\nSums the list.\n"
    );
    let outside = aiex_cli(dir.path(), &["explain", "lib/cart.ex:2"]);
    assert_eq!(outside.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&outside.stderr).contains("no function at lib/cart.ex:2"));
}

#[test]
fn the_command_line_with_no_model_says_so_once_and_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("mix.exs"),
        "defmodule Cart.MixProject do\nend\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.path().join("lib")).expect("mkdir");
    std::fs::write(dir.path().join("lib/cart.ex"), ACTION_TEXT).expect("write");
    for args in [
        ["complete", "lib/cart.ex:5:19"],
        ["explain", "lib/cart.ex:4"],
    ] {
        let started = Instant::now();
        let output = aiex_cli(dir.path(), &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains("no model provider is configured"),
            "{stderr}"
        );
        assert!(stderr.contains("aiex doctor"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no retries of a refused connection: {:?}",
            started.elapsed()
        );
    }
}

/// A server on the cart project answered by `fake`, `lib/cart.ex` open, an `OtherTest` file in
/// `test/` for the project's style: the project root, the client and the Generate tests action
/// offered on `Cart.total/1`.
fn tests_client(fake: &Fake) -> (tempfile::TempDir, std::path::PathBuf, LspClient, Value) {
    let dir = project_using(&fake.server.url());
    let root = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("test")).expect("mkdir");
    std::fs::write(
        root.join("test/other_test.exs"),
        "defmodule OtherTest do\n  use ExUnit.Case, async: true\n  doctest Other\nend\n",
    )
    .expect("write");
    let options = lsp_client::SpawnOptions {
        env: vec![(
            "XDG_CONFIG_HOME".to_owned(),
            root.join("user-config").display().to_string(),
        )],
        ..lsp_client::SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(None, &options);
    client.initialize(
        json!({ "workspace": { "workspaceEdit": { "documentChanges": true, "resourceOperations": ["create"] } } }),
        Value::Null,
        Some(&root),
    );
    let uri = lsp_client::file_uri(&root.join("lib/cart.ex"));
    client.open(&uri, ACTION_TEXT);
    let position = json!({ "line": 4, "character": 6 });
    let actions = client.request("textDocument/codeAction", json!({ "textDocument": { "uri": uri }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } }));
    let offered = actions["result"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["command"]["command"] == "aiex.generateTests")
        .cloned()
        .expect("offered");
    (dir, root, client, offered)
}

#[test]
fn generate_tests_creates_the_mirrored_test_file_or_extends_the_existing_one() {
    let fake = Fake::start();
    let describe = "```elixir\ndescribe \"total/1\" do\n  test \"sums the prices\" do\n    assert Cart.total([1, 2]) == 3\n  end\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(describe))]);
    let (_dir, root, mut client, offered) = tests_client(&fake);
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert!(client.response(id)["result"]["applied"] == true);
    let changes = &apply["params"]["edit"]["documentChanges"];
    let test_uri = lsp_client::file_uri(&root.join("test/cart_test.exs"));
    assert_eq!(changes[0]["kind"], "create");
    assert_eq!(changes[0]["uri"], test_uri.as_str());
    let content = changes[1]["edits"][0]["newText"].as_str().expect("content");
    assert!(
        content.starts_with(
            "defmodule CartTest do\n  use ExUnit.Case, async: true\n\n  describe \"total/1\" do"
        ),
        "{content}"
    );
    let prompt = fake.server.requests()[0].json().to_string();
    assert!(
        prompt.contains("doctest Other"),
        "another test file shows the project's style"
    );

    // With the test file on disk, the describe block is added to it.
    std::fs::write(
        root.join("test/cart_test.exs"),
        "defmodule CartTest do\n  use ExUnit.Case\nend\n",
    )
    .expect("write");
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert!(client.response(id)["result"]["applied"] == true);
    let edit = &apply["params"]["edit"]["documentChanges"][0];
    assert_eq!(edit["textDocument"]["uri"], test_uri.as_str());
    let updated = edit["edits"][0]["newText"].as_str().expect("text");
    assert!(
        updated
            .starts_with("defmodule CartTest do\n  use ExUnit.Case\n\n  describe \"total/1\" do\n"),
        "{updated}"
    );
    assert!(aiex_parses(updated));
    assert!(client.shutdown().success());
}

fn aiex_parses(text: &str) -> bool {
    aiex::syntax::parse_str(text).is_ok_and(|tree| !tree.root_node().has_error())
}

#[test]
fn generate_tests_asks_once_more_when_the_tests_do_not_parse_and_then_stops() {
    let fake = Fake::start();
    // As the 0.5B model answered once: a `test` block left open.
    let open = "```elixir\ndescribe \"total/1\" do\n  test \"sums the prices\" do\n    assert Cart.total([1, 2]) == 3\nend\n```\n";
    let good = "```elixir\ndescribe \"total/1\" do\n  test \"sums the prices\" do\n    assert Cart.total([1, 2]) == 3\n  end\nend\n```\n";
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(open)),
            Reply::Recorded(ollama_chat(good)),
            Reply::Recorded(ollama_chat(open)),
        ],
    );
    let (_dir, _root, mut client, offered) = tests_client(&fake);
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    let content = apply["params"]["edit"]["documentChanges"][1]["edits"][0]["newText"]
        .as_str()
        .expect("the test file");
    assert!(aiex_parses(content), "{content}");
    asked_once_more_sampled(&fake);

    // Unparseable twice: a clear refusal, nothing sent to apply.
    let refused = client.request("workspace/executeCommand", offered["command"].clone());
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the generated tests do not parse; nothing was changed"),
        "{refused}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn fix_with_ai_is_offered_on_a_diagnostic_and_rewrites_only_its_function() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(
            "```elixir\ndef total(items) do\n  Enum.sum(items)\nend\n```\n",
        ))],
    );
    let mut client = action_client(&fake);
    let text = "defmodule Cart do\n  def total(items) do\n    items |> IO.inspect() |> Enum.sum()\n  end\nend\n";
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": ACTION_DOC, "version": 2 }, "contentChanges": [{ "text": text }] }),
    );
    let published = client.wait_for(|m| {
        m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == 2
    });
    let diagnostic = published["params"]["diagnostics"][0].clone();
    assert_eq!(diagnostic["code"], "debug/io-inspect");
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": ACTION_DOC }, "range": diagnostic["range"], "context": { "diagnostics": [diagnostic] } }),
    );
    let fix = actions["result"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["command"]["command"] == "aiex.fix")
        .cloned()
        .expect("fix offered");
    assert_eq!(fix["kind"], "quickfix");
    assert_eq!(fix["title"], "Aiex: Fix with AI in Cart.total/1");
    let id = client.send_request("workspace/executeCommand", fix["command"].clone());
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    let edited = apply_workspace_edit(text, &apply["params"]["edit"]);
    assert_eq!(
        edited,
        "defmodule Cart do\n  def total(items) do\n    Enum.sum(items)\n  end\nend\n"
    );
    let prompt = fake.server.requests()[0].json().to_string();
    assert!(
        prompt.contains("Leftover IO.inspect") && prompt.contains("debug/io-inspect"),
        "{prompt}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn the_prompt_carries_the_callees_definitions_from_other_files_and_is_audited() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["{:ok, user}"]))],
    );
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sample_app");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    for relative in [
        "mix.exs",
        "lib/sample_app/accounts.ex",
        "lib/sample_app/repo.ex",
        "lib/sample_app/mailer.ex",
        "lib/sample_app/guards.ex",
    ] {
        let target = root.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(sample.join(relative), target).expect("copy");
    }
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({}),
        settings(json!({ "local": ollama(&fake.server.url()) }), &["local"]),
        Some(&root),
    );
    // Wait for the index: workspace symbols find the repo once it is built.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.request("workspace/symbol", json!({ "query": "SampleApp.Repo" }))["result"]
        .as_array()
        .is_none_or(|r| r.is_empty())
    {
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let accounts = root.join("lib/sample_app/accounts.ex");
    let text = std::fs::read_to_string(&accounts).expect("read");
    let uri = lsp_client::file_uri(&accounts);
    client.open(&uri, &text);
    // A new line after `Repo.insert(user)` inside register/1.
    let line = text
        .lines()
        .position(|l| l.contains("Repo.insert(user)"))
        .expect("line") as u32;
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "range": { "start": { "line": line + 1, "character": 0 }, "end": { "line": line + 1, "character": 0 } }, "text": "    \n" }] }),
    );
    let response = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": line + 1, "character": 4 } }),
    );
    assert!(
        response["result"]["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "{response}"
    );
    let prompt = fake.server.requests()[0].json()["prompt"]
        .as_str()
        .expect("prompt")
        .to_owned();
    assert!(
        prompt.contains("def insert(record)") || prompt.contains("insert(record)"),
        "the callee from repo.ex: {prompt}"
    );
    assert!(
        prompt.contains("@spec insert(struct()) :: {:ok, struct()}"),
        "{prompt}"
    );
    assert!(
        prompt.contains("lib/sample_app/repo.ex"),
        "labelled with its path: {prompt}"
    );
    // The request is in the audit log: files and a hash of the prompt, not the prompt itself.
    let audit_path = client.cache_dir.join("audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !audit_path.exists() {
        assert!(
            Instant::now() < deadline,
            "no audit log at {}",
            audit_path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = std::fs::read_to_string(&audit_path).expect("audit");
    let entry: Value = serde_json::from_str(line.lines().next().expect("a line")).expect("json");
    assert_eq!(entry["feature"], "completion");
    assert_eq!(entry["provider"], "local");
    assert!(
        entry["files"]
            .to_string()
            .contains("lib/sample_app/repo.ex"),
        "{entry}"
    );
    assert_eq!(entry["prompt_sha256"].as_str().map(str::len), Some(64));
    assert!(
        entry.get("prompt").is_none(),
        "prompts are not recorded unless asked"
    );
    assert!(client.shutdown().success());
}

#[test]
fn a_code_action_edit_is_checkpointed_and_undo_last_ai_edit_puts_the_function_back() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(
            "```elixir\ndef total(items), do: Enum.reduce(items, 0, &+/2)\n```\n",
        ))],
    );
    let mut client = action_client(&fake);
    let offered = action(&mut client, "aiex.refactor", 4, 6);
    let (apply, response) = client.execute_applying_edit(offered["command"].clone());
    assert_eq!(response["result"]["applied"], true);
    let edited = apply_workspace_edit(ACTION_TEXT, &apply["params"]["edit"]);
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": ACTION_DOC, "version": 2 }, "contentChanges": [{ "text": edited }] }),
    );
    let listed = client.request("aiex/checkpoints", Value::Null);
    assert_eq!(
        listed["result"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let (restore, undone) =
        client.execute_applying_edit(json!({ "command": "aiex.undoLastAiEdit", "arguments": [] }));
    let change = &restore["params"]["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 2);
    assert_eq!(change["edits"][0]["newText"], ACTION_TEXT);
    assert_eq!(undone["result"]["restored"], 1);
    assert!(client.shutdown().success());
}

#[test]
fn a_test_file_created_by_generate_tests_is_removed_by_undo() {
    let fake = Fake::start();
    let describe = "```elixir\ndescribe \"total/1\" do\n  test \"sums the prices\" do\n    assert Cart.total([1, 2]) == 3\n  end\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(describe))]);
    let (_dir, root, mut client, offered) = tests_client(&fake);
    let (apply, response) = client.execute_applying_edit(offered["command"].clone());
    assert_eq!(response["result"]["applied"], true);
    // The editor creates the file, as the edit says.
    let content = apply["params"]["edit"]["documentChanges"][1]["edits"][0]["newText"]
        .as_str()
        .expect("content")
        .to_owned();
    let test_file = root.join("test/cart_test.exs");
    std::fs::write(&test_file, &content).expect("write");

    let (restore, undone) =
        client.execute_applying_edit(json!({ "command": "aiex.undoLastAiEdit", "arguments": [] }));
    let change = &restore["params"]["edit"]["documentChanges"][0];
    assert_eq!(change["kind"], "delete", "{restore}");
    assert_eq!(
        change["uri"],
        lsp_client::file_uri(&test_file).as_str(),
        "{restore}"
    );
    assert_eq!(undone["result"]["restored"], 1);
    assert!(client.shutdown().success());
}
