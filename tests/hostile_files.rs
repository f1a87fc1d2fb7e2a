//! End-to-end: files of hostile shapes (thousands of small modules, megabytes of generated
//! code, 20,000 levels of nested `defmodule`) keep the real server within a budget linear in
//! the file: `documentSymbol` answered within 2 s, diagnostics, folding and hover answered, the
//! process alive and answering other documents, and its peak RSS grown (over the idle
//! server's) by less than:
//! - 10 × the file size + 50 MB for files over the tree limit (1 MiB), which get no tree;
//! - 80 × the file size + 50 MB for files with a tree: a tree-sitter-elixir tree alone costs
//!   40 to 80 bytes per source byte (41 MB for 0.5 MB of small modules), so the 10 × budget
//!   cannot hold while a tree exists. Before the fixes these shapes took the server past 3 GB
//!   (quadratic module names) or ended it (recursion).

#[path = "support/elixir_gen.rs"]
mod elixir_gen;
#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};

/// The peak resident set of a process (`VmHWM`), in bytes.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kb * 1024
}

/// 3,319 small modules in about half a megabyte.
fn many_small_modules() -> String {
    let mut out = String::new();
    for i in 0..3_319 {
        out.push_str(&format!(
            "defmodule Shape.M{i} do\n  @moduledoc false\n  def f(x), do: x + {i}\n  def g, do: :ok\n  defp h(a, b), do: {{a, b}}\n  def k(list), do: Enum.map(list, &(&1 * 2))\nend\n"
        ));
    }
    out
}

/// Generated modules up to `bytes`.
fn generated(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 4096);
    let mut index = 0;
    while out.len() < bytes {
        out.push_str(&elixir_gen::module(index));
        index += 1;
    }
    out
}

/// `levels` nested `defmodule`s, each with a function.
fn nested_modules(levels: usize) -> String {
    let mut out = String::with_capacity(levels * 40);
    for i in 0..levels {
        out.push_str(&format!("defmodule N{i} do\n"));
    }
    out.push_str("def deepest, do: :ok\n");
    for _ in 0..levels {
        out.push_str("end\n");
    }
    out
}

/// Opens `text` in a fresh server and checks the budget on every offline feature.
fn stays_within_budget(name: &str, text: &str, pull_diagnostics: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    let capabilities = if pull_diagnostics {
        json!({ "textDocument": { "diagnostic": {} } })
    } else {
        json!({})
    };
    client.initialize(capabilities, json!({}), Some(dir.path()));
    let baseline = peak_rss_bytes(client.pid());
    let uri = file_uri(&dir.path().join(format!("lib/{name}.ex")));
    client.open(&uri, text);

    let started = Instant::now();
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let elapsed = started.elapsed();
    assert!(
        symbols.get("result").is_some() || symbols.get("error").is_some(),
        "{name}: {symbols}"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "{name}: documentSymbol took {elapsed:?}"
    );

    let folding = client.request(
        "textDocument/foldingRange",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(folding.get("id").is_some(), "{name}: {folding}");
    if pull_diagnostics {
        let diagnostics = client.request(
            "textDocument/diagnostic",
            json!({ "textDocument": { "uri": uri } }),
        );
        assert!(diagnostics.get("id").is_some(), "{name}: {diagnostics}");
    } else {
        let published = client.wait_for(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(uri)
        });
        assert!(published["params"]["diagnostics"].is_array(), "{name}");
    }
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 0, "character": 12 } }),
    );
    assert!(hover.get("id").is_some(), "{name}: {hover}");

    // Still alive and answering another document.
    let small = file_uri(&dir.path().join("lib/small.ex"));
    client.open(&small, "defmodule Small do\n  def f, do: 1\nend\n");
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": small } }),
    );
    assert_eq!(outline["result"][0]["name"], "Small", "{name}: {outline}");

    let peak = peak_rss_bytes(client.pid());
    let per_byte = if text.len() > aiex::syntax::MAX_PARSE_BYTES {
        10
    } else {
        80
    };
    let budget = per_byte * text.len() as u64 + 50 * 1024 * 1024;
    let grown = peak.saturating_sub(baseline);
    eprintln!(
        "{name}: {} KB file, baseline {} MB, peak {} MB (grew {} MB, budget {} MB), symbols in {elapsed:?}",
        text.len() / 1024,
        baseline >> 20,
        peak >> 20,
        grown >> 20,
        budget >> 20
    );
    assert!(
        grown < budget,
        "{name}: the server grew by {} MB, over the {} MB budget",
        grown >> 20,
        budget >> 20
    );
    assert!(client.shutdown().success(), "{name}");
}

fn outline_names(symbols: &Value) -> usize {
    symbols["result"].as_array().map_or(0, Vec::len)
}

#[test]
fn three_thousand_small_modules_in_half_a_megabyte_stay_within_budget_with_pushed_diagnostics() {
    stays_within_budget("many_modules_push", &many_small_modules(), false);
}

#[test]
fn three_thousand_small_modules_in_half_a_megabyte_stay_within_budget_with_pulled_diagnostics() {
    let text = many_small_modules();
    assert!(text.len() > 400_000, "{}", text.len());
    stays_within_budget("many_modules_pull", &text, true);
}

#[test]
fn a_one_megabyte_generated_file_stays_within_budget() {
    let text = generated(1_000_000 - 8_000);
    assert!(
        text.len() <= aiex::syntax::MAX_PARSE_BYTES,
        "within the tree limit"
    );
    stays_within_budget("generated_1mb", &text, true);
}

#[test]
fn a_two_megabyte_generated_file_stays_within_budget() {
    stays_within_budget("generated_2mb", &generated(2 << 20), true);
}

#[test]
fn a_four_megabyte_generated_file_stays_within_budget() {
    stays_within_budget("generated_4mb", &generated(4 << 20), false);
}

#[test]
fn twenty_thousand_nested_modules_stay_within_budget_and_the_server_alive() {
    stays_within_budget("nested_20000", &nested_modules(20_000), true);
}

#[test]
fn the_outline_of_many_modules_is_cut_at_its_limit_with_a_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    client.initialize(json!({}), json!({}), Some(dir.path()));
    let uri = file_uri(&dir.path().join("lib/many.ex"));
    client.open(&uri, &many_small_modules());
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    // 2,000 symbols (modules and their functions, in file order) and the note.
    let top = outline_names(&symbols);
    assert!(top > 100 && top < 3_319, "{top} top-level entries");
    let last = &symbols["result"][top - 1]["name"];
    assert!(
        last.as_str()
            .is_some_and(|n| n.contains("more symbols not shown")),
        "{last}"
    );
}
