//! Benchmark of the built-in checks: a generated 300,000-line workspace checked on all cores
//! (parsing reported separately), and one 7,000-line file re-checked after an edit.
//!
//! Run with `cargo bench --bench checks`. Prints figures; targets: workspace < 2 s on 2 cores,
//! re-check after an edit < 5 ms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aiex_checks::{run_checks, ChecksConfig, DocumentChecks, FileContext};
use tree_sitter::{InputEdit, Parser, Point, Tree};

/// A realistic module of about `functions * 30` lines, with a finding here and there.
fn module(index: usize, functions: usize) -> String {
    let mut s = format!(
        "defmodule App.Context{index} do\n  @moduledoc \"\"\"\n  Context number {index}.\n  \"\"\"\n\n  import Ecto.Query\n  alias App.Repo\n  alias App.Schema{index}\n\n  @timeout 5_000\n\n"
    );
    for f in 0..functions {
        s.push_str(&format!(
            r##"  @doc "Lists records of kind {f}."
  @spec list_{f}(map(), keyword()) :: [map()]
  def list_{f}(params, opts \\ []) do
    limit = Keyword.get(opts, :limit, 50)
    query =
      from r in Schema{index},
        where: r.kind == ^"{f}" and r.active == true,
        order_by: [desc: r.inserted_at],
        limit: ^limit

    case Repo.all(query, timeout: @timeout) do
      [] ->
        {{:error, :not_found}}

      records when is_list(records) ->
        records
        |> Enum.filter(&visible?(&1, params))
        |> Enum.map(fn record -> %{{id: record.id, name: String.trim(record.name)}} end)
        |> then(&{{:ok, &1}})
    end
  end

  defp visible_{f}?(%{{owner_id: owner}}, %{{"user_id" => user}}) when owner == user, do: true
  defp visible_{f}?(record, _params), do: record.public and not record.archived

  def label_{f}(name) do
    if String.length(name) > 20 do
      "#{{String.slice(name, 0, 20)}}..."
    else
      name |> String.upcase()
    end
  end
"##
        ));
        if f % 7 == 3 {
            s.push_str(&format!(
                "\n  def debug_{f}(x) do\n    # TODO: remove\n    IO.inspect(x, label: \"debug\")\n  end\n"
            ));
        }
        s.push('\n');
    }
    s.push_str("end\n");
    s
}

fn parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_elixir::LANGUAGE.into())
        .expect("the Elixir grammar loads");
    parser
}

/// Runs `work` over `items` on `threads` threads; returns the summed per-item results.
fn parallel<T: Sync, R: Send + Default + std::ops::AddAssign>(
    items: &[T],
    threads: usize,
    work: impl Fn(&mut Parser, usize, &T) -> R + Sync,
) -> R {
    let next = AtomicUsize::new(0);
    let total = Mutex::new(R::default());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut parser = parser();
                let mut local = R::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    local += work(&mut parser, i, item);
                }
                if let Ok(mut total) = total.lock() {
                    *total += local;
                }
            });
        }
    });
    total.into_inner().unwrap_or_default()
}

/// CPU time of the calling thread: unlike wall time, not inflated when other processes share
/// the cores.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_THREAD_CPUTIME_ID is valid on
    // Linux and macOS.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = ChecksConfig::default();

    // `cargo bench --bench checks -- edit` (or `-- workspace`) runs one part only.
    let only = |part: &str| std::env::args().any(|a| a == part);
    if !only("edit") {
        workspace(threads, &config);
    }
    if !only("workspace") {
        one_file(&config);
    }
}

fn workspace(threads: usize, config: &ChecksConfig) {
    // --- Workspace: 1,000 files of about 350 lines.
    let files: Vec<String> = (0..1000).map(|i| module(i, 10)).collect();
    let lines: usize = files.iter().map(|f| f.lines().count()).sum();
    let bytes: usize = files.iter().map(String::len).sum();
    println!(
        "workspace: {} files, {lines} lines, {:.1} MB, {threads} threads",
        files.len(),
        bytes as f64 / 1e6
    );

    // As `aiex check` does: each file parsed, checked, and its tree dropped. Parse and check
    // times are summed over threads (CPU time), the total is wall time.
    let start = Instant::now();
    let (findings, parse_cpu, check_cpu) = parallel(&files, threads, |parser, i, src| {
        let t = thread_cpu();
        let tree = parser.parse(src, None).expect("parses");
        let parsed = thread_cpu().saturating_sub(t);
        let t = thread_cpu();
        let file = FileContext::for_path(format!("lib/app/context_{i}.ex"));
        let count = run_checks(src, &tree, &file, config).len();
        Sum(count, parsed, thread_cpu().saturating_sub(t))
    })
    .into();
    let total = start.elapsed();
    println!(
        "workspace: parse + checks {:.0} ms wall (target < 2000 ms); CPU time: parsing {:.0} ms, checks {:.0} ms, i.e. {:.0} ms on {threads} idle cores; {findings} findings",
        ms(total),
        ms(parse_cpu),
        ms(check_cpu),
        ms((parse_cpu + check_cpu) / threads as u32)
    );

    // Checks alone on trees parsed beforehand, against the floor of any walk.
    let trees: Vec<Mutex<Option<Tree>>> = (0..files.len()).map(|_| Mutex::new(None)).collect();
    parallel(&files, threads, |parser, i, src| {
        if let Ok(mut slot) = trees[i].lock() {
            *slot = parser.parse(src, None);
        }
        0usize
    });
    let trees: Vec<Tree> = trees
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect();
    let indexed: Vec<(&String, &Tree)> = files.iter().zip(&trees).collect();
    let rounds = if std::env::args().any(|a| a == "profile-checks") {
        6
    } else {
        1
    };
    let start = Instant::now();
    for _ in 0..rounds {
        let again = parallel(&indexed, threads, |_, i, (src, tree)| {
            let file = FileContext::for_path(format!("lib/app/context_{i}.ex"));
            run_checks(src, tree, &file, config).len()
        });
        assert_eq!(again, findings);
    }
    let check = start.elapsed() / rounds;
    let start = Instant::now();
    let nodes = parallel(&trees, threads, |_, _, tree| bare_walk(tree));
    let floor = start.elapsed();
    println!(
        "workspace: checks on parsed trees {:.0} ms wall; a bare cursor walk over the {nodes} nodes {:.0} ms",
        ms(check),
        ms(floor)
    );
}

/// Findings, parse time and check time, summed over files.
#[derive(Default)]
struct Sum(usize, Duration, Duration);

impl std::ops::AddAssign for Sum {
    fn add_assign(&mut self, other: Sum) {
        self.0 += other.0;
        self.1 += other.1;
        self.2 += other.2;
    }
}

impl From<Sum> for (usize, Duration, Duration) {
    fn from(s: Sum) -> Self {
        (s.0, s.1, s.2)
    }
}

fn one_file(config: &ChecksConfig) {
    // --- One 7,000-line file, re-checked after one-character edits.
    let mut src = module(100_000, 233);
    let file_lines = src.lines().count();
    let mut parser = parser();
    let mut tree = parser.parse(&src, None).expect("parses");
    let file = FileContext::for_path("lib/app/big.ex");
    let mut reparse_times = Vec::new();
    let mut check_times = Vec::new();
    let mut count = 0;
    // Type inside a string literal in the middle of the file, then delete it again.
    let middle = src.len() / 2;
    // Inside a string by default; AIEX_BENCH_EDIT_AFTER=text types after another text.
    let anchor = std::env::var("AIEX_BENCH_EDIT_AFTER").unwrap_or_else(|_| "label: \"".to_owned());
    let at = src[middle..]
        .find(&anchor)
        .map_or(middle, |i| middle + i + anchor.len());
    let mut walk_times = Vec::new();
    let mut full_times = Vec::new();
    let mut check_cpu_times = Vec::new();
    let profile_incremental = std::env::args().any(|a| a == "profile-incremental");
    let rounds = if profile_incremental { 4000 } else { 400 };
    let mut document = DocumentChecks::default();
    document.run(&src, &tree, &file, config);
    for round in 0..rounds {
        let start_position = point_of(&src, at);
        let edit = if round % 2 == 0 {
            src.insert(at, 'x');
            InputEdit {
                start_byte: at,
                old_end_byte: at,
                new_end_byte: at + 1,
                start_position,
                old_end_position: start_position,
                new_end_position: Point::new(start_position.row, start_position.column + 1),
            }
        } else {
            src.remove(at);
            InputEdit {
                start_byte: at,
                old_end_byte: at + 1,
                new_end_byte: at,
                start_position,
                old_end_position: Point::new(start_position.row, start_position.column + 1),
                new_end_position: start_position,
            }
        };
        tree.edit(&edit);
        let t = Instant::now();
        tree = parser.parse(&src, Some(&tree)).expect("reparses");
        reparse_times.push(t.elapsed());
        let t = Instant::now();
        let cpu = thread_cpu();
        count = document.run(&src, &tree, &file, config).len();
        check_times.push(t.elapsed());
        check_cpu_times.push(thread_cpu().saturating_sub(cpu));
        if profile_incremental {
            continue;
        }
        let t = Instant::now();
        let full_count = run_checks(&src, &tree, &file, config).len();
        full_times.push(t.elapsed());
        assert_eq!(count, full_count, "incremental and full checks agree");
        let t = Instant::now();
        std::hint::black_box(bare_walk(&tree));
        walk_times.push(t.elapsed());
    }
    if profile_incremental {
        return;
    }
    walk_times.sort();
    check_cpu_times.sort();
    full_times.sort();
    reparse_times.sort();
    check_times.sort();
    let median = |v: &[Duration]| ms(v[v.len() / 2]);
    let p95 = |v: &[Duration]| ms(v[v.len() * 95 / 100]);
    println!(
        "one file: {file_lines} lines, {count} findings; after an edit: incremental reparse median {:.2} ms",
        median(&reparse_times)
    );
    println!(
        "one file: re-check with DocumentChecks median {:.2} ms / p95 {:.2} ms wall, median {:.2} ms / p95 {:.2} ms CPU (target < 5 ms)",
        median(&check_times),
        p95(&check_times),
        median(&check_cpu_times),
        p95(&check_cpu_times)
    );
    println!(
        "one file: full run_checks median {:.2} ms; a bare tree-cursor walk (the floor of any full walk) {:.2} ms",
        median(&full_times),
        median(&walk_times)
    );
}

/// Visits every node with a cursor and does nothing else: the floor of any tree walk.
fn bare_walk(tree: &Tree) -> usize {
    let mut cursor = tree.walk();
    let mut nodes = 0;
    loop {
        nodes += 1;
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return nodes;
            }
        }
    }
}

fn point_of(src: &str, byte: usize) -> Point {
    let before = &src[..byte];
    let row = before.matches('\n').count();
    let column = byte - before.rfind('\n').map_or(0, |i| i + 1);
    Point::new(row, column)
}
