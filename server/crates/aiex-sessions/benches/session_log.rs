//! Figures for the session log: opening (reading and folding) a session of 10,000 events, and
//! what the log adds to one chat turn of that session (reading its state as `Engine::chat`
//! does, user message, context, 50 streamed deltas, the compaction into one answer). Targets:
//! < 50 ms to open, < 1 ms per turn.
//! Run: `cargo bench -p aiex-sessions --bench session_log`.

use std::time::Instant;

use aiex_sessions::{ContextRef, Event, SessionStore};

/// Returns the time the log adds before the request is sent and after the answer ends (the
/// deltas are written while the next piece is on the network).
fn turn(store: &SessionStore, id: i64) -> [std::time::Duration; 3] {
    let started = Instant::now();
    // What `Engine::chat` reads before a turn: the next turn's number and the last messages.
    let (turn, history) = store
        .with_session(id, |s| {
            let recent: Vec<String> = s
                .messages
                .iter()
                .rev()
                .take(8)
                .map(|m| m.text.clone())
                .collect();
            (s.next_turn(), recent)
        })
        .unwrap();
    assert!(!history.is_empty());
    let read = started.elapsed();
    store
        .append(
            id,
            &Event::UserMessage {
                turn,
                text: "How does this module handle errors?".into(),
            },
        )
        .unwrap();
    store
        .append(
            id,
            &Event::ContextAttached {
                turn,
                items: vec![ContextRef {
                    path: "lib/app/accounts.ex".into(),
                    range: None,
                    reason: "file".into(),
                }],
            },
        )
        .unwrap();
    let before = started.elapsed() - read;
    let mut answer = String::new();
    for n in 0..50 {
        let piece = format!("token{n} ");
        answer.push_str(&piece);
        store
            .append(id, &Event::AssistantDelta { turn, text: piece })
            .unwrap();
    }
    let finishing = Instant::now();
    store.complete_answer(id, turn, &answer).unwrap();
    [read, before, finishing.elapsed()]
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SessionStore::open(&dir.path().join("sessions.sqlite3")).expect("open");
    let id = store.create("bench").unwrap();
    // 10,000 events: 3,333 turns of user message + context + answer (deltas compacted).
    let mut n: u32 = 0;
    // One event at creation, three per turn.
    while 1 + 3 * n < 10_000 {
        n += 1;
        store
            .append(
                id,
                &Event::UserMessage {
                    turn: n,
                    text: "a question of some length about the code".repeat(2),
                },
            )
            .unwrap();
        store
            .append(
                id,
                &Event::ContextAttached {
                    turn: n,
                    items: vec![ContextRef {
                        path: "lib/a.ex".into(),
                        range: Some((0, 10)),
                        reason: "selection".into(),
                    }],
                },
            )
            .unwrap();
        store
            .complete_answer(id, n, &"an answer of a few sentences. ".repeat(8))
            .unwrap();
        if n % 500 == 0 {
            eprint!(".");
        }
    }
    let events = store.events(id).unwrap().len();
    drop(store);

    let path = dir.path().join("sessions.sqlite3");
    let median = |mut ms: Vec<f64>| {
        ms.sort_by(f64::total_cmp);
        (ms[ms.len() / 2], ms[ms.len() - 1])
    };
    // Without a snapshot (a database written before snapshots, or one whose snapshot is of
    // another format): the whole log is read and folded, and the snapshot written.
    let mut full_ms = Vec::new();
    for _ in 0..5 {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute("DELETE FROM snapshots", []).unwrap();
        drop(db);
        let started = Instant::now();
        let store = SessionStore::open(&path).unwrap();
        let session = store.session(id).unwrap();
        full_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(session.events, events);
    }
    // The usual open: the snapshot written by the last open or close, nothing after it.
    let mut open_ms = Vec::new();
    for _ in 0..9 {
        let started = Instant::now();
        let store = SessionStore::open(&path).unwrap();
        let session = store.session(id).unwrap();
        open_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(session.events, events);
    }
    let (full, full_max) = median(full_ms);
    let (open, open_max) = median(open_ms);
    println!(
        "FIGURE open a session of {events} events (open database, read snapshot + fold the rest): median {open:.1} ms, max {open_max:.1} ms (target < 50 ms) {}",
        if open < 50.0 { "MET" } else { "MISSED" }
    );
    println!("  without a snapshot (whole log read and folded, snapshot written): median {full:.1} ms, max {full_max:.1} ms");

    let store = SessionStore::open(&dir.path().join("sessions.sqlite3")).unwrap();
    // The first read folds the whole log; every turn after reads what was written since.
    store.session(id).unwrap();
    let turns = 200;
    let started = Instant::now();
    let mut parts = [std::time::Duration::ZERO; 3];
    for _ in 1..=turns {
        for (sum, part) in parts.iter_mut().zip(turn(&store, id)) {
            *sum += part;
        }
    }
    let [read, before, after] = parts.map(|part| part.as_secs_f64() * 1e3 / f64::from(turns));
    let critical = read + before + after;
    let per_turn = started.elapsed().as_secs_f64() * 1e3 / f64::from(turns);
    println!(
        "FIGURE log time added to a chat turn of that session (its state read, user message and context before the request, compaction after): {critical:.3} ms (target < 1 ms) {}",
        if critical < 1.0 { "MET" } else { "MISSED" }
    );
    println!("  of which: state read {read:.3} ms, user message and context {before:.3} ms, answer compaction {after:.3} ms");
    println!("all log writes of a turn incl. 50 streamed deltas (overlapping the network): {per_turn:.3} ms");
}
