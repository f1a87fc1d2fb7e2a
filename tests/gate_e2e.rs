//! One privacy gate and one audit for every entry point: LSP completion, inline completion,
//! hover explanation, each code action, `aiex complete` and `aiex explain`, each against the
//! fake provider on 127.0.0.1, grepping what it received and what the audit log holds.
//!
//! The workspace plants what must never leave: a key in the code (redacted, and counted), a
//! module under an `.aiexignore`d folder, an ignored test file that Generate tests would read,
//! a symlink inside `lib/` pointing outside the workspace, and a document outside the roots.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};
use support::fake_provider::{FakeProvider, Reply};
use support::ollama;

const KEY: &str = "AKIAIOSFODNN7ABCDEFG";
const MARKERS: &[&str] = &[
    KEY,
    "IGNORED_VAULT_MARKER",
    "IGNORED_TEST_MARKER",
    "OUTSIDE_LINK_MARKER",
    "OUTSIDE_DOC_MARKER",
    "ENV_FILE_MARKER",
];

const CART: &str = "defmodule Shop.Cart do
  alias Shop.Pricing
  alias Shop.Vault

  def total(items) do
    key = \"AKIAIOSFODNN7ABCDEFG\"
    fee = Vault.fee(key) + Shop.Linked.extra()
    subtotal = Pricing.
    subtotal + fee
  end
end
";
/// After `Pricing.` on line 7 (0-based), where the cursor goes.
const CURSOR: (u32, u32) = (7, 23);

/// The answer every chat request gets: usable by every action (docs, refactor, fix).
const CHAT_ANSWER: &str = "```elixir\n@doc \"Totals the items.\"\n@spec total(list) :: number\ndef total(items) do\n  Enum.sum(items)\nend\n```\n";

struct World {
    runtime: tokio::runtime::Runtime,
    fake: FakeProvider,
    /// The workspace root (real path).
    root: PathBuf,
    _dir: tempfile::TempDir,
    /// A folder outside the workspace.
    outside: PathBuf,
    _outside_dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let fake = runtime.block_on(FakeProvider::start());
        fake.on(
            "/api/generate",
            vec![Reply::Recorded(ollama::generate(&["sum(items)"]))],
        );
        fake.on(
            "/api/chat",
            vec![Reply::Recorded(ollama::chat(CHAT_ANSWER))],
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("root");
        let outside_dir = tempfile::tempdir().expect("tempdir");
        let outside = outside_dir.path().canonicalize().expect("outside");
        let write = |path: &Path, text: &str| {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(&root.join("mix.exs"), "defmodule Shop.MixProject do\nend\n");
        write(&root.join(".aiexignore"), "lib/private/\ntest/shop/\n");
        write(&root.join("lib/shop/cart.ex"), CART);
        write(&root.join(".env"), "SECRET_TOKEN=ENV_FILE_MARKER\n");
        write(
            &root.join("lib/shop/pricing.ex"),
            "defmodule Shop.Pricing do\n  @spec sum([number]) :: number\n  def sum(items), do: Enum.sum(items)\nend\n",
        );
        write(
            &root.join("lib/private/vault.ex"),
            "defmodule Shop.Vault do\n  def fee(_key), do: \"IGNORED_VAULT_MARKER\"\nend\n",
        );
        write(
            &root.join("test/shop/cart_test.exs"),
            "defmodule Shop.CartTest do\n  # IGNORED_TEST_MARKER\n  use ExUnit.Case\nend\n",
        );
        write(
            &outside.join("linked.ex"),
            "defmodule Shop.Linked do\n  def extra, do: \"OUTSIDE_LINK_MARKER\"\nend\n",
        );
        write(
            &outside.join("elsewhere.ex"),
            "defmodule Elsewhere do\n  def x, do: \"OUTSIDE_DOC_MARKER\"\nend\n",
        );
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.join("linked.ex"), root.join("lib/shop/linked.ex"))
            .expect("symlink");
        // The user's own configuration (the command line reads it; a workspace file may not
        // choose where prompts go).
        write(
            &root.join("user-config/aiex/config.toml"),
            &format!(
                "[providers.local]\nkind = \"ollama\"\nbase_url = \"{}\"\nmodel = \"qwen2.5-coder:1.5b\"\n",
                fake.url()
            ),
        );
        Self {
            runtime,
            fake,
            root,
            _dir: dir,
            outside,
            _outside_dir: outside_dir,
        }
    }

    fn uri(&self, relative: &str) -> String {
        file_uri(&self.root.join(relative))
    }

    fn requests(&self) -> usize {
        self.fake.request_count()
    }

    /// Waits (a little) for `count` provider requests in all.
    fn wait_for_requests(&self, count: usize) {
        let arrived = self
            .runtime
            .block_on(self.fake.wait_for_requests(count, Duration::from_secs(10)));
        assert!(
            arrived,
            "expected {count} provider requests, saw {}",
            self.requests()
        );
    }

    /// Every body the provider received, as text.
    fn received(&self) -> Vec<String> {
        self.fake
            .requests()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }

    fn cli(&self, cache: &Path, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
            .args(args)
            .current_dir(&self.root)
            .env("XDG_CONFIG_HOME", self.root.join("user-config"))
            .env("AIEX_DATA_DIR", cache.join("data"))
            .env("AIEX_CACHE_DIR", cache)
            .output()
            .expect("run aiex")
    }
}

/// The audit log's lines.
fn audit_lines(cache: &Path) -> Vec<Value> {
    std::fs::read_to_string(cache.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("an audit line is JSON"))
        .collect()
}

/// Waits for the audit log to hold `count` lines (they are written off the message loop).
fn wait_for_audit(cache: &Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = audit_lines(cache);
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks the last audit line: the feature, and that it names the files it drew on.
fn assert_audited(line: &Value, feature: &str, files: &[&str], redactions_at_least: u64) {
    assert_eq!(line["feature"], feature, "{line}");
    let recorded: Vec<&str> = line["files"]
        .as_array()
        .unwrap_or_else(|| panic!("files in {line}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for file in files {
        assert!(recorded.contains(file), "{file} missing from {line}");
    }
    assert!(
        line["redactions"].as_u64().unwrap_or(0) >= redactions_at_least,
        "redactions in {line}"
    );
    assert_eq!(line["outcome"], "ok", "{line}");
    assert_eq!(
        line["prompt_sha256"].as_str().map(str::len),
        Some(64),
        "{line}"
    );
}

fn settings() -> impl Fn(&str) -> Value {
    |url: &str| {
        json!({
            "providers": { "local": { "kind": "ollama", "base_url": url, "model": "qwen2.5-coder:1.5b" } },
            "features": {
                "completion": { "providers": ["local"], "debounce_min_ms": 5, "debounce_max_ms": 20, "timeout_ms": 5000 },
                "explain": { "providers": ["local"], "hover": true, "hover_timeout_ms": 5000 },
                "actions": { "providers": ["local"] }
            }
        })
    }
}

fn started(world: &World) -> LspClient {
    let mut client = LspClient::spawn(Some(&world.root));
    client.initialize(
        json!({ "workspace": { "workspaceEdit": { "documentChanges": true } } }),
        settings()(&world.fake.url()),
        Some(&world.root),
    );
    // The index (the context's source for other files) is built in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = client.request(
            "workspace/executeCommand",
            json!({ "command": "aiex.status", "arguments": [] }),
        );
        if status["result"]["index"]["files"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(50));
    }
    client
}

fn position(line: u32, character: u32) -> Value {
    json!({ "line": line, "character": character })
}

/// The response to command `id`, applying every edit the server sends meanwhile (none, when the
/// command fails: the failure is then what comes back, not a wait for an edit).
fn command_response(client: &mut LspClient, id: i64) -> Value {
    loop {
        let message = client.wait_for(|m| {
            (m["method"] == "workspace/applyEdit" && m.get("id").is_some())
                || (m.get("id") == Some(&json!(id)) && m.get("method").is_none())
        });
        if message["method"] == "workspace/applyEdit" {
            client.send(
                &json!({ "jsonrpc": "2.0", "id": message["id"], "result": { "applied": true } }),
            );
            continue;
        }
        return message;
    }
}

fn command(client: &mut LspClient, name: &str, uri: &str, extra: Value) -> i64 {
    let mut argument = json!({ "uri": uri, "position": position(4, 7) });
    if let (Some(argument), Some(extra)) = (argument.as_object_mut(), extra.as_object()) {
        argument.extend(extra.clone());
    }
    client.send_request(
        "workspace/executeCommand",
        json!({ "command": name, "arguments": [argument] }),
    )
}

#[test]
fn every_editor_request_passes_the_gate_and_leaves_one_audit_line() {
    let world = World::new();
    let mut client = started(&world);
    let cache = client.cache_dir.clone();
    let cart = world.uri("lib/shop/cart.ex");
    client.open(&cart, CART);
    let mut expected = 0;

    // Completion items.
    let response = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": cart }, "position": position(CURSOR.0, CURSOR.1) }),
    );
    assert!(response.get("error").is_none(), "{response}");
    expected += 1;
    world.wait_for_requests(expected);
    let lines = wait_for_audit(&cache, expected);
    assert_eq!(lines.len(), expected, "{lines:?}");
    assert_audited(
        &lines[expected - 1],
        "completion",
        &["lib/shop/cart.ex", "lib/shop/pricing.ex"],
        1,
    );

    // Ghost text, asked for explicitly, at another place.
    let response = client.request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": { "uri": cart }, "position": position(6, 4), "context": { "triggerKind": 1 } }),
    );
    assert!(response.get("error").is_none(), "{response}");
    expected += 1;
    world.wait_for_requests(expected);
    let lines = wait_for_audit(&cache, expected);
    assert_eq!(lines.len(), expected);
    assert_audited(&lines[expected - 1], "completion", &["lib/shop/cart.ex"], 1);

    // The explanation on hover over `total`.
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": cart }, "position": position(4, 7) }),
    );
    assert!(hover.get("error").is_none(), "{hover}");
    expected += 1;
    world.wait_for_requests(expected);
    let lines = wait_for_audit(&cache, expected);
    assert_eq!(lines.len(), expected);
    assert_audited(&lines[expected - 1], "hover", &["lib/shop/cart.ex"], 1);

    // Each code action.
    for (name, feature) in [
        ("aiex.explain", "explain"),
        ("aiex.addDocs", "docs"),
        ("aiex.refactor", "refactor"),
    ] {
        let id = command(&mut client, name, &cart, json!({}));
        let response = command_response(&mut client, id);
        assert!(response.get("error").is_none(), "{name}: {response}");
        expected += 1;
        world.wait_for_requests(expected);
        let lines = wait_for_audit(&cache, expected);
        assert_eq!(lines.len(), expected, "{name}");
        assert_audited(&lines[expected - 1], feature, &["lib/shop/cart.ex"], 1);
    }
    let id = command(
        &mut client,
        "aiex.fix",
        &cart,
        json!({ "instruction": "fix the warning at line 6" }),
    );
    let response = command_response(&mut client, id);
    assert!(response.get("error").is_none(), "{response}");
    expected += 1;
    world.wait_for_requests(expected);
    let lines = wait_for_audit(&cache, expected);
    assert_audited(&lines[expected - 1], "fix", &["lib/shop/cart.ex"], 1);

    // Generate tests would read the ignored test file: refused, with a failed request that
    // says why, and nothing sent.
    let id = command(&mut client, "aiex.generateTests", &cart, json!({}));
    let refused = command_response(&mut client, id);
    assert_eq!(refused["error"]["code"], -32803, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(".aiexignore"), "{message}");

    // Documents the gate refuses: ignored, linked from outside, outside the roots.
    let vault = world.uri("lib/private/vault.ex");
    let linked = world.uri("lib/shop/linked.ex");
    let elsewhere = file_uri(&world.outside.join("elsewhere.ex"));
    for (uri, path) in [
        (&vault, world.root.join("lib/private/vault.ex")),
        (&linked, world.root.join("lib/shop/linked.ex")),
        (&elsewhere, world.outside.join("elsewhere.ex")),
    ] {
        let text = std::fs::read_to_string(path).expect("read");
        client.open(uri, &text);
        for method in ["textDocument/completion", "textDocument/inlineCompletion"] {
            let response = client.request(
                method,
                json!({ "textDocument": { "uri": uri }, "position": position(1, 10), "context": { "triggerKind": 1 } }),
            );
            assert!(response.get("error").is_none(), "{response}");
        }
        let id = command(
            &mut client,
            "aiex.explain",
            uri,
            json!({ "position": position(1, 6) }),
        );
        let refused = client.response(id);
        assert_eq!(refused["error"]["code"], -32803, "{uri}: {refused}");
    }
    // With those open, the cart's context still holds none of them.
    let response = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": cart }, "position": position(CURSOR.0, CURSOR.1 - 1) }),
    );
    assert!(response.get("error").is_none(), "{response}");
    expected += 1;
    world.wait_for_requests(expected);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(world.requests(), expected, "refused documents sent nothing");
    let lines = wait_for_audit(&cache, expected);
    assert_eq!(lines.len(), expected, "one audit line per provider request");

    for body in world.received() {
        for marker in MARKERS {
            assert!(
                !body.contains(marker),
                "{marker} reached the provider: {body}"
            );
        }
    }
    let audit = std::fs::read_to_string(cache.join("audit.jsonl")).expect("audit");
    for marker in MARKERS {
        assert!(!audit.contains(marker), "{marker} in the audit log");
    }
    assert!(client.shutdown().success());
}

#[test]
fn the_command_line_passes_the_same_gate_and_audit() {
    let world = World::new();
    let cache = tempfile::tempdir().expect("cache");
    let cache = cache.path();
    let complete = world.cli(cache, &["complete", "lib/shop/cart.ex:8:24"]);
    assert!(
        complete.status.success(),
        "{}",
        String::from_utf8_lossy(&complete.stderr)
    );
    assert_eq!(world.requests(), 1);
    let lines = wait_for_audit(cache, 1);
    assert_eq!(lines.len(), 1);
    assert_audited(
        &lines[0],
        "completion",
        &["lib/shop/cart.ex", "lib/shop/pricing.ex"],
        1,
    );

    let explain = world.cli(cache, &["explain", "lib/shop/cart.ex:5"]);
    assert!(
        explain.status.success(),
        "{}",
        String::from_utf8_lossy(&explain.stderr)
    );
    assert_eq!(world.requests(), 2);
    let lines = wait_for_audit(cache, 2);
    assert_eq!(lines.len(), 2);
    assert_audited(&lines[1], "explain", &["lib/shop/cart.ex"], 1);

    for refused in [
        "lib/private/vault.ex:2:10",
        "lib/shop/linked.ex:2:10",
        ".env:1:1",
    ] {
        let output = world.cli(cache, &["complete", refused]);
        assert_eq!(output.status.code(), Some(1), "{refused}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("never sends it to a model"),
            "{refused}: {stderr}"
        );
    }
    assert_eq!(world.requests(), 2, "refused files sent nothing");
    assert_eq!(audit_lines(cache).len(), 2);
    for body in world.received() {
        for marker in MARKERS {
            assert!(
                !body.contains(marker),
                "{marker} reached the provider: {body}"
            );
        }
    }
}

#[test]
fn the_command_line_and_the_editor_send_the_same_prompt_for_the_same_place() {
    let world = World::new();
    let mut client = started(&world);
    let cart = world.uri("lib/shop/cart.ex");
    client.open(&cart, CART);
    let response = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": cart }, "position": position(CURSOR.0, CURSOR.1) }),
    );
    assert!(response.get("error").is_none(), "{response}");
    world.wait_for_requests(1);
    assert!(client.shutdown().success());

    let cache = tempfile::tempdir().expect("cache");
    // Line and column from 1, in characters: the same place.
    let location = format!("lib/shop/cart.ex:{}:{}", CURSOR.0 + 1, CURSOR.1 + 1);
    let output = world.cli(cache.path(), &["complete", &location]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen = world.fake.requests();
    assert_eq!(seen.len(), 2);
    let (editor, cli) = (seen[0].json(), seen[1].json());
    assert!(
        editor["prompt"]
            .as_str()
            .is_some_and(|p| p.contains("Pricing.")),
        "{editor}"
    );
    assert_eq!(editor["prompt"], cli["prompt"], "the prompts differ");
    assert_eq!(editor["suffix"], cli["suffix"], "the suffixes differ");
    assert_eq!(seen[0].body, seen[1].body, "the requests differ");
}

#[test]
fn an_aiexignore_changed_while_the_server_runs_takes_effect_at_once() {
    let world = World::new();
    let mut client = started(&world);
    let pricing = world.uri("lib/shop/pricing.ex");
    let text = std::fs::read_to_string(world.root.join("lib/shop/pricing.ex")).expect("read");
    client.open(&pricing, &text);
    let ask = |client: &mut LspClient, character: u32| {
        client.request(
            "textDocument/inlineCompletion",
            json!({ "textDocument": { "uri": pricing }, "position": position(2, character), "context": { "triggerKind": 1 } }),
        )
    };
    ask(&mut client, 10);
    world.wait_for_requests(1);

    // The user excludes the file; the editor reports the changed .aiexignore.
    let ignore = world.root.join(".aiexignore");
    std::fs::write(&ignore, "lib/private/\ntest/shop/\nlib/shop/pricing.ex\n").expect("write");
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": file_uri(&ignore), "type": 2 }] }),
    );
    let response = ask(&mut client, 12);
    assert!(response.get("error").is_none(), "{response}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(world.requests(), 1, "the newly ignored file was sent");
    assert!(client.shutdown().success());
}
