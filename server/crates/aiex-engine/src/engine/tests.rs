//! The engine without a protocol: documents by path, the gate's word on them.

use std::path::Path;

use super::*;

#[test]
fn a_cursor_past_the_end_or_inside_a_character_is_clamped() {
    let rope = ropey::Rope::from_str("é = 1\n");
    assert_eq!(Cursor::Byte(1).offset_in(&rope), 0);
    assert_eq!(Cursor::Byte(99).offset_in(&rope), rope.len_bytes());
    let at = Position::new(0, 1);
    assert_eq!(
        Cursor::Position(at, PositionEncoding::Utf16).offset_in(&rope),
        2
    );
}

#[test]
fn documents_outside_the_workspace_may_not_be_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::new();
    engine.set_roots(vec![dir.path().to_path_buf()]);
    let inside = DocumentKey::file(&dir.path().join("lib/a.ex"));
    let outside = DocumentKey::file(Path::new("/tmp/elsewhere/b.ex"));
    assert!(engine.may_send(&inside).is_ok());
    assert!(matches!(
        engine.may_send(&outside),
        Err(Refusal::OutsideWorkspace(_))
    ));
    assert!(engine.may_send(&DocumentKey::unsaved("untitled:1")).is_ok());
    assert_eq!(
        engine.workspace_path(&inside).as_deref(),
        Some(Path::new("lib/a.ex"))
    );
}

#[tokio::test]
async fn a_completion_for_an_unknown_document_says_so() {
    let engine = Engine::new();
    let key = DocumentKey::file(Path::new("/nowhere/x.ex"));
    let result = engine
        .complete(&key, Cursor::Byte(0), CompletionOptions::default())
        .await;
    assert!(matches!(result, Err(AiError::UnknownDocument(_))));
}
