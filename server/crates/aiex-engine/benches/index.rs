//! Indexing a generated 300,000-line workspace: cold (no cache), warm (from the on-disk
//! cache), and the memory it takes. Run with `cargo bench --bench index`.

#[path = "../../../../tests/support/elixir_gen.rs"]
mod elixir_gen;

use std::time::Instant;

use aiex_engine::index::{IndexCache, IndexOptions, WorkspaceIndex};

const LINES: usize = 300_000;
const MODULES_PER_FILE: usize = 4;

fn main() {
    let workspace = tempfile::tempdir().expect("tempdir");
    let mut lines = 0;
    let mut module = 0;
    let mut files = 0;
    while lines < LINES {
        let text: String = (0..MODULES_PER_FILE)
            .map(|i| elixir_gen::module(module + i))
            .collect();
        module += MODULES_PER_FILE;
        lines += text.lines().count();
        let dir = workspace.path().join(format!("lib/area_{}", files / 100));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("file_{files}.ex")), text).expect("write");
        files += 1;
    }
    println!("workspace: {files} files, {lines} lines");
    let roots = vec![workspace.path().to_owned()];
    let options = IndexOptions::new(roots.clone());
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache_path = IndexCache::path_for(cache_dir.path(), &roots);

    let before = resident_kb("VmRSS");
    let index = WorkspaceIndex::new();
    let started = Instant::now();
    let cold = index.rebuild(&options, None, &|_| {}).expect("cold build");
    let cold_time = started.elapsed();
    let after = resident_kb("VmRSS");
    let counts = index.counts();
    println!(
        "cold index: {} ms for {} files, {} modules, {} functions (target < 3 s on 2 cores)",
        cold_time.as_millis(),
        cold.files,
        counts.modules,
        counts.functions
    );
    println!(
        "resident memory: {:.0} MB with the index loaded ({:.0} MB for the index), peak {:.0} MB (target < 200 MB)",
        after as f64 / 1024.0,
        (after - before) as f64 / 1024.0,
        resident_kb("VmHWM") as f64 / 1024.0
    );
    let saved = IndexCache::load(&cache_path)
        .0
        .save(&index)
        .expect("save cache");
    println!("cache file: {:.1} MB", saved as f64 / (1024.0 * 1024.0));

    let mut warm_times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (cache, warning) = IndexCache::load(&cache_path);
        assert!(warning.is_none());
        let warm_index = WorkspaceIndex::new();
        let warm = warm_index
            .rebuild(&options, Some(&cache), &|_| {})
            .expect("warm build");
        warm_times.push(started.elapsed());
        assert_eq!(warm.from_cache, warm.files, "everything from the cache");
    }
    warm_times.sort_unstable();
    println!(
        "warm index (cache load + walk + read + hash): median {} ms (target < 300 ms)",
        warm_times[warm_times.len() / 2].as_millis()
    );
}

fn resident_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(':'))
        })
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
