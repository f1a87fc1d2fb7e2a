//! Completion quality against a real model: held-out lines of the fixture projects
//! (`fixtures/context_app`, `fixtures/sample_app`, `fixtures/blog_app`). At each site one line inside a function
//! body is deleted (its indentation kept), the real `aiex` binary is asked for an inline
//! completion there, and the answer is compared with the deleted line. The same sites are
//! asked twice, with the same model and the same prompt budget:
//! - **Aiex's context**: the project is the server's workspace, so the prompt carries what the
//!   context engine assembles (callees' definitions, module API, aliases, ...);
//! - **current file only**: a server with no workspace, so the prompt is the file around the
//!   cursor.
//!
//! Printed per mode: exact match (the completed line equals the deleted one, whitespace
//! collapsed), edit similarity (1 - Levenshtein / longer length, averaged), parse rate (the
//! file with the suggestion in place parses without an error), how often a suggestion was
//! offered, and latency: the first request at the site (a new place) and the next one after
//! the user typed the deleted line's first 3 characters (served from the earlier suggestion or
//! from the model server's prompt cache).
//!
//! Needs a model server: `tests/realmodel/setup.sh --port 18080 --threads 2`, then
//! `cargo bench --bench completion_quality`. Settings: `AIEX_REALMODEL_URL` (default
//! `http://127.0.0.1:18080/v1`), `AIEX_REALMODEL_MODEL` (default `qwen2.5-coder-0.5b`),
//! `AIEX_QUALITY_SITES` (default 30), `AIEX_QUALITY_PROJECTS` (default
//! `context_app,sample_app,blog_app`), `AIEX_QUALITY_BUDGET` (prompt tokens, default 1024),
//! `AIEX_QUALITY_MODES` (default `context,file`; `defaults` adds a run with the default
//! budget and latency target, the prompt sized to the speed learnt from the model),
//! `AIEX_QUALITY_NEXT=0` (skip the request after 3 typed characters: a quality-only run, half
//! the model's time on a loaded machine). Each site's outcome is printed to stderr as it
//! comes; `AIEX_TEST_BINARY` runs another build of the server (two builds compared in turn),
//! and `AIEX_TEST_LOG=warn,aiex_engine::engine::completion=debug` shows each request's
//! `completion timings` (prompt tokens read and reused from the server's cache, tokens
//! written, and the time of each).
//! Without a server it says so and exits 0, or 1 under `AIEX_REQUIRE_REALMODEL=1`.

#[path = "../../tests/support/files.rs"]
mod files;
#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;
#[allow(dead_code)] // the tests' helpers (`for_test`) are not used here
#[path = "../../tests/support/realmodel.rs"]
mod realmodel;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_client::LspClient;
use realmodel::{RealModel, REQUEST_DEADLINE};
use serde_json::{json, Value};

/// The fixture projects whose lines are held out: `context_app` (a shop whose modules call each
/// other through aliases, imports and pipes, with generated callers of a large module),
/// `sample_app` (a small accounts module) and `blog_app` (written to read like a Phoenix
/// application: contexts, Ecto schemas, controllers, LiveViews, a notifier).
const PROJECTS: &[&str] = &["context_app", "sample_app", "blog_app"];

/// One held-out line.
#[derive(Debug, Clone)]
struct Site {
    /// The project copy the file is in.
    project: PathBuf,
    /// The file, relative to the project.
    file: PathBuf,
    /// The whole original text.
    text: String,
    /// 0-based line deleted.
    line: usize,
}

impl Site {
    fn expected(&self) -> &str {
        self.text.lines().nth(self.line).unwrap_or_default()
    }

    fn indent(&self) -> usize {
        let line = self.expected();
        line.len() - line.trim_start().len()
    }

    /// The text with the line's content gone and its indentation kept: the cursor is at its end.
    fn held_out(&self) -> String {
        let mut lines: Vec<String> = self.text.lines().map(str::to_owned).collect();
        lines[self.line] = " ".repeat(self.indent());
        let mut text = lines.join("\n");
        if self.text.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}

/// What one request gave.
#[derive(Debug, Clone, Default)]
struct Answer {
    /// The completed line (the first line of the document at the site after the edit), if a
    /// suggestion was offered.
    line: Option<String>,
    /// Whether the document with the suggestion in place parses without an error.
    parses: bool,
    latency: Duration,
}

/// One mode's results.
#[derive(Debug, Default)]
struct Results {
    first: Vec<Answer>,
    next: Vec<Answer>,
}

fn main() {
    let wanted_sites = env_number("AIEX_QUALITY_SITES", 30);
    let budget = env_number("AIEX_QUALITY_BUDGET", 1024);
    let model = match RealModel::find() {
        Ok(model) => model,
        Err(why) => {
            println!(
                "completion_quality: cannot run: {why}; start one with \
                 tests/realmodel/setup.sh --port 18080 --threads 2"
            );
            std::process::exit(i32::from(realmodel::required()));
        }
    };

    let scratch = tempfile::tempdir().expect("a scratch directory");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut sites = Vec::new();
    let projects = std::env::var("AIEX_QUALITY_PROJECTS").unwrap_or_else(|_| PROJECTS.join(","));
    for project in projects.split(',').map(str::trim) {
        if !PROJECTS.contains(&project) {
            println!(
                "completion_quality: unknown project {project:?} ({})",
                PROJECTS.join(", ")
            );
            std::process::exit(2);
        }
        let copy = scratch.path().join(project);
        files::copy_dir(&fixtures.join(project), &copy);
        let found = sites_in(&copy);
        println!(
            "completion_quality: {project}: {} candidate lines",
            found.len()
        );
        sites.extend(found);
    }
    let candidates = sites.len();
    let sites = spread(sites, wanted_sites);
    println!(
        "completion_quality: {} held-out lines (of {candidates}), model {} at {}, prompt budget {budget} tokens",
        sites.len(),
        model.model,
        model.base_url
    );

    let options = json!({
        "providers": { "local": model.provider() },
        "features": { "completion": {
            "providers": ["local"], "debounce_min_ms": 0, "debounce_max_ms": 0,
            "timeout_ms": REQUEST_DEADLINE.as_millis() as u64,
            "context_tokens": budget,
            // The budget, not the learnt speed, sizes every prompt: both modes get the same.
            "latency_target_ms": 600_000
        } }
    });
    let empty = scratch.path().join("no-workspace");
    std::fs::create_dir_all(&empty).expect("an empty directory");

    // What a user gets out of the box: the default budget and latency target, the prompt
    // sized to the speed the server learns from the model's answers.
    let defaults = json!({
        "providers": { "local": model.provider() },
        "features": { "completion": { "providers": ["local"], "timeout_ms": REQUEST_DEADLINE.as_millis() as u64 } }
    });
    let modes = std::env::var("AIEX_QUALITY_MODES").unwrap_or_else(|_| "context,file".to_owned());
    let mut report = Vec::new();
    for mode in modes.split(',') {
        let (name, with_workspace, options) = match mode.trim() {
            "context" => ("Aiex's context", true, &options),
            "file" => ("current file only", false, &options),
            "defaults" => ("defaults (speed-aware)", true, &defaults),
            other => {
                println!("completion_quality: unknown mode {other:?} (context, file, defaults)");
                std::process::exit(2);
            }
        };
        let started = Instant::now();
        let results = run_mode(&sites, options, with_workspace, &empty);
        println!(
            "  ({name}: {} sites in {:.0} s)",
            sites.len(),
            started.elapsed().as_secs_f64()
        );
        report.push((name, results));
    }

    println!();
    println!(
        "| mode | exact match | edit similarity | parses | offered | first request median / p90 | after 3 typed chars median / p90 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, results) in &report {
        let n = sites.len().max(1) as f64;
        let exact = sites
            .iter()
            .zip(&results.first)
            .filter(|(site, answer)| {
                answer
                    .line
                    .as_deref()
                    .is_some_and(|line| collapse(line) == collapse(site.expected()))
            })
            .count();
        let similarity: f64 = sites
            .iter()
            .zip(&results.first)
            .map(|(site, answer)| {
                answer.line.as_deref().map_or(0.0, |line| {
                    similarity(&collapse(line), &collapse(site.expected()))
                })
            })
            .sum::<f64>()
            / n;
        let offered = results.first.iter().filter(|a| a.line.is_some()).count();
        let parses = results
            .first
            .iter()
            .filter(|a| a.line.is_some() && a.parses)
            .count();
        println!(
            "| {name} | {exact}/{} ({:.1} %) | {:.3} | {parses}/{offered} | {offered}/{} | {} | {} |",
            sites.len(),
            exact as f64 * 100.0 / n,
            similarity,
            sites.len(),
            percentiles(&results.first),
            percentiles(&results.next),
        );
    }
}

/// Asks every site in one server: the project's workspace, or no workspace at all.
fn run_mode(sites: &[Site], options: &Value, with_workspace: bool, empty: &Path) -> Results {
    let ask_next = env_number("AIEX_QUALITY_NEXT", 1) != 0;
    let mut results = Results::default();
    let mut servers: Vec<(PathBuf, LspClient)> = Vec::new();
    for site in sites {
        let root = with_workspace.then_some(site.project.as_path());
        let at = match servers
            .iter()
            .position(|(project, _)| *project == site.project)
        {
            Some(at) => at,
            None => {
                let mut client = LspClient::spawn(Some(root.unwrap_or(empty)));
                client.initialize(json!({}), options.clone(), root);
                if with_workspace {
                    wait_indexed(&mut client);
                }
                servers.push((site.project.clone(), client));
                servers.len() - 1
            }
        };
        let client = &mut servers[at].1;
        let uri = lsp_client::file_uri(&site.project.join(&site.file));
        let held_out = site.held_out();
        client.open(&uri, &held_out);
        let column = site.indent();
        let (first, first_text) = ask(client, &uri, &held_out, site.line, column);
        if !ask_next {
            client.notify(
                "textDocument/didClose",
                json!({ "textDocument": { "uri": uri } }),
            );
            report_site(site, &first, first_text.as_deref(), None);
            results.first.push(first);
            continue;
        }
        // The user types the deleted line's first 3 characters: the next request at the same
        // place, in the same function.
        let typed: String = site.expected().trim_start().chars().take(3).collect();
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{
                "range": { "start": { "line": site.line, "character": column }, "end": { "line": site.line, "character": column } },
                "text": typed }] }),
        );
        let mut after = held_out.clone();
        let offset =
            lsp_client::byte_offset(&after, &json!({ "line": site.line, "character": column }));
        after.insert_str(offset, &typed);
        let (next, _) = ask(
            client,
            &uri,
            &after,
            site.line,
            column + typed.chars().count(),
        );
        client.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": uri } }),
        );
        report_site(site, &first, first_text.as_deref(), Some(&next));
        results.first.push(first);
        results.next.push(next);
    }
    for (_, mut client) in servers {
        client.shutdown();
    }
    results
}

/// One site's outcome on stderr, as it comes: what a run cut short still tells.
fn report_site(site: &Site, first: &Answer, first_text: Option<&str>, next: Option<&Answer>) {
    let exact = first
        .line
        .as_deref()
        .is_some_and(|line| collapse(line) == collapse(site.expected()));
    let similarity = first.line.as_deref().map_or(0.0, |line| {
        similarity(&collapse(line), &collapse(site.expected()))
    });
    eprintln!(
        "  {}:{} expected {:?} got {:?} (exact {}, similarity {similarity:.3}, parses {}, {} ms, next {})",
        site.file.display(),
        site.line + 1,
        site.expected().trim(),
        first_text.map(str::trim),
        u8::from(exact),
        u8::from(first.line.is_some() && first.parses),
        first.latency.as_millis(),
        next.map_or_else(|| "not asked".to_owned(), |next| format!("{} ms", next.latency.as_millis()))
    );
}

/// One inline completion at (`line`, `column`) of a document whose text is `text`.
fn ask(
    client: &mut LspClient,
    uri: &str,
    text: &str,
    line: usize,
    column: usize,
) -> (Answer, Option<String>) {
    let started = Instant::now();
    let id = client.send_request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": column }, "context": { "triggerKind": 1 } }),
    );
    // The server answers empty at its own deadline (the same): a model busy with another
    // user's long request counts as no suggestion, not as a failed run.
    let response = client.response_within(id, REQUEST_DEADLINE + Duration::from_secs(10));
    let latency = started.elapsed();
    let Some(item) = response["result"]["items"].get(0) else {
        return (
            Answer {
                latency,
                ..Answer::default()
            },
            None,
        );
    };
    let insert = item["insertText"].as_str().unwrap_or_default();
    let range = &item["range"];
    // The fixtures are ASCII: LSP columns are byte columns here.
    let (start, end) = if range.is_object() {
        (
            lsp_client::byte_offset(text, &range["start"]),
            lsp_client::byte_offset(text, &range["end"]),
        )
    } else {
        let at = lsp_client::byte_offset(text, &json!({ "line": line, "character": column }));
        (at, at)
    };
    let mut completed = text.to_owned();
    completed.replace_range(start..end, insert);
    let parses = aiex_engine::syntax::parse_str(&completed)
        .map(|tree| !tree.root_node().has_error())
        .unwrap_or(false);
    let line_text = completed.lines().nth(line).unwrap_or_default().to_owned();
    (
        Answer {
            line: Some(line_text),
            parses,
            latency,
        },
        Some(insert.to_owned()),
    )
}

/// Lines inside function bodies whose removal leaves the file parsing: one statement each,
/// long enough to say something.
fn sites_in(project: &Path) -> Vec<Site> {
    let mut files: Vec<PathBuf> = walk(&project.join("lib"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ex"))
        .collect();
    files.sort();
    let mut sites = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a fixture file");
        let tree = aiex_engine::syntax::parse_str(&text).expect("a fixture file parses");
        assert!(
            !tree.root_node().has_error(),
            "{} does not parse",
            path.display()
        );
        let lines: Vec<&str> = text.lines().collect();
        let mut line_start = 0;
        let mut in_function = None::<usize>;
        for (at, line) in lines.iter().enumerate() {
            let start = line_start;
            line_start += line.len() + 1;
            let trimmed = line.trim();
            let indent = line.len() - line.trim_start().len();
            if (trimmed.starts_with("def ") || trimmed.starts_with("defp "))
                && trimmed.ends_with(" do")
            {
                in_function = Some(indent);
                continue;
            }
            let Some(def_indent) = in_function else {
                continue;
            };
            if trimmed == "end" && indent == def_indent {
                in_function = None;
                continue;
            }
            let previous = lines[..at]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map_or("", |l| l.trim());
            let statement = indent > def_indent
                && trimmed.len() >= 8
                && !trimmed.starts_with('#')
                && !trimmed.starts_with("end")
                && !trimmed.ends_with(" do")
                && !trimmed.ends_with("->")
                && !trimmed.ends_with(',')
                && !trimmed.ends_with(['(', '[', '{', '='])
                && !previous.ends_with([',', '(', '[', '{', '='])
                && !previous.ends_with("|>")
                // A line of code, not a line of a heredoc or a multi-line sigil.
                && !in_string(&tree, start + indent);
            if !statement {
                continue;
            }
            let site = Site {
                project: project.to_path_buf(),
                file: path
                    .strip_prefix(project)
                    .expect("in the project")
                    .to_path_buf(),
                text: text.clone(),
                line: at,
            };
            let still_parses = aiex_engine::syntax::parse_str(&site.held_out())
                .is_ok_and(|tree| !tree.root_node().has_error());
            if still_parses {
                sites.push(site);
            }
        }
    }
    sites
}

/// Whether `byte` lies inside a string, sigil or charlist.
fn in_string(tree: &tree_sitter::Tree, byte: usize) -> bool {
    let mut node = tree.root_node().descendant_for_byte_range(byte, byte);
    while let Some(current) = node {
        if matches!(current.kind(), "string" | "sigil" | "charlist") && current.start_byte() < byte
        {
            return true;
        }
        node = current.parent();
    }
    false
}

/// At most `wanted` sites, spread evenly over all of them (deterministic).
fn spread(sites: Vec<Site>, wanted: usize) -> Vec<Site> {
    if sites.len() <= wanted || wanted == 0 {
        return sites;
    }
    let step = sites.len() as f64 / wanted as f64;
    (0..wanted)
        .map(|i| sites[(i as f64 * step) as usize].clone())
        .collect()
}

fn wait_indexed(client: &mut LspClient) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.request("workspace/symbol", json!({ "query": "" }))["result"]
        .as_array()
        .is_none_or(|r| r.is_empty())
    {
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn collapse(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 1 - Levenshtein distance / the longer length, on characters.
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    1.0 - previous[b.len()] as f64 / longest as f64
}

fn percentiles(answers: &[Answer]) -> String {
    let mut ms: Vec<u128> = answers.iter().map(|a| a.latency.as_millis()).collect();
    if ms.is_empty() {
        return "-".to_owned();
    }
    ms.sort_unstable();
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!("{} / {} ms", at(0.5), at(0.9))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
