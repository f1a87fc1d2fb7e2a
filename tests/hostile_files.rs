//! End-to-end: files of hostile shapes keep the real server within a budget linear in the
//! file, the figure taken literally: the server's resident memory (`VmRSS`, once it is
//! quiet after answering: it returns freed memory to the system 500 ms after the last
//! activity) under 10 × the file size + 50 MB, its peak (`VmHWM`) under 2.5 times that, and
//! `documentSymbol` answered in time (see [`patience`]); diagnostics (pushed or pulled), folding and hover
//! answered, the process alive and answering another document.
//!
//! One table of shapes, one test body: thousands of small modules, generated code from the
//! tree limit to 50 MB, 20,000 levels of `defmodule`, deeply nested lists, calls, maps, `fn`,
//! `case` and pipes, binary content. Each shape with a tree is tried at the tree limit (the
//! worst case: a tree costs 40 to 70 bytes per source byte) and at the nesting limit (the
//! parse costs up to 8.5 KB per open level); larger or deeper ones get no tree and the user is
//! told. Before the fixes these shapes took the server past 3 GB (quadratic module
//! names) or ended it (recursion). `AIEX_HOSTILE_ONLY=name` runs the shapes whose name
//! contains `name`.

#[path = "support/elixir_gen.rs"]
mod elixir_gen;
#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};

const MB: u64 = 1024 * 1024;

/// A figure of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} line"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} value"));
    kb * 1024
}

/// The resident memory of a quiet server: read until it stops falling (the release runs
/// 500 ms after the last activity, after the background work queued before it), at most 5 s.
fn settled_rss_bytes(pid: u32) -> u64 {
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let mut last = status_bytes(pid, "VmRSS:");
    let mut steady = 0;
    while started.elapsed() < Duration::from_secs(5) && steady < 4 {
        std::thread::sleep(Duration::from_millis(250));
        let now = status_bytes(pid, "VmRSS:");
        steady = if now >= last { steady + 1 } else { 0 };
        last = now;
    }
    last
}

/// The small modules of the attack, `count` of them (3,319 make about half a megabyte).
fn small_modules(count: usize) -> String {
    (0..count).map(small_module).collect()
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

fn three_thousand_small_modules() -> String {
    small_modules(3_319)
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

fn generated_up_to_the_tree_limit() -> String {
    generated(aiex::syntax::MAX_PARSE_BYTES - 8_000)
}

fn generated_1mb() -> String {
    generated(1 << 20)
}

fn generated_4mb() -> String {
    generated(4 << 20)
}

/// Just under 8 MiB, the size the tree limit had before; no tree now.
fn generated_8mb() -> String {
    generated((8 << 20) - 16_000)
}

fn generated_50mb() -> String {
    generated(50_000_000)
}

/// What an editor sends for a binary file: arbitrary bytes decoded lossily (control
/// characters, NULs, replacement characters), 4 MB of them from a fixed seed.
fn binary_4mb() -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..4_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `open` and `close` repeated as deep as fits in the tree limit around `middle`, inside a
/// function of a module (so chunking, symbols and checks walk it). Far past the nesting
/// limit: no tree.
fn nested_to_the_limit(open: &str, middle: &str, close: &str) -> String {
    let head = "defmodule Deep do\n  def f(x) do\n";
    let tail = "\n  end\nend\n";
    let room = aiex::syntax::MAX_PARSE_BYTES - head.len() - tail.len() - middle.len();
    nested_levels(open, middle, close, room / (open.len() + close.len()))
}

/// `open` and `close` (each one level) nested as deep as still gets a tree, inside a function
/// of a module (two levels more).
fn nested_to_the_depth_limit(open: &str, middle: &str, close: &str) -> String {
    nested_levels(open, middle, close, aiex::syntax::MAX_NESTING_DEPTH - 2)
}

/// `open` and `close` repeated `levels` times around `middle`, inside a function of a module.
fn nested_levels(open: &str, middle: &str, close: &str, levels: usize) -> String {
    let head = "defmodule Deep do\n  def f(x) do\n";
    let tail = "\n  end\nend\n";
    let mut out =
        String::with_capacity(head.len() + tail.len() + levels * (open.len() + close.len()));
    out.push_str(head);
    for _ in 0..levels {
        out.push_str(open);
    }
    out.push_str(middle);
    for _ in 0..levels {
        out.push_str(close);
    }
    out.push_str(tail);
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

fn nested_modules_up_to_the_tree_limit() -> String {
    // About 24 bytes a level: the deepest nesting that still gets a tree.
    nested_modules(aiex::syntax::MAX_PARSE_BYTES / 24 - 100)
}

fn nested_modules_20000() -> String {
    nested_modules(20_000)
}

fn nested_lists() -> String {
    nested_to_the_limit("[", "x", "]")
}

fn nested_calls() -> String {
    nested_to_the_limit("f(", "x", ")")
}

fn nested_maps() -> String {
    nested_to_the_limit("%{a: ", "x", "}")
}

fn nested_fns() -> String {
    nested_to_the_limit("fn x -> ", "x", " end")
}

fn nested_cases() -> String {
    nested_to_the_limit("case x do\n y -> ", "y", "\nend")
}

fn nested_lists_at_the_depth_limit() -> String {
    nested_to_the_depth_limit("[", "x", "]")
}

fn nested_calls_at_the_depth_limit() -> String {
    nested_to_the_depth_limit("f(", "x", ")")
}

fn nested_fns_at_the_depth_limit() -> String {
    nested_to_the_depth_limit("fn x -> ", "x", " end")
}

fn nested_cases_at_the_depth_limit() -> String {
    nested_to_the_depth_limit("case x do\n y -> ", "y", "\nend")
}

/// One pipeline as long as fits: a left-nested binary operator thousands deep.
fn pipes() -> String {
    nested_to_the_limit("", "x", " |> f()")
}

/// How the server learns of diagnostics for a shape.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Diagnostics {
    /// `textDocument/publishDiagnostics`, unasked.
    Pushed,
    /// `textDocument/diagnostic`, asked.
    Pulled,
}

/// A hostile file and how its diagnostics reach the client.
struct Shape {
    name: &'static str,
    text: fn() -> String,
    diagnostics: Diagnostics,
    /// Why the memory budget is not met yet, for a shape known to miss it: its figures are
    /// printed and everything else asserted (answers in time, the server alive).
    over_budget: Option<&'static str>,
}

/// Shapes not run yet, and why: each is a known failure of issue 11, printed on every run.
const NOT_RUN: &[(&str, &str)] = &[];

const SHAPES: &[Shape] = &[
    Shape {
        name: "small_modules_at_limit_pushed",
        text: small_modules_under_the_limit,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "small_modules_at_limit_pulled",
        text: small_modules_under_the_limit,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "modules_3319_pushed",
        text: three_thousand_small_modules,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "modules_3319_pulled",
        text: three_thousand_small_modules,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "generated_at_limit",
        text: generated_up_to_the_tree_limit,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "generated_1mb",
        text: generated_1mb,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "generated_4mb",
        text: generated_4mb,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "generated_8mb",
        text: generated_8mb,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "generated_50mb",
        text: generated_50mb,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "binary_4mb",
        text: binary_4mb,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_modules_at_limit",
        text: nested_modules_up_to_the_tree_limit,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_modules_20000",
        text: nested_modules_20000,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "nested_lists",
        text: nested_lists,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_calls",
        text: nested_calls,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "nested_maps",
        text: nested_maps,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_fns",
        text: nested_fns,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "nested_cases",
        text: nested_cases,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_lists_at_depth_limit",
        text: nested_lists_at_the_depth_limit,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "nested_calls_at_depth_limit",
        text: nested_calls_at_the_depth_limit,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_fns_at_depth_limit",
        text: nested_fns_at_the_depth_limit,
        diagnostics: Diagnostics::Pulled,
        over_budget: None,
    },
    Shape {
        name: "nested_cases_at_depth_limit",
        text: nested_cases_at_the_depth_limit,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
    Shape {
        name: "pipes",
        text: pipes,
        diagnostics: Diagnostics::Pushed,
        over_budget: None,
    },
];

/// The outline, folding, diagnostics and hover of `uri`, each answered (documentSymbol within
/// `patience`); returns how long documentSymbol took.
fn ask_every_feature(
    client: &mut LspClient,
    name: &str,
    uri: &str,
    diagnostics: Diagnostics,
    patience: Duration,
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
        elapsed < patience,
        "{name}: documentSymbol took {elapsed:?}, more than {patience:?}"
    );
    let folding = client.request(
        "textDocument/foldingRange",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(folding.get("id").is_some(), "{name}: {folding}");
    match diagnostics {
        Diagnostics::Pulled => {
            let answer = client.request(
                "textDocument/diagnostic",
                json!({ "textDocument": { "uri": uri } }),
            );
            assert!(
                answer["result"]["items"].is_array() || answer.get("error").is_some(),
                "{name}: {answer}"
            );
        }
        Diagnostics::Pushed => {
            let published = client.wait_for(|m| {
                m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(uri)
            });
            assert!(published["params"]["diagnostics"].is_array(), "{name}");
        }
    }
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 0, "character": 12 } }),
    );
    assert!(hover.get("id").is_some(), "{name}: {hover}");
    elapsed
}

/// The figure: `documentSymbol` answered within 2 s on a file up to the tree limit.
/// Measured in the debug build on a 2-core machine shared with other builds it is met
/// (230-570 ms for the densest shapes at load 2-5, up to 1.6 s at load 6-8; shapes nested
/// past the nesting limit get no tree and answer in under 30 ms); timing is still at the
/// mercy of the machine's load, so the assertion keeps 3 × headroom and the figure is printed. A file over the limit has no tree, and its time is that of moving its
/// text (the debug build decodes 50 MB of JSON in seconds): 1 s more per 4 MB.
fn patience(bytes: usize) -> Duration {
    let target = Duration::from_secs(2);
    if bytes <= aiex::syntax::MAX_PARSE_BYTES {
        3 * target
    } else {
        3 * target + Duration::from_secs((bytes / (4 << 20)) as u64)
    }
}

/// What one shape cost the server.
struct Figures {
    bytes: usize,
    /// Whether the file gets a syntax tree (it is within the size and nesting limits).
    tree: bool,
    rss: u64,
    peak: u64,
    budget: u64,
    symbols: Duration,
}

/// Opens the shape's file in a fresh server with one small document, asks every offline
/// feature of it, checks the server still answers the small one, and measures.
fn measure(shape: &Shape) -> Figures {
    let text = (shape.text)();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    let capabilities = match shape.diagnostics {
        Diagnostics::Pulled => json!({ "textDocument": { "diagnostic": {} } }),
        Diagnostics::Pushed => json!({}),
    };
    client.initialize(capabilities, json!({}), Some(dir.path()));
    let small = file_uri(&dir.path().join("lib/small.ex"));
    client.open(&small, &small_modules(20));
    ask_every_feature(
        &mut client,
        shape.name,
        &small,
        shape.diagnostics,
        patience(0),
    );

    let uri = file_uri(&dir.path().join(format!("lib/{}.ex", shape.name)));
    client.open(&uri, &text);
    let symbols = ask_every_feature(
        &mut client,
        shape.name,
        &uri,
        shape.diagnostics,
        patience(text.len()),
    );
    if aiex::syntax::syntax_notice(&text).is_some() {
        let notice = client.wait_for(|m| {
            m["method"] == "window/showMessage"
                && m["params"]["message"]
                    .as_str()
                    .is_some_and(|t| t.contains("limit for syntax features"))
        });
        assert_eq!(notice["params"]["type"], 2, "a warning: {notice}");
    }

    // Still alive and answering another document.
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": small } }),
    );
    assert_eq!(
        outline["result"][0]["name"], "Shape.M0",
        "{}: {outline}",
        shape.name
    );

    let figures = Figures {
        bytes: text.len(),
        tree: aiex::syntax::syntax_notice(&text).is_none(),
        rss: settled_rss_bytes(client.pid()),
        peak: status_bytes(client.pid(), "VmHWM:"),
        budget: 10 * text.len() as u64 + 50 * MB,
        symbols,
    };
    assert!(client.shutdown().success(), "{}: shut down", shape.name);
    figures
}

#[test]
fn every_hostile_shape_stays_within_its_memory_and_time_budget_and_the_server_answers() {
    let only = std::env::var("AIEX_HOSTILE_ONLY").unwrap_or_default();
    let mut failures = Vec::new();
    for shape in SHAPES.iter().filter(|s| s.name.contains(&only)) {
        if let Some((_, why)) = NOT_RUN.iter().find(|(name, _)| *name == shape.name) {
            eprintln!("{:<30} NOT RUN, a known failure: {why}", shape.name);
            continue;
        }
        let figures = match std::panic::catch_unwind(|| measure(shape)) {
            Ok(figures) => figures,
            Err(_) => {
                failures.push(format!("{}: failed (see the panic above)", shape.name));
                continue;
            }
        };
        eprintln!(
            "{:<30} {:>6} KB {:<8} RSS {:>4} MB, peak {:>4} MB, budget {:>4} MB, symbols in {:?}",
            shape.name,
            figures.bytes / 1024,
            if figures.tree { "a tree" } else { "no tree" },
            figures.rss / MB,
            figures.peak / MB,
            figures.budget / MB,
            figures.symbols
        );
        if let Some(reason) = shape.over_budget {
            eprintln!("{:<30} known over budget: {reason}", shape.name);
            continue;
        }
        if figures.rss >= figures.budget {
            failures.push(format!(
                "{}: resident {} MB, over the {} MB budget",
                shape.name,
                figures.rss / MB,
                figures.budget / MB
            ));
        }
        // The issue sets no figure for the peak; this bound keeps it linear. The peak holds
        // the tree while it is parsed and chunked (up to 70 bytes per source byte, more with
        // the parser's stack on 190,000 levels of nested lists: 95-108 MB at the limit) and
        // the outline's JSON.
        if 2 * figures.peak >= 5 * figures.budget {
            failures.push(format!(
                "{}: peak {} MB, over 2.5 times the {} MB budget",
                shape.name,
                figures.peak / MB,
                figures.budget / MB
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn outline_names(symbols: &Value) -> usize {
    symbols["result"].as_array().map_or(0, Vec::len)
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

/// The CPU time the process has used so far (user and system, all threads), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // The fields after the command name, which ends at the last `)`: state is the first,
    // utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 1..]
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Waits until the process has used `ticks` more clock ticks of CPU than `since`.
fn wait_for_cpu(pid: u32, since: u64, ticks: u64) {
    let started = Instant::now();
    while cpu_ticks(pid) < since + ticks {
        assert!(
            started.elapsed() < lsp_client::TIMEOUT,
            "the server never started working"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the process has used no CPU for `quiet`.
fn wait_until_idle(pid: u32, quiet: Duration) {
    let started = Instant::now();
    let mut last = cpu_ticks(pid);
    loop {
        std::thread::sleep(quiet);
        let now = cpu_ticks(pid);
        if now == last || started.elapsed() > lsp_client::TIMEOUT {
            return;
        }
        last = now;
    }
}

/// Sends `signal` (`STOP`, `CONT`) to the process.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// The checks of a document within their budget (`CHECKS_BUDGET`, 5 s) or the request answered
/// `ServerCancelled` (-32802) with `retriggerRequest`, the checks going on in the background.
/// The real condition is a machine too busy for the checks of a large file: here the server is
/// suspended (SIGSTOP) once it has started checking a file at the tree limit, for longer than
/// the budget, so the budget is spent before the checks are done.
#[test]
fn checks_past_their_budget_are_answered_server_cancelled_and_asking_again_gets_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    client.initialize(
        json!({ "textDocument": { "diagnostic": {} } }),
        json!({}),
        Some(dir.path()),
    );
    let uri = file_uri(&dir.path().join("lib/many.ex"));
    client.open(&uri, &small_modules_under_the_limit());
    let pid = client.pid();
    wait_until_idle(pid, Duration::from_millis(300));

    let before = cpu_ticks(pid);
    let id = client.send_request(
        "textDocument/diagnostic",
        json!({ "textDocument": { "uri": uri } }),
    );
    // Three ticks (30 ms) into parsing and checking 383 KB, far from done (the debug build
    // takes about a second), the budget is already running.
    wait_for_cpu(pid, before, 3);
    signal(pid, "STOP");
    std::thread::sleep(Duration::from_secs(6));
    signal(pid, "CONT");

    let answer = client.response(id);
    let error = &answer["error"];
    assert_eq!(error["code"], -32802, "ServerCancelled: {answer}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("many.ex") && message.contains("took longer than 5000 ms"),
        "says which file and what happened: {message}"
    );
    assert!(
        message.contains("asking again gets their result"),
        "says what to do: {message}"
    );
    assert_eq!(error["data"]["retriggerRequest"], true, "{answer}");

    // The checks went on: asking again (as the client does, told to retrigger) gets them.
    let again = client.request(
        "textDocument/diagnostic",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(again["result"]["items"].is_array(), "{again}");
    assert!(client.shutdown().success(), "shut down");
}
