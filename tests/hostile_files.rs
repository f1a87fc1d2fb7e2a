//! End-to-end: files of hostile shapes keep the real server within a budget linear in the
//! file, the figure taken literally: the server's resident memory (`VmRSS`, once it is
//! quiet after answering: it returns freed memory to the system 500 ms after the last
//! activity) under 10 × the file size + 50 MB, its peak (`VmHWM`) within it too once the debug
//! binary's own weight is set aside (see [`RELEASE_SERVER_MB`]), and
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

#[path = "support/hostile_shapes.rs"]
mod hostile_shapes;
#[path = "support/lsp_client.rs"]
mod lsp_client;
#[path = "support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use hostile_shapes::{
    small_modules, small_modules_under_the_limit, Diagnostics, Shape, NOT_RUN, SHAPES,
};
use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};

const MB: u64 = 1024 * 1024;

/// A figure of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    process::status_bytes(pid, field).unwrap_or_else(|| panic!("{field} of the server"))
}

/// The resident memory of the quiet server.
fn settled_rss_bytes(pid: u32) -> u64 {
    process::settled_resident_bytes(pid).expect("the server's resident memory")
}

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

/// The release server's own resident memory with a small document open, in MB (the
/// `hostile_memory` bench: 14.8-15.2 MB once quiet with a 320 KB text that gets no tree, a
/// provider configured).
const RELEASE_SERVER_MB: u64 = 15;

/// What one shape cost the server.
struct Figures {
    bytes: usize,
    /// Whether the file gets a syntax tree (it is within the size and nesting limits).
    tree: bool,
    /// Resident before the file was opened (the server with one small document).
    before: u64,
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

    let before = status_bytes(client.pid(), "VmRSS:");
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
        before,
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
            "{:<30} {:>6} KB {:<8} before {:>3} MB, RSS {:>4} MB, peak {:>4} MB, budget {:>4} MB, symbols in {:?}",
            shape.name,
            figures.bytes / 1024,
            if figures.tree { "a tree" } else { "no tree" },
            figures.before / MB,
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
        // The peak, held to the budget itself: what the file adds to the server at its
        // peak fits in what the budget leaves beside the release server's own
        // `RELEASE_SERVER_MB` (the debug binary's code alone is ~22 MB more; the release
        // server's peaks against the budget are the `hostile_memory` bench's).
        let added = figures.peak.saturating_sub(figures.before);
        if added + RELEASE_SERVER_MB * MB >= figures.budget {
            failures.push(format!(
                "{}: peak {} MB, {} MB over the server before the file: over the {} MB budget \
                 beside a {RELEASE_SERVER_MB} MB release server",
                shape.name,
                figures.peak / MB,
                added / MB,
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
    // 1,000 symbols (modules and their functions, in file order) and the note.
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

/// Whether `message` is the notice of a document past the nesting limit.
fn is_nesting_notice(message: &Value) -> bool {
    message["method"] == "window/showMessage"
        && message["params"]["message"]
            .as_str()
            .is_some_and(|t| t.contains("-level limit for syntax features"))
}

/// Replaces columns `from..to` of `line` with `text`, as version `version`.
fn replace_on_line(
    client: &mut LspClient,
    uri: &str,
    version: i64,
    line: u32,
    (from, to): (u32, u32),
    text: &str,
) {
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": version },
            "contentChanges": [{
                "range": { "start": { "line": line, "character": from }, "end": { "line": line, "character": to } },
                "text": text
            }]
        }),
    );
}

#[test]
fn an_edit_that_nests_a_document_past_the_limit_is_told_once_per_crossing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client = LspClient::spawn(Some(dir.path()));
    client.initialize(
        json!({ "textDocument": { "diagnostic": {} } }),
        json!({}),
        Some(dir.path()),
    );
    let uri = file_uri(&dir.path().join("lib/deep.ex"));
    // The module's and the function's `do` are two levels: 992 in all, under the limit.
    let levels = 990;
    let text = format!(
        "defmodule Deep do\n  def f(x) do\n{}x{}\n  end\nend\n",
        "[".repeat(levels),
        "]".repeat(levels)
    );
    client.open(&uri, &text);
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(outline["result"][0]["name"], "Deep", "{outline}");
    let x = levels as u32;
    let deeper = format!("{}x{}", "[".repeat(10), "]".repeat(10));

    // Ten levels more: past the limit, which the background parse after the edit finds.
    replace_on_line(&mut client, &uri, 2, 2, (x, x + 1), &deeper);
    let notice = client.wait_for(is_nesting_notice);
    assert_eq!(notice["params"]["type"], 2, "a warning: {notice}");
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(
        outline["result"],
        json!([]),
        "no tree, no outline: {outline}"
    );

    // More keystrokes while it stays past the limit, each parsed: no more notices.
    for (version, column) in [(3, x + 11), (4, x + 12)] {
        replace_on_line(&mut client, &uri, version, 2, (column, column), "y");
        client.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } }),
        );
    }
    // Back under the limit, then past it again: a second crossing, a second notice.
    replace_on_line(
        &mut client,
        &uri,
        5,
        2,
        (x, x + deeper.len() as u32 + 2),
        "x",
    );
    let outline = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(
        outline["result"][0]["name"], "Deep",
        "a tree again: {outline}"
    );
    assert!(
        !client.notifications.iter().any(is_nesting_notice),
        "one notice for the first crossing: {:#?}",
        client.notifications
    );
    replace_on_line(&mut client, &uri, 6, 2, (x, x + 1), &deeper);
    client.wait_for(is_nesting_notice);
    std::thread::sleep(Duration::from_millis(300));
    client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(
        !client.notifications.iter().any(is_nesting_notice),
        "one notice for the second crossing: {:#?}",
        client.notifications
    );
    assert!(client.shutdown().success(), "shut down");
}
