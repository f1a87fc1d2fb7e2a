//! Conversations through the real binary against the fake provider: a chat killed with
//! SIGKILL while the answer streams is recovered with everything before the kill; sessions
//! export, import and delete from the command line; a proposed edit that does not parse is
//! never offered.

#[path = "support/cli_project.rs"]
mod cli_project;
#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};
use support::fake_provider::{BlockingFake as Fake, Reply};
use support::ollama::chat as ollama_chat;

const CART: &str = "defmodule Cart do\n  def total(items) do\n    Enum.sum(items)\n  end\nend\n";

fn aiex(dir: &Path) -> Command {
    cli_project::aiex_command(dir)
}

fn project_using(url: &str) -> tempfile::TempDir {
    cli_project::cart_project(url, CART, "")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let output = aiex(dir).args(args).output().expect("run aiex");
    assert!(
        output.status.success(),
        "aiex {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_chat_killed_while_the_answer_streams_is_recovered_with_everything_before_the_kill() {
    let fake = Fake::start();
    let answer: String = (1..=40)
        .map(|n| format!("Line {n} of the answer.\n"))
        .collect();
    fake.server.on(
        "/api/chat",
        vec![Reply::Drip {
            recording: ollama_chat(&answer),
            piece: 64,
            every: Duration::from_millis(60),
        }],
    );
    let dir = project_using(&fake.server.url());
    let mut child = aiex(dir.path())
        .args([
            "chat",
            "--file",
            "lib/cart.ex",
            "--message",
            "What does total/1 do?",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aiex chat");
    // Read until three lines of the answer were shown: each was in the log before it was.
    let mut shown = String::new();
    let mut out = child.stdout.take().expect("stdout");
    let started = Instant::now();
    let mut buffer = [0u8; 256];
    while shown.matches('\n').count() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no answer streamed: {shown:?}"
        );
        let read = out.read(&mut buffer).expect("read stdout");
        assert!(read > 0, "aiex chat ended before the kill: {shown:?}");
        shown.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(
        !shown.contains("Line 40"),
        "the answer finished before the kill"
    );

    let list = stdout(&run(dir.path(), &["sessions", "list"]));
    assert!(list.starts_with("1\t"), "{list}");
    assert!(list.contains("What does total/1 do?"), "{list}");
    let show = stdout(&run(dir.path(), &["sessions", "show", "1"]));
    assert!(show.contains("you:\nWhat does total/1 do?"), "{show}");
    assert!(show.contains("aiex [interrupted]:"), "{show}");
    let recovered = show
        .split("aiex [interrupted]:\n")
        .nth(1)
        .expect("the answer");
    assert!(
        recovered.starts_with(shown.trim_end()),
        "everything shown before the kill is in the log:\nshown: {shown:?}\nlog: {recovered:?}"
    );
    let exported = stdout(&run(dir.path(), &["sessions", "export", "1"]));
    assert!(exported.contains("\"context_attached\""), "{exported}");
    assert!(exported.contains("lib/cart.ex"), "{exported}");
}

#[test]
fn sessions_continue_export_import_and_delete_from_the_command_line() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat("It sums the items.\n")),
            Reply::Recorded(ollama_chat("Enum.sum/1 adds numbers.\n")),
        ],
    );
    let dir = project_using(&fake.server.url());
    let first = run(
        dir.path(),
        &[
            "chat",
            "--file",
            "lib/cart.ex",
            "--message",
            "What does total do?",
        ],
    );
    assert_eq!(stdout(&first), "It sums the items.\n");
    let second = run(
        dir.path(),
        &[
            "chat",
            "--session",
            "1",
            "--message",
            "And Enum.sum? #symbol:Cart.total",
        ],
    );
    assert_eq!(stdout(&second), "Enum.sum/1 adds numbers.\n");
    // The second request carried the first exchange and the resolved symbol.
    let requests = fake.server.requests();
    let body = requests[1].json().to_string();
    assert!(body.contains("It sums the items."), "{body}");
    assert!(
        body.contains("Enum.sum(items)"),
        "#symbol resolved through the index: {body}"
    );

    let exported = stdout(&run(dir.path(), &["sessions", "export", "1"]));
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &exported).expect("write");
    let imported = stdout(&run(dir.path(), &["sessions", "import", "export.jsonl"]));
    assert_eq!(imported, "imported as session 2\n");
    let show = |id: &str| stdout(&run(dir.path(), &["sessions", "show", id]));
    assert_eq!(show("1"), show("2"));

    run(dir.path(), &["sessions", "rm", "1"]);
    let gone = aiex(dir.path())
        .args(["sessions", "show", "1"])
        .output()
        .expect("run");
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no session 1"));
    let list = stdout(&run(dir.path(), &["sessions", "list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "not json\n").expect("write");
    let refused = aiex(dir.path())
        .args(["sessions", "import", "bad.jsonl"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("line 1"));
}

#[test]
fn a_proposed_edit_that_does_not_parse_is_never_offered() {
    let fake = Fake::start();
    let broken = "Try this:\n```elixir path=lib/cart.ex\ndefmodule Cart do\n  def total(items) do\n    Enum.sum(items\nend\n```\n";
    let good = "Try this:\n```elixir path=lib/cart.ex\ndefmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n```\n";
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(broken)),
            Reply::Recorded(ollama_chat(good)),
        ],
    );
    let dir = project_using(&fake.server.url());
    let output = run(
        dir.path(),
        &["chat", "--file", "lib/cart.ex", "--message", "shorter?"],
    );
    assert!(
        !stdout(&output).contains("[proposed edit"),
        "{}",
        stdout(&output)
    );
    let output = run(
        dir.path(),
        &[
            "chat",
            "--session",
            "1",
            "--file",
            "lib/cart.ex",
            "--message",
            "again",
        ],
    );
    assert!(
        stdout(&output).contains("[proposed edit 1: Aiex chat: rewrite lib/cart.ex]"),
        "{}",
        stdout(&output)
    );
    let show = stdout(&run(dir.path(), &["sessions", "show", "1"]));
    assert!(show.contains("edit 1 (Proposed)"), "{show}");
    // The file is untouched until an editor applies the edit.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("lib/cart.ex")).unwrap(),
        CART
    );
}

fn editor(dir: &Path) -> LspClient {
    let options = lsp_client::SpawnOptions {
        env: vec![
            (
                "XDG_CONFIG_HOME".to_owned(),
                dir.join("user-config").display().to_string(),
            ),
            (
                "AIEX_DATA_DIR".to_owned(),
                dir.join("data").display().to_string(),
            ),
            (
                "AIEX_CACHE_DIR".to_owned(),
                dir.join("cache").display().to_string(),
            ),
        ],
        ..lsp_client::SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(Some(dir), &options);
    client.initialize(
        json!({ "workspace": { "applyEdit": true, "workspaceEdit": { "documentChanges": true, "changeAnnotationSupport": {} } } }),
        Value::Null,
        Some(dir),
    );
    client
}

#[test]
fn a_chat_turn_over_lsp_streams_proposes_an_annotated_edit_applies_it_and_undo_restores_the_bytes()
{
    let fake = Fake::start();
    let proposal = "Shorter:\n```elixir path=lib/cart.ex\ndefmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(proposal))]);
    let dir = project_using(&fake.server.url());
    let root = dir.path().canonicalize().expect("canonical");
    let mut client = editor(&root);
    let uri = file_uri(&root.join("lib/cart.ex"));
    client.open(&uri, CART);
    let id = client.send_request(
        "aiex/chat",
        json!({ "message": "Make total shorter", "textDocument": { "uri": uri }, "token": "t1" }),
    );
    let delta = client.notification("aiex/chatDelta");
    assert_eq!(delta["params"]["token"], "t1");
    assert_eq!(delta["params"]["text"], "Shorter:\n");
    let response = client.response(id);
    let result = &response["result"];
    assert_eq!(result["sessionId"], 1, "{response}");
    let offered = &result["proposals"][0];
    assert_eq!(
        offered["edit"]["changeAnnotations"]["aiex"]["needsConfirmation"],
        true
    );
    assert_eq!(
        offered["edit"]["documentChanges"][0]["textDocument"]["version"],
        1
    );

    let apply_id = client.send_request(
        "aiex/applyChatEdit",
        json!({ "sessionId": 1, "proposal": offered["proposal"] }),
    );
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    let new_text = apply["params"]["edit"]["documentChanges"][0]["edits"][0]["newText"]
        .as_str()
        .expect("text")
        .to_owned();
    assert_eq!(
        new_text,
        "defmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n"
    );
    let applied = client.response(apply_id);
    assert_eq!(applied["result"]["applied"], true, "{applied}");
    // The editor applies it and tells the server, as a real one does.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": new_text }] }),
    );
    let session = client.request("aiex/session", json!({ "sessionId": 1 }));
    assert_eq!(
        session["result"]["proposals"][0]["state"], "applied",
        "{session}"
    );
    assert_eq!(
        session["result"]["checkpoints"].as_array().map(Vec::len),
        Some(1),
        "{session}"
    );

    let undo = client.send_request(
        "workspace/executeCommand",
        json!({ "command": "aiex.undoLastAiEdit", "arguments": [] }),
    );
    let restore = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    let change = &restore["params"]["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 2);
    assert_eq!(
        change["edits"][0]["newText"], CART,
        "byte-identical to before the AI edit"
    );
    let undone = client.response(undo);
    assert_eq!(undone["result"]["restored"], 1, "{undone}");
    assert!(client.shutdown().success());
}

#[test]
fn undo_refuses_when_the_file_changed_since_the_ai_edit() {
    let fake = Fake::start();
    let proposal = "```elixir path=lib/cart.ex\ndefmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(proposal))]);
    let dir = project_using(&fake.server.url());
    let root = dir.path().canonicalize().expect("canonical");
    let mut client = editor(&root);
    let uri = file_uri(&root.join("lib/cart.ex"));
    client.open(&uri, CART);
    let response = client.request(
        "aiex/chat",
        json!({ "message": "shorter", "textDocument": { "uri": uri } }),
    );
    assert_eq!(
        response["result"]["proposals"][0]["proposal"], 1,
        "{response}"
    );
    let id = client.send_request(
        "aiex/applyChatEdit",
        json!({ "sessionId": 1, "proposal": 1 }),
    );
    client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": "# the user's own edit\n" }] }),
    );
    let undo = client.request(
        "workspace/executeCommand",
        json!({ "command": "aiex.undoLastAiEdit", "arguments": [] }),
    );
    let message = undo["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("changed since the last AI edit"), "{undo}");
    let forced = client.send_request("workspace/executeCommand", json!({ "command": "aiex.restoreCheckpoint", "arguments": [{ "checkpoint": 1, "force": true }] }));
    let restore = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(
        restore["params"]["edit"]["documentChanges"][0]["edits"][0]["newText"],
        CART
    );
    assert_eq!(client.response(forced)["result"]["restored"], 1);
    assert!(client.shutdown().success());
}

#[test]
fn cancelling_a_chat_request_closes_the_provider_connection_and_the_log_says_so() {
    let fake = Fake::start();
    fake.server.on("/api/chat", vec![Reply::Silence]);
    let dir = project_using(&fake.server.url());
    let root = dir.path().canonicalize().expect("canonical");
    let mut client = editor(&root);
    let id = client.send_request("aiex/chat", json!({ "message": "anything?" }));
    assert!(fake.wait_for_requests(1), "the chat reached the provider");
    client.notify("$/cancelRequest", json!({ "id": id }));
    assert!(
        fake.wait_for_client_close(1),
        "the provider connection was closed"
    );
    let response = client.response(id);
    assert_eq!(response["error"]["code"], -32800, "{response}");
    let session = client.request("aiex/session", json!({ "sessionId": 1 }));
    let answer = &session["result"]["messages"][1];
    assert_eq!(answer["stopped"], "cancelled", "{session}");
    assert!(client.shutdown().success());
}

#[test]
fn a_chat_sends_no_planted_secret_and_no_secret_file() {
    let fake = Fake::start();
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat("Noted.\n"))]);
    let dir = project_using(&fake.server.url());
    let key = "ghp_Zq8bX2mN4vR7tY1uI3oP5aS6dF9gH0jK2lLq";
    std::fs::write(
        dir.path().join("lib/cart.ex"),
        format!(
            "defmodule Cart do\n  @token \"{key}\"\n  def total(items), do: Enum.sum(items)\nend\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.path().join(".env"),
        "SECRET_KEY_BASE=abcdef0123456789abcdef\n",
    )
    .expect("write");
    let refused = aiex(dir.path())
        .args(["chat", "--message", "what is in #file:.env"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        fake.server.request_count(),
        0,
        "nothing sent for a secret file"
    );
    run(
        dir.path(),
        &[
            "chat",
            "--file",
            "lib/cart.ex",
            "--message",
            &format!("is {key} safe here?"),
        ],
    );
    let body = fake.server.requests()[0].json().to_string();
    assert!(
        !body.contains(key),
        "the planted key left the machine: {body}"
    );
    let audit = std::fs::read_to_string(dir.path().join("cache/audit.jsonl")).expect("audit");
    assert!(audit.contains("\"feature\":\"chat\""), "{audit}");
}

const SHOP: &str = "defmodule Shop do\n  def checkout(items), do: Cart.total(items)\nend\n";

/// The cart project with `lib/shop.ex` besides, an editor on it and `lib/cart.ex` open.
fn shop_editor(fake: &Fake) -> (tempfile::TempDir, std::path::PathBuf, LspClient, String) {
    let dir = project_using(&fake.server.url());
    std::fs::write(dir.path().join("lib/shop.ex"), SHOP).expect("write lib/shop.ex");
    let root = dir.path().canonicalize().expect("canonical");
    let mut client = editor(&root);
    let uri = file_uri(&root.join("lib/cart.ex"));
    client.open(&uri, CART);
    // `#symbol` references resolve through the workspace index: chat once it holds both
    // files (a loaded machine indexed them after the first chat turn once in five runs).
    let deadline = Instant::now() + Duration::from_secs(30);
    while ["Cart", "Shop"].iter().any(|module| {
        client.request("workspace/symbol", json!({ "query": module }))["result"]
            .as_array()
            .is_none_or(|found| found.is_empty())
    }) {
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(20));
    }
    (dir, root, client, uri)
}

#[test]
fn a_chat_proposal_naming_two_files_is_one_workspace_edit_one_checkpoint_and_one_undo() {
    let fake = Fake::start();
    let cart = "defmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n";
    let shop = "defmodule Shop do\n  def checkout(items), do: {:ok, Cart.total(items)}\nend\n";
    let answer = format!(
        "Both:\n```elixir path=lib/cart.ex\n{cart}```\nand\n```elixir path=lib/shop.ex\n{shop}```\n"
    );
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(&answer))]);
    let (_dir, root, mut client, cart_uri) = shop_editor(&fake);
    let shop_uri = file_uri(&root.join("lib/shop.ex"));
    let response = client.request(
        "aiex/chat",
        json!({ "message": "return ok tuples", "textDocument": { "uri": cart_uri } }),
    );
    let proposals = response["result"]["proposals"]
        .as_array()
        .expect("proposals");
    assert_eq!(
        proposals.len(),
        1,
        "one proposal for both files: {response}"
    );
    let changes = proposals[0]["edit"]["documentChanges"]
        .as_array()
        .expect("document changes");
    let uris: Vec<&str> = changes
        .iter()
        .map(|c| c["textDocument"]["uri"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(uris, vec![cart_uri.as_str(), shop_uri.as_str()]);
    assert_eq!(changes[1]["edits"][0]["newText"], shop);
    assert_eq!(
        proposals[0]["edit"]["changeAnnotations"]["aiex"]["needsConfirmation"],
        true
    );

    let apply_id = client.send_request(
        "aiex/applyChatEdit",
        json!({ "sessionId": 1, "proposal": 1 }),
    );
    let apply = client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(
        apply["params"]["edit"]["documentChanges"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(client.response(apply_id)["result"]["checkpoint"], 1);
    // The editor applies it: the open file changes in the editor, the other on disk.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": cart_uri, "version": 2 }, "contentChanges": [{ "text": cart }] }),
    );
    std::fs::write(root.join("lib/shop.ex"), shop).expect("write");

    let listed = client.request("aiex/checkpoints", Value::Null);
    let files = listed["result"][0]["files"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(files.len(), 2, "{listed}");
    let compared = client.request("aiex/compareCheckpoint", json!({ "checkpoint": 1 }));
    let diffs = compared["result"].as_array().expect("diffs");
    assert_eq!(diffs.len(), 2, "{compared}");
    let shop_diff = diffs
        .iter()
        .find(|d| d["path"].as_str().is_some_and(|p| p.ends_with("shop.ex")))
        .expect("shop.ex compared");
    let text = shop_diff["diff"].as_str().unwrap_or_default();
    assert!(
        text.contains("-  def checkout(items), do: Cart.total(items)")
            && text.contains("+  def checkout(items), do: {:ok, Cart.total(items)}"),
        "{text}"
    );

    let (restore, undone) =
        client.execute_applying_edit(json!({ "command": "aiex.undoLastAiEdit", "arguments": [] }));
    let restored: Vec<&str> = restore["params"]["edit"]["documentChanges"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["edits"][0]["newText"].as_str().unwrap_or_default())
        .collect();
    assert!(
        restored.contains(&CART) && restored.contains(&SHOP),
        "{restore}"
    );
    assert_eq!(undone["result"]["restored"], 1);
    assert!(client.shutdown().success());
}

#[test]
fn a_two_file_proposal_with_a_file_that_does_not_parse_is_not_offered_at_all() {
    let fake = Fake::start();
    let answer = "```elixir path=lib/cart.ex\ndefmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n```\n```elixir path=lib/shop.ex\ndefmodule Shop do\n  def checkout(items do\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(answer))]);
    let (_dir, _root, mut client, cart_uri) = shop_editor(&fake);
    let response = client.request(
        "aiex/chat",
        json!({ "message": "both", "textDocument": { "uri": cart_uri } }),
    );
    assert_eq!(response["result"]["proposals"], json!([]), "{response}");
    assert!(client.shutdown().success());
}

#[test]
fn file_and_symbol_references_attach_that_code_over_lsp() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat("They agree.\n"))],
    );
    let (_dir, _root, mut client, _uri) = shop_editor(&fake);
    let response = client.request(
        "aiex/chat",
        json!({ "message": "Does #file:lib/shop.ex use #symbol:Cart.total correctly?" }),
    );
    let context = response["result"]["context"].as_array().expect("context");
    let reasons: Vec<(&str, &str)> = context
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or_default(),
                c["path"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(reasons.contains(&("#file", "lib/shop.ex")), "{response}");
    assert!(reasons.contains(&("#symbol", "lib/cart.ex")), "{response}");
    let prompt = fake.server.requests()[0].json().to_string();
    assert!(
        prompt.contains("def checkout(items), do: Cart.total(items)"),
        "{prompt}"
    );
    assert!(prompt.contains("Enum.sum(items)"), "{prompt}");
    assert!(client.shutdown().success());
}

#[test]
fn the_workspace_context_of_a_chat_stays_within_its_token_budget() {
    let fake = Fake::start();
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat("Fine.\n"))]);
    let dir = project_using(&fake.server.url());
    // Forty modules calling Cart.total, 2 KB each: far more than the budget (2,048 tokens).
    for n in 0..40 {
        let body: String = (0..30)
            .map(|f| format!("  def f{f}(items), do: Cart.total(items) + {f}\n"))
            .collect();
        std::fs::write(
            dir.path().join(format!("lib/user{n}.ex")),
            format!("defmodule User{n} do\n{body}end\n"),
        )
        .expect("write");
    }
    let root = dir.path().canonicalize().expect("canonical");
    let mut client = editor(&root);
    let uri = file_uri(&root.join("lib/cart.ex"));
    client.open(&uri, CART);
    let response = client.request(
        "aiex/chat",
        json!({ "message": "Who calls total?", "textDocument": { "uri": uri } }),
    );
    let context = response["result"]["context"].as_array().expect("context");
    let workspace = context
        .iter()
        .filter(|c| c["reason"] == "workspace")
        .count();
    assert!(workspace > 0, "related files attached: {response}");
    assert!(workspace < 40, "not every file: {response}");
    let prompt = fake.server.requests()[0].json();
    let question = prompt["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .expect("the question")
        .to_owned();
    let related = question
        .split("Related code from the workspace:")
        .nth(1)
        .expect("a workspace section");
    // 2,048 tokens are at most ~10 KB of Elixir; 40 files are 80 KB.
    assert!(related.len() < 12_000, "{} bytes", related.len());
    assert!(client.shutdown().success());
}

#[test]
fn checkpoints_list_diff_and_restore_from_the_command_line() {
    let fake = Fake::start();
    let shorter = "defmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n";
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(&format!(
            "```elixir path=lib/cart.ex\n{shorter}```\n"
        )))],
    );
    let (dir, root, mut client, _uri) = shop_editor(&fake);
    client.request("aiex/chat", json!({ "message": "shorter" }));
    let id = client.send_request(
        "aiex/applyChatEdit",
        json!({ "sessionId": 1, "proposal": 1 }),
    );
    client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
    assert_eq!(client.response(id)["result"]["applied"], true);
    assert!(client.shutdown().success());
    // The editor applied and saved it; the editor is closed.
    std::fs::write(root.join("lib/cart.ex"), shorter).expect("write");

    let list = stdout(&run(dir.path(), &["checkpoints", "list"]));
    assert!(
        list.starts_with("1\tAiex chat: rewrite lib/cart.ex\t") && list.contains("lib/cart.ex"),
        "{list}"
    );
    let diff = stdout(&run(dir.path(), &["checkpoints", "diff", "1"]));
    assert!(diff.contains("-  def total(items) do"), "{diff}");
    assert!(
        diff.contains("+  def total(items), do: Enum.sum(items)"),
        "{diff}"
    );
    let restored = stdout(&run(dir.path(), &["checkpoints", "restore", "1"]));
    assert!(restored.contains("restored"), "{restored}");
    assert_eq!(
        std::fs::read_to_string(root.join("lib/cart.ex")).unwrap(),
        CART,
        "byte-identical to before the AI edit"
    );
    // Restored, the checkpoint (and any later one) is gone: nothing left to undo.
    assert_eq!(stdout(&run(dir.path(), &["checkpoints", "list"])), "");
}

#[test]
fn the_users_retention_deletes_the_oldest_sessions_and_a_workspace_cannot_set_it() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat("One.\n")),
            Reply::Recorded(ollama_chat("Two.\n")),
            Reply::Recorded(ollama_chat("Three.\n")),
        ],
    );
    let dir = cli_project::cart_project(&fake.server.url(), CART, "[sessions]\nretain_count = 2\n");
    // A workspace asking to keep one session is not obeyed, trusted or not.
    std::fs::write(
        dir.path().join(".aiex.toml"),
        "[sessions]\nretain_count = 1\n",
    )
    .expect("write");
    for message in ["first", "second", "third"] {
        run(dir.path(), &["chat", "--message", message]);
    }
    let list = stdout(&run(dir.path(), &["sessions", "list"]));
    let ids: Vec<&str> = list.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(ids, vec!["3", "2"], "{list}");
    assert_eq!(
        stdout(&run(dir.path(), &["sessions", "prune"])),
        "0 session(s) and 0 checkpoint(s) deleted\n"
    );
}
