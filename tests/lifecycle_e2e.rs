//! The binary's lifecycle end to end: `--version`, `aiex health` and `aiex/health`, the
//! editor package's minimum version, and a stop (`shutdown` then `exit`, or SIGTERM) that still
//! writes the index cache, the usage totals and the audit line of the request it interrupted.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};
use support::fake_provider::{BlockingFake, Reply};

fn aiex() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aiex"));
    command.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("aiex-test-no-config"),
    );
    command
}

#[test]
fn version_names_the_version_commit_build_date_and_target() {
    let output = aiex()
        .arg("--version")
        .output()
        .expect("run aiex --version");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let pattern = regex_lite(&text);
    assert!(pattern, "unexpected --version output: {text:?}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
}

/// `aiex 0.1.0 (commit <hex or unknown>, built YYYY-MM-DD, <triple>)`.
fn regex_lite(text: &str) -> bool {
    let Some(rest) = text.trim().strip_prefix("aiex ") else {
        return false;
    };
    let Some((_version, details)) = rest.split_once(" (commit ") else {
        return false;
    };
    let Some((commit, rest)) = details.split_once(", built ") else {
        return false;
    };
    let Some((date, target)) = rest.split_once(", ") else {
        return false;
    };
    let commit_ok = commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit());
    let date_ok = date.len() == 10
        && date.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    commit_ok && date_ok && target.ends_with(')') && target.matches('-').count() >= 2
}

#[test]
fn health_passes_with_writable_directories_and_names_the_one_that_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = aiex()
        .arg("health")
        .env("AIEX_CACHE_DIR", dir.path().join("cache"))
        .env("AIEX_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&healthy.stdout);
    assert!(healthy.status.success(), "{text}");
    assert!(text.contains(": ok\n"), "{text}");
    assert!(text.contains("parser"), "{text}");

    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let unhealthy = aiex()
        .args(["health", "--json"])
        .env("AIEX_CACHE_DIR", blocker.join("cache"))
        .env("AIEX_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(unhealthy.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&unhealthy.stdout).expect("JSON report");
    assert_eq!(report["status"], "degraded");
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["ok"] == false)
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["cache directory"]);
    let stderr = String::from_utf8_lossy(&unhealthy.stderr);
    assert!(
        stderr.contains("unhealthy: cache directory failed"),
        "{stderr}"
    );
}

#[test]
fn the_health_request_reports_the_build_and_what_the_server_holds() {
    let mut client = LspClient::spawn(None);
    let result = client.initialize(json!({}), json!({}), None);
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    client.open("file:///tmp/health/lib/a.ex", "defmodule A do\nend\n");
    let health = client.request("aiex/health", Value::Null);
    let health = &health["result"];
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["openDocuments"], 1, "{health}");
    assert_eq!(health["shutdownRequested"], false);
    assert_eq!(
        health["checks"].as_array().map(Vec::len),
        Some(4),
        "{health}"
    );
    assert!(client.shutdown().success());
}

fn needing(version: &str) -> Value {
    json!({ "experimental": { "aiex": { "minimumServerVersion": version } } })
}

fn version_notices(client: &LspClient) -> Vec<String> {
    client
        .notifications
        .iter()
        .filter(|n| n["method"] == "window/showMessage")
        .filter_map(|n| n["params"]["message"].as_str())
        .filter(|message| message.contains("editor package"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_editor_package_needing_a_newer_binary_is_told_so_and_still_served() {
    let mut client = LspClient::spawn(None);
    client.initialize(needing("999.0.0"), json!({}), None);
    // The notice is sent before the initialize response; a request after it flushes both.
    client.open(
        "file:///tmp/old/lib/a.ex",
        "defmodule A do\n  def a, do: 1\nend\n",
    );
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///tmp/old/lib/a.ex" } }),
    );
    assert!(symbols["result"].is_array(), "still served: {symbols}");
    let notices = version_notices(&client);
    assert_eq!(notices.len(), 1, "{:?}", client.notifications);
    assert!(
        notices[0].contains(&format!(
            "aiex {} is older than this editor package needs (999.0.0 or newer)",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        notices[0]
    );
    assert!(client.shutdown().success());

    let mut current = LspClient::spawn(None);
    current.initialize(needing(env!("CARGO_PKG_VERSION")), json!({}), None);
    current.request("aiex/health", Value::Null);
    assert!(
        version_notices(&current).is_empty(),
        "{:?}",
        current.notifications
    );
    assert!(current.shutdown().success());
}

#[test]
fn a_package_without_capabilities_of_its_own_states_its_minimum_in_the_initialization_options() {
    // Zed's extension API gives the extension the initialization options only.
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({}),
        json!({ "minimumServerVersion": "999.0.0", "features": { "completion": { "enabled": false } } }),
        None,
    );
    client.request("aiex/health", Value::Null);
    let notices = version_notices(&client);
    assert_eq!(notices.len(), 1, "{:?}", client.notifications);
    assert!(notices[0].contains("(999.0.0 or newer)"), "{}", notices[0]);
    let about_the_key: Vec<&Value> = client
        .notifications
        .iter()
        .filter(|n| n["method"] == "window/showMessage")
        .filter(|n| {
            n["params"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("minimumServerVersion"))
        })
        .collect();
    assert!(
        about_the_key.is_empty(),
        "the requirement is not read as configuration: {about_the_key:?}"
    );
    assert!(client.shutdown().success());
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn index_caches(cache_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache_dir.join("index"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default()
}

fn terminate(client: &LspClient) {
    // SAFETY: kill(2) on the child's pid, which the client has not reaped yet.
    let sent = unsafe { libc::kill(client.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "kill(SIGTERM)");
}

/// The server's stop after `shutdown` and `exit`, as an editor closing sends them.
fn shutdown_and_exit(client: &mut LspClient) -> std::process::ExitStatus {
    client.shutdown()
}

/// The server's stop on SIGTERM, as a service manager or a killed editor sends it.
fn sigterm(client: &mut LspClient) -> std::process::ExitStatus {
    terminate(client);
    client.wait_exit(Duration::from_secs(10))
}

/// Crawls `fixtures/sample_app`, removes the index cache the crawl wrote (so only the
/// shutdown step can write it again), stops the server with `stop`, and checks the cache is
/// back with the project's symbols.
fn index_cache_is_written_when_stopped_by(stop: fn(&mut LspClient) -> std::process::ExitStatus) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sample_app");
    support::files::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sample_app"),
        &root,
    );
    let mut client = LspClient::spawn(Some(&root));
    client.initialize(json!({}), json!({}), Some(&root));
    let cache_dir = client.cache_dir.clone();
    wait_for("the crawl's index cache", || {
        !index_caches(&cache_dir).is_empty()
    });
    let cache = index_caches(&cache_dir).remove(0);
    // Gone from disk, still in memory: only the shutdown step can bring it back.
    std::fs::remove_file(&cache).unwrap();
    let status = stop(&mut client);
    assert!(status.success(), "a requested stop: {status:?}");
    let written = std::fs::read_to_string(&cache).expect("the index cache, written at shutdown");
    assert!(
        written.contains("SampleApp.Accounts"),
        "{}",
        &written[..written.len().min(300)]
    );
}

#[test]
fn sigterm_writes_the_index_cache_before_the_process_ends() {
    index_cache_is_written_when_stopped_by(sigterm);
}

#[test]
fn shutdown_and_exit_write_the_index_cache_before_the_process_ends() {
    index_cache_is_written_when_stopped_by(shutdown_and_exit);
}

/// The completed model requests the usage ledger on disk counts (`None`: no ledger yet).
fn usage_requests_on_disk(client: &LspClient) -> Option<u64> {
    fn requests(value: &Value) -> u64 {
        match value {
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| match (key.as_str(), value.as_u64()) {
                    ("requests", Some(count)) => count,
                    _ => requests(value),
                })
                .sum(),
            _ => 0,
        }
    }
    let text = std::fs::read_to_string(client.cache_dir.join("data").join("usage.json")).ok()?;
    let ledger: Value = serde_json::from_str(&text).expect("the usage ledger is JSON");
    Some(requests(&ledger["days"]))
}

/// Two completions: the ledger writes the first at once and holds the second in memory (it
/// writes at most once every 10 s), so only the shutdown step can put the second on disk.
fn usage_totals_are_written_when_stopped_by(stop: fn(&mut LspClient) -> std::process::ExitStatus) {
    let fake = BlockingFake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(support::ollama::generate(&["sum * 2\n"]))],
    );
    let settings = json!({
        "providers": { "local": { "kind": "ollama", "base_url": fake.server.url(), "model": "qwen2.5-coder:1.5b" } },
        "features": { "completion": { "providers": ["local"], "debounce_min_ms": 10, "debounce_max_ms": 20, "timeout_ms": 10000 } }
    });
    let mut client = LspClient::spawn(None);
    client.initialize(json!({}), settings, None);
    for (round, name) in ["pricing", "billing"].into_iter().enumerate() {
        let uri = file_uri(Path::new(&format!("/tmp/lifecycle/lib/{name}.ex")));
        let module = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
        client.open(
            &uri,
            &format!("defmodule {module} do\n  def total(items) do\n    sum = Enum.sum(items)\n    \n  end\nend\n"),
        );
        let completion = client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": 3, "character": 4 } }),
        );
        assert_eq!(
            completion["result"]["items"][0]["textEdit"]["newText"], "sum * 2",
            "{completion}"
        );
        if round == 0 {
            wait_for("the first request's usage on disk", || {
                usage_requests_on_disk(&client) == Some(1)
            });
        }
    }
    assert_eq!(fake.server.request_count(), 2, "two model requests");
    let status = stop(&mut client);
    assert!(status.success(), "a requested stop: {status:?}");
    assert_eq!(
        usage_requests_on_disk(&client),
        Some(2),
        "both requests in the usage totals written at shutdown"
    );
}

#[test]
fn shutdown_and_exit_write_the_usage_totals() {
    usage_totals_are_written_when_stopped_by(shutdown_and_exit);
}

#[test]
fn sigterm_writes_the_usage_totals() {
    usage_totals_are_written_when_stopped_by(sigterm);
}

#[test]
fn sigterm_during_a_model_request_still_writes_its_audit_line() {
    let fake = BlockingFake::start();
    fake.server.on("/api/generate", vec![Reply::Silence]);
    let settings = json!({
        "providers": { "local": { "kind": "ollama", "base_url": fake.server.url(), "model": "qwen2.5-coder:1.5b" } },
        "features": { "completion": { "providers": ["local"], "debounce_min_ms": 10, "debounce_max_ms": 20, "timeout_ms": 30000 } }
    });
    let mut client = LspClient::spawn(None);
    client.initialize(json!({}), settings, None);
    let uri = file_uri(Path::new("/tmp/lifecycle/lib/pricing.ex"));
    client.open(
        &uri,
        "defmodule Pricing do\n  def total(items) do\n    \n  end\nend\n",
    );
    client.send_request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 2, "character": 4 } }),
    );
    assert!(fake.wait_for_requests(1), "the model request was sent");
    terminate(&client);
    let status = client.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let audit = std::fs::read_to_string(client.cache_dir.join("audit.jsonl"))
        .expect("the audit log, written as the request was dropped");
    let line: Value = serde_json::from_str(audit.lines().next().expect("one line")).unwrap();
    assert_eq!(line["feature"], "completion", "{line}");
    assert_eq!(line["outcome"], "cancelled", "{line}");
}
