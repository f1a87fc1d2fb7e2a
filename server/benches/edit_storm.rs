//! Edit storm over stdio, against the real binary: open a 7,000-line file, send 2,000
//! one-character changes as fast as possible, then ask for document symbols (which needs the
//! tree). Prints the end-to-end time, the time to first symbols, and the server's resident
//! memory. Run with `cargo bench --bench edit_storm`.

#[path = "../../tests/support/elixir_gen.rs"]
mod elixir_gen;
#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;

use std::time::{Duration, Instant};

use lsp_client::LspClient;
use serde_json::{json, Value};

const LINES: usize = 7_000;
const EDITS: usize = 2_000;
const ROUNDS: usize = 5;

fn main() {
    let text = elixir_gen::file_of_lines(LINES);
    println!(
        "file: {} lines, {} KB",
        text.lines().count(),
        text.len() / 1024
    );
    let mut storm_times = Vec::new();
    let mut first_symbols = Vec::new();
    let mut rss = Vec::new();
    for round in 0..ROUNDS {
        let mut client = LspClient::spawn(None);
        client.initialize(json!({}), Value::Null, None);
        let uri = format!("file:///tmp/storm{round}.ex");

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
            let version = edit as i64 + 2;
            client.notify(
                "textDocument/didChange",
                json!({
                    "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{
                        "range": { "start": { "line": line, "character": 0 }, "end": { "line": line, "character": 0 } },
                        "text": if edit % 40 == 39 { "\n" } else { "x" }
                    }]
                }),
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
        rss.push(resident_kb(client.pid()));
        client.shutdown();
    }
    report(
        "2,000 edits then documentSymbol, end to end (target < 500 ms)",
        &storm_times,
    );
    report(
        "open + first documentSymbol on the 7,000-line file",
        &first_symbols,
    );
    rss.sort_unstable();
    println!(
        "resident memory with the file open: {:.1} MB (target < 40 MB)",
        rss[rss.len() / 2] as f64 / 1024.0
    );
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

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn resident_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
