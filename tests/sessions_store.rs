//! The session database: the fold of an event log, crash leftovers, export/import, retention,
//! deletion that leaves nothing in the file, and checkpoints restored byte for byte.

use aiex_sessions::{
    ContextRef, Event, ProposalState, Retention, Role, Session, SessionStore, StoreError,
};

fn store() -> (tempfile::TempDir, SessionStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SessionStore::open(&dir.path().join("data/sessions.sqlite3")).expect("open");
    (dir, store)
}

fn converse(store: &SessionStore) -> i64 {
    let id = store.create("What does register/1 do?").unwrap();
    store
        .append(
            id,
            &Event::UserMessage {
                turn: 1,
                text: "What does register/1 do?".into(),
            },
        )
        .unwrap();
    store
        .append(
            id,
            &Event::ContextAttached {
                turn: 1,
                items: vec![ContextRef {
                    path: "lib/accounts.ex".into(),
                    range: Some((10, 80)),
                    reason: "selection".into(),
                }],
            },
        )
        .unwrap();
    for piece in ["It inserts ", "a user."] {
        store
            .append(
                id,
                &Event::AssistantDelta {
                    turn: 1,
                    text: piece.into(),
                },
            )
            .unwrap();
    }
    store.complete_answer(id, 1, "It inserts a user.").unwrap();
    store
        .append(
            id,
            &Event::EditProposed {
                turn: 1,
                proposal: 1,
                files: vec!["lib/accounts.ex".into()],
            },
        )
        .unwrap();
    store
        .append(id, &Event::EditApplied { proposal: 1 })
        .unwrap();
    id
}

#[test]
fn the_state_is_the_fold_of_the_log_and_deltas_are_compacted() {
    let (_dir, store) = store();
    let id = converse(&store);
    let session = store.session(id).unwrap();
    assert_eq!(session.title, "What does register/1 do?");
    assert_eq!(session.messages.len(), 2);
    assert_eq!(session.messages[0].context[0].range, Some((10, 80)));
    let answer = &session.messages[1];
    assert_eq!(
        (answer.role, answer.text.as_str()),
        (Role::Assistant, "It inserts a user.")
    );
    assert!(!answer.interrupted);
    assert_eq!(session.proposals[0].state, ProposalState::Applied);
    let kinds: Vec<_> = store
        .events(id)
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(
        !kinds
            .iter()
            .any(|e| matches!(e, Event::AssistantDelta { .. })),
        "deltas replaced by the whole answer: {kinds:?}"
    );
    assert_eq!(session.next_turn(), 2);
}

#[test]
fn an_answer_cut_off_by_a_crash_is_kept_and_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.sqlite3");
    let id = {
        let store = SessionStore::open(&path).unwrap();
        let id = store.create("q").unwrap();
        store
            .append(
                id,
                &Event::UserMessage {
                    turn: 1,
                    text: "q".into(),
                },
            )
            .unwrap();
        store
            .append(
                id,
                &Event::AssistantDelta {
                    turn: 1,
                    text: "half an ".into(),
                },
            )
            .unwrap();
        store
            .append(
                id,
                &Event::AssistantDelta {
                    turn: 1,
                    text: "answer".into(),
                },
            )
            .unwrap();
        // Dropped without completing the answer, as a killed process would leave it.
        std::mem::forget(store);
        id
    };
    let reopened = SessionStore::open(&path).unwrap();
    let session = reopened.session(id).unwrap();
    let answer = session.messages.last().unwrap();
    assert_eq!(answer.text, "half an answer");
    assert!(answer.interrupted);
}

#[test]
fn export_then_import_gives_the_same_fold() {
    let (_dir, store) = store();
    let id = converse(&store);
    let exported = store.export(id).unwrap();
    assert_eq!(exported.lines().count(), store.events(id).unwrap().len());
    let imported = store.import(&exported).unwrap();
    assert_ne!(imported, id);
    let same = |session: Session| Session { id: 0, ..session };
    assert_eq!(
        same(store.session(imported).unwrap()),
        same(store.session(id).unwrap())
    );
}

#[test]
fn a_bad_import_says_which_line_and_imports_nothing() {
    let (_dir, store) = store();
    let id = converse(&store);
    let mut exported = store.export(id).unwrap();
    exported.push_str("{\"seq\": 9, \"nonsense\": true}\n");
    let error = store.import(&exported).unwrap_err();
    let lines = exported.lines().count();
    assert!(
        matches!(&error, StoreError::Import { line, .. } if *line == lines),
        "{error}"
    );
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(matches!(
        store.import("{}\n"),
        Err(StoreError::Import { line: 1, .. })
    ));
}

#[test]
fn deleting_a_session_leaves_none_of_its_text_in_the_files() {
    let (dir, store) = store();
    let id = store.create("secret-plan-title").unwrap();
    store
        .append(
            id,
            &Event::UserMessage {
                turn: 1,
                text: "the zanzibar-walrus-protocol".into(),
            },
        )
        .unwrap();
    store.delete(id).unwrap();
    assert!(matches!(store.session(id), Err(StoreError::NoSession(_))));
    assert!(matches!(store.delete(id), Err(StoreError::NoSession(_))));
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("zanzibar-walrus"),
            "deleted text still on disk"
        );
        assert!(
            !text.contains("secret-plan-title"),
            "deleted title still on disk"
        );
    }
}

#[test]
fn retention_keeps_the_newest_sessions() {
    let (_dir, store) = store();
    let ids: Vec<_> = (0..5)
        .map(|n| store.create(&format!("s{n}")).unwrap())
        .collect();
    let (removed, _) = store
        .retain(Retention {
            max_sessions: Some(2),
            ..Retention::default()
        })
        .unwrap();
    assert_eq!(removed, 3);
    let kept: Vec<_> = store.list().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(kept, vec![ids[4], ids[3]]);
    // Nothing is older than a day yet.
    let (removed, _) = store
        .retain(Retention {
            max_age_days: Some(1),
            ..Retention::default()
        })
        .unwrap();
    assert_eq!(removed, 0);
}

/// A session whose events were all written `days_ago` days before `now` (an import keeps
/// the times of its events).
fn session_written(store: &SessionStore, title: &str, now: i64, days_ago: i64) -> i64 {
    let at_ms = now - days_ago * 86_400_000;
    let export = format!(
        "{}\n{}\n",
        serde_json::json!({"seq": 1, "at_ms": at_ms, "event": {"session_created": {"title": title}}}),
        serde_json::json!({"seq": 2, "at_ms": at_ms + 1, "event": {"user_message": {"turn": 1, "text": "hi"}}})
    );
    store.import(&export).unwrap()
}

#[test]
fn retention_by_age_deletes_only_sessions_last_written_before_the_cutoff() {
    let (_dir, store) = store();
    let now = 1_800_000_000_000;
    let old = session_written(&store, "old", now, 40);
    let recent = session_written(&store, "recent", now, 10);
    let today = session_written(&store, "today", now, 0);
    let thirty_days = Retention {
        max_age_days: Some(30),
        ..Retention::default()
    };
    assert_eq!(store.retain_at(thirty_days, now).unwrap(), (1, 0));
    let kept: Vec<_> = store.list().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(kept, vec![today, recent]);
    assert!(matches!(store.session(old), Err(StoreError::NoSession(id)) if id == old));
    // Forty days on, "recent" is fifty days old and "today" forty: both go.
    let later = now + 40 * 86_400_000;
    assert_eq!(store.retain_at(thirty_days, later).unwrap(), (2, 0));
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn a_session_read_again_folds_the_events_written_since_as_a_whole_fold_would() {
    let (_dir, store) = store();
    let id = converse(&store);
    let first = store.session(id).unwrap();
    assert_eq!(first, aiex_sessions::fold(id, &store.events(id).unwrap()));
    // A second turn, interrupted mid-answer and then completed, written after the first read.
    store
        .append(
            id,
            &Event::UserMessage {
                turn: 2,
                text: "And login/2?".into(),
            },
        )
        .unwrap();
    store
        .append(
            id,
            &Event::AssistantDelta {
                turn: 2,
                text: "It checks".into(),
            },
        )
        .unwrap();
    let mid = store.session(id).unwrap();
    assert!(mid.messages.last().unwrap().interrupted);
    store
        .complete_answer(id, 2, "It checks a password.")
        .unwrap();
    let again = store.session(id).unwrap();
    let whole = aiex_sessions::fold(id, &store.events(id).unwrap());
    assert_eq!(again.messages, whole.messages);
    assert_eq!(again.proposals, whole.proposals);
    assert_eq!(again.next_turn(), 3);
    // A session deleted is not served from memory.
    store.delete(id).unwrap();
    assert!(matches!(store.session(id), Err(StoreError::NoSession(_))));
}

#[test]
fn an_event_for_a_missing_session_is_refused() {
    let (_dir, store) = store();
    let error = store
        .append(42, &Event::EditApplied { proposal: 1 })
        .unwrap_err();
    assert!(matches!(error, StoreError::NoSession(42)), "{error}");
}

/// Applies an "AI edit": checkpoint first, then write, then note what the edit left.
fn ai_edit(
    store: &SessionStore,
    files: &mut std::collections::BTreeMap<String, String>,
    path: &str,
    new: &str,
) -> i64 {
    let before = files.get(path).cloned();
    let checkpoint = store
        .checkpoint(None, "edit", &[(path.to_owned(), before)])
        .unwrap();
    files.insert(path.to_owned(), new.to_owned());
    store.mark_applied(checkpoint, path, new).unwrap();
    checkpoint
}

#[test]
fn restoring_after_three_ai_edits_gives_the_first_text_back_byte_for_byte() {
    let (_dir, store) = store();
    let mut files = std::collections::BTreeMap::new();
    let original =
        "defmodule A do\r\n  def a, do: 1\r\nend\r\n# é 日本\n\u{feff}tail without newline";
    files.insert("/w/lib/a.ex".to_owned(), original.to_owned());
    let first = ai_edit(
        &store,
        &mut files,
        "/w/lib/a.ex",
        "defmodule A do\r\n  def a, do: 2\r\nend\r\n",
    );
    ai_edit(
        &store,
        &mut files,
        "/w/lib/a.ex",
        "defmodule A do\n  def a, do: 3\nend\n",
    );
    let third = ai_edit(
        &store,
        &mut files,
        "/w/lib/a.ex",
        "defmodule A do\n  def a, do: 3\n  def b, do: 4\nend\n",
    );
    // A file the third edit created: restoring the first checkpoint does not know it; restoring
    // the third's removes it.
    let created = store
        .checkpoint(None, "new file", &[("/w/test/a_test.exs".into(), None)])
        .unwrap();
    store
        .mark_applied(created, "/w/test/a_test.exs", "test")
        .unwrap();
    files.insert("/w/test/a_test.exs".into(), "test".into());

    let current = |path: &str| files.get(path).cloned();
    let plan = store.restore_plan(first, current, false).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].text.as_deref(), Some(original));
    assert_eq!(
        store
            .checkpoint_text(third, "/w/lib/a.ex")
            .unwrap()
            .as_deref(),
        Some("defmodule A do\n  def a, do: 3\nend\n")
    );
    let plan = store
        .restore_plan(created, |p: &str| files.get(p).cloned(), false)
        .unwrap();
    assert_eq!(plan[0].text, None);

    let diff = store
        .compare(first, "/w/lib/a.ex", &files["/w/lib/a.ex"])
        .unwrap();
    assert!(diff.contains("+  def b, do: 4"), "{diff}");
}

#[test]
fn restoring_refuses_when_the_file_changed_since_the_ai_edit_unless_forced() {
    let (_dir, store) = store();
    let mut files = std::collections::BTreeMap::new();
    files.insert("/w/a.ex".to_owned(), "one\n".to_owned());
    let checkpoint = ai_edit(&store, &mut files, "/w/a.ex", "two\n");
    files.insert(
        "/w/a.ex".to_owned(),
        "two\nand the user's line\n".to_owned(),
    );
    let error = store
        .restore_plan(checkpoint, |p: &str| files.get(p).cloned(), false)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("/w/a.ex changed since the last AI edit"),
        "{error}"
    );
    let plan = store
        .restore_plan(checkpoint, |p: &str| files.get(p).cloned(), true)
        .unwrap();
    assert_eq!(plan[0].text.as_deref(), Some("one\n"));
}

#[test]
fn checkpoint_retention_keeps_every_kept_checkpoint_restorable() {
    let (_dir, store) = store();
    let mut files = std::collections::BTreeMap::new();
    files.insert("/w/a.ex".to_owned(), "v0\n".to_owned());
    let mut checkpoints = Vec::new();
    for n in 1..=4 {
        checkpoints.push(ai_edit(
            &store,
            &mut files,
            "/w/a.ex",
            &format!("v{n}\nshared\n"),
        ));
    }
    let (_, removed) = store
        .retain(Retention {
            max_checkpoints: Some(2),
            ..Retention::default()
        })
        .unwrap();
    assert_eq!(removed, 2);
    assert_eq!(store.checkpoints().unwrap().len(), 2);
    assert_eq!(
        store
            .checkpoint_text(checkpoints[2], "/w/a.ex")
            .unwrap()
            .as_deref(),
        Some("v2\nshared\n")
    );
    assert_eq!(
        store
            .checkpoint_text(checkpoints[3], "/w/a.ex")
            .unwrap()
            .as_deref(),
        Some("v3\nshared\n")
    );
}

/// A small deterministic generator: the same seed gives the same log.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Writes `turns` random turns: a question, maybe context, streamed deltas then either the
/// whole answer, a stop, or nothing (as a crash leaves it), and now and then edits and
/// checkpoints. The state is read between turns, as a chat does (which writes snapshots).
fn random_turns(store: &SessionStore, id: i64, random: &mut Random, turns: u32) {
    for _ in 0..turns {
        let turn = store.session(id).unwrap().next_turn();
        store
            .append(
                id,
                &Event::UserMessage {
                    turn,
                    text: format!("question {turn}"),
                },
            )
            .unwrap();
        if random.below(2) == 0 {
            let items = vec![ContextRef {
                path: format!("lib/f{}.ex", random.below(5)),
                range: None,
                reason: "file".into(),
            }];
            store
                .append(id, &Event::ContextAttached { turn, items })
                .unwrap();
        }
        let mut text = String::new();
        for n in 0..random.below(6) {
            let piece = format!("t{n} ");
            text.push_str(&piece);
            store
                .append(id, &Event::AssistantDelta { turn, text: piece })
                .unwrap();
        }
        match random.below(6) {
            0 => {} // the process died mid-answer
            1 => {
                let reason = "cancelled".to_owned();
                store
                    .append(id, &Event::AssistantStopped { turn, reason })
                    .unwrap();
            }
            _ => {
                store.complete_answer(id, turn, &text).unwrap();
            }
        }
        if random.below(4) == 0 {
            let proposal = turn;
            let files = vec!["lib/a.ex".to_owned()];
            store
                .append(
                    id,
                    &Event::EditProposed {
                        turn,
                        proposal,
                        files,
                    },
                )
                .unwrap();
            let next = if random.below(2) == 0 {
                Event::EditApplied { proposal }
            } else {
                Event::EditRejected { proposal }
            };
            store.append(id, &next).unwrap();
        }
        if random.below(10) == 0 {
            let checkpoint = i64::from(turn);
            store
                .append(
                    id,
                    &Event::CheckpointCreated {
                        checkpoint,
                        name: "c".into(),
                    },
                )
                .unwrap();
        }
    }
}

fn snapshot_rows(path: &std::path::Path, session: i64) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM snapshots WHERE session = ?1",
        [session],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn a_session_opened_from_its_snapshot_and_the_events_after_it_folds_as_the_whole_log_does() {
    for seed in 1..=12u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.sqlite3");
        let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let id = {
            let store = SessionStore::open(&path).unwrap();
            let id = store.create("random").unwrap();
            let turns = 100 + random.below(80) as u32;
            random_turns(&store, id, &mut random, turns);
            id
        };
        assert_eq!(
            snapshot_rows(&path, id),
            1,
            "seed {seed}: a snapshot was written"
        );
        // Events after the snapshot, written by another process (no fold kept in memory).
        {
            let store = SessionStore::open(&path).unwrap();
            let turns = 1 + random.below(20) as u32;
            random_turns(&store, id, &mut random, turns);
        }
        let store = SessionStore::open(&path).unwrap();
        let opened = store.session(id).unwrap();
        let whole = aiex_sessions::fold(id, &store.events(id).unwrap());
        assert_eq!(opened, whole, "seed {seed}");
    }
}

#[test]
fn a_corrupt_or_other_format_snapshot_is_ignored_and_the_whole_log_folded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.sqlite3");
    let id = {
        let store = SessionStore::open(&path).unwrap();
        let id = store.create("snap").unwrap();
        random_turns(&store, id, &mut Random(77), 120);
        id
    };
    assert_eq!(snapshot_rows(&path, id), 1);
    let whole = {
        let store = SessionStore::open(&path).unwrap();
        aiex_sessions::fold(id, &store.events(id).unwrap())
    };
    let db = rusqlite::Connection::open(&path).unwrap();
    // A snapshot that says something else than the log: used as is, it would show.
    let wrong = serde_json::to_string(&Session {
        id,
        title: "not from the log".into(),
        events: 1,
        ..Session::default()
    })
    .unwrap();
    for (label, change) in [
        ("unreadable", "UPDATE snapshots SET body = '{not json'"),
        (
            "older format",
            "UPDATE snapshots SET format = format - 1, body = ?1",
        ),
        (
            "newer format",
            "UPDATE snapshots SET format = format + 1, body = ?1",
        ),
        (
            "past the log",
            "UPDATE snapshots SET last_seq = 1000000, body = ?1",
        ),
    ] {
        let valid: (i64, i64, String) = db
            .query_row("SELECT format, last_seq, body FROM snapshots", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        if change.contains("?1") {
            db.execute(change, [&wrong]).unwrap();
        } else {
            db.execute(change, []).unwrap();
        }
        let store = SessionStore::open(&path).unwrap();
        assert_eq!(store.session(id).unwrap(), whole, "{label} snapshot");
        drop(store);
        db.execute(
            "UPDATE snapshots SET format = ?1, last_seq = ?2, body = ?3",
            rusqlite::params![valid.0, valid.1, valid.2],
        )
        .unwrap();
    }
}

#[test]
fn deleting_a_session_deletes_its_snapshot_and_an_import_folds_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.sqlite3");
    let id = {
        // Closing the store writes the snapshot.
        let store = SessionStore::open(&path).unwrap();
        let id = store.create("snap").unwrap();
        random_turns(&store, id, &mut Random(5), 120);
        id
    };
    assert_eq!(snapshot_rows(&path, id), 1);
    let store = SessionStore::open(&path).unwrap();
    let imported = store.import(&store.export(id).unwrap()).unwrap();
    let fresh = SessionStore::open(&path).unwrap();
    let mut original = fresh.session(id).unwrap();
    let copy = fresh.session(imported).unwrap();
    original.id = imported;
    assert_eq!(copy, original);
    store.delete(id).unwrap();
    assert_eq!(snapshot_rows(&path, id), 0);
}
