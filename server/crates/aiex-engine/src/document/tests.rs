//! Property tests: random edit sequences keep the rope equal to a plain-string model, in both
//! encodings, and the incrementally maintained tree equal to a fresh parse.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

/// Pieces that exercise multi-byte and astral characters, every line terminator, and Elixir
/// structure (so edits open and close blocks).
const PIECES: &[&str] = &[
    "a", "é", "😀", "ü", "\n", "\r\n", "\r", " ", "def ", "do", "end", "(", ")", "\"", "#", "x",
    ":", "\u{2028}",
];

/// The LSP position of `byte` in `text`, computed naively as a reference.
fn reference_position(text: &str, byte: usize, encoding: PositionEncoding) -> Position {
    let mut line = 0;
    let mut line_start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < byte {
        match bytes[i] {
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                line += 1;
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let column = match encoding {
        PositionEncoding::Utf8 => byte - line_start,
        PositionEncoding::Utf16 => text[line_start..byte].encode_utf16().count(),
        PositionEncoding::Utf32 => text[line_start..byte].chars().count(),
    };
    Position::new(line, column as u32)
}

fn floor_char_boundary(text: &str, mut byte: usize) -> usize {
    byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

/// Never splits a CRLF pair: an edit between `\r` and `\n` has no LSP position.
fn edit_boundary(text: &str, byte: usize) -> usize {
    let byte = floor_char_boundary(text, byte);
    if byte > 0 && text.as_bytes()[byte - 1] == b'\r' && text.as_bytes().get(byte) == Some(&b'\n') {
        byte - 1
    } else {
        byte
    }
}

fn text_strategy(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..max_pieces).prop_map(|p| p.concat())
}

#[derive(Debug, Clone)]
struct Edit {
    start: f64,
    length: f64,
    text: String,
    parse_after: bool,
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    (
        0.0..=1.0f64,
        0.0..0.3f64,
        text_strategy(6),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(start, length, text, parse_after)| Edit {
            start,
            length,
            text,
            parse_after,
        })
}

fn node_spans(tree: &tree_sitter::Tree) -> Vec<(&'static str, usize, usize)> {
    let mut spans = Vec::new();
    let mut cursor = tree.walk();
    'outer: loop {
        let node = cursor.node();
        spans.push((node.kind(), node.start_byte(), node.end_byte()));
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'outer;
            }
            if !cursor.goto_parent() {
                break 'outer;
            }
        }
    }
    spans
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn edits_keep_rope_and_tree_equal_to_the_model(
        initial in text_strategy(40),
        edits in prop::collection::vec(edit_strategy(), 1..40),
        encoding in prop_oneof![
            Just(PositionEncoding::Utf8),
            Just(PositionEncoding::Utf16),
            Just(PositionEncoding::Utf32),
        ],
    ) {
        let mut model = initial.clone();
        let mut document = Document::new(&initial, 0, Language::Elixir);
        document.parse_now();
        for (index, edit) in edits.iter().enumerate() {
            apply(&mut document, &mut model, edit, index as i32 + 1, encoding)?;
            prop_assert_eq!(document.rope().to_string(), model.clone());
            if document.syntax.known_parseable {
                prop_assert_eq!(
                    crate::syntax::check_parseable(document.rope()),
                    Ok(()),
                    "a text known to pass the checks passes them"
                );
            }
            if edit.parse_after {
                document.parse_now();
            }
        }
        let incremental = document.parse_now().tree.expect("tree");
        let fresh = crate::syntax::parse_str(&model).expect("fresh parse");
        prop_assert_eq!(node_spans(&incremental), node_spans(&fresh));
    }

    #[test]
    fn edits_made_during_a_parse_are_replayed_on_its_tree(
        initial in text_strategy(40),
        before in prop::collection::vec(edit_strategy(), 1..5),
        during in prop::collection::vec(edit_strategy(), 1..10),
    ) {
        let encoding = PositionEncoding::Utf16;
        let mut model = initial.clone();
        let mut document = Document::new(&initial, 0, Language::Elixir);
        document.parse_now();
        // As in the server, a parse only starts once edits made the tree stale. (Reparsing an
        // unchanged text from its own tree can change how tree-sitter recovers from errors,
        // and the server never does it.)
        let mut version = 0;
        for edit in &before {
            version += 1;
            apply(&mut document, &mut model, edit, version, encoding)?;
        }
        // Take a snapshot, edit while "the parse runs", then install its result.
        let snapshot = document.parse_snapshot();
        let result = parse_snapshot(&snapshot, Language::Elixir);
        for edit in &during {
            version += 1;
            apply(&mut document, &mut model, edit, version, encoding)?;
        }
        prop_assert_eq!(document.rope().to_string(), model.clone());
        document.install_tree(&snapshot, &result);
        prop_assert!(document.fresh_syntax().is_none(), "the installed tree is for an older version");
        let incremental = document.parse_now().tree.expect("tree");
        let fresh = crate::syntax::parse_str(&model).expect("fresh parse");
        prop_assert_eq!(node_spans(&incremental), node_spans(&fresh));
    }
}

/// Applies `edit` to the document and the model alike.
fn apply(
    document: &mut Document,
    model: &mut String,
    edit: &Edit,
    version: i32,
    encoding: PositionEncoding,
) -> Result<(), TestCaseError> {
    let start = edit_boundary(model, (edit.start * model.len() as f64) as usize);
    let end = edit_boundary(model, start + (edit.length * model.len() as f64) as usize).max(start);
    let range = PositionRange {
        start: reference_position(model, start, encoding),
        end: reference_position(model, end, encoding),
    };
    let change = TextChange {
        range: Some(range),
        text: edit.text.clone(),
    };
    let report = document
        .apply_changes(version, &[change], encoding)
        .expect("version grows");
    prop_assert_eq!(report.clamped, 0);
    model.replace_range(start..end, &edit.text);
    Ok(())
}

#[test]
fn typing_a_name_skips_the_whole_text_scan_and_an_edit_that_nests_past_the_limit_is_still_refused()
{
    let limit = crate::syntax::MAX_NESTING_DEPTH;
    let text = format!("{}x{}", "[".repeat(limit), "]".repeat(limit));
    let mut document = Document::new(&text, 0, Language::Elixir);
    assert!(document.parse_now().tree.is_ok(), "at the limit: a tree");
    assert!(document.syntax.known_parseable);
    let at = |byte: usize| Position {
        line: 0,
        column: byte as u32,
    };
    let type_at = |document: &mut Document, version: i32, byte: usize, text: &str| {
        let change = TextChange {
            range: Some(PositionRange {
                start: at(byte),
                end: at(byte),
            }),
            text: text.to_owned(),
        };
        document
            .apply_changes(version, &[change], PositionEncoding::Utf16)
            .expect("applied");
    };
    type_at(&mut document, 1, limit + 1, "yz");
    assert!(document.syntax.known_parseable, "a name typed: no new scan");
    assert!(document.parse_now().tree.is_ok());
    type_at(&mut document, 2, limit, "[");
    assert!(
        !document.syntax.known_parseable,
        "a bracket typed: scan again"
    );
    assert_eq!(
        document.parse_now().tree.err(),
        Some(crate::syntax::SyntaxUnavailable::TooDeep)
    );
}

#[test]
fn a_full_replacement_during_a_parse_discards_that_parse() {
    let mut document = Document::new("defmodule A do\nend\n", 0, Language::Elixir);
    let snapshot = document.parse_snapshot();
    let result = parse_snapshot(&snapshot, Language::Elixir);
    let change = TextChange {
        range: None,
        text: "defmodule B do\n  def f, do: 1\nend\n".to_owned(),
    };
    document
        .apply_changes(1, &[change], PositionEncoding::Utf16)
        .expect("applied");
    document.install_tree(&snapshot, &result);
    assert!(document.fresh_syntax().is_none());
    let tree = document.parse_now().tree.expect("tree");
    assert_eq!(tree.root_node().end_byte(), document.rope().len_bytes());
}

#[test]
fn stale_versions_are_rejected_and_leave_the_text_alone() {
    let mut document = Document::new("abc", 3, Language::Elixir);
    let change = TextChange {
        range: None,
        text: "x".to_owned(),
    };
    let rejected = document.apply_changes(3, &[change], PositionEncoding::Utf16);
    assert_eq!(
        rejected,
        Err(ChangeRejected::StaleVersion { current: 3, got: 3 })
    );
    assert_eq!(document.rope().to_string(), "abc");
}

#[tokio::test]
async fn a_tree_in_use_is_brought_up_to_date_once_edits_pause() {
    let store = store::DocumentStore::new();
    let used = DocumentKey::file(std::path::Path::new("/w/used.ex"));
    let unused = DocumentKey::file(std::path::Path::new("/w/unused.ex"));
    store.open(&used, "defmodule A do\nend\n", 1, Language::Elixir);
    store.open(&unused, "defmodule B do\nend\n", 1, Language::Elixir);
    store.syntax(&used).await.expect("open");
    let insert = |line| TextChange {
        range: Some(PositionRange {
            start: Position { line, column: 0 },
            end: Position { line, column: 0 },
        }),
        text: "  def f, do: 1\n".to_owned(),
    };
    for version in 2..10 {
        store
            .change(&used, version, &[insert(1)], PositionEncoding::Utf16)
            .expect("applied");
        store
            .change(&unused, version, &[insert(1)], PositionEncoding::Utf16)
            .expect("applied");
    }
    let fresh = |key: &DocumentKey| {
        store
            .get(key)
            .expect("open")
            .with_document(|d| d.fresh_syntax().map(|s| s.version))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while fresh(&used).is_none() {
        assert!(Instant::now() < deadline, "the tree was never reparsed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(fresh(&used), Some(9), "parsed at the last version");
    assert_eq!(fresh(&unused), None, "no tree was asked for, none is kept");
}

#[tokio::test]
async fn a_quiet_release_frees_the_trees_of_large_documents_only_and_features_parse_again() {
    let store = store::DocumentStore::new();
    let small = DocumentKey::file(std::path::Path::new("/w/small.ex"));
    let large = DocumentKey::file(std::path::Path::new("/w/large.ex"));
    let module = "defmodule A do\n  def f(x), do: x\nend\n";
    let large_text = module.repeat(store::KEEP_TREE_BYTES / module.len() + 1);
    store.open(&small, module, 1, Language::Elixir);
    store.open(&large, &large_text, 1, Language::Elixir);
    store.chunks(&small).await.expect("open");
    let (_, chunks_before) = store.chunks(&large).await.expect("open");
    let has_tree = |key: &DocumentKey| {
        store
            .get(key)
            .expect("open")
            .with_document(|d| d.has_tree())
    };
    assert!(has_tree(&small) && has_tree(&large));

    store.release_memory();
    assert!(has_tree(&small), "a small document keeps its tree");
    assert!(!has_tree(&large), "a large document's tree is freed");

    let (snapshot, chunks_after) = store.chunks(&large).await.expect("open");
    assert!(snapshot.tree.is_ok(), "parsed afresh when asked");
    assert!(
        Arc::ptr_eq(&chunks_before, &chunks_after),
        "the chunks of the unchanged version are reused"
    );
}

#[tokio::test]
async fn a_background_reparse_prepares_the_text_and_chunks_a_completion_uses_once_one_asked() {
    let store = store::DocumentStore::new();
    let key = DocumentKey::file(std::path::Path::new("/w/prepared.ex"));
    let text = "defmodule A do\n  def f(x), do: x\nend\n\ndefmodule B do\n  def g(y), do: y\nend\n";
    store.open(&key, text, 1, Language::Elixir);
    let snapshot = store.syntax(&key).await.expect("open");
    // The first completion copies the text itself, and from then on asks for it prepared.
    let first = store.prepared_text(&key, 1, &snapshot.rope);
    assert_eq!(&*first, text);
    let tree = snapshot.tree.expect("parsed");
    let in_b = text.find("def g").expect("g");
    let chunks = store.chunks_around(&key, 1, &first, &tree, in_b);
    assert_eq!(*chunks, crate::chunks::extract_around(&tree, text, in_b));
    assert!(
        Arc::ptr_eq(
            &chunks,
            &store.chunks_around(&key, 1, &first, &tree, in_b + 2)
        ),
        "a place in the same module of the same version reuses them"
    );

    // A keystroke in A: the background reparse prepares version 2 around it.
    let at = Position { line: 1, column: 2 };
    store
        .change(
            &key,
            2,
            &[TextChange {
                range: Some(PositionRange { start: at, end: at }),
                text: "x".to_owned(),
            }],
            PositionEncoding::Utf16,
        )
        .expect("applied");
    let rope = store
        .get(&key)
        .expect("open")
        .with_document(|d| d.rope().clone());
    let expected = rope.to_string();
    let cursor = expected.find("xdef f").expect("typed") + 1;
    let deadline = Instant::now() + Duration::from_secs(5);
    while store
        .prepared_around(&key)
        .is_none_or(|(version, _)| version != 2)
    {
        assert!(Instant::now() < deadline, "version 2 was never prepared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, form) = store.prepared_around(&key).expect("prepared");
    let tree = store
        .syntax(&key)
        .await
        .expect("open")
        .tree
        .expect("parsed");
    assert_eq!(
        form,
        crate::chunks::top_level_at(&tree, cursor),
        "around the edit"
    );
    let text = store.prepared_text(&key, 2, &rope);
    let chunks = store.chunks_around(&key, 2, &text, &tree, cursor);
    let prepared = (text, tree, chunks, cursor);
    let (text, tree, chunks, cursor) = prepared;
    assert_eq!(&*text, expected, "the text of version 2");
    assert_eq!(
        *chunks,
        crate::chunks::extract_around(&tree, &expected, cursor)
    );
    let in_b = expected.find("def g").expect("g");
    assert_eq!(
        *store.chunks_around(&key, 2, &text, &tree, in_b),
        crate::chunks::extract_around(&tree, &expected, in_b),
        "a place in another module gets that module's chunks"
    );
    assert!(
        store.prepared_text(&key, 1, &snapshot.rope).as_ptr() != text.as_ptr(),
        "an older version is never served the newer text"
    );
    store.release_memory();
    assert_eq!(
        store.prepared_around(&key),
        None,
        "no copy of the text is kept once the server is quiet"
    );
}
