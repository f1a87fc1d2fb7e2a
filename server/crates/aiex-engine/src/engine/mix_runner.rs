//! The project's own `mix`, run on what a model wrote. Generated tests that are run: a test
//! file the model wrote is put next to the project's own tests, `mix test` runs it under a
//! deadline, and only the tests that compiled and passed are kept. Used by "Generate ExUnit
//! tests" whichever entry point asked (code action, `aiex tests`, `mix aiex.gen.test`), and by
//! anything that scores candidate tests ([`score_tests`]). AI edits formatted as the project
//! formats: [`format`] (`mix format -` with the project's `.formatter.exs`).
//!
//! Both run the project's own code (its `mix.exs`, `.formatter.exs`, test helper) and, for
//! tests, the model's: the caller decides whether that is acceptable ([`RunProjectCode`]); this
//! module only runs what it was allowed to. Every run has a deadline, after which its whole
//! process group is killed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one `mix test` run may take, compiling the project included.
pub const DEFAULT_TEST_DEADLINE: Duration = Duration::from_secs(120);

/// The most output of a run that is kept (the rest of a runaway test's output is dropped).
const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// How long `mix format -` may take on one edit.
pub const FORMAT_DEADLINE: Duration = Duration::from_secs(30);

/// Whether the project's `mix` may be run on what a model wrote (generated tests run,
/// edits formatted), which runs the project's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunProjectCode {
    /// Never: tests and edits are offered as the model wrote them.
    Never,
    /// Only in a workspace the user trusted with `aiex trust` (the editor's code action: a
    /// cloned repository must not get its code run by opening it and asking for tests).
    #[default]
    IfTrusted,
    /// The user asked for it explicitly (`aiex tests --run`, `mix aiex.gen.test`).
    Allowed,
}

/// One test of a test file: a `test "..." do ... end`, a StreamData `property "..."`, or a
/// `doctest Module` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBlock {
    /// Its name as ExUnit reports it (`test`, the `describe` name, the test's name).
    pub name: String,
    /// Its first line (1-based), where ExUnit says a failing test is.
    pub line: usize,
    /// The bytes it spans, whole lines, indentation and newline included.
    pub lines: std::ops::Range<usize>,
    /// The `describe` holding it: its whole lines.
    pub describe: Option<std::ops::Range<usize>>,
}

/// What `mix test` said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRun {
    /// The file compiled and ran: the first lines of the tests that failed.
    Ran {
        /// Tests run.
        total: usize,
        /// The first line of each failing test, as ExUnit reported it.
        failed_lines: Vec<usize>,
        /// What ExUnit said about the failures (bounded), for a model asked to repair them.
        report: String,
    },
    /// The file did not compile, and the compiler named a line of it.
    DidNotCompile {
        /// What the compiler said, with the end of mix's output.
        reason: String,
        /// The line (1-based) of the test file the error is on.
        line: usize,
    },
    /// It did not run: it did not compile, the project did not build, or the deadline passed.
    NotRun {
        /// Why, with the end of mix's output.
        reason: String,
    },
}

/// How many times a test that does not compile is cut out and the rest run again. A small
/// model often writes one test calling a private function or a guard: without this, that one
/// test would cost every other.
const MAX_UNCOMPILABLE_CUTS: usize = 3;

/// What became of generated tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestsVerdict {
    /// The test file to offer: every test that passed (and every test that was there before).
    pub text: String,
    /// New tests kept (they passed).
    pub kept: usize,
    /// New tests dropped (they failed, or did not compile and were cut out).
    pub dropped: usize,
    /// Set when the tests were not run (no `mix`, no `mix.exs`, not allowed), saying why;
    /// `text` is then the file as written.
    pub not_run: Option<String>,
    /// Set when `mix test` was run but ran none of the tests (they did not compile, the
    /// project did not build, the deadline passed): what mix said. Every new test is dropped.
    pub run_failed: Option<String>,
    /// The new tests that ran and failed, as written, and what ExUnit said about them: what
    /// a repair request sends back to the model. `None` when none failed.
    pub failed: Option<FailedTests>,
    /// Of the kept tests, how many failed at first and passed once the model repaired them.
    pub repaired: usize,
}

/// Generated tests that ran and failed, and ExUnit's report of the failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTests {
    /// The failing `test` blocks, as the model wrote them.
    pub code: String,
    /// ExUnit's failure report (bounded).
    pub report: String,
}

impl TestsVerdict {
    /// Tests that were not run, and why: `text` is the test file as written.
    pub fn not_run(text: String, reason: String) -> Self {
        Self {
            text,
            kept: 0,
            dropped: 0,
            not_run: Some(reason),
            run_failed: None,
            failed: None,
            repaired: 0,
        }
    }

    /// One line for the user: how many tests were kept, or why none were run.
    pub fn summary(&self) -> String {
        match &self.not_run {
            Some(reason) => format!("the generated tests were not run: {reason}"),
            None if self.run_failed.is_some() => format!(
                "mix test could not run the generated tests, so none was kept: {}",
                self.run_failed.as_deref().unwrap_or_default()
            ),
            None if self.repaired > 0 => format!(
                "ran the generated tests with mix test: {} kept ({} after a repair by the model), \
                 {} dropped (failed or did not compile)",
                self.kept, self.repaired, self.dropped
            ),
            None => format!(
                "ran the generated tests with mix test: {} kept, {} dropped (failed or did not compile)",
                self.kept, self.dropped
            ),
        }
    }
}

/// The `mix` executable on `PATH`, if any.
pub fn find_mix() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("mix"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Runs the test file `text` in the Mix project at `root` and keeps the tests that passed.
/// Tests named in `existing` (the file as it was before the model wrote into it) are the
/// user's: they are never dropped. Without `mix` or a `mix.exs`, nothing runs and the verdict
/// says so.
pub fn keep_passing_tests(
    root: &Path,
    text: &str,
    existing: Option<&str>,
    deadline: Duration,
) -> TestsVerdict {
    let theirs: Vec<String> = existing
        .map(|e| test_blocks(e).into_iter().map(|b| b.name).collect())
        .unwrap_or_default();
    let not_run = |reason: String| TestsVerdict::not_run(text.to_owned(), reason);
    let Some(mix) = find_mix() else {
        return not_run("mix is not on PATH".to_owned());
    };
    if !root.join("mix.exs").is_file() {
        return not_run(format!("{} has no mix.exs", root.display()));
    }
    // One deadline for the whole verdict, however many runs it takes.
    let until = Instant::now() + deadline;
    let mut current = text.to_owned();
    let mut cut = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let run = run_test_file(&mix, root, &current, left);
        let blocks = test_blocks(&current);
        let new: Vec<&TestBlock> = blocks
            .iter()
            .filter(|b| !theirs.contains(&b.name))
            .collect();
        let reason = match run {
            TestRun::DidNotCompile { line, reason } => {
                let culprit = new.iter().copied().find(|b| covers_line(&current, b, line));
                match culprit {
                    Some(block) if cut < MAX_UNCOMPILABLE_CUTS => {
                        current = without_tests(&current, &[block]);
                        cut += 1;
                        continue;
                    }
                    _ => reason,
                }
            }
            TestRun::NotRun { reason } => reason,
            TestRun::Ran {
                failed_lines,
                report,
                ..
            } => {
                let failed: Vec<&TestBlock> = new
                    .iter()
                    .copied()
                    .filter(|b| failed_lines.contains(&b.line))
                    .collect();
                let failed_code: String =
                    failed.iter().map(|b| &current[b.lines.clone()]).collect();
                return TestsVerdict {
                    text: without_tests(&current, &failed),
                    kept: new.len() - failed.len(),
                    dropped: failed.len() + cut,
                    not_run: None,
                    run_failed: None,
                    failed: (!failed.is_empty()).then_some(FailedTests {
                        code: failed_code,
                        report,
                    }),
                    repaired: 0,
                };
            }
        };
        return TestsVerdict {
            text: without_tests(&current, &new),
            kept: 0,
            dropped: new.len() + cut,
            not_run: None,
            run_failed: Some(reason),
            failed: None,
            repaired: 0,
        };
    }
}

/// Whether `line` (1-based) of `text` is one of the lines of `block`.
fn covers_line(text: &str, block: &TestBlock, line: usize) -> bool {
    let Some(start) = line_start(text, line) else {
        return false;
    };
    block.lines.contains(&start)
}

/// The byte offset where line `line` (1-based) of `text` starts.
fn line_start(text: &str, line: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    if line == 1 {
        return Some(0);
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map(|(at, _)| at + 1)
        .filter(|&at| at < text.len())
}

/// How many of the candidate test file's tests pass under `mix test` in the project at `root`
/// (0 when it does not compile or cannot run): the score of a candidate when several were
/// generated and the best is chosen.
pub fn score_tests(root: &Path, text: &str, deadline: Duration) -> usize {
    let verdict = keep_passing_tests(root, text, None, deadline);
    verdict.kept
}

/// A unique name for this process's next temporary test file.
fn temporary_test_path(root: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    root.join("test").join(format!(
        "aiex_generated_{}_{n}_test.exs",
        std::process::id()
    ))
}

/// Removes the temporary test file however the run ends.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `text` to a temporary file in the project's `test/` and runs `mix test` on it.
pub fn run_test_file(mix: &Path, root: &Path, text: &str, deadline: Duration) -> TestRun {
    let path = temporary_test_path(root);
    if let Err(error) =
        std::fs::create_dir_all(root.join("test")).and_then(|()| std::fs::write(&path, text))
    {
        return TestRun::NotRun {
            reason: format!("cannot write {}: {error}", path.display()),
        };
    }
    let _removed = Removed(path.clone());
    let relative = path.strip_prefix(root).unwrap_or(&path);
    let mut test = Command::new(mix);
    test.arg("test").arg(relative).env("MIX_ENV", "test");
    match run_mix(test, root, None, deadline) {
        Ok(run) => parse_run(
            &format!("{}\n{}", run.stdout, run.stderr),
            &relative.to_string_lossy(),
            run.success,
        ),
        Err(reason) => TestRun::NotRun { reason },
    }
}

/// `text` formatted by `mix format -` in the project at `root` (its `.formatter.exs` and
/// plugins apply), or why not. Code indented by `indent` (a function inside its module) is
/// formatted at the left margin and indented back (its lines may then pass the project's
/// line length by that indent).
pub fn format(root: &Path, text: &str, indent: &str, deadline: Duration) -> Result<String, String> {
    let mix = find_mix().ok_or_else(|| "mix is not on PATH".to_owned())?;
    if !root.join("mix.exs").is_file() {
        return Err(format!("{} has no mix.exs", root.display()));
    }
    let flush: String = text
        .split_inclusive('\n')
        .map(|line| line.strip_prefix(indent).unwrap_or(line))
        .collect();
    let mut command = Command::new(mix);
    command.args(["format", "-"]);
    let run = run_mix(command, root, Some(flush), deadline)?;
    if !run.success {
        // The reason comes first; the stack trace after it is mix's own.
        let reason: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(2)
            .collect();
        return Err(format!("mix format refused it: {}", reason.join(" ")));
    }
    let formatted: String = run
        .stdout
        .split_inclusive('\n')
        .map(|line| match line.trim().is_empty() {
            true => line.trim_start_matches([' ', '\t']).to_owned(),
            false => format!("{indent}{line}"),
        })
        .collect();
    // The text ends as it came in: an edit replacing whole lines keeps its last newline or not.
    Ok(match text.ends_with('\n') {
        true => formatted,
        false => formatted.trim_end_matches('\n').to_owned(),
    })
}

/// What a `mix` run printed.
struct MixRun {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `command` (a `mix` task) in `root` with `stdin`, under the deadline.
fn run_mix(
    mut command: Command,
    root: &Path,
    stdin: Option<String>,
    deadline: Duration,
) -> Result<MixRun, String> {
    command
        .current_dir(root)
        .stdin(match stdin {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a deadline kills the BEAM and whatever the tests started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start mix: {error}"))?;
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        // From a thread: a child that does not read would block a large write.
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut pipe, input.as_bytes());
        });
    }
    wait_with_deadline(child, deadline)
}

/// Waits for the child and collects its output; past the deadline its process group is killed.
fn wait_with_deadline(mut child: Child, deadline: Duration) -> Result<MixRun, String> {
    let spawn_reader = |stream: Option<Box<dyn Read + Send>>| {
        stream.map(|stream| std::thread::spawn(move || read_bounded(stream)))
    };
    let stdout = spawn_reader(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = spawn_reader(child.stderr.take().map(|s| Box::new(s) as _));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                kill_group(&mut child);
                return Err(format!(
                    "mix did not finish within {} s and was stopped",
                    deadline.as_secs()
                ));
            }
            Err(error) => return Err(format!("cannot wait for mix: {error}")),
        }
    };
    let collect = |reader: Option<std::thread::JoinHandle<String>>| {
        reader
            .map(|r| r.join().unwrap_or_default())
            .unwrap_or_default()
    };
    Ok(MixRun {
        success: status.success(),
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

fn read_bounded(stream: Box<dyn Read + Send>) -> String {
    let mut kept = Vec::new();
    // Read to the end (a full pipe would block the child), keep only the first MiB.
    let mut stream = stream;
    let mut buffer = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        if kept.len() < MAX_OUTPUT_BYTES {
            kept.extend_from_slice(&buffer[..n.min(MAX_OUTPUT_BYTES - kept.len())]);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // The group's id is the child's pid (`process_group(0)`); `kill -- -PID` signals it all.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads ExUnit's output for the run of `file` (relative to the project).
pub fn parse_run(output: &str, file: &str, success: bool) -> TestRun {
    let Some(total) = output.lines().find_map(summary_tests) else {
        let reason = format!("mix test did not run the tests:\n{}", tail(output, 12));
        return match compile_error_line(output, file) {
            Some(line) => TestRun::DidNotCompile { reason, line },
            None => TestRun::NotRun { reason },
        };
    };
    // A failure is reported as "  1) test NAME (Module)" and, on the next line, "FILE:LINE".
    let location = format!("{file}:");
    let mut failed_lines = Vec::new();
    let mut after_header = false;
    for line in output.lines() {
        let trimmed = line.trim();
        if after_header {
            if let Some(n) = trimmed
                .strip_prefix(&location)
                .and_then(|rest| rest.parse().ok())
            {
                failed_lines.push(n);
            }
        }
        after_header = is_failure_header(trimmed);
    }
    if !success && failed_lines.is_empty() && total > 0 {
        return TestRun::NotRun {
            reason: format!("mix test failed outside the tests:\n{}", tail(output, 12)),
        };
    }
    TestRun::Ran {
        total,
        failed_lines,
        report: failure_report(output),
    }
}

/// The most of ExUnit's failure report a repair request carries.
const MAX_REPORT_BYTES: usize = 8 * 1024;

/// ExUnit's failure report: from the first failure's header to the run's summary, bounded.
fn failure_report(output: &str) -> String {
    let mut at = 0;
    let mut start = None;
    for line in output.split_inclusive('\n') {
        if is_failure_header(line.trim()) {
            start = Some(at + (line.len() - line.trim_start().len()));
            break;
        }
        at += line.len();
    }
    let Some(start) = start else {
        return String::new();
    };
    let report = &output[start..];
    let end = report.find("\nFinished in ").unwrap_or(report.len());
    let mut end = end.min(MAX_REPORT_BYTES);
    while !report.is_char_boundary(end) {
        end -= 1;
    }
    report[..end].trim_end().to_owned()
}

/// The line of `file` a compile error is on: `** (CompileError) FILE:LINE: ...` (and the
/// syntax and token errors written the same way), or Elixir 1.15's `error: ...` followed by
/// `└─ FILE:LINE:COLUMN`.
fn compile_error_line(output: &str, file: &str) -> Option<usize> {
    let location = |rest: &str| -> Option<usize> {
        let rest = rest.trim_start().strip_prefix(file)?.strip_prefix(':')?;
        let digits: &str = &rest[..rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len())];
        digits.parse().ok()
    };
    let mut after_error = false;
    for line in output.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("** (") && trimmed.contains("Error) ") {
            let rest = &trimmed[trimmed.find("Error) ")? + "Error) ".len()..];
            if let Some(n) = location(rest) {
                return Some(n);
            }
        }
        if after_error {
            if let Some(n) = trimmed.strip_prefix("└─").and_then(location) {
                return Some(n);
            }
        }
        if trimmed.starts_with("error:") {
            after_error = true;
        }
    }
    None
}

/// `3 tests, 1 failure` (maybe after doctests and properties): the number of tests.
fn summary_tests(line: &str) -> Option<usize> {
    if !line.contains(" failure") {
        return None;
    }
    let mut total = None;
    for part in line.split(", ") {
        let mut words = part.split_whitespace();
        let count: usize = words.next()?.parse().ok()?;
        match words.next()? {
            "test" | "tests" | "doctest" | "doctests" | "property" | "properties" => {
                *total.get_or_insert(0) += count;
            }
            _ => {}
        }
    }
    total
}

fn is_failure_header(line: &str) -> bool {
    line.split_once(") ").is_some_and(|(n, rest)| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && ["test ", "property ", "doctest "]
                .iter()
                .any(|kind| rest.starts_with(kind))
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `test` blocks of a test file, in order.
pub fn test_blocks(text: &str) -> Vec<TestBlock> {
    let Ok(tree) = crate::syntax::parse_str(text) else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    collect_tests(tree.root_node(), text, None, &mut blocks, 0);
    blocks
}

fn collect_tests(
    node: tree_sitter::Node<'_>,
    text: &str,
    describe: Option<(&str, std::ops::Range<usize>)>,
    blocks: &mut Vec<TestBlock>,
    depth: usize,
) {
    // Test files are shallow; a pathological one is cut, not walked forever.
    if depth > 64 {
        return;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind() == "call" {
            if let Some((callee, name)) = call_with_string(child, text) {
                let lines = whole_lines(text, child.start_byte(), child.end_byte());
                match callee {
                    "doctest" => {
                        blocks.push(TestBlock {
                            name: name.to_owned(),
                            line: child.start_position().row + 1,
                            lines,
                            describe: describe.as_ref().map(|(_, r)| r.clone()),
                        });
                        continue;
                    }
                    "test" | "property" => {
                        let full = match &describe {
                            Some((outer, _)) => format!("{callee} {outer} {name}"),
                            None => format!("{callee} {name}"),
                        };
                        blocks.push(TestBlock {
                            name: full,
                            line: child.start_position().row + 1,
                            lines,
                            describe: describe.as_ref().map(|(_, r)| r.clone()),
                        });
                        continue;
                    }
                    "describe" => {
                        collect_tests(child, text, Some((name, lines)), blocks, depth + 1);
                        continue;
                    }
                    _ => {}
                }
            }
        }
        collect_tests(child, text, describe.clone(), blocks, depth + 1);
    }
}

/// `test "name"`, `property "name"`, `describe "name"`: the callee and the literal name;
/// `doctest Module`: the callee and the whole call.
fn call_with_string<'t>(call: tree_sitter::Node<'_>, text: &'t str) -> Option<(&'t str, &'t str)> {
    let target = call.child_by_field_name("target")?;
    let callee = text.get(target.byte_range())?;
    if !matches!(callee, "test" | "property" | "describe" | "doctest") {
        return None;
    }
    if callee == "doctest" {
        return Some((callee, text.get(call.byte_range())?));
    }
    let mut cursor = call.walk();
    let arguments = call
        .named_children(&mut cursor)
        .find(|c| c.kind() == "arguments")?;
    let first = arguments.named_child(0)?;
    if first.kind() != "string" {
        return None;
    }
    let quoted = text.get(first.byte_range())?;
    Some((callee, quoted.trim_matches('"')))
}

/// The whole lines holding `start..end`, their newline included.
fn whole_lines(text: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    line_start..line_end
}

/// `text` without the tests `dropped`; a `describe` left with no test goes too, and so does a
/// blank line left doubled.
fn without_tests(text: &str, dropped: &[&TestBlock]) -> String {
    if dropped.is_empty() {
        return text.to_owned();
    }
    let all = test_blocks(text);
    let mut cuts: Vec<std::ops::Range<usize>> = dropped.iter().map(|b| b.lines.clone()).collect();
    for block in dropped {
        if let Some(describe) = &block.describe {
            let emptied = all
                .iter()
                .filter(|b| b.describe.as_ref() == Some(describe))
                .all(|b| dropped.iter().any(|d| d.lines == b.lines));
            if emptied && !cuts.contains(describe) {
                cuts.push(describe.clone());
            }
        }
    }
    cuts.sort_by_key(|r| r.start);
    let mut kept = String::with_capacity(text.len());
    let mut at = 0;
    for cut in cuts {
        if cut.start < at {
            at = at.max(cut.end);
            continue;
        }
        kept.push_str(&text[at..cut.start]);
        at = cut.end;
    }
    kept.push_str(&text[at..]);
    collapse_blank_lines(&kept)
}

fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            // A blank line just before `end` is left over from a cut at the end of a block.
            if blank_run > 0 && line.trim() == "end" && out.ends_with("\n\n") {
                out.pop();
            }
            blank_run = 0;
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Says a test was skipped on the real stderr (`eprintln!` is captured in a passing test).
    /// Whether the real `mix` is here to run: fails when `AIEX_REQUIRE_ELIXIR` is set and it
    /// is missing, says so past the output capture otherwise.
    fn mix_installed() -> bool {
        if find_mix().is_some() {
            return true;
        }
        assert!(
            std::env::var_os("AIEX_REQUIRE_ELIXIR").is_none(),
            "AIEX_REQUIRE_ELIXIR is set but mix is not on PATH"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n*** mix_runner: SKIPPED: mix is not on PATH (apt-get install elixir)"
        );
        false
    }

    const GENERATED: &str = "defmodule CartTest do\n  use ExUnit.Case, async: true\n\n  describe \"total/1\" do\n    test \"sums\" do\n      assert 1 + 1 == 2\n    end\n\n    test \"is wrong\" do\n      assert 1 + 1 == 3\n    end\n  end\n\n  describe \"empty/0\" do\n    test \"fails too\" do\n      assert false\n    end\n  end\nend\n";

    #[test]
    fn test_blocks_are_named_as_exunit_names_them() {
        let names: Vec<(String, usize)> = test_blocks(GENERATED)
            .into_iter()
            .map(|b| (b.name, b.line))
            .collect();
        assert_eq!(
            names,
            [
                ("test total/1 sums".to_owned(), 5),
                ("test total/1 is wrong".to_owned(), 9),
                ("test empty/0 fails too".to_owned(), 15)
            ]
        );
    }

    #[test]
    fn properties_and_doctests_are_tests_too() {
        let text = "defmodule CartTest do\n  use ExUnit.Case\n  use ExUnitProperties\n  doctest Cart\n\n  property \"sums\" do\n    check all(n <- integer()) do\n      assert Cart.total([n]) == n\n    end\n  end\nend\n";
        let names: Vec<(String, usize)> = test_blocks(text)
            .into_iter()
            .map(|b| (b.name, b.line))
            .collect();
        assert_eq!(
            names,
            [
                ("doctest Cart".to_owned(), 4),
                ("property sums".to_owned(), 6)
            ]
        );
        assert!(is_failure_header("1) doctest Cart.total/1 (1) (CartTest)"));
        assert!(is_failure_header("12) property sums (CartTest)"));
        assert!(!is_failure_header("1) something else"));
    }

    #[test]
    fn failing_tests_and_emptied_describes_are_cut_whole() {
        let blocks = test_blocks(GENERATED);
        let failed: Vec<&TestBlock> = vec![&blocks[1], &blocks[2]];
        assert_eq!(
            without_tests(GENERATED, &failed),
            "defmodule CartTest do\n  use ExUnit.Case, async: true\n\n  describe \"total/1\" do\n    test \"sums\" do\n      assert 1 + 1 == 2\n    end\n  end\nend\n"
        );
    }

    #[test]
    fn exunit_failures_are_read_by_file_and_line() {
        let output = "\n\n  1) test total/1 is wrong (CartTest)\n     test/aiex_generated_1_0_test.exs:9\n     Assertion with == failed\n\n  2) test other (CartTest)\n     test/elsewhere.exs:3\n.\nFinished in 0.04 seconds (0.04s async, 0.00s sync)\n3 tests, 2 failures\n";
        assert_eq!(
            parse_run(output, "test/aiex_generated_1_0_test.exs", false),
            TestRun::Ran {
                total: 3,
                failed_lines: vec![9],
                report: "1) test total/1 is wrong (CartTest)\n     test/aiex_generated_1_0_test.exs:9\n     Assertion with == failed\n\n  2) test other (CartTest)\n     test/elsewhere.exs:3\n.".to_owned(),
            }
        );
        assert_eq!(
            summary_tests("1 doctest, 2 tests, 0 failures"),
            Some(3),
            "doctests count"
        );
    }

    #[test]
    fn a_compile_error_means_nothing_ran_and_names_its_line() {
        let output = "== Compilation error in file test/x_test.exs ==\n** (CompileError) test/x_test.exs:4: undefined function undefined_fun/0\n";
        let TestRun::DidNotCompile { reason, line } = parse_run(output, "test/x_test.exs", false)
        else {
            panic!("a compile error is not a run");
        };
        assert!(
            reason.contains("undefined function undefined_fun/0"),
            "{reason}"
        );
        assert_eq!(line, 4);
    }

    #[test]
    fn the_line_of_a_compile_error_is_read_as_elixir_1_15_writes_it() {
        let output = "error: undefined function is_email/1 (expected CartTest to define such a function)\n  │\n  │ assert is_email(\"a@b\")\n  │ ^^^^^^^^\n  │\n  └─ test/x_test.exs:21:7: CartTest.\"test email\"/1\n\n** (CompileError) test/x_test.exs: cannot compile module CartTest\n";
        assert_eq!(compile_error_line(output, "test/x_test.exs"), Some(21));
        assert_eq!(compile_error_line(output, "test/other_test.exs"), None);
        assert_eq!(
            compile_error_line("** (Mix) could not compile", "test/x_test.exs"),
            None
        );
    }

    #[test]
    fn an_error_line_belongs_to_the_test_that_spans_it() {
        let text = "defmodule T do\n  test \"a\" do\n    x()\n  end\n\n  test \"b\" do\n    y()\n  end\nend\n";
        let blocks = test_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(covers_line(text, &blocks[0], 3));
        assert!(!covers_line(text, &blocks[0], 7));
        assert!(covers_line(text, &blocks[1], 7));
        assert!(!covers_line(text, &blocks[1], 1));
        assert!(!covers_line(text, &blocks[1], 99));
    }

    /// A Mix project with `Cart.total/1` and a test helper.
    fn cart_project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(
            root.join("mix.exs"),
            "defmodule Cart.MixProject do\n  use Mix.Project\n  def project, do: [app: :cart, version: \"0.1.0\"]\nend\n",
        )
        .expect("write");
        std::fs::create_dir_all(root.join("lib")).expect("mkdir");
        std::fs::create_dir_all(root.join("test")).expect("mkdir");
        std::fs::write(
            root.join("lib/cart.ex"),
            "defmodule Cart do\n  def total(items), do: Enum.sum(items)\nend\n",
        )
        .expect("write");
        std::fs::write(root.join("test/test_helper.exs"), "ExUnit.start()\n").expect("write");
        dir
    }

    #[test]
    fn a_test_that_does_not_compile_is_cut_and_the_others_still_run() {
        if !mix_installed() {
            return;
        }
        let dir = cart_project();
        // As a small model writes them: one test calls a function that does not exist.
        let generated = "defmodule CartTest do\n  use ExUnit.Case, async: true\n\n  test \"sums the prices\" do\n    assert Cart.total([1, 2]) == 3\n  end\n\n  test \"checks the email\" do\n    assert is_email(\"a@b.c\")\n  end\n\n  test \"doubles them\" do\n    assert Cart.total([1, 2]) == 6\n  end\nend\n";
        let verdict = keep_passing_tests(dir.path(), generated, None, DEFAULT_TEST_DEADLINE);
        assert_eq!(verdict.run_failed, None, "{verdict:?}");
        assert_eq!((verdict.kept, verdict.dropped), (1, 2), "{verdict:?}");
        assert!(verdict.text.contains("sums the prices"));
        assert!(!verdict.text.contains("is_email"));
        assert!(!verdict.text.contains("doubles them"));
    }

    #[test]
    fn one_passing_and_one_failing_test_end_with_the_passing_one_and_mix_test_passes() {
        if !mix_installed() {
            return;
        }
        let dir = cart_project();
        let root = dir.path();
        let generated = "defmodule CartTest do\n  use ExUnit.Case, async: true\n\n  describe \"total/1\" do\n    test \"sums the prices\" do\n      assert Cart.total([1, 2]) == 3\n    end\n\n    test \"doubles them\" do\n      assert Cart.total([1, 2]) == 6\n    end\n  end\nend\n";
        let verdict = keep_passing_tests(root, generated, None, DEFAULT_TEST_DEADLINE);
        assert_eq!(verdict.not_run, None);
        assert_eq!((verdict.kept, verdict.dropped), (1, 1), "{verdict:?}");
        assert!(verdict.text.contains("sums the prices"));
        assert!(!verdict.text.contains("doubles them"));
        assert_eq!(score_tests(root, generated, DEFAULT_TEST_DEADLINE), 1);
        // The temporary file is gone; the kept tests pass on their own.
        let left: Vec<_> = std::fs::read_dir(root.join("test")).expect("ls").collect();
        assert_eq!(left.len(), 1, "only test_helper.exs is left");
        std::fs::write(root.join("test/cart_test.exs"), &verdict.text).expect("write");
        let status = Command::new(find_mix().expect("mix"))
            .arg("test")
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mix test");
        assert!(status.success(), "mix test passes on the kept tests");
        // A test of the user's that fails is theirs: never dropped.
        let verdict = keep_passing_tests(
            root,
            generated,
            Some("describe \"total/1\" do\n  test \"doubles them\" do\n  end\nend\n"),
            DEFAULT_TEST_DEADLINE,
        );
        assert!(verdict.text.contains("doubles them"));
    }

    #[test]
    fn a_run_past_its_deadline_is_stopped() {
        if !mix_installed() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mix.exs"),
            "defmodule Slow.MixProject do\n  use Mix.Project\n  def project, do: [app: :slow, version: \"0.1.0\"]\nend\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.path().join("test")).expect("mkdir");
        std::fs::write(dir.path().join("test/test_helper.exs"), "ExUnit.start()\n").expect("write");
        let started = Instant::now();
        let run = run_test_file(
            &find_mix().expect("mix"),
            dir.path(),
            "defmodule SlowTest do\n  use ExUnit.Case\n  test \"sleeps\" do\n    Process.sleep(60_000)\n  end\nend\n",
            Duration::from_secs(3),
        );
        assert!(
            matches!(run, TestRun::NotRun { ref reason } if reason.contains("within 3 s")),
            "{run:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn edits_are_formatted_as_the_project_formats() {
        if !mix_installed() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mix.exs"),
            "defmodule Fmt.MixProject do\n  use Mix.Project\n  def project, do: [app: :fmt, version: \"0.1.0\"]\nend\n",
        )
        .expect("write");
        // The project's own rule: short lines.
        std::fs::write(
            dir.path().join(".formatter.exs"),
            "[inputs: [], line_length: 30]\n",
        )
        .expect("write");
        let formatted = format(
            dir.path(),
            "  def x(a),do: Enum.map([1, 2, 3], fn b -> b+a end)\n\n  def y, do: 2\n",
            "  ",
            FORMAT_DEADLINE,
        );
        assert_eq!(
            formatted.as_deref(),
            Ok("  def x(a),\n    do:\n      Enum.map(\n        [1, 2, 3],\n        fn b -> b + a end\n      )\n\n  def y, do: 2\n")
        );
        let refused = format(dir.path(), "def x(a do\n", "", FORMAT_DEADLINE);
        assert!(refused.is_err_and(|e| e.contains("missing terminator")));
    }
}
