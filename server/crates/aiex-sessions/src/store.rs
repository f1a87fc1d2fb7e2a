//! The database: sessions and their event logs, checkpoints and their file diffs, in one
//! SQLite file in WAL mode. A write is one short transaction; with `synchronous = NORMAL` a
//! committed event survives the process being killed (it is in the WAL, in the OS's hands),
//! which is what crash recovery needs, without an fsync per streamed delta.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::event::{Event, EventRecord};
use crate::fold::Session;
use crate::SessionId;

/// The largest export [`SessionStore::import`] reads: a log is text, and a file larger than
/// this is not one of ours.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// What went wrong with the database or an import, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session database {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("could not create the directory of the session database {path}: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no session {0}")]
    NoSession(SessionId),
    #[error("no checkpoint {0}")]
    NoCheckpoint(i64),
    #[error("import: line {line}: {message}")]
    Import { line: usize, message: String },
    #[error("checkpoint {checkpoint}: {message}")]
    Checkpoint { checkpoint: i64, message: String },
}

/// How long sessions and checkpoints are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete sessions not touched for this many days.
    pub max_age_days: Option<u32>,
    /// Keep at most this many sessions (the most recently updated).
    pub max_sessions: Option<usize>,
    /// Keep at most this many checkpoints (the newest).
    pub max_checkpoints: Option<usize>,
}

/// One line of a session list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    pub id: SessionId,
    pub title: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub events: i64,
}

/// The session database. Share it behind an `Arc`: every method takes `&self` and holds the
/// connection only for its own statements (never across an await: there are none here).
#[derive(Debug)]
pub struct SessionStore {
    pub(crate) path: PathBuf,
    pub(crate) connection: Mutex<Connection>,
    /// The folded state of the sessions read lately, each with the last event folded: the next
    /// read folds only the events written since (a chat turn does not refold the whole log).
    folds: Mutex<Folds>,
    /// Statements run since the last checkpoint of the WAL.
    since_checkpoint: std::sync::atomic::AtomicU32,
}

/// A streamed delta checkpoints the WAL once this many statements ran since the last one:
/// deltas are written while the next piece is on the network, off a turn's critical path.
const CHECKPOINT_WHILE_STREAMING: u32 = 100;

/// Any statement checkpoints past this many, so the WAL stays bounded in a process that
/// writes without streaming answers (SQLite also checkpoints when the last connection closes).
const CHECKPOINT_BOUND: u32 = 2000;

/// The sessions whose fold is kept, at most [`KEPT_FOLDS`], least recently read dropped first.
#[derive(Debug, Default)]
struct Folds {
    sessions: HashMap<SessionId, KeptFold>,
    reads: u64,
}

#[derive(Debug)]
struct KeptFold {
    session: Session,
    last_seq: i64,
    /// How many of the folded events the stored snapshot of this session covers.
    snapshot_events: usize,
    /// The last event folded is a streamed delta (see [`KeptFold::snapshot_due`]).
    streaming: bool,
    read: u64,
}

/// The format of a stored snapshot (the JSON of [`Session`]): bump it when `Session` changes
/// shape, and snapshots of another version are ignored and rewritten from the log.
const SNAPSHOT_FORMAT: i64 = 1;

/// A tail worth a new snapshot: a read that had to fold this many events (opening a session
/// whose snapshot is old or absent) writes one, and so does closing the store.
const SNAPSHOT_TAIL: usize = 256;

/// The longest tail a session open in this process lets grow before a read writes a snapshot
/// (a `kill -9` skips the snapshot written on close). Serialising a 10,000-event fold costs
/// a few milliseconds, so a chat turn pays it about once in a thousand turns.
const SNAPSHOT_BOUND: usize = 3000;

impl KeptFold {
    /// Whether the fold should be stored as the session's snapshot, having folded `tail`
    /// events in this read. Never in the middle of an answer: its deltas are about to be
    /// replaced by one event, and a snapshot holding them would fold differently from the
    /// compacted log.
    fn snapshot_due(&self, tail: usize, bound: usize) -> bool {
        let since = self.session.events - self.snapshot_events;
        !self.streaming && since > 0 && (tail >= SNAPSHOT_TAIL || since >= bound)
    }
}

/// Folds kept in memory: the sessions open in editors and terminals at once.
const KEPT_FOLDS: usize = 16;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
-- Checkpoints (copying the WAL into the database, with an fsync) are run by the store while an
-- answer streams, not by whichever commit crosses SQLite's threshold: that commit was often
-- the one completing an answer, and made it cost milliseconds (see `SessionStore::append`).
PRAGMA wal_autocheckpoint = 0;
PRAGMA foreign_keys = ON;
PRAGMA secure_delete = ON;
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    turn INTEGER,
    body TEXT NOT NULL,
    PRIMARY KEY (session, seq)
) WITHOUT ROWID;
-- The streamed pieces of answers, found without reading the log when an answer completes.
CREATE INDEX IF NOT EXISTS events_deltas ON events(session, turn) WHERE kind = 'assistant_delta';
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    session INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoint_files (
    checkpoint INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    base INTEGER,
    body TEXT NOT NULL,
    existed INTEGER NOT NULL,
    after_hash TEXT,
    PRIMARY KEY (checkpoint, path)
);
CREATE INDEX IF NOT EXISTS checkpoint_files_by_path ON checkpoint_files(path, checkpoint);
-- The fold of a session up to event `last_seq`, so that opening a long session reads it and
-- folds only the events after. A cache: the log stays the truth (export reads the log, and a
-- snapshot of another format, unreadable, or past the log is ignored and rewritten).
CREATE TABLE IF NOT EXISTS snapshots (
    session INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    format INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
";

impl Drop for SessionStore {
    /// Stores the folds read in this process that are well past their snapshot, so that the
    /// next process opens them from there.
    fn drop(&mut self) {
        let folds = std::mem::take(
            self.folds
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (id, mut kept) in folds.sessions {
            // Brought up to date first: the last read may predate a turn's events.
            let Ok(records) = self.events_after(id, kept.last_seq) else {
                continue;
            };
            for record in &records {
                kept.session.apply(record.at_ms, &record.event);
                kept.last_seq = record.seq;
            }
            if let Some(last) = records.last() {
                kept.streaming = matches!(last.event, Event::AssistantDelta { .. });
            }
            if kept.snapshot_due(0, SNAPSHOT_TAIL) {
                let _ = self.write_snapshot(&kept.session, kept.last_seq);
            }
        }
    }
}

impl SessionStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Directory {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let wrap = |source| StoreError::Database {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open(path).map_err(wrap)?;
        // The command line and the server may write at once: wait for the other's short
        // transaction rather than fail.
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(wrap)?;
        connection.execute_batch(SCHEMA).map_err(wrap)?;
        Ok(Self {
            path: path.to_path_buf(),
            connection: Mutex::new(connection),
            folds: Mutex::default(),
            since_checkpoint: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn with<T>(
        &self,
        run: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock leaves a connection SQLite has already rolled back.
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ran = self
            .since_checkpoint
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if ran >= CHECKPOINT_BOUND {
            self.checkpoint_wal(&connection);
        }
        run(&mut connection).map_err(|source| StoreError::Database {
            path: self.path.clone(),
            source,
        })
    }

    /// Copies the WAL into the database as far as readers allow (PASSIVE: never waits). A
    /// failure leaves the WAL longer, nothing lost: the next one retries.
    fn checkpoint_wal(&self, db: &Connection) {
        if db
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .is_ok()
        {
            self.since_checkpoint
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Starts a session; its first event records `title`.
    pub fn create(&self, title: &str) -> Result<SessionId, StoreError> {
        let now = now_ms();
        let title = title.to_owned();
        self.with(|db| {
            let tx = db.transaction()?;
            tx.execute(
                "INSERT INTO sessions (title, created_ms) VALUES (?1, ?2)",
                params![title, now],
            )?;
            let id = tx.last_insert_rowid();
            insert(&tx, id, now, &Event::SessionCreated { title })?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// Appends an event to a session's log; returns its sequence number.
    pub fn append(&self, session: SessionId, event: &Event) -> Result<i64, StoreError> {
        let now = now_ms();
        // One statement, so atomic on its own: no BEGIN and COMMIT to parse and run for each
        // streamed delta.
        let streaming = matches!(event, Event::AssistantDelta { .. });
        let result = self.with(|db| {
            let seq = insert(db, session, now, event)?;
            if streaming
                && self
                    .since_checkpoint
                    .load(std::sync::atomic::Ordering::Relaxed)
                    >= CHECKPOINT_WHILE_STREAMING
            {
                self.checkpoint_wal(db);
            }
            Ok(seq)
        });
        self.missing_session(session, result)
    }

    /// Records a completed answer: the turn's streamed deltas are replaced by one
    /// [`Event::AssistantText`], in one transaction (a crash leaves one or the other).
    pub fn complete_answer(
        &self,
        session: SessionId,
        turn: u32,
        text: &str,
    ) -> Result<i64, StoreError> {
        let now = now_ms();
        let event = Event::AssistantText {
            turn,
            text: text.to_owned(),
        };
        let result = self.with(|db| {
            let tx = db.transaction()?;
            // Inserted before the deltas go: its sequence number is then above theirs, so a
            // reader that folded up to a delta still reads the answer as new.
            let seq = insert(&tx, session, now, &event)?;
            // Through the index of deltas: SQLite's planner, without statistics, would read
            // the whole log of the session instead (6 ms at 10,000 events).
            tx.execute(
                "DELETE FROM events INDEXED BY events_deltas
                 WHERE session = ?1 AND kind = 'assistant_delta' AND turn = ?2",
                params![session, turn],
            )?;
            tx.commit()?;
            Ok(seq)
        });
        self.missing_session(session, result)
    }

    /// A session's log, in order.
    pub fn events(&self, session: SessionId) -> Result<Vec<EventRecord>, StoreError> {
        self.events_after(session, 0)
    }

    /// The events of a session's log after sequence number `after`, in order.
    fn events_after(&self, session: SessionId, after: i64) -> Result<Vec<EventRecord>, StoreError> {
        let rows = self.with(|db| {
            // One statement: the session's row (absent: no such session) joined to its events.
            let mut statement = db.prepare_cached(
                "SELECT e.seq, e.at_ms, e.body FROM sessions s
                 LEFT JOIN events e ON e.session = s.id AND e.seq > ?2
                 WHERE s.id = ?1 ORDER BY e.seq",
            )?;
            let mut rows = statement.query(params![session, after])?;
            let mut records = Vec::new();
            let mut exists = false;
            while let Some(row) = rows.next()? {
                exists = true;
                let Some(seq) = row.get::<_, Option<i64>>(0)? else {
                    continue;
                };
                let at_ms: i64 = row.get(1)?;
                // Parsed from the row's bytes in place: no copy of each body.
                let body = row.get_ref(2)?.as_bytes()?;
                let event = serde_json::from_slice(body).map_err(|error| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        format!("session {session}: event {seq} is unreadable: {error}").into(),
                    )
                })?;
                records.push(EventRecord { seq, at_ms, event });
            }
            Ok(exists.then_some(records))
        })?;
        rows.ok_or(StoreError::NoSession(session))
    }

    /// A session's state: the fold of its log. Folded once, then only for the events written
    /// since the last read (by this process or another).
    pub fn session(&self, session: SessionId) -> Result<Session, StoreError> {
        self.with_session(session, Session::clone)
    }

    /// Runs `view` on a session's state (see [`SessionStore::session`]) without copying it.
    pub fn with_session<T>(
        &self,
        session: SessionId,
        view: impl FnOnce(&Session) -> T,
    ) -> Result<T, StoreError> {
        let mut folds = self
            .folds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        folds.reads += 1;
        let read = folds.reads;
        let mut kept = match folds.sessions.remove(&session) {
            Some(kept) => kept,
            None => {
                let (session, last_seq) = self.snapshot(session)?.unwrap_or_else(|| {
                    let empty = Session {
                        id: session,
                        ..Session::default()
                    };
                    (empty, 0)
                });
                KeptFold {
                    snapshot_events: session.events,
                    session,
                    last_seq,
                    streaming: false,
                    read,
                }
            }
        };
        let records = self.events_after(session, kept.last_seq)?;
        for record in &records {
            kept.session.apply(record.at_ms, &record.event);
            kept.last_seq = record.seq;
        }
        if let Some(last) = records.last() {
            kept.streaming = matches!(last.event, Event::AssistantDelta { .. });
        }
        if kept.snapshot_due(records.len(), SNAPSHOT_BOUND) {
            // A snapshot that cannot be written only costs the next open a longer fold; not
            // retried at every read either.
            let _ = self.write_snapshot(&kept.session, kept.last_seq);
            kept.snapshot_events = kept.session.events;
        }
        kept.read = read;
        let result = view(&kept.session);
        if folds.sessions.len() >= KEPT_FOLDS {
            let oldest = folds
                .sessions
                .iter()
                .min_by_key(|(_, fold)| fold.read)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                folds.sessions.remove(&oldest);
            }
        }
        folds.sessions.insert(session, kept);
        Ok(result)
    }

    /// The stored snapshot of a session and the last event it covers, when there is one of
    /// this format that reads back and whose last event is still in the log.
    fn snapshot(&self, session: SessionId) -> Result<Option<(Session, i64)>, StoreError> {
        let stored = self.with(|db| {
            let mut statement = db.prepare_cached(
                "SELECT p.format, p.last_seq, p.body FROM snapshots p
                 JOIN events e ON e.session = p.session AND e.seq = p.last_seq
                 WHERE p.session = ?1",
            )?;
            let mut rows = statement.query([session])?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            let format: i64 = row.get(0)?;
            let last_seq: i64 = row.get(1)?;
            if format != SNAPSHOT_FORMAT {
                return Ok(None);
            }
            let parsed = serde_json::from_slice::<Session>(row.get_ref(2)?.as_bytes()?);
            Ok(parsed.ok().map(|folded| (folded, last_seq)))
        })?;
        Ok(stored.filter(|(folded, last_seq)| {
            folded.id == session && *last_seq > 0 && folded.events > 0
        }))
    }

    /// Stores `folded`, the fold of a session up to event `last_seq`, as its snapshot.
    fn write_snapshot(&self, folded: &Session, last_seq: i64) -> Result<(), StoreError> {
        let body = serde_json::to_string(folded).expect("sessions serialise");
        self.with(|db| {
            db.prepare_cached(
                "INSERT OR REPLACE INTO snapshots (session, format, last_seq, body)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![folded.id, SNAPSHOT_FORMAT, last_seq, body])?;
            Ok(())
        })
    }

    /// Forgets the kept folds (after sessions were deleted, or events rewritten).
    fn forget_folds(&self) {
        self.folds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .sessions
            .clear();
    }

    /// The sessions, most recently updated first.
    pub fn list(&self) -> Result<Vec<SessionSummary>, StoreError> {
        self.with(|db| {
            let mut statement = db.prepare(
                "SELECT s.id, s.title, s.created_ms, MAX(e.at_ms), COUNT(e.seq)
                 FROM sessions s LEFT JOIN events e ON e.session = s.id
                 GROUP BY s.id ORDER BY 4 DESC, s.id DESC",
            )?;
            let rows = statement.query_map([], |row| {
                Ok(SessionSummary {
                    id: row.get(0)?,
                    title: row.get(1)?,
                    created_ms: row.get(2)?,
                    updated_ms: row.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    events: row.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Deletes a session and its log for good: freed pages are zeroed (`secure_delete`) and
    /// the WAL, which still holds the old pages, is checkpointed and truncated.
    pub fn delete(&self, session: SessionId) -> Result<(), StoreError> {
        self.forget_folds();
        let deleted = self.with(|db| {
            let deleted = db.execute("DELETE FROM sessions WHERE id = ?1", [session])?;
            truncate_wal(db)?;
            Ok(deleted)
        })?;
        if deleted == 0 {
            return Err(StoreError::NoSession(session));
        }
        Ok(())
    }

    /// A session as JSON lines, one [`EventRecord`] a line.
    pub fn export(&self, session: SessionId) -> Result<String, StoreError> {
        let mut out = String::new();
        for record in self.events(session)? {
            out.push_str(&serde_json::to_string(&record).expect("events serialise"));
            out.push('\n');
        }
        Ok(out)
    }

    /// Imports an export as a new session (all of it, or nothing); returns its id.
    pub fn import(&self, jsonl: &str) -> Result<SessionId, StoreError> {
        if jsonl.len() > MAX_IMPORT_BYTES {
            return Err(StoreError::Import {
                line: 0,
                message: format!(
                    "{} bytes is more than an export can be ({MAX_IMPORT_BYTES} bytes)",
                    jsonl.len()
                ),
            });
        }
        let mut records = Vec::new();
        for (index, line) in jsonl.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: EventRecord =
                serde_json::from_str(line).map_err(|error| StoreError::Import {
                    line: index + 1,
                    message: format!("not an Aiex session event: {error}"),
                })?;
            records.push(record);
        }
        let title = match records.first().map(|r| &r.event) {
            Some(Event::SessionCreated { title }) => title.clone(),
            _ => {
                return Err(StoreError::Import {
                    line: 1,
                    message: "an export starts with a session_created event".to_owned(),
                })
            }
        };
        let created = records.first().map_or(0, |r| r.at_ms);
        self.with(|db| {
            let tx = db.transaction()?;
            tx.execute(
                "INSERT INTO sessions (title, created_ms) VALUES (?1, ?2)",
                params![title, created],
            )?;
            let id = tx.last_insert_rowid();
            for record in &records {
                insert(&tx, id, record.at_ms, &record.event)?;
            }
            tx.commit()?;
            Ok(id)
        })
    }

    /// Deletes what `retention` no longer keeps; returns the sessions and checkpoints removed.
    pub fn retain(&self, retention: Retention) -> Result<(usize, usize), StoreError> {
        self.retain_at(retention, now_ms())
    }

    /// [`SessionStore::retain`] as if it were `now_ms` (milliseconds since the Unix epoch).
    pub fn retain_at(&self, retention: Retention, now: i64) -> Result<(usize, usize), StoreError> {
        // A session's last write is its last event's (found through the primary key, not by
        // reading the whole log).
        let sessions = self.with(|db| {
            let mut removed = 0;
            if let Some(days) = retention.max_age_days {
                let cutoff = now.saturating_sub(i64::from(days) * 86_400_000);
                removed += db.execute(
                    "DELETE FROM sessions WHERE (SELECT at_ms FROM events
                     WHERE session = sessions.id ORDER BY seq DESC LIMIT 1) < ?1",
                    [cutoff],
                )?;
            }
            if let Some(keep) = retention.max_sessions {
                removed += db.execute(
                    "DELETE FROM sessions WHERE id NOT IN
                     (SELECT id FROM sessions ORDER BY (SELECT at_ms FROM events
                      WHERE session = sessions.id ORDER BY seq DESC LIMIT 1) DESC, id DESC
                      LIMIT ?1)",
                    [i64::try_from(keep).unwrap_or(i64::MAX)],
                )?;
            }
            Ok(removed)
        })?;
        let checkpoints = match retention.max_checkpoints {
            Some(keep) => self.keep_newest_checkpoints(keep)?,
            None => 0,
        };
        if sessions + checkpoints > 0 {
            self.forget_folds();
            // What was deleted is gone from the WAL too.
            self.with(truncate_wal)?;
        }
        Ok((sessions, checkpoints))
    }

    fn missing_session<T>(
        &self,
        session: SessionId,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match result {
            // The foreign key refused an event for a session that does not exist.
            Err(StoreError::Database {
                source: rusqlite::Error::SqliteFailure(error, _),
                ..
            }) if error.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::NoSession(session))
            }
            other => other,
        }
    }
}

/// Inserts an event at the end of a session's log.
fn insert(tx: &Connection, session: SessionId, at_ms: i64, event: &Event) -> rusqlite::Result<i64> {
    let body = serde_json::to_string(event).expect("events serialise");
    let (kind, turn) = kind_and_turn(event);
    let seq = tx
        .prepare_cached(
            "INSERT INTO events (session, seq, at_ms, kind, turn, body)
         SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5 FROM events WHERE session = ?1
         RETURNING seq",
        )?
        .query_row(params![session, at_ms, kind, turn, body], |row| row.get(0))?;
    Ok(seq)
}

fn kind_and_turn(event: &Event) -> (&'static str, Option<u32>) {
    match event {
        Event::SessionCreated { .. } => ("session_created", None),
        Event::UserMessage { turn, .. } => ("user_message", Some(*turn)),
        Event::ContextAttached { turn, .. } => ("context_attached", Some(*turn)),
        Event::AssistantDelta { turn, .. } => ("assistant_delta", Some(*turn)),
        Event::AssistantText { turn, .. } => ("assistant_text", Some(*turn)),
        Event::AssistantStopped { turn, .. } => ("assistant_stopped", Some(*turn)),
        Event::EditProposed { turn, .. } => ("edit_proposed", Some(*turn)),
        Event::EditApplied { .. } => ("edit_applied", None),
        Event::EditRejected { .. } => ("edit_rejected", None),
        Event::CheckpointCreated { .. } => ("checkpoint_created", None),
        Event::CheckpointRestored { .. } => ("checkpoint_restored", None),
    }
}

pub(crate) fn truncate_wal(db: &mut Connection) -> rusqlite::Result<()> {
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
