//! End-to-end: files of hostile shapes (thousands of small modules, megabytes of generated
//! code, thousands of levels of nested `defmodule`) keep the real server within a budget linear
//! in the file: `documentSymbol` answered within 2 s, diagnostics, folding and hover answered,
//! the process alive and answering other documents, and its peak RSS grown by less than 10 ×
//! the file size + 50 MB over the warmed-up idle server's (one small document open, every
//! feature asked once, so the growth measured is the file's and not the first use of code
//! pages). Each shape is tried just under the tree limit (the worst case: a tree costs 40 to 70
//! bytes per source byte) and over it, where the file gets no tree and the user is told so.
//! Before the fixes these shapes took the server past 3 GB (quadratic module names) or ended
//! it (recursion).

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

/// The small modules of the attack, `count` of them (3,319 make about half a megabyte).
fn small_modules(count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        out.push_str(&small_module(i));
    }
    out
}

fn small_module(i: usize) -> String {
    format!(
        "defmodule Shape.M{i} do\n  @moduledoc false\n  def f(x), do: x + {i}\n  def g, do: :ok\n  defp h(a, b), do: {{a, b}}\n  def k(list), do: Enum.map(list, &(&1 * 2))\nend\n"
    )
}

/// As many small modules as fit in the tree limit: the most tree per byte of any shape here.
fn small_modules_under_the_limit() -> String {
    let mut out = String::new();
    for i in 0.. {
        let module = small_module(i);
        if out.len() + module.len() > aiex::syntax::MAX_PARSE_BYTES {
            break;
        }
        out.push_str(&module);
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

/// The outline, folding, diagnostics and hover of `uri`, each answered (documentSymbol within
/// 2 s); returns how long documentSymbol took.
fn ask_every_feature(
    client: &mut LspClient,
    name: &str,
    uri: &str,
    pull_diagnostics: bool,
) -> Duration {
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
    elapsed
}

/// Opens `text` in a fresh, warmed-up server and checks the budget on every offline feature.
/// Returns the server, still running, for more checks, with its workspace.
fn stays_within_budget(name: &str, text: &str, pull_diagnostics: bool) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    let capabilities = if pull_diagnostics {
        json!({ "textDocument": { "diagnostic": {} } })
    } else {
        json!({})
    };
    client.initialize(capabilities, json!({}), Some(dir.path()));
    let small = file_uri(&dir.path().join("lib/small.ex"));
    client.open(&small, &small_modules(20));
    ask_every_feature(&mut client, name, &small, pull_diagnostics);
    let baseline = peak_rss_bytes(client.pid());

    let uri = file_uri(&dir.path().join(format!("lib/{name}.ex")));
    client.open(&uri, text);
    let elapsed = ask_every_feature(&mut client, name, &uri, pull_diagnostics);

    // Still alive and answering another document.
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": small } }),
    );
    assert_eq!(
        outline["result"][0]["name"], "Shape.M0",
        "{name}: {outline}"
    );

    let peak = peak_rss_bytes(client.pid());
    let budget = 10 * text.len() as u64 + 50 * 1024 * 1024;
    let grown = peak.saturating_sub(baseline);
    eprintln!(
        "{name}: {} KB file ({}), baseline {} MB, peak {} MB (grew {} MB, budget {} MB), symbols in {elapsed:?}",
        text.len() / 1024,
        if text.len() > aiex::syntax::MAX_PARSE_BYTES { "no tree" } else { "with a tree" },
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
    (client, dir)
}

/// A running server and its workspace, removed when the server is done with it.
type Server = (LspClient, tempfile::TempDir);

/// Ends the server cleanly.
fn shut_down((mut client, _workspace): Server, name: &str) {
    assert!(client.shutdown().success(), "{name}");
}

fn outline_names(symbols: &Value) -> usize {
    symbols["result"].as_array().map_or(0, Vec::len)
}

#[test]
fn small_modules_up_to_the_tree_limit_stay_within_budget_with_pushed_diagnostics() {
    let text = small_modules_under_the_limit();
    assert!(
        text.len() > aiex::syntax::MAX_PARSE_BYTES - 1024,
        "{}",
        text.len()
    );
    shut_down(
        stays_within_budget("small_modules_push", &text, false),
        "push",
    );
}

#[test]
fn small_modules_up_to_the_tree_limit_stay_within_budget_with_pulled_diagnostics() {
    let text = small_modules_under_the_limit();
    shut_down(
        stays_within_budget("small_modules_pull", &text, true),
        "pull",
    );
}

#[test]
fn three_thousand_small_modules_in_half_a_megabyte_get_no_tree_and_the_user_is_told() {
    let text = small_modules(3_319);
    assert!(text.len() > aiex::syntax::MAX_PARSE_BYTES, "{}", text.len());
    let (mut client, workspace) = stays_within_budget("many_modules", &text, true);
    let notice = client.wait_for(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("limit for syntax features"))
    });
    assert_eq!(notice["params"]["type"], 2, "a warning: {notice}");
    shut_down((client, workspace), "many_modules");
}

#[test]
fn a_generated_file_up_to_the_tree_limit_stays_within_budget() {
    let text = generated(aiex::syntax::MAX_PARSE_BYTES - 8_000);
    assert!(
        text.len() <= aiex::syntax::MAX_PARSE_BYTES,
        "within the tree limit"
    );
    shut_down(
        stays_within_budget("generated_limit", &text, true),
        "generated_limit",
    );
}

#[test]
fn a_one_megabyte_generated_file_stays_within_budget() {
    shut_down(
        stays_within_budget("generated_1mb", &generated(1 << 20), true),
        "1mb",
    );
}

#[test]
fn a_two_megabyte_generated_file_stays_within_budget() {
    shut_down(
        stays_within_budget("generated_2mb", &generated(2 << 20), true),
        "2mb",
    );
}

#[test]
fn a_four_megabyte_generated_file_stays_within_budget() {
    shut_down(
        stays_within_budget("generated_4mb", &generated(4 << 20), false),
        "4mb",
    );
}

#[test]
fn nested_modules_up_to_the_tree_limit_stay_within_budget_and_the_server_alive() {
    // About 24 bytes a level: the deepest nesting that still gets a tree.
    let levels = aiex::syntax::MAX_PARSE_BYTES / 24 - 100;
    let text = nested_modules(levels);
    assert!(
        text.len() <= aiex::syntax::MAX_PARSE_BYTES,
        "{}",
        text.len()
    );
    shut_down(
        stays_within_budget("nested_limit", &text, true),
        "nested_limit",
    );
}

#[test]
fn twenty_thousand_nested_modules_stay_within_budget_and_the_server_alive() {
    shut_down(
        stays_within_budget("nested_20000", &nested_modules(20_000), true),
        "nested_20000",
    );
}

#[test]
fn the_outline_of_many_modules_is_cut_at_its_limit_with_a_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    client.initialize(json!({}), json!({}), Some(dir.path()));
    let uri = file_uri(&dir.path().join("lib/many.ex"));
    client.open(&uri, &small_modules_under_the_limit());
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
