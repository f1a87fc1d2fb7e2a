//! Memory of hostile files in the release server: each shape of `tests/hostile_files.rs`
//! opened in a fresh `aiex` (with a provider configured: a fake Ollama on 127.0.0.1 that
//! answers at once), its outline, folding, diagnostics, hover and one completion asked, then
//! the server's peak (`VmHWM`) and its resident memory once quiet (`VmRSS`: freed memory goes
//! back to the system 500 ms after the last activity) printed against the budget,
//! 10 × the file size + 50 MB, with the time `documentSymbol` took (target 2 s).
//!
//! Run with `cargo bench --bench hostile_memory`. `AIEX_HOSTILE_ONLY=name` runs the shapes
//! whose name contains `name`; `AIEX_BENCH_WRAPPER="heaptrack -o /tmp/aiex"` runs the server
//! under a profiler (the memory figures are then the profiler's own and not printed).

#[path = "../../tests/support/hostile_shapes.rs"]
mod hostile_shapes;
#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use hostile_shapes::{small_modules, Diagnostics, Shape, SHAPES};
use lsp_client::{file_uri, LspClient, SpawnOptions};
use serde_json::{json, Value};
use support::fake_provider::{FakeProvider, Reply};
use support::process;

const MB: u64 = 1024 * 1024;

fn main() {
    let only = std::env::var("AIEX_HOSTILE_ONLY").unwrap_or_default();
    let wrapper: Vec<String> = std::env::var("AIEX_BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(FakeProvider::start());
    fake.on(
        "/api/generate",
        vec![Reply::Recorded(support::ollama::generate(&["x"]))],
    );
    let options = json!({
        "providers": { "local": { "kind": "ollama", "base_url": fake.url(), "model": "qwen2.5-coder:1.5b" } },
        "features": { "completion": { "providers": ["local"], "debounce_min_ms": 0, "debounce_max_ms": 0 } }
    });
    println!(
        "{:<30} {:>7} {:<8} {:>9} {:>9} {:>9} {:>10}",
        "shape", "size", "tree", "quiet", "peak", "budget", "symbols"
    );
    let mut over = Vec::new();
    for shape in SHAPES.iter().filter(|s| s.name.contains(&only)) {
        let figures = measure(shape, &options, &wrapper);
        let budget = 10 * figures.bytes as u64 + 50 * MB;
        println!(
            "{:<30} {:>4} KB {:<8} {:>6.1} MB {:>6.1} MB {:>6.1} MB {:>7.0} ms",
            shape.name,
            figures.bytes / 1024,
            if figures.tree { "a tree" } else { "no tree" },
            figures.quiet as f64 / MB as f64,
            figures.peak as f64 / MB as f64,
            budget as f64 / MB as f64,
            figures.symbols.as_secs_f64() * 1000.0
        );
        if wrapper.is_empty() && (figures.peak >= budget || figures.quiet >= budget) {
            over.push(shape.name);
        }
    }
    println!(
        "shapes whose peak or quiet memory is over 10 x the file + 50 MB: {}",
        if over.is_empty() {
            "none".to_owned()
        } else {
            over.join(", ")
        }
    );
}

/// What one shape cost the server.
struct Figures {
    bytes: usize,
    tree: bool,
    quiet: u64,
    peak: u64,
    symbols: Duration,
}

fn measure(shape: &Shape, options: &Value, wrapper: &[String]) -> Figures {
    let text = (shape.text)();
    let dir = tempfile::tempdir().expect("tempdir");
    let spawn = SpawnOptions {
        wrapper: wrapper.to_vec(),
        ..SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(Some(dir.path()), &spawn);
    let capabilities = match shape.diagnostics {
        Diagnostics::Pulled => json!({ "textDocument": { "diagnostic": {} } }),
        Diagnostics::Pushed => json!({}),
    };
    client.initialize(capabilities, options.clone(), Some(dir.path()));
    let small = file_uri(&dir.path().join("lib/small.ex"));
    client.open(&small, &small_modules(20));
    ask_every_feature(&mut client, &small, shape.diagnostics);

    let uri = file_uri(&dir.path().join(format!("lib/{}.ex", shape.name)));
    client.open(&uri, &text);
    let symbols = ask_every_feature(&mut client, &uri, shape.diagnostics);
    let last_line = text.lines().count().saturating_sub(1) as u32;
    let completion = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": last_line, "character": 0 } }),
    );
    assert!(completion.get("id").is_some(), "{completion}");

    let pid = client.pid();
    let quiet = process::settled_resident_bytes(pid).unwrap_or(0);
    let figures = Figures {
        bytes: text.len(),
        tree: aiex::syntax::syntax_notice(&text).is_none(),
        quiet,
        peak: process::status_bytes(pid, "VmHWM:").unwrap_or(0),
        symbols,
    };
    client.shutdown();
    figures
}

/// Asks the outline, folding, diagnostics and hover of `uri`; returns how long the outline
/// took.
fn ask_every_feature(client: &mut LspClient, uri: &str, diagnostics: Diagnostics) -> Duration {
    let started = Instant::now();
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let elapsed = started.elapsed();
    assert!(symbols.get("id").is_some(), "{symbols}");
    client.request(
        "textDocument/foldingRange",
        json!({ "textDocument": { "uri": uri } }),
    );
    match diagnostics {
        Diagnostics::Pulled => {
            client.request(
                "textDocument/diagnostic",
                json!({ "textDocument": { "uri": uri } }),
            );
        }
        Diagnostics::Pushed => {
            client.wait_for(|m| {
                m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(uri)
            });
        }
    }
    client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 0, "character": 12 } }),
    );
    elapsed
}
