//! Metrics end to end: the real `aiex` binary makes requests to a fake provider, then
//! `aiex metrics` counts them from the audit log; a language server with
//! `[telemetry] prometheus_addr` answers `GET /metrics` over TCP with the same numbers.

#[path = "support/cli_project.rs"]
mod cli_project;
#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use lsp_client::{LspClient, SpawnOptions};
use serde_json::json;
use support::fake_provider::{BlockingFake as Fake, Reply};
use support::ollama::{chat as ollama_chat, generate as ollama_stream};

const CART: &str = "defmodule Cart do\n  @moduledoc \"Carts.\"\n\n  def total(items) do\n    Enum.sum(items)\n  end\n\n  def empty?, do: true\nend\n";

fn aiex_cli(dir: &Path, args: &[&str]) -> std::process::Output {
    cli_project::aiex_command(dir)
        .args(args)
        .output()
        .expect("run aiex")
}

fn project_using(url: &str, extra: &str) -> tempfile::TempDir {
    cli_project::cart_project(url, CART, extra)
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// The value of the sample written exactly as `series`, if there is one.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn aiex_metrics_counts_the_requests_the_command_line_made() {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["|> Enum.map(& &1.price)"]))],
    );
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat("Sums the list.\n")),
            Reply::status(401, r#"{"error":"unauthorized"}"#, &[]),
        ],
    );
    let dir = project_using(&fake.server.url(), "");

    let before = stdout(&aiex_cli(dir.path(), &["metrics"]));
    assert!(
        before.contains("# TYPE aiex_requests_total counter"),
        "{before}"
    );
    assert!(
        !before.lines().any(|l| l.starts_with("aiex_requests_total")),
        "no traffic yet, yet:\n{before}"
    );

    for _ in 0..2 {
        stdout(&aiex_cli(dir.path(), &["complete", "lib/cart.ex:5:19"]));
    }
    stdout(&aiex_cli(dir.path(), &["explain", "lib/cart.ex:4"]));
    let refused = aiex_cli(dir.path(), &["explain", "lib/cart.ex:8"]);
    assert_eq!(refused.status.code(), Some(1), "the fake refused the key");

    let text = stdout(&aiex_cli(dir.path(), &["metrics"]));
    let labels = |feature: &str| format!("provider=\"local\",feature=\"{feature}\"");
    let completion = labels("completion");
    let explain = labels("explain");
    assert_eq!(
        sample(
            &text,
            &format!("aiex_requests_total{{{completion},outcome=\"ok\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("aiex_requests_total{{{explain},outcome=\"ok\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("aiex_requests_total{{{explain},outcome=\"error\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("aiex_request_failures_total{{{explain},kind=\"auth\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("aiex_request_duration_seconds_count{{{completion}}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("aiex_request_duration_seconds_bucket{{{completion},le=\"+Inf\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    let input = sample(
        &text,
        &format!("aiex_tokens_total{{{completion},direction=\"input\"}}"),
    );
    assert!(input.is_some_and(|tokens| tokens > 0.0), "{text}");
    let output = sample(
        &text,
        &format!("aiex_tokens_total{{{completion},direction=\"output\"}}"),
    );
    assert!(output.is_some_and(|tokens| tokens > 0.0), "{text}");
    assert!(
        sample(&text, &format!("aiex_cost_usd_total{{{completion}}}")).is_some(),
        "{text}"
    );
    assert_eq!(
        sample(&text, "aiex_audit_lines_skipped"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(fake.server.request_count(), 4);
}

#[test]
fn aiex_metrics_names_an_audit_log_it_cannot_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory where the audit log should be.
    std::fs::create_dir_all(dir.path().join("cache/audit.jsonl")).expect("mkdir");
    let output = aiex_cli(dir.path(), &["metrics"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the audit log") && stderr.contains("audit.jsonl"),
        "{stderr}"
    );
}

#[test]
fn aiex_metrics_help_says_how_metrics_reach_an_opentelemetry_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let help = stdout(&aiex_cli(dir.path(), &["metrics", "--help"]));
    assert!(help.contains("otlp_endpoint"), "{help}");
    assert!(help.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{help}");
    assert!(help.contains("Prometheus"), "{help}");
}

/// The value of the OTLP sum `name`'s data point whose attributes include all of `attributes`.
fn otlp_int(body: &serde_json::Value, name: &str, attributes: &[(&str, &str)]) -> Option<u64> {
    let metric = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)?;
    let points = metric["sum"]["dataPoints"]
        .as_array()
        .or_else(|| metric["gauge"]["dataPoints"].as_array())?;
    points
        .iter()
        .find(|point| {
            attributes.iter().all(|(key, value)| {
                point["attributes"].as_array().is_some_and(|list| {
                    list.iter()
                        .any(|a| a["key"] == *key && a["value"]["stringValue"] == *value)
                })
            })
        })
        .and_then(|point| point["asInt"].as_str()?.parse().ok())
}

/// A language server on the cart project with a fake Ollama answering completions, the user's
/// `telemetry` lines in its configuration and `env` added to its environment, `lib/cart.ex`
/// open. Returns the fake (keep it alive), the project and the client.
fn server_with_telemetry(
    telemetry: &str,
    env: &[(&str, &str)],
) -> (Fake, tempfile::TempDir, LspClient, String) {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama_stream(&["sum * 2"]))],
    );
    // A latency target the assumed speed of a local server meets with the whole context: the
    // same place asked twice sends the same prompt, before and after the speed is learnt.
    let dir = project_using(
        &fake.server.url(),
        &format!(
            "[features.completion]\ndebounce_min_ms = 10\ndebounce_max_ms = 40\nlatency_target_ms = 60000\n\n[telemetry]\n{telemetry}"
        ),
    );
    let mut environment = cli_project::environment(dir.path());
    environment.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let options = SpawnOptions {
        env: environment,
        ..SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(Some(dir.path()), &options);
    client.initialize(json!({}), json!({}), Some(dir.path()));
    let uri = lsp_client::file_uri(&dir.path().join("lib/cart.ex"));
    client.open(&uri, CART);
    (fake, dir, client, uri)
}

#[test]
fn the_language_server_sends_metrics_to_the_users_otlp_collector_and_once_more_at_exit() {
    // The collector: another fake server, recording what it is sent.
    let collector = Fake::start();
    collector
        .server
        .on("/v1/metrics", vec![Reply::status(200, "{}", &[])]);
    collector
        .server
        .on("/v1/traces", vec![Reply::status(200, "{}", &[])]);
    let (_fake, dir, mut client, uri) = server_with_telemetry(
        &format!(
            "otlp_endpoint = \"{}\"\notlp_interval_secs = 1\n",
            collector.server.url()
        ),
        &[("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k123")],
    );
    let response = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 4, "character": 19 } }),
    );
    assert!(response.get("error").is_none(), "{response}");

    // Within a few intervals an export counts the request.
    let ok = [
        ("provider", "local"),
        ("feature", "completion"),
        ("outcome", "ok"),
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    let counted = loop {
        let seen = collector.server.requests();
        if let Some(export) = seen
            .iter()
            .rev()
            .find(|r| otlp_int(&r.json(), "aiex.requests", &ok) == Some(1))
        {
            break export.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no export counted the request: {} exports",
            seen.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(counted.method, "POST");
    assert_eq!(counted.path, "/v1/metrics");
    assert_eq!(counted.headers["content-type"], "application/json");
    assert_eq!(counted.headers["x-collector-key"], "k123");
    let body = counted.json();
    assert_eq!(
        otlp_int(
            &body,
            "aiex.circuit_breaker.state",
            &[("provider", "local"), ("state", "closed")]
        ),
        Some(1)
    );
    // Counts and names only: nothing of the code or the project.
    let text = String::from_utf8_lossy(&counted.body);
    assert!(
        !text.contains("Cart") && !text.contains(&*dir.path().to_string_lossy()),
        "{text}"
    );

    // The request's span went to /v1/traces: what it did, nothing of what it said.
    let deadline = Instant::now() + Duration::from_secs(15);
    let traces = loop {
        if let Some(export) = collector
            .server
            .requests()
            .into_iter()
            .find(|r| r.path == "/v1/traces")
        {
            break export;
        }
        assert!(Instant::now() < deadline, "no spans exported");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(traces.method, "POST");
    assert_eq!(traces.headers["x-collector-key"], "k123");
    let body = traces.json();
    let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .expect("spans");
    assert_eq!(spans.len(), 1, "one span per model request: {body}");
    let span = &spans[0];
    let attribute = |key: &str| {
        span["attributes"]
            .as_array()
            .and_then(|list| list.iter().find(|a| a["key"] == key))
            .map(|a| a["value"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        attribute("aiex.feature")["stringValue"],
        "completion",
        "{span}"
    );
    assert_eq!(attribute("aiex.provider")["stringValue"], "local", "{span}");
    assert_eq!(attribute("aiex.outcome")["stringValue"], "ok", "{span}");
    assert_eq!(
        attribute("gen_ai.request.model")["stringValue"],
        "qwen2.5-coder:1.5b"
    );
    assert!(
        attribute("gen_ai.usage.input_tokens")["intValue"].is_string(),
        "{span}"
    );
    assert_eq!(span["status"]["code"], 1, "{span}");
    assert_eq!(span["traceId"].as_str().map(str::len), Some(32), "{span}");
    let text = String::from_utf8_lossy(&traces.body);
    assert!(
        !text.contains("Cart")
            && !text.contains("cart.ex")
            && !text.contains(&*dir.path().to_string_lossy()),
        "{text}"
    );

    // The exit sends the counts once more, however soon it comes after the last interval.
    let before = collector.server.request_count();
    assert!(client.shutdown().success());
    assert!(
        collector.server.request_count() > before,
        "no export at exit"
    );
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Sends `request` to `address` and returns the whole answer, or the error.
fn http(address: SocketAddr, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Asks for `/metrics` until `done` holds for the answer (the server writes audit lines off
/// its message loop, a moment after it answered), for at most 10 s.
fn scrape_until(address: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = http(address, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
        match answer {
            Ok(answer) if done(&answer) => return answer,
            other if Instant::now() > deadline => panic!("no such metrics in time: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn the_language_server_serves_get_metrics_on_the_users_prometheus_addr() {
    let address = free_port();
    let (fake, dir, mut client, uri) =
        server_with_telemetry(&format!("prometheus_addr = \"{address}\"\n"), &[]);

    // Served from the start, before any request: the breaker of the configured provider.
    let first = scrape_until(address, |text| text.contains("aiex_circuit_breaker_state{"));
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(
        first.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{first}"
    );
    assert!(
        first.contains("aiex_circuit_breaker_state{provider=\"local\",state=\"closed\"} 1\n"),
        "{first}"
    );

    let response = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 4, "character": 19 } }),
    );
    assert!(response.get("error").is_none(), "{response}");
    let series =
        "aiex_requests_total{provider=\"local\",feature=\"completion\",outcome=\"ok\"} 1\n";
    let after = scrape_until(address, |text| text.contains(series));
    assert!(
        after.contains(
            "aiex_request_duration_seconds_count{provider=\"local\",feature=\"completion\"} 1\n"
        ),
        "{after}"
    );

    // The same place again, at a new version: this server's response cache answers.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": CART }] }),
    );
    let again = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 4, "character": 19 } }),
    );
    assert!(again.get("error").is_none(), "{again}");
    let hit =
        "aiex_cache_hits_total{provider=\"local\",feature=\"completion\",cache=\"local\"} 1\n";
    let after = scrape_until(address, |text| text.contains(hit));
    let both = "aiex_requests_total{provider=\"local\",feature=\"completion\",outcome=\"ok\"} 2\n";
    assert!(after.contains(both), "{after}");
    assert_eq!(
        fake.server.request_count(),
        1,
        "the second answer came from the cache"
    );

    // The same numbers as the command line's (which has no breakers).
    let cli = stdout(&aiex_cli(dir.path(), &["metrics"]));
    assert!(cli.contains(both) && cli.contains(hit), "{cli}");
    assert!(!cli.contains("aiex_circuit_breaker_state{"), "{cli}");

    let other = http(address, "GET / HTTP/1.1\r\n\r\n").expect("an answer");
    assert!(other.starts_with("HTTP/1.1 404 Not Found\r\n"), "{other}");
    let post = http(
        address,
        "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )
    .expect("an answer");
    assert!(post.starts_with("HTTP/1.1 404 Not Found\r\n"), "{post}");
    assert!(client.shutdown().success());
}

#[test]
fn an_unreachable_collector_costs_the_editor_nothing() {
    // A collector that never answers: every export waits for its deadline.
    let collector = Fake::start();
    collector.server.on("/v1/metrics", vec![Reply::Silence]);
    let (_fake, _dir, mut client, uri) = server_with_telemetry(
        &format!(
            "otlp_endpoint = \"{}\"\notlp_interval_secs = 1\n",
            collector.server.url()
        ),
        &[],
    );
    assert!(collector.wait_for_requests(1), "no export was tried");
    for version in 2..5 {
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": CART }] }),
        );
        let response = client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": 4, "character": 19 } }),
        );
        assert!(response.get("error").is_none(), "{response}");
    }
    // The last export gives up after 2 s: the exit is not held longer.
    let started = Instant::now();
    assert!(client.shutdown().success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exit took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_workspace_file_cannot_open_a_metrics_port() {
    let address = free_port();
    let dir = project_using("http://127.0.0.1:9", "");
    std::fs::write(
        dir.path().join(".aiex.toml"),
        format!("[telemetry]\nprometheus_addr = \"{address}\"\n"),
    )
    .expect("write");
    let options = SpawnOptions {
        env: cli_project::environment(dir.path()),
        ..SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(Some(dir.path()), &options);
    client.initialize(json!({}), json!({}), Some(dir.path()));
    // The server has read its configuration once it answers a request.
    let _ = client.request("workspace/symbol", json!({ "query": "Cart" }));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
        "a workspace's .aiex.toml opened {address}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn a_non_loopback_prometheus_addr_and_a_bad_otlp_endpoint_are_refused_with_configuration_errors() {
    let dir = project_using(
        "http://127.0.0.1:9",
        "[telemetry]\nprometheus_addr = \"0.0.0.0:9464\"\notlp_endpoint = \"127.0.0.1:4317\"\n",
    );
    let output = aiex_cli(dir.path(), &["doctor"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("`0.0.0.0:9464` is not a loopback address"),
        "{text}"
    );
    assert!(
        text.contains("`127.0.0.1:4317` is not an http:// or https:// address"),
        "{text}"
    );

    // `aiex metrics` still prints the metrics, and says what is wrong with the settings.
    let output = aiex_cli(dir.path(), &["metrics"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`telemetry.otlp_endpoint`: `127.0.0.1:4317` is not an http://"),
        "{stderr}"
    );
}
