//! Checkpoints: the text of the files an AI edit is about to change, recorded before it is
//! applied, each as a Myers line diff against the file's previous checkpoint (the whole text
//! the first time). Restoring gives the recorded bytes back; it refuses, unless forced, when a
//! file no longer holds what the last AI edit left in it (the user changed it since).

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diff::{self, Op};
use crate::store::{now_ms, truncate_wal, SessionStore, StoreError};
use crate::SessionId;

/// A file as a checkpoint saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointFile {
    /// The file's absolute path.
    pub path: String,
    /// Whether it existed (an AI edit may create a file: restoring then removes it).
    pub existed: bool,
}

/// A checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub id: i64,
    pub session: Option<SessionId>,
    pub name: String,
    pub created_ms: i64,
    pub files: Vec<CheckpointFile>,
}

/// What restoring a checkpoint puts in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub path: String,
    /// The text to write; `None`: the file did not exist, remove it.
    pub text: Option<String>,
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl SessionStore {
    /// Records `files` (absolute path, text or `None` when absent) before an AI edit; returns
    /// the checkpoint's id.
    pub fn checkpoint(
        &self,
        session: Option<SessionId>,
        name: &str,
        files: &[(String, Option<String>)],
    ) -> Result<i64, StoreError> {
        // The previous text of each file, to diff against, read before the write transaction.
        let mut rows = Vec::with_capacity(files.len());
        for (path, text) in files {
            let previous = self.latest_for(path, i64::MAX)?;
            let current = text.as_deref().unwrap_or("");
            let (base, ops) = match previous {
                Some((base_id, base_text)) => (Some(base_id), diff::diff(&base_text, current)),
                None => (None, vec![Op::Insert(current.to_owned())]),
            };
            let body = serde_json::to_string(&ops).expect("diff ops serialise");
            rows.push((path.clone(), base, body, text.is_some()));
        }
        let name = name.to_owned();
        self.with(|db| {
            let tx = db.transaction()?;
            tx.execute(
                "INSERT INTO checkpoints (session, name, created_ms) VALUES (?1, ?2, ?3)",
                params![session, name, now_ms()],
            )?;
            let id = tx.last_insert_rowid();
            for (path, base, body, existed) in &rows {
                tx.execute(
                    "INSERT INTO checkpoint_files (checkpoint, path, base, body, existed)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, path, base, body, existed],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
    }

    /// Notes what the AI edit taken after `checkpoint` left in `path`: restoring later checks
    /// the file still holds it.
    pub fn mark_applied(
        &self,
        checkpoint: i64,
        path: &str,
        text_after: &str,
    ) -> Result<(), StoreError> {
        let hash = hash(text_after);
        let updated = self.with(|db| {
            db.execute(
                "UPDATE checkpoint_files SET after_hash = ?3 WHERE checkpoint = ?1 AND path = ?2",
                params![checkpoint, path, hash],
            )
        })?;
        if updated == 0 {
            return Err(StoreError::Checkpoint {
                checkpoint,
                message: format!("it did not record {path}"),
            });
        }
        Ok(())
    }

    /// The checkpoints, newest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.with(|db| {
            let mut statement = db.prepare(
                "SELECT id, session, name, created_ms FROM checkpoints ORDER BY id DESC",
            )?;
            let mut checkpoints = statement
                .query_map([], |row| {
                    Ok(Checkpoint {
                        id: row.get(0)?,
                        session: row.get(1)?,
                        name: row.get(2)?,
                        created_ms: row.get(3)?,
                        files: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut files = db.prepare(
                "SELECT path, existed FROM checkpoint_files WHERE checkpoint = ?1 ORDER BY path",
            )?;
            for checkpoint in &mut checkpoints {
                checkpoint.files = files
                    .query_map([checkpoint.id], |row| {
                        Ok(CheckpointFile {
                            path: row.get(0)?,
                            existed: row.get(1)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(checkpoints)
        })
    }

    /// The text `checkpoint` recorded for `path` (`None` when the file did not exist).
    pub fn checkpoint_text(
        &self,
        checkpoint: i64,
        path: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .file_row(checkpoint, path)?
            .ok_or_else(|| StoreError::Checkpoint {
                checkpoint,
                message: format!("it did not record {path}"),
            })?;
        let text = self.reconstruct(checkpoint, path)?;
        Ok(row.existed.then_some(text))
    }

    /// A unified diff from what `checkpoint` recorded for `path` to `current`.
    pub fn compare(
        &self,
        checkpoint: i64,
        path: &str,
        current: &str,
    ) -> Result<String, StoreError> {
        self.compare_with(checkpoint, path, current, "now")
    }

    /// A unified diff from what `checkpoint` recorded for `path` to `other`, named `other_name`
    /// in the header (`now`, `checkpoint 7`).
    pub fn compare_with(
        &self,
        checkpoint: i64,
        path: &str,
        other: &str,
        other_name: &str,
    ) -> Result<String, StoreError> {
        let recorded = self.checkpoint_text(checkpoint, path)?.unwrap_or_default();
        Ok(similar::TextDiff::from_lines(recorded.as_str(), other)
            .unified_diff()
            .header(
                &format!("{path} (checkpoint {checkpoint})"),
                &format!("{path} ({other_name})"),
            )
            .to_string())
    }

    /// What restoring `checkpoint` writes, given each file's current text (`None`: absent).
    /// Refuses when a file differs from what the last AI edit of it left, unless `force`.
    pub fn restore_plan(
        &self,
        checkpoint: i64,
        current: impl Fn(&str) -> Option<String>,
        force: bool,
    ) -> Result<Vec<Restored>, StoreError> {
        let files = self
            .checkpoints()?
            .into_iter()
            .find(|c| c.id == checkpoint)
            .ok_or(StoreError::NoCheckpoint(checkpoint))?
            .files;
        let mut plan = Vec::with_capacity(files.len());
        for file in files {
            let now = current(&file.path);
            if !force {
                if let Some(expected) = self.last_after_hash(&file.path, checkpoint)? {
                    let actual = now.as_deref().map(hash);
                    if actual.as_deref() != Some(expected.as_str()) {
                        return Err(StoreError::Checkpoint {
                            checkpoint,
                            message: format!(
                                "{} changed since the last AI edit of it; restoring would lose \
                                 those changes (compare first, or force the restore)",
                                file.path
                            ),
                        });
                    }
                }
            }
            plan.push(Restored {
                text: self.checkpoint_text(checkpoint, &file.path)?,
                path: file.path,
            });
        }
        Ok(plan)
    }

    /// Deletes `checkpoint` and every later one (after it was restored, their edits are
    /// undone).
    pub fn forget_checkpoints_from(&self, checkpoint: i64) -> Result<(), StoreError> {
        self.with(|db| {
            db.execute("DELETE FROM checkpoints WHERE id >= ?1", [checkpoint])?;
            truncate_wal(db)
        })
    }

    /// Keeps the `keep` newest checkpoints. A later checkpoint diffed against a deleted one is
    /// rewritten as whole text first, so every kept checkpoint still restores.
    pub(crate) fn keep_newest_checkpoints(&self, keep: usize) -> Result<usize, StoreError> {
        let doomed: Vec<i64> = self
            .checkpoints()?
            .into_iter()
            .skip(keep)
            .map(|c| c.id)
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        for &id in &doomed {
            let dependants: Vec<(i64, String)> = self.with(|db| {
                let mut statement =
                    db.prepare("SELECT checkpoint, path FROM checkpoint_files WHERE base = ?1")?;
                let rows = statement.query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect()
            })?;
            for (checkpoint, path) in dependants {
                let text = self.reconstruct(checkpoint, &path)?;
                let body = serde_json::to_string(&[Op::Insert(text)]).expect("diff ops serialise");
                self.with(|db| {
                    db.execute(
                        "UPDATE checkpoint_files SET base = NULL, body = ?3
                         WHERE checkpoint = ?1 AND path = ?2",
                        params![checkpoint, path, body],
                    )
                })?;
            }
            self.with(|db| db.execute("DELETE FROM checkpoints WHERE id = ?1", [id]))?;
        }
        self.with(truncate_wal)?;
        Ok(doomed.len())
    }

    /// The newest checkpoint of `path` before `before`, with its text.
    fn latest_for(&self, path: &str, before: i64) -> Result<Option<(i64, String)>, StoreError> {
        let id: Option<i64> = self.with(|db| {
            db.query_row(
                "SELECT checkpoint FROM checkpoint_files WHERE path = ?1 AND checkpoint < ?2
                 ORDER BY checkpoint DESC LIMIT 1",
                params![path, before],
                |row| row.get(0),
            )
            .optional()
        })?;
        match id {
            Some(id) => Ok(Some((id, self.reconstruct(id, path)?))),
            None => Ok(None),
        }
    }

    /// What the newest AI edit of `path` at or after `checkpoint` left in it, as a hash.
    fn last_after_hash(&self, path: &str, checkpoint: i64) -> Result<Option<String>, StoreError> {
        self.with(|db| {
            db.query_row(
                "SELECT after_hash FROM checkpoint_files
                 WHERE path = ?1 AND checkpoint >= ?2 AND after_hash IS NOT NULL
                 ORDER BY checkpoint DESC LIMIT 1",
                params![path, checkpoint],
                |row| row.get(0),
            )
            .optional()
        })
    }

    fn file_row(&self, checkpoint: i64, path: &str) -> Result<Option<FileRow>, StoreError> {
        self.with(|db| {
            db.query_row(
                "SELECT base, body, existed FROM checkpoint_files WHERE checkpoint = ?1 AND path = ?2",
                params![checkpoint, path],
                |row| {
                    Ok(FileRow {
                        base: row.get(0)?,
                        body: row.get(1)?,
                        existed: row.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    /// The text recorded for `path` at `checkpoint`: the chain of diffs from the last whole
    /// text, applied oldest first.
    fn reconstruct(&self, checkpoint: i64, path: &str) -> Result<String, StoreError> {
        let corrupt = |message: String| StoreError::Checkpoint {
            checkpoint,
            message,
        };
        let mut chain = Vec::new();
        let mut at = Some(checkpoint);
        while let Some(id) = at {
            let row = self
                .file_row(id, path)?
                .ok_or_else(|| corrupt(format!("the record of {path} it builds on is missing")))?;
            // Bases are always older checkpoints, so the walk ends.
            at = row.base.filter(|&base| base < id);
            chain.push(row.body);
        }
        let mut text = String::new();
        for body in chain.iter().rev() {
            let ops: Vec<Op> = serde_json::from_str(body)
                .map_err(|error| corrupt(format!("the record of {path} is unreadable: {error}")))?;
            text = diff::apply(&text, &ops)
                .ok_or_else(|| corrupt(format!("the record of {path} does not fit its base")))?;
        }
        Ok(text)
    }
}

struct FileRow {
    base: Option<i64>,
    body: String,
    existed: bool,
}
