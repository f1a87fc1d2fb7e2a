//! Edit storm over stdio, against the real binary, with the file open in its indexed workspace:
//! open a 7,000-line file, send 2,000 one-character changes as fast as possible, then ask for
//! document symbols (which needs the tree). With a provider configured (a fake Ollama on
//! 127.0.0.1 that answers at once) the storm is followed by 20 completions, so the tokenizer,
//! the HTTP client and the context engine are all alive when memory is read.
//!
//! Prints, without and with a provider: the storm's end-to-end time, the time to first symbols
//! and the server's resident memory right after the storm and once it has been quiet for a
//! moment (targets: < 30 MB with a provider; < 50 MB with a 300,000-line workspace,
//! `AIEX_STORM_WORKSPACE_LINES=300000`).
//!
//! Run with `cargo bench --bench edit_storm`. `AIEX_BENCH_WRAPPER="heaptrack -o /tmp/aiex"`
//! runs the server under a profiler (one server per scenario and round).

#[path = "../../tests/support/elixir_gen.rs"]
mod elixir_gen;
#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lsp_client::{LspClient, SpawnOptions};
use serde_json::{json, Value};
use support::fake_provider::{FakeProvider, Reply};

const LINES: usize = 7_000;
const EDITS: usize = 2_000;
const COMPLETIONS: usize = 20;

fn main() {
    let rounds: usize = env_number("AIEX_STORM_ROUNDS").unwrap_or(3);
    let workspace_lines = env_number("AIEX_STORM_WORKSPACE_LINES").unwrap_or(0);
    let wrapper: Vec<String> = std::env::var("AIEX_BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    let text = elixir_gen::file_of_lines(LINES);
    let workspace = tempfile::tempdir().expect("tempdir");
    let root = workspace.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("lib")).expect("mkdir");
    std::fs::write(root.join("lib/storm.ex"), &text).expect("write");
    let extra = write_workspace(&root, workspace_lines);
    println!(
        "file: {} lines, {} KB; workspace: {} more lines",
        text.lines().count(),
        text.len() / 1024,
        extra
    );

    for with_provider in [false, true] {
        let fake = runtime.block_on(FakeProvider::start());
        fake.on(
            "/api/generate",
            vec![Reply::Recorded(support::ollama::generate(&["x"]))],
        );
        let options = if with_provider {
            json!({
                "providers": { "local": { "kind": "ollama", "base_url": fake.url(), "model": "qwen2.5-coder:1.5b" } },
                "features": { "completion": { "providers": ["local"], "debounce_min_ms": 0, "debounce_max_ms": 0 } }
            })
        } else {
            Value::Null
        };
        let mut storm_times = Vec::new();
        let mut first_symbols = Vec::new();
        let mut rss = Vec::new();
        let mut rss_quiet = Vec::new();
        for _ in 0..rounds {
            let spawn = SpawnOptions {
                wrapper: wrapper.clone(),
                ..SpawnOptions::default()
            };
            let mut client = LspClient::spawn_with(Some(&root), &spawn);
            client.initialize(json!({}), options.clone(), Some(&root));
            wait_for_index(&mut client);
            let uri = lsp_client::file_uri(&root.join("lib/storm.ex"));

            let opened = Instant::now();
            client.open(&uri, &text);
            let symbols = client.request(
                "textDocument/documentSymbol",
                json!({ "textDocument": { "uri": uri } }),
            );
            first_symbols.push(opened.elapsed());
            assert!(
                symbols["result"].as_array().is_some_and(|s| !s.is_empty()),
                "symbols: {symbols}"
            );

            // Type into the body of a function in the middle of the file, one character at a time.
            let line = (LINES / 2) as u32;
            let started = Instant::now();
            for edit in 0..EDITS {
                change(
                    &mut client,
                    &uri,
                    edit as i64 + 2,
                    line,
                    0,
                    if edit % 40 == 39 { "\n" } else { "x" },
                );
            }
            let symbols = client.request(
                "textDocument/documentSymbol",
                json!({ "textDocument": { "uri": uri } }),
            );
            storm_times.push(started.elapsed());
            assert!(symbols["result"].as_array().is_some_and(|s| !s.is_empty()));
            let (version, _) = client.server_text(&uri);
            assert_eq!(version, EDITS as i64 + 1, "every edit applied");

            if with_provider {
                // A new line after the storm, typed into and completed at each key.
                let mut version = EDITS as i64 + 1;
                let typing = line + 1;
                version += 1;
                change(&mut client, &uri, version, typing, 0, "    \n");
                for key in 0..COMPLETIONS as u32 {
                    version += 1;
                    change(&mut client, &uri, version, typing, 4 + key, "q");
                    let response = client.request(
                        "textDocument/completion",
                        json!({ "textDocument": { "uri": uri }, "position": { "line": typing, "character": 5 + key } }),
                    );
                    assert!(response.get("result").is_some(), "{response}");
                }
                assert!(
                    fake.request_count() > 0,
                    "the completions reached the provider"
                );
            }
            rss.push(support::process::resident_bytes(client.pid()).unwrap_or(0) / 1024);
            if std::env::var_os("AIEX_STORM_SMAPS").is_some() {
                println!("  mappings right after:");
                print_mappings(client.pid());
            }
            // The user stops typing: once the server has been quiet for a second it gives
            // freed memory back to the system.
            std::thread::sleep(Duration::from_secs(2));
            rss_quiet.push(support::process::resident_bytes(client.pid()).unwrap_or(0) / 1024);
            if std::env::var_os("AIEX_STORM_SMAPS").is_some() {
                println!("  mappings once quiet:");
                print_mappings(client.pid());
            }
            client.shutdown();
        }
        let label = if with_provider {
            "provider configured"
        } else {
            "no provider"
        };
        println!("-- {label}");
        report(
            "  2,000 edits then documentSymbol, end to end (target < 500 ms)",
            &storm_times,
        );
        report(
            "  open + first documentSymbol on the 7,000-line file",
            &first_symbols,
        );
        let target = if workspace_lines >= 300_000 { 50 } else { 30 };
        let after = if with_provider {
            "the storm and 20 completions"
        } else {
            "the storm"
        };
        report_memory(
            &format!("  resident memory right after {after}"),
            &mut rss,
            target,
        );
        report_memory(
            &format!("  resident memory 2 s after {after}"),
            &mut rss_quiet,
            target,
        );
    }
}

fn change(client: &mut LspClient, uri: &str, version: i64, line: u32, column: u32, text: &str) {
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": version },
            "contentChanges": [{
                "range": { "start": { "line": line, "character": column }, "end": { "line": line, "character": column } },
                "text": text
            }]
        }),
    );
}

/// Writes about `lines` more lines of generated modules under `root/lib/generated/`, 50
/// modules a file; returns how many lines it wrote.
fn write_workspace(root: &Path, lines: usize) -> usize {
    let dir = root.join("lib/generated");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (mut written, mut module, mut file) = (0, 1_000, 0);
    while written < lines {
        let text: String = (module..module + 50).map(elixir_gen::module).collect();
        written += text.lines().count();
        module += 50;
        std::fs::write(dir.join(format!("gen_{file}.ex")), text).expect("write");
        file += 1;
    }
    written
}

/// Waits until the workspace's modules are searchable: the index is built.
fn wait_for_index(client: &mut LspClient) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.request("workspace/symbol", json!({ "query": "Bench.Module50" }))["result"]
        .as_array()
        .is_none_or(|r| r.is_empty())
    {
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

fn report(what: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(median),
        ms(sorted[0]),
        ms(sorted[sorted.len() - 1])
    );
}

fn report_memory(what: &str, kb: &mut [u64], target_mb: u64) {
    kb.sort_unstable();
    println!(
        "{what}: {:.1} MB median (min {:.1}, max {:.1}; target < {target_mb} MB)",
        kb[kb.len() / 2] as f64 / 1024.0,
        kb[0] as f64 / 1024.0,
        kb[kb.len() - 1] as f64 / 1024.0,
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Resident memory by mapping (`AIEX_STORM_SMAPS=1`): the binary's pages, the heap, thread
/// arenas and stacks (anonymous), shared libraries.
fn print_mappings(pid: u32) {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by_mapping: std::collections::BTreeMap<String, u64> = Default::default();
    let mut current = String::new();
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first().is_some_and(|f| f.contains('-')) {
            current = fields.get(5).map_or("[anonymous]", |name| name).to_owned();
            if current.ends_with("/aiex") {
                current = format!("{current} {} {} {}", fields[1], fields[2], fields[0]);
            }
        } else if fields.first() == Some(&"Rss:") {
            let kb: u64 = fields.get(1).and_then(|kb| kb.parse().ok()).unwrap_or(0);
            *by_mapping.entry(current.clone()).or_default() += kb;
        }
    }
    for (mapping, kb) in by_mapping.iter().filter(|(_, kb)| **kb >= 256) {
        println!("    {:>8.1} MB  {mapping}", *kb as f64 / 1024.0);
    }
}
