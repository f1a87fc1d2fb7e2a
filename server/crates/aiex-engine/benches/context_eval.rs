//! Context quality and speed, on `fixtures/context_app`.
//!
//! Quality: for every call of a workspace-defined function inside a function body, the cursor
//! goes on the callee's name and a completion context is assembled; it scores when the context
//! (prefix, suffix and pieces) holds the callee's `def` line and every `@spec` of it. Recall is
//! printed at budgets of 512, 1,024 and 2,048 tokens, next to a current-file-only baseline (what
//! the prefix and suffix alone show).
//!
//! The same sites are measured a second time "while typing": the callee's name and the rest
//! of its line are cut from the file, so the context cannot see the call it must anticipate
//! (`{:ok, charge} <- Payments.` with the cursor at the end).
//!
//! Speed: a generated 7,000-line module is added to the indexed workspace and the median time
//! of a completion assembly is measured over many cursor positions.
//!
//! Run with `cargo bench --bench context_eval`.

#[path = "../../../../tests/support/elixir_gen.rs"]
mod elixir_gen;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiex_engine::context::{assemble, AssembledContext, ContextRequest, Task, TokenCounter};
use aiex_engine::index::{IndexOptions, WorkspaceIndex};
use aiex_syntax::chunks::{self, Call, DirectiveKind, FileChunks, FunctionChunk, ModuleChunk};

const BUDGETS: [usize; 3] = [512, 1_024, 2_048];
const BIG_LINES: usize = 7_000;
/// A module with about 80 public functions, called from three others.
const LARGE_MODULE: &str = "Shop.Queries";

/// One call site to evaluate.
struct Site {
    relative: PathBuf,
    text: std::sync::Arc<str>,
    cursor: usize,
    cross_file: bool,
    label: String,
    /// What the context must hold (whitespace collapsed).
    needles: Vec<String>,
}

/// One counter for the whole run, as the engine keeps one for a workspace.
static TOKENS: std::sync::LazyLock<TokenCounter> = std::sync::LazyLock::new(TokenCounter::cl100k);

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fixtures/context_app");
    let index = WorkspaceIndex::new();
    index
        .rebuild(&IndexOptions::new(vec![root.clone()]), None, &|_| {})
        .expect("index the fixture");
    let sites = call_sites(&index);
    let cross = sites.iter().filter(|s| s.cross_file).count();
    println!(
        "fixture: {} files, {} call sites of workspace functions ({} into other files)",
        index.counts().files,
        sites.len(),
        cross
    );

    for typing in [false, true] {
        println!(
            "{}",
            if typing {
                "while typing (callee name and rest of line cut):"
            } else {
                "call written:"
            }
        );
        evaluate(&index, &sites, typing);
    }
    // `Queries.|` with nothing typed after the dot, in the callers of a module of 80 public
    // functions: its API list is longer than the budget, and the callee must survive the cut.
    let large: Vec<Site> = sites
        .into_iter()
        .filter(|s| s.label.contains(&format!("→ {LARGE_MODULE}.")))
        .collect();
    println!(
        "at `Alias.|` in callers of {LARGE_MODULE} ({} sites), while typing:",
        large.len()
    );
    evaluate(&index, &large, true);

    timing(&index, &root, "the fixture workspace");
    let lines = add_generated_workspace(&index, &root, 300_000);
    let started = Instant::now();
    aiex_engine::context::warm_retrieval(&index);
    println!(
        "retrieval index of the fixture plus {lines} generated lines built in {:.0} ms (off the request path)",
        started.elapsed().as_secs_f64() * 1e3
    );
    timing(
        &index,
        &root,
        &format!("the fixture plus {lines} generated lines"),
    );
}

/// Adds generated modules (about `lines` lines) to the index, as a large workspace would.
fn add_generated_workspace(index: &WorkspaceIndex, root: &Path, lines: usize) -> usize {
    let mut added = 0;
    let mut module = 0;
    let mut file = 0;
    while added < lines {
        let text: String = (0..4).map(|i| elixir_gen::module(module + i)).collect();
        module += 4;
        added += text.lines().count();
        let relative = PathBuf::from(format!("lib/generated/file_{file}.ex"));
        index.update_file(&root.join(&relative), &relative, &text);
        file += 1;
    }
    added
}

fn evaluate(index: &WorkspaceIndex, sites: &[Site], typing: bool) {
    let cross = sites.iter().filter(|s| s.cross_file).count();
    for budget in BUDGETS {
        let mut hits = 0;
        let mut cross_hits = 0;
        let mut baseline = 0;
        let mut misses = Vec::new();
        for site in sites {
            let context = assemble_at(index, site, budget, typing);
            let all = collapse(&everything(&context));
            let found = site.needles.iter().all(|n| all.contains(n.as_str()));
            let window = collapse(&format!("{}{}", context.prefix, context.suffix));
            if site.needles.iter().all(|n| window.contains(n.as_str())) {
                baseline += 1;
            }
            if found {
                hits += 1;
                cross_hits += usize::from(site.cross_file);
            } else {
                misses.push(format!("{}: {}", site.relative.display(), site.label));
            }
        }
        println!(
            "  budget {budget:>5}: recall {:5.1} % ({hits}/{}), into other files {:5.1} % ({cross_hits}/{cross}); current file only {:5.1} %",
            percent(hits, sites.len()),
            sites.len(),
            percent(cross_hits, cross),
            percent(baseline, sites.len()),
        );
        if std::env::var_os("CONTEXT_EVAL_MISSES").is_some() {
            for miss in misses {
                println!("    missed {miss}");
            }
        }
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    100.0 * part as f64 / whole as f64
}

fn assemble_at(
    index: &WorkspaceIndex,
    site: &Site,
    budget: usize,
    typing: bool,
) -> AssembledContext {
    let text = if typing {
        let line_end = site.text[site.cursor..]
            .find('\n')
            .map_or(site.text.len(), |at| site.cursor + at);
        format!("{}{}", &site.text[..site.cursor], &site.text[line_end..])
    } else {
        site.text.to_string()
    };
    let tree = aiex_syntax::syntax::parse_str(&text).expect("parse");
    let chunks = chunks::extract(&tree, &text);
    let request = ContextRequest {
        task: Task::Completion,
        path: &site.relative,
        text: &text,
        tree: &tree,
        chunks: &chunks,
        cursor: site.cursor,
        budget_tokens: budget,
        recent_edits: &[],
        tokens: &TOKENS,
    };
    assemble(&request, index, &[])
}

fn everything(context: &AssembledContext) -> String {
    let mut all = format!("{}{}", context.prefix, context.suffix);
    for piece in &context.pieces {
        all.push('\n');
        all.push_str(&piece.text);
    }
    all
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every call, inside a function body, of a function the workspace defines, with what its
/// context must show. The ground truth is read from the chunks directly: aliases expanded,
/// local calls in the module then its imports. The call sites come from the files' chunks
/// extracted again (the index keeps its chunks without them).
fn call_sites(index: &WorkspaceIndex) -> Vec<Site> {
    let mut files = index.files();
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    let mut sites = Vec::new();
    for file in &files {
        if aiex_syntax::secrets::is_secret_path(&file.relative) {
            continue;
        }
        let text = file.text().expect("the fixture's files are as indexed");
        let tree = aiex_syntax::syntax::parse_str(&text).expect("parse");
        let extracted = chunks::extract(&tree, &text);
        for module in extracted.all_modules() {
            for function in &module.functions {
                for call in &function.calls {
                    let Some((defined_in, owner, callee)) = ground_truth(index, module, call)
                    else {
                        continue;
                    };
                    let mut needles = vec![collapse(&format!(
                        "{} {}",
                        callee.kind.keyword(),
                        callee.clauses[0].signature
                    ))];
                    needles.extend(callee.specs.iter().map(|s| collapse(&format!("@spec {s}"))));
                    sites.push(Site {
                        relative: file.relative.clone(),
                        text: std::sync::Arc::clone(&text),
                        cursor: call.range.start,
                        cross_file: defined_in != file.relative,
                        label: format!("{} → {}.{}", function.label(), owner, callee.label()),
                        needles,
                    });
                }
            }
        }
    }
    sites
}

fn ground_truth(
    index: &WorkspaceIndex,
    module: &ModuleChunk,
    call: &Call,
) -> Option<(PathBuf, String, FunctionChunk)> {
    let find = |name: &str| -> Option<(PathBuf, String, FunctionChunk)> {
        let file = index.module_file(name)?;
        let chunks = file.chunks();
        let owner = find_module(&chunks, name)?;
        let function = owner.function(&call.name, call.arity)?.clone();
        Some((file.relative.clone(), name.to_owned(), function))
    };
    match &call.module {
        Some(written) => find(&module.expand_alias(written)),
        None => find(&module.name).or_else(|| {
            module
                .directives
                .iter()
                .filter(|d| d.kind == DirectiveKind::Import)
                .find_map(|d| find(&d.module).filter(|(_, _, f)| !f.kind.is_private()))
        }),
    }
}

fn find_module<'a>(chunks: &'a FileChunks, name: &str) -> Option<&'a ModuleChunk> {
    chunks.all_modules().into_iter().find(|m| m.name == name)
}

/// Median assembly time on a 7,000-line module in the indexed workspace.
fn timing(index: &WorkspaceIndex, root: &Path, workspace: &str) {
    let text = big_module(BIG_LINES);
    let relative = PathBuf::from("lib/shop/big.ex");
    index.update_file(&root.join(&relative), &relative, &text);
    let tree = aiex_syntax::syntax::parse_str(&text).expect("parse");
    let chunks = chunks::extract(&tree, &text);
    let cursors: Vec<usize> = text
        .match_indices("Pricing.apply_discount(")
        .map(|(at, _)| at + "Pricing.".len())
        .step_by(7)
        .collect();
    let request_at = |cursor: usize| ContextRequest {
        task: Task::Completion,
        path: &relative,
        text: &text,
        tree: &tree,
        chunks: &chunks,
        cursor,
        budget_tokens: 2_048,
        recent_edits: &[],
        tokens: &TOKENS,
    };
    let started = Instant::now();
    let first = assemble(&request_at(cursors[0]), index, &[]);
    let first_time = started.elapsed();

    let mut times: Vec<Duration> = Vec::new();
    for _round in 0..5 {
        for &cursor in &cursors {
            let started = Instant::now();
            let context = assemble(&request_at(cursor), index, &[]);
            times.push(started.elapsed());
            assert!(context.tokens <= 2_048);
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "assembly on a {}-line file in {workspace}, budget 2,048: median {:.3} ms, p95 {:.3} ms over {} requests at {} positions (first request {:.1} ms; {} pieces, {} tokens)",
        text.lines().count(),
        median.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3,
        times.len(),
        cursors.len(),
        first_time.as_secs_f64() * 1e3,
        first.pieces.len(),
        first.tokens,
    );
}

/// A module of about `lines` lines whose functions call the fixture's modules through aliases.
fn big_module(lines: usize) -> String {
    let mut out = String::from(
        "defmodule Shop.Big do\n  @moduledoc \"\"\"\n  Generated workflows over the shop.\n  \"\"\"\n\n  alias Shop.{Accounts, Cart, Orders, Pricing, Repo}\n  alias Shop.Catalog.Product\n  import Shop.Formatting\n\n",
    );
    let mut n = 0;
    while out.lines().count() < lines - 2 {
        out.push_str(&format!(
            "  @doc \"Workflow {n}: registers, fills a cart and prices it.\"\n  @spec workflow_{n}(map(), pos_integer()) :: {{:ok, String.t()}} | {{:error, term()}}\n  def workflow_{n}(attrs, product_id) do\n    with {{:ok, user}} <- Accounts.register(attrs),\n         {{:ok, cart}} <- Cart.add(Cart.new(user.id), product_id, {q}),\n         {{:ok, order}} <- Orders.checkout(cart, \"tok_{n}\", \"FR\") do\n      product = Repo.get(Product, product_id)\n      total = Pricing.apply_discount(order.total_cents, 0.{d})\n      {{:ok, format_price(total) <> \" for \" <> product.title}}\n    end\n  end\n\n",
            q = n % 9 + 1,
            d = n % 9 + 1,
        ));
        n += 1;
    }
    out.push_str("end\n");
    out
}
