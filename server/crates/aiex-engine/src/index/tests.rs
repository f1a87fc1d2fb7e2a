//! Index tests on temporary workspaces.

use std::path::Path;

use super::*;

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "lib/a.ex",
        "defmodule App.A do\n  @doc \"Adds.\"\n  def add(a, b), do: a + b\nend\n",
    );
    write(
        root,
        "lib/b.ex",
        "defmodule App.B do\n  def twice(x), do: App.A.add(x, x)\nend\n",
    );
    write(
        root,
        "_build/dev/lib/skip.ex",
        "defmodule Skipped do\nend\n",
    );
    write(root, "deps/dep/lib/dep.ex", "defmodule Dep do\nend\n");
    write(root, "lib/ignored.ex", "defmodule Ignored do\nend\n");
    write(root, ".aiexignore", "lib/ignored.ex\n");
    write(root, "lib/binary.ex", "defmodule \0Binary do\nend\n");
    dir
}

fn build_index(root: &Path, cache: Option<&IndexCache>) -> (WorkspaceIndex, BuildReport) {
    let index = WorkspaceIndex::new();
    let options = IndexOptions::new(vec![root.to_owned()]);
    let report = index.rebuild(&options, cache, &|_| {}).expect("build");
    (index, report)
}

#[test]
fn indexes_workspace_files_and_honours_ignores() {
    let dir = workspace();
    let (index, report) = build_index(dir.path(), None);
    assert_eq!(report.files, 2, "{report:?}");
    assert_eq!(report.skipped, 1, "the binary file");
    assert!(index.module_file("App.A").is_some());
    assert!(index.module_file("Skipped").is_none() && index.module_file("Dep").is_none());
    assert!(
        index.module_file("Ignored").is_none(),
        ".aiexignore is honoured"
    );
    let (file, add) = index.function("App.A", "add", 2).expect("add/2");
    assert_eq!(file.relative, Path::new("lib/a.ex"));
    assert_eq!(add.doc_summary(), Some("Adds."));
    let counts = index.counts();
    assert_eq!((counts.files, counts.modules, counts.functions), (2, 2, 2));
}

#[test]
fn a_warm_build_reuses_the_cache_and_reparses_only_changed_files() {
    let dir = workspace();
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache_path = IndexCache::path_for(cache_dir.path(), &[dir.path().to_owned()]);
    let (index, cold) = build_index(dir.path(), None);
    assert_eq!(cold.from_cache, 0);
    IndexCache::load(&cache_path).0.save(&index).expect("save");

    write(
        dir.path(),
        "lib/b.ex",
        "defmodule App.B do\n  def thrice(x), do: x * 3\nend\n",
    );
    let (cache, warning) = IndexCache::load(&cache_path);
    assert_eq!(warning, None);
    let (index, warm) = build_index(dir.path(), Some(&cache));
    assert_eq!(
        (warm.files, warm.from_cache),
        (2, 1),
        "only the changed file is parsed"
    );
    assert!(index.function("App.B", "thrice", 1).is_some());
    assert!(index.function("App.B", "twice", 1).is_none());
}

#[test]
fn a_file_read_back_from_the_cache_has_the_chunks_it_was_indexed_with() {
    let dir = workspace();
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../fixtures/sample_app/lib/sample_app/accounts.ex"
    );
    let accounts = std::fs::read_to_string(sample).expect("fixture");
    write(dir.path(), "lib/accounts.ex", &accounts);
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache_path = IndexCache::path_for(cache_dir.path(), &[dir.path().to_owned()]);
    let (cold, _) = build_index(dir.path(), None);
    IndexCache::load(&cache_path).0.save(&cold).expect("save");
    let (cache, warning) = IndexCache::load(&cache_path);
    assert_eq!(warning, None);
    let (warm, report) = build_index(dir.path(), Some(&cache));
    assert_eq!(report.from_cache, 3);

    let mut extracted = crate::chunks::extract(
        &crate::syntax::parse_str(&accounts).expect("parse"),
        &accounts,
    );
    extracted.take_remote_calls();
    for index in [&cold, &warm] {
        let file = index.module_file("SampleApp.Accounts").expect("indexed");
        assert_eq!(
            *file.chunks(),
            extracted,
            "the chunks as extracted, less their call sites"
        );
    }
    for file in cold.files() {
        let warm_file = warm.file(&file.path).expect("in both");
        assert_eq!(warm_file.chunks(), file.chunks());
        assert_eq!(warm_file.remote_calls, file.remote_calls);
    }
}

#[test]
fn corrupt_or_old_caches_are_discarded_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.json");
    std::fs::write(
        &path,
        b"{\"format\": 1, \"entries\": [[\"abc\", {\"modules\": 7}]]}",
    )
    .expect("write");
    let (cache, warning) = IndexCache::load(&path);
    assert!(cache.is_empty());
    assert!(warning.expect("warning").contains("format 1"));
    std::fs::write(&path, b"{\"format\": 0, \"entries\": []}").expect("write");
    let (_, warning) = IndexCache::load(&path);
    assert!(warning.expect("warning").contains("format 0"));
    std::fs::write(
        &path,
        format!(
            "{{\"format\": {}, \"entries\": [[\"abc\", {{\"modules\": 7}}, []]]}}",
            cache::FORMAT_VERSION
        ),
    )
    .expect("write");
    let (cache, warning) = IndexCache::load(&path);
    assert!(cache.is_empty());
    assert!(warning.expect("warning").contains("corrupt"));
}

#[test]
fn a_cache_written_by_the_previous_format_is_discarded_not_misread() {
    // Format 2 held each file's chunks with their call sites and no counted calls.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.json");
    std::fs::write(
        &path,
        b"{\"format\": 2, \"entries\": [[\"abc\", {\"modules\": [], \"functions\": []}]]}",
    )
    .expect("write");
    let (cache, warning) = IndexCache::load(&path);
    assert!(cache.is_empty());
    assert!(warning.expect("warning").contains("format 2"));
}

#[test]
fn call_counts_survive_the_cache_and_follow_replacements_and_removals() {
    let dir = workspace();
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache_path = IndexCache::path_for(cache_dir.path(), &[dir.path().to_owned()]);
    let (index, _) = build_index(dir.path(), None);
    let once = HashMap::from([("add".to_owned(), 1)]);
    assert_eq!(index.calls_into("App.A"), once);
    let b = index.module_file("App.B").expect("App.B");
    assert!(
        b.chunks().all_modules()[0].functions[0].calls.is_empty(),
        "the index keeps counts, not call sites"
    );
    assert_eq!(&*b.remote_calls[0].0, "App.A");
    IndexCache::load(&cache_path).0.save(&index).expect("save");

    let (cache, warning) = IndexCache::load(&cache_path);
    assert_eq!(warning, None);
    let (warm, report) = build_index(dir.path(), Some(&cache));
    assert_eq!(report.from_cache, report.files);
    assert_eq!(warm.calls_into("App.A"), once, "counted from the cache");

    let b_path = b.path.clone();
    warm.update_file(
        &b_path,
        Path::new("lib/b.ex"),
        "defmodule App.B do\n  alias App.A\n  def twice(x), do: A.add(x, A.add(x, x))\nend\n",
    );
    assert_eq!(
        warm.calls_into("App.A"),
        HashMap::from([("add".to_owned(), 2)])
    );
    warm.remove_file(&b_path);
    assert_eq!(
        warm.calls_into("App.A"),
        HashMap::from([("add".to_owned(), 0)])
    );
}

#[test]
fn updates_and_removals_keep_the_module_map_right() {
    let dir = workspace();
    let (index, _) = build_index(dir.path(), None);
    let a = dir.path().join("lib/a.ex");
    index.update_file(&a, Path::new("lib/a.ex"), "defmodule App.Renamed do\nend\n");
    assert!(index.module_file("App.A").is_none());
    assert!(index.module_file("App.Renamed").is_some());
    assert!(index.remove_file(&a));
    assert!(index.module_file("App.Renamed").is_none());
    assert!(!index.remove_file(&a));
}

#[test]
fn search_ranks_exact_last_segment_matches_first() {
    let dir = workspace();
    let (index, _) = build_index(dir.path(), None);
    let names: Vec<String> = index
        .search("add", 10)
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("add/2"));
    let modules: Vec<String> = index
        .search("apb", 10)
        .into_iter()
        .filter(|m| m.is_module)
        .map(|m| m.name)
        .collect();
    assert_eq!(modules, ["App.B"]);
    assert!(index.search("zzz", 10).is_empty());
}

#[test]
fn paths_outside_the_roots_or_escaping_through_links_are_refused() {
    let dir = workspace();
    let root = dir.path().canonicalize().expect("canonical");
    let roots = vec![root.clone()];
    let inside = resolve_in_roots(&root.join("lib/a.ex"), &roots).expect("inside");
    assert_eq!(inside.1, Path::new("lib/a.ex"));
    assert!(resolve_in_roots(&root.join("lib/../lib/a.ex"), &roots).is_some());
    assert!(
        resolve_in_roots(&root.join("lib/../../outside.ex"), &roots).is_none(),
        "`..` tricks"
    );
    assert!(resolve_in_roots(&root.join("_build/dev/lib/skip.ex"), &roots).is_none());
    assert!(resolve_in_roots(&root.join("lib/notes.txt"), &roots).is_none());
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "secret.ex", "defmodule Secret do\nend\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("secret.ex"), root.join("lib/link.ex"))
            .expect("symlink");
        assert!(
            resolve_in_roots(&root.join("lib/link.ex"), &roots).is_none(),
            "a symlink that escapes"
        );
    }
    // A file deleted from inside the roots still resolves, so it can be removed.
    std::fs::remove_file(root.join("lib/b.ex")).expect("remove");
    assert!(resolve_in_roots(&root.join("lib/b.ex"), &roots).is_some());
}

#[test]
fn resolve_in_roots_refuses_parent_segments_and_odd_spellings_leading_outside() {
    let dir = workspace();
    let root = dir.path().to_owned();
    let roots = vec![root.clone()];
    let spelled = |rest: &str| PathBuf::from(format!("{}{rest}", root.display()));
    assert!(resolve_in_roots(&spelled("//lib/a.ex"), &roots).is_some());
    assert!(resolve_in_roots(&spelled("/lib/../../outside.ex"), &roots).is_none());
    assert!(resolve_in_roots(Path::new("/"), &roots).is_none());
    assert!(resolve_in_roots(Path::new(""), &roots).is_none());
}

#[test]
fn a_huge_workspace_symbol_query_is_answered_at_once_and_a_stop_cuts_the_search() {
    let dir = workspace();
    let index = WorkspaceIndex::new();
    index
        .rebuild(
            &IndexOptions::new(vec![dir.path().to_owned()]),
            None,
            &|_| {},
        )
        .expect("build");
    let huge = "a".repeat(1 << 20);
    let started = std::time::Instant::now();
    assert_eq!(index.search(&huge, 256), vec![]);
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
    let (found, cut) = index.search_within("", 256, &|| true);
    assert!(cut);
    assert!(found.is_empty());
    assert!(!index.search("", 256).is_empty());
}

#[test]
fn the_relevance_ranking_follows_every_change_to_the_index_after_requests_reused_it() {
    let index = WorkspaceIndex::new();
    let add = |name: &str, text: &str| {
        index.update_file(Path::new(&format!("/w/{name}")), Path::new(name), text);
    };
    add(
        "a.ex",
        "defmodule A do\n  def refund_payment(x), do: x\nend\n",
    );
    let modules = |index: &WorkspaceIndex, query: &str| -> Vec<String> {
        index
            .relevant(query, &[])
            .filter_map(|found| found.module_name())
            .collect()
    };
    // Requests at one generation reuse the ranking they verified.
    assert_eq!(modules(&index, "refund payment"), ["A"]);
    assert_eq!(modules(&index, "refund payment"), ["A"]);
    // A new file: the next requests are served the old ranking while it is rebuilt, then the
    // new one, never the old one for good.
    add(
        "b.ex",
        "defmodule B do\n  def refund_order(x), do: x\nend\n",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while modules(&index, "refund order") != ["B", "A"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the new file was never ranked"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    index.remove_file(Path::new("/w/b.ex"));
    while modules(&index, "refund order") != ["A"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed file was still ranked"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    index.clear();
    assert!(
        modules(&index, "refund").is_empty(),
        "an empty index ranks nothing"
    );
}

#[test]
fn a_walked_file_is_read_from_disk_when_asked_and_not_once_it_changed() {
    let dir = workspace();
    let (index, _) = build_index(dir.path(), None);
    let a = index.module_file("App.A").expect("App.A");
    let on_disk = std::fs::read_to_string(dir.path().join("lib/a.ex")).expect("read");
    assert_eq!(a.text().as_deref(), Some(on_disk.as_str()));
    assert_eq!(a.len(), on_disk.len());
    write(
        dir.path(),
        "lib/a.ex",
        "defmodule App.A do\n  def other, do: 1\nend\n",
    );
    assert_eq!(a.text(), None, "the indexed ranges do not fit the new text");
    // A text given to the index (an editor's saved buffer) is held.
    let given = "defmodule App.A do\nend\n";
    let held = index.update_file(&a.path, Path::new("lib/a.ex"), given);
    std::fs::remove_file(dir.path().join("lib/a.ex")).expect("remove");
    assert_eq!(held.text().as_deref(), Some(given));
}

#[test]
fn context_requests_reuse_recently_read_files_until_the_file_changes_within_a_byte_bound() {
    let dir = workspace();
    let (index, _) = build_index(dir.path(), None);
    let a = index.module_file("App.A").expect("App.A");
    let first = index.chunks_of(&a);
    assert!(Arc::ptr_eq(&first, &index.chunks_of(&a)), "kept");
    assert_eq!(*first, *a.chunks());
    // Read with its text: the same chunks, and the text kept too.
    let (text, chunks) = index.read(&a).expect("read");
    assert!(Arc::ptr_eq(&first, &chunks), "the chunks unpacked before");
    assert_eq!(Some(&text), a.text().as_ref());
    let (again, _) = index.read(&a).expect("read again");
    assert!(Arc::ptr_eq(&text, &again), "the text kept");

    let replaced = index.update_file(
        &a.path,
        &a.relative,
        "defmodule App.A do\n  def sub(a, b), do: a - b\nend\n",
    );
    let fresh = index.chunks_of(&replaced);
    assert!(!Arc::ptr_eq(&first, &fresh));
    assert_eq!(fresh.all_modules()[0].functions[0].name, "sub");

    // Files beyond the bound push the oldest out: more than it holds, each unpacked once.
    let body: String = (0..400)
        .map(|i| format!("  def f{i}(x), do: x + {i}\n"))
        .collect();
    let mut files = Vec::new();
    for n in 0..60 {
        let path = dir.path().join(format!("lib/big{n}.ex"));
        let text = format!("defmodule App.Big{n} do\n{body}end\n");
        files.push(index.update_file(&path, Path::new("lib/big.ex"), &text));
    }
    let read: usize = files.iter().map(|f| f.packed().byte_len() + f.len()).sum();
    assert!(read > 2 * RECENTLY_READ_BYTES, "{read} bytes");
    let unpacked: Vec<_> = files.iter().map(|f| index.read(f).expect("read")).collect();
    let kept = files
        .iter()
        .zip(&unpacked)
        .filter(|(file, (_, chunks))| Arc::ptr_eq(&index.chunks_of(file), chunks))
        .count();
    assert!(kept < files.len(), "not every file kept");
    let held: usize = index
        .recently_read
        .files
        .lock()
        .iter()
        .map(|f| f.bytes)
        .sum();
    assert!(held <= RECENTLY_READ_BYTES, "{held} bytes held");
}
