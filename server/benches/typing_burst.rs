//! Completion latency over stdio against the real binary and a fake provider on 127.0.0.1:
//! - a typing burst of 30 keystrokes 40 ms apart, each followed by a completion request, with
//!   a model that takes 300 ms: how many requests reach the provider, and how long after the
//!   last key the final suggestion arrives (targets: at most 3, within 450 ms);
//! - server time of a completion request on a 7,000-line file: request in to provider request
//!   out, with the debounce set to zero, sent right after its keystroke (the reparse on its
//!   path) and after a 10 ms pause (the debounce excluded: target median under 1 ms), as the
//!   server logs it (`aiex::server_time`: the request read, the provider request leaving) and
//!   as the client sees it (adding the pipes and the fake provider's reading of the request);
//!   the debounce chosen for each request of the typing burst, and their server time without it;
//!   and after a quiet 1.5 s, once the server has given memory back.
//!
//! Run with `cargo bench --bench typing_burst`. `AIEX_BURST_ROUNDS=0` skips the typing burst;
//! `AIEX_BENCH_WRAPPER="perf record -g -o /tmp/aiex.perf --"` runs the server-time part's server
//! under a profiler (`AIEX_BURST_PAUSE_MS=300` then gives the background reparse time to finish
//! after each key, as 10 ms does outside a profiler).

#[path = "../../tests/support/elixir_gen.rs"]
mod elixir_gen;
#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use lsp_client::LspClient;
use serde_json::{json, Value};
use support::fake_provider::{FakeProvider, Reply};
use support::recordings::Recording;

fn ollama_answer(text: &str) -> Recording {
    let body = format!(
        "{}\n{}\n",
        json!({ "model": "m", "response": text, "done": false }),
        json!({ "model": "m", "response": "", "done": true, "done_reason": "stop", "prompt_eval_count": 10, "eval_count": 3 })
    );
    Recording::new(200, "application/x-ndjson", body.into_bytes())
}

/// A client on a workspace holding the generated file (indexed before it returns), and the
/// file's URI.
fn client_for(
    url: &str,
    debounce_min: u64,
    debounce_max: u64,
    root: &std::path::Path,
    options: &lsp_client::SpawnOptions,
) -> (LspClient, String) {
    let mut client = LspClient::spawn_with(None, options);
    client.initialize(
        json!({}),
        json!({
            "providers": { "local": { "kind": "ollama", "base_url": url, "model": "qwen2.5-coder:1.5b" } },
            "features": { "completion": { "providers": ["local"], "debounce_min_ms": debounce_min, "debounce_max_ms": debounce_max } }
        }),
        Some(root),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.request("workspace/symbol", json!({ "query": "Bench.Module50" }))["result"]
        .as_array()
        .is_none_or(|r| r.is_empty())
    {
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(20));
    }
    (client, lsp_client::file_uri(&root.join("lib/burst.ex")))
}

/// A blank line between two functions of a module in the middle of the file: the user
/// types a new pipeline there.
fn typing_line(text: &str) -> u32 {
    let module = text
        .lines()
        .position(|l| l.contains("defmodule Bench.Module50 "))
        .unwrap_or(0);
    text.lines()
        .enumerate()
        .skip(module + 1)
        .find(|(_, l)| l.trim().is_empty())
        .map_or(10, |(at, _)| at as u32)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let text = elixir_gen::file_of_lines(7_000);
    let line = typing_line(&text);
    // The workspace: the file being edited, and 100 more modules it can call into.
    let workspace = tempfile::tempdir().expect("tempdir");
    let root = workspace.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("lib")).expect("mkdir");
    std::fs::write(root.join("lib/burst.ex"), &text).expect("write");
    let others: String = (200..300).map(elixir_gen::module).collect();
    std::fs::write(root.join("lib/others.ex"), others).expect("write");

    // Typing burst.
    let mut finals = Vec::new();
    let mut provider_requests = Vec::new();
    let rounds: usize = std::env::var("AIEX_BURST_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let wrapper: Vec<String> = std::env::var("AIEX_BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let log_filter = match std::env::var("AIEX_TEST_LOG") {
        Ok(filter) => format!("{filter},aiex::server_time=debug"),
        Err(_) => "warn,aiex::server_time=debug".to_owned(),
    };
    let logging_to = |log_file: &std::path::Path, wrapper: &[String]| lsp_client::SpawnOptions {
        wrapper: wrapper.to_vec(),
        args: vec!["--log-file".to_owned(), log_file.display().to_string()],
        env: vec![("AIEX_LOG".to_owned(), log_filter.clone())],
    };
    let mut debounces = Vec::new();
    let mut burst_server_times = Vec::new();
    for round in 0..rounds {
        let fake = runtime.block_on(FakeProvider::start());
        fake.on(
            "/api/generate",
            vec![Reply::Delayed {
                recording: ollama_answer(" |> Map.put(:done, true)"),
                delay: Duration::from_millis(300),
            }],
        );
        let log_file = workspace.path().join(format!("burst-{round}.log"));
        let (mut client, uri) =
            client_for(&fake.url(), 30, 300, &root, &logging_to(&log_file, &[]));
        client.open(&uri, &text);
        let mut last_id = 0;
        let mut column = 0u32;
        let mut last_key = Instant::now();
        for (version, key) in "    params |> validate_0(opts)"
            .chars()
            .take(30)
            .enumerate()
        {
            let key_string = key.to_string();
            client.notify(
                "textDocument/didChange",
                json!({ "textDocument": { "uri": uri, "version": version + 2 }, "contentChanges": [{ "range": { "start": { "line": line, "character": column }, "end": { "line": line, "character": column } }, "text": key_string }] }),
            );
            column += 1;
            last_id = client.send_request("textDocument/completion", json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": column } }));
            last_key = Instant::now();
            std::thread::sleep(Duration::from_millis(40));
        }
        let response: Value = client.response(last_id);
        finals.push(last_key.elapsed());
        assert!(
            !response["result"]["items"]
                .as_array()
                .is_some_and(|i| i.is_empty()),
            "a final suggestion: {response}"
        );
        provider_requests.push(fake.request_count());
        client.shutdown();
        let logged = logged_completions(&log_file);
        debounces.extend(logged.debounces);
        burst_server_times.extend(logged.server_times);
    }
    finals.sort_unstable();
    provider_requests.sort_unstable();
    if rounds > 0 {
        println!(
            "typing burst (30 keys 40 ms apart, model 300 ms): provider requests per burst {:?} (target <= 3); final suggestion {:.0} ms after the last key, median (target < 450 ms; includes the 40 ms the bench sleeps after the key)",
            provider_requests,
            ms(finals[finals.len() / 2])
        );
        debounces.sort_unstable();
        burst_server_times.sort_unstable();
        if let (Some(first), Some(last)) = (debounces.first(), debounces.last()) {
            println!(
                "typing burst: debounce chosen per completion request median {:.0} ms (from {:.0} to {:.0} ms over {} requests); server time of the requests that reached the provider, the debounce excluded, median {:.2} ms",
                ms(debounces[debounces.len() / 2]),
                ms(*first),
                ms(*last),
                debounces.len(),
                burst_server_times.get(burst_server_times.len() / 2).map_or(f64::NAN, |t| ms(*t)),
            );
        }
    }

    // Server time: request in to provider request out, as the server logs it (the log lines of
    // the request read and of the provider request leaving, `aiex::server_time`) and as the
    // client sees it (adding the pipes and the fake provider's reading of the request).
    let fake = runtime.block_on(FakeProvider::start());
    fake.on("/api/generate", vec![Reply::Recorded(ollama_answer("x"))]);
    let log_file = workspace.path().join("server-time.log");
    let (mut client, uri) = client_for(&fake.url(), 0, 0, &root, &logging_to(&log_file, &wrapper));
    client.open(&uri, &text);
    // Warm up: the first request parses the file.
    let id = client.send_request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": 4 } }),
    );
    client.response(id);
    // Twice: the request right after its keystroke (the reparse on its path, as for an
    // explicit request), and after a 10 ms pause (what a completion sees once its debounce
    // has passed: the tree was brought up to date while it waited). The figure after the
    // pause is the server's own time, the debounce excluded.
    // Under a profiler the background reparse takes far longer than 10 ms: a longer pause
    // (`AIEX_BURST_PAUSE_MS`) lets it finish, as it does within 10 ms outside one.
    let pause_after_key = Duration::from_millis(
        std::env::var("AIEX_BURST_PAUSE_MS")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(10),
    );
    let mut version = 1i64;
    for (pause, what, rounds) in [
        (
            Duration::ZERO,
            "right after the keystroke, incremental reparse included",
            60,
        ),
        (
            pause_after_key,
            "after a 10 ms pause: the debounce excluded (target median < 1 ms)",
            60,
        ),
        (
            Duration::from_millis(1_500),
            "after a quiet 1.5 s (memory given back: the file's tree parsed again, code pages mapped again)",
            10,
        ),
    ] {
        let logged_before = logged_completions(&log_file).server_times.len();
        let mut times = Vec::new();
        for _ in 0..rounds {
            // A new character each round, so no earlier suggestion applies.
            version += 1;
            client.notify(
                "textDocument/didChange",
                json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "range": { "start": { "line": line, "character": 4 }, "end": { "line": line, "character": 4 } }, "text": "q" }] }),
            );
            std::thread::sleep(pause);
            let seen = fake.request_count();
            let started = Instant::now();
            let id = client.send_request(
                "textDocument/completion",
                json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": 5 } }),
            );
            assert!(runtime.block_on(fake.wait_for_requests(seen + 1, Duration::from_secs(10))));
            times.push(started.elapsed());
            client.response(id);
        }
        let mut logged = logged_completions(&log_file)
            .server_times
            .split_off(logged_before);
        assert_eq!(
            logged.len(),
            times.len(),
            "one server time logged per request"
        );
        times.sort_unstable();
        logged.sort_unstable();
        println!(
            "server time of a completion on a 7,000-line file {what}: as the server logs it (request read to provider request out) median {:.2} ms, p90 {:.2} ms; seen from the client (adding the pipes and the fake provider's reading) median {:.2} ms, p90 {:.2} ms",
            ms(logged[logged.len() / 2]),
            ms(logged[logged.len() * 9 / 10]),
            ms(times[times.len() / 2]),
            ms(times[times.len() * 9 / 10])
        );
    }
    client.shutdown();
}

/// What the server logged of its completions so far, in order.
struct LoggedCompletions {
    /// The debounce chosen for each completion request.
    debounces: Vec<Duration>,
    /// For each provider request: from the completion request read to the provider request
    /// leaving, less the debounce chosen for it.
    server_times: Vec<Duration>,
}

fn logged_completions(log_file: &std::path::Path) -> LoggedCompletions {
    let log = std::fs::read_to_string(log_file).unwrap_or_default();
    let mut read_at = None;
    let mut debounce = Duration::ZERO;
    let mut logged = LoggedCompletions {
        debounces: Vec::new(),
        server_times: Vec::new(),
    };
    for line in log.lines() {
        let Some(at) = seconds_of_day(line) else {
            continue;
        };
        if line.contains("completion request read") {
            read_at = Some(at);
            debounce = Duration::ZERO;
        } else if line.contains("completion debounce chosen") {
            debounce = Duration::from_micros(field(line, "debounce_us").unwrap_or(0));
            logged.debounces.push(debounce);
        } else if line.contains("provider request leaving") {
            if let Some(read) = read_at.take() {
                // Across midnight, a day later.
                let seconds = if at >= read {
                    at - read
                } else {
                    at + 86_400.0 - read
                };
                logged
                    .server_times
                    .push(Duration::from_secs_f64(seconds).saturating_sub(debounce));
            }
        }
    }
    logged
}

/// The number after `name=` in a log line.
fn field(line: &str, name: &str) -> Option<u64> {
    let at = line.find(&format!("{name}="))? + name.len() + 1;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The time of day of a log line (`2026-12-03T18:06:54.584695Z ...`), in seconds.
fn seconds_of_day(line: &str) -> Option<f64> {
    let time = line.split_whitespace().next()?.split_once('T')?.1;
    let time = time.trim_end_matches('Z');
    let mut parts = time.splitn(3, ':');
    let hours: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}
