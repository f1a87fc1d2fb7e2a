//! The user guide (docs/, built as a book by `mdbook build docs` in CI) holds together: every
//! relative link in every page names a file that exists inside the book (a link out of docs/
//! would be broken on the built site), an anchor names a heading of its page, and every page
//! under docs/ is a chapter of docs/SUMMARY.md (mdBook leaves out a page the
//! summary does not list, silently).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// Every Markdown file under `dir`, sorted.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The lines of a page outside fenced code blocks.
fn outside_fences(page: &str) -> Vec<&str> {
    let mut fenced = false;
    page.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The text of a page outside code (fenced blocks and inline spans), where `[a](b)` is not a
/// link.
fn prose(page: &str) -> String {
    let mut text = String::new();
    for line in outside_fences(page) {
        // Inline code spans: every other piece between backticks.
        for (index, piece) in line.split('`').enumerate() {
            if index % 2 == 0 {
                text.push_str(piece);
            }
        }
        text.push('\n');
    }
    text
}

/// The targets of a page's inline links (`[text](target "title")`) and reference definitions
/// (`[label]: target`).
fn link_targets(page: &str) -> Vec<String> {
    let text = prose(page);
    let mut targets = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let end = rest.find(')').unwrap_or(rest.len());
        let target = rest[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.trim_matches(['<', '>']).to_owned());
        rest = &rest[end..];
    }
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(close) = line.strip_prefix('[').and_then(|l| l.find("]: ")) {
            let target = line[close + 4..].split_whitespace().next().unwrap_or("");
            targets.push(target.to_owned());
        }
    }
    targets
}

/// A heading's anchor as mdBook (and GitHub) make it: lower case, spaces to dashes, only
/// letters, digits, `-` and `_` kept.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &str) -> BTreeSet<String> {
    outside_fences(page)
        .into_iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| slug(heading.trim_start_matches('#')))
        .collect()
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:")
}

#[test]
fn every_relative_link_in_the_guide_names_a_page_or_heading_of_the_book() {
    let root = normalize(&docs());
    let mut broken = Vec::new();
    let pages = markdown_files(&root);
    assert!(pages.len() > 50, "the guide and the check pages: {pages:?}");
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("page");
        let shown = page.strip_prefix(&root).unwrap_or(page).display();
        for target in link_targets(&text) {
            if target.is_empty() || is_external(&target) {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if file.is_empty() {
                page.clone()
            } else {
                normalize(&page.parent().expect("a page's directory").join(file))
            };
            if !linked.starts_with(&root) {
                broken.push(format!(
                    "{shown}: `{target}` leaves docs/ (not in the built book)"
                ));
            } else if !linked.exists() {
                broken.push(format!("{shown}: `{target}` does not exist"));
            } else if let Some(anchor) = anchor.filter(|_| linked.is_file()) {
                let linked_text = std::fs::read_to_string(&linked).expect("linked page");
                if !anchors(&linked_text).contains(anchor) {
                    broken.push(format!("{shown}: `{target}` names no heading of its page"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_page_under_docs_is_a_chapter_of_the_book() {
    let root = normalize(&docs());
    let summary = std::fs::read_to_string(root.join("SUMMARY.md")).expect("docs/SUMMARY.md");
    let chapters: BTreeSet<PathBuf> = link_targets(&summary)
        .iter()
        .map(|target| normalize(&root.join(target)))
        .collect();
    let missing: Vec<String> = markdown_files(&root)
        .into_iter()
        .filter(|page| !page.ends_with("SUMMARY.md") && !chapters.contains(page))
        .map(|page| page.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "pages docs/SUMMARY.md does not list (mdBook would leave them out): {missing:?}"
    );
}

#[test]
fn the_link_reader_finds_links_and_skips_code() {
    let page = "See [a](a.md) and [b](../b.md#part \"title\").\n\
                `[not](code.md)`\n\
                ```\n[not](fenced.md)\n```\n\
                [label]: c.md\n";
    assert_eq!(link_targets(page), ["a.md", "../b.md#part", "c.md"]);
    assert_eq!(
        slug("Does the binary work here? `aiex health`"),
        "does-the-binary-work-here-aiex-health"
    );
}
