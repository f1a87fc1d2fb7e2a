//! Indexing a generated 300,000-line workspace: cold (no cache), warm (from the on-disk
//! cache), and the memory it takes, in all and by owner (heap bytes in use, counted by this
//! binary's allocator: the files' texts if held, their chunks, the rest of the index's maps, the BM25
//! ranking). Run with `cargo bench --bench index`.

#[path = "../../../../tests/support/elixir_gen.rs"]
mod elixir_gen;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use aiex_engine::index::{IndexCache, IndexOptions, WorkspaceIndex};

/// Counts the heap bytes in use, so each owner of the index's memory is measured by the heap it
/// adds (allocator overhead and free space not included; resident memory says the rest).
struct Counting;

static HEAP_IN_USE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP_IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP_IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP_IN_USE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn heap_mb() -> f64 {
    HEAP_IN_USE.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0)
}

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
    let heap_before = heap_mb();
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
    print_heap_by_owner(&index, heap_before);
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

/// The heap the index holds, by owner: the texts (none: files read from disk are not held, and
/// their bytes are printed for comparison), the chunks (packed: their bytes and each buffer's
/// count header; and for comparison the heap every file's chunks take unpacked), the rest of
/// the index (file entries, paths, the module and calls maps), then the BM25 ranking (the heap
/// its build adds).
fn print_heap_by_owner(index: &WorkspaceIndex, heap_before: f64) {
    let files = index.files();
    let index_heap = heap_mb() - heap_before;
    let texts = files.iter().map(|f| f.len()).sum::<usize>() as f64 / (1024.0 * 1024.0);
    let chunks = files
        .iter()
        .map(|f| f.packed().byte_len() + 2 * std::mem::size_of::<usize>())
        .sum::<usize>() as f64
        / (1024.0 * 1024.0);
    let before_copy = heap_mb();
    let unpacking = Instant::now();
    let unpacked: Vec<_> = files.iter().map(|f| f.chunks()).collect();
    let unpacking = unpacking.elapsed();
    let unpacked_mb = heap_mb() - before_copy;
    drop(unpacked);
    println!(
        "every file's chunks unpacked in {} ms (a workspace symbol search or a relevance \
         build does this)",
        unpacking.as_millis()
    );
    let before_bm25 = heap_mb();
    index.warm_relevance();
    let bm25 = heap_mb() - before_bm25;
    println!(
        "heap in use by the index: {index_heap:.1} MB: texts not held (read from disk when \
         needed: {texts:.1} MB), chunks {chunks:.1} MB packed ({unpacked_mb:.1} MB unpacked), the rest (file entries, paths, module and \
         calls maps) {:.1} MB; BM25 ranking {bm25:.1} MB more",
        index_heap - chunks
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
