//! A way back from every AI edit: the entry points call [`Engine::checkpoint_before_ai_edit`]
//! before they apply one (chat proposals and code actions alike), note what the edit left,
//! and restore through [`Engine::restore_plan`], which refuses when a file changed since.

use std::path::{Path, PathBuf};

use crate::document::DocumentKey;
use crate::sessions::{Event, Restored, SessionId};

use super::{AiError, Engine, FileEdit};

/// A file an AI edit is about to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiEditFile {
    /// Its absolute path.
    pub path: PathBuf,
    /// Its text now (the editor's when open); `None` when the edit creates it.
    pub before: Option<String>,
}

impl AiEditFile {
    /// The file an engine edit changes, with the text the edit was computed against.
    pub fn of_edit(edit: &FileEdit) -> Option<Self> {
        Some(Self {
            path: edit.key.path()?.to_path_buf(),
            before: Some(edit.base.to_string()),
        })
    }
}

/// A checkpoint taken before an AI edit, with what the edit will leave in each file.
#[derive(Debug, Clone)]
pub struct PendingCheckpoint {
    pub id: i64,
    /// Each file's absolute path and its text after the edit.
    pub files: Vec<(PathBuf, String)>,
}

/// What changed in one file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointDiff {
    /// The file's absolute path.
    pub path: String,
    /// A unified diff (empty when the file is the same).
    pub diff: String,
}

fn store_error(error: impl std::fmt::Display) -> AiError {
    AiError::Io(format!("checkpoints: {error}"))
}

impl Engine {
    /// Records `files` as they are before an AI edit; returns the checkpoint to pass to
    /// [`Engine::note_ai_edit_applied`] once the edit is in.
    pub fn checkpoint_before_ai_edit(
        &self,
        session: Option<SessionId>,
        name: &str,
        files: &[AiEditFile],
    ) -> Result<i64, AiError> {
        let store = self.sessions()?;
        let rows: Vec<(String, Option<String>)> = files
            .iter()
            .map(|f| (f.path.display().to_string(), f.before.clone()))
            .collect();
        let checkpoint = store
            .checkpoint(session, name, &rows)
            .map_err(store_error)?;
        if let Some(session) = session {
            let event = Event::CheckpointCreated {
                checkpoint,
                name: name.to_owned(),
            };
            store.append(session, &event).map_err(store_error)?;
        }
        Ok(checkpoint)
    }

    /// Records the file `edit` changes before it is applied (one call for every AI edit an
    /// entry point applies); pass the result to [`Engine::note_edit_applied`] once it is in.
    pub fn checkpoint_edit(
        &self,
        session: Option<SessionId>,
        edit: &FileEdit,
    ) -> Result<Option<PendingCheckpoint>, AiError> {
        self.checkpoint_edits(session, &edit.label, std::slice::from_ref(edit))
    }

    /// Records the files an edit of several changes (a chat proposal) in one checkpoint, so
    /// one restore undoes all of it. `None` when no edit is of a file (unsaved buffers: the
    /// editor's undo covers them).
    pub fn checkpoint_edits(
        &self,
        session: Option<SessionId>,
        name: &str,
        edits: &[FileEdit],
    ) -> Result<Option<PendingCheckpoint>, AiError> {
        let mut files = Vec::new();
        let mut afters = Vec::new();
        for edit in edits {
            let Some(file) = AiEditFile::of_edit(edit) else {
                continue;
            };
            let mut after = edit.base.clone();
            let start = after.byte_to_char(edit.range.start);
            let end = after.byte_to_char(edit.range.end);
            after.remove(start..end);
            after.insert(start, &edit.new_text);
            afters.push((file.path.clone(), after.to_string()));
            files.push(file);
        }
        if files.is_empty() {
            return Ok(None);
        }
        let id = self.checkpoint_before_ai_edit(session, name, &files)?;
        Ok(Some(PendingCheckpoint { id, files: afters }))
    }

    /// Records that `path`, absent now, is about to be created by an AI edit (Generate tests):
    /// restoring the checkpoint removes it again.
    pub fn checkpoint_file_creation(
        &self,
        name: &str,
        path: &Path,
        text: &str,
    ) -> Result<PendingCheckpoint, AiError> {
        let file = AiEditFile {
            path: path.to_path_buf(),
            before: None,
        };
        let id = self.checkpoint_before_ai_edit(None, name, &[file])?;
        Ok(PendingCheckpoint {
            id,
            files: vec![(path.to_path_buf(), text.to_owned())],
        })
    }

    /// Notes that the edit after `pending` was applied.
    pub fn note_edit_applied(&self, pending: &PendingCheckpoint) -> Result<(), AiError> {
        for (path, after) in &pending.files {
            self.note_ai_edit_applied(pending.id, path, after)?;
        }
        Ok(())
    }

    /// Notes what the edit after `checkpoint` left in `path` (restores check it is still there).
    pub fn note_ai_edit_applied(
        &self,
        checkpoint: i64,
        path: &Path,
        text_after: &str,
    ) -> Result<(), AiError> {
        self.sessions()?
            .mark_applied(checkpoint, &path.display().to_string(), text_after)
            .map_err(store_error)
    }

    /// The text of a file now: the editor's when it is open, else the disk's (`None`: absent).
    pub fn current_text(&self, path: &Path) -> Option<String> {
        match self.open_text(&DocumentKey::file(path)) {
            Some((rope, _)) => Some(rope.to_string()),
            None => std::fs::read_to_string(path).ok(),
        }
    }

    /// What restoring `checkpoint` writes; refuses (with the file named) when a file changed
    /// since the AI edit, unless `force`. The caller writes the files, then calls
    /// [`Engine::note_restored`].
    pub fn restore_plan(&self, checkpoint: i64, force: bool) -> Result<Vec<Restored>, AiError> {
        self.sessions()?
            .restore_plan(checkpoint, |path| self.current_text(Path::new(path)), force)
            .map_err(|error| AiError::NotApplicable(error.to_string()))
    }

    /// What changed in each file of `checkpoint` since it was taken (`against: None`: the file
    /// now, the editor's text when open), or between it and checkpoint `against` (the files
    /// both recorded): one unified diff per file, empty when nothing changed.
    pub fn checkpoint_diff(
        &self,
        checkpoint: i64,
        against: Option<i64>,
    ) -> Result<Vec<CheckpointDiff>, AiError> {
        let store = self.sessions()?;
        let checkpoints = store.checkpoints().map_err(store_error)?;
        let find = |id: i64| {
            checkpoints
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| AiError::NotApplicable(format!("there is no checkpoint {id}")))
        };
        let files = &find(checkpoint)?.files;
        let other = against.map(find).transpose()?;
        let mut diffs = Vec::with_capacity(files.len());
        for file in files {
            let (text, name) = match other {
                None => (
                    self.current_text(Path::new(&file.path)).unwrap_or_default(),
                    "now".to_owned(),
                ),
                Some(other) => {
                    if !other.files.iter().any(|f| f.path == file.path) {
                        continue;
                    }
                    let text = store
                        .checkpoint_text(other.id, &file.path)
                        .map_err(store_error)?
                        .unwrap_or_default();
                    (text, format!("checkpoint {}", other.id))
                }
            };
            let diff = store
                .compare_with(checkpoint, &file.path, &text, &name)
                .map_err(store_error)?;
            diffs.push(CheckpointDiff {
                path: file.path.clone(),
                diff,
            });
        }
        Ok(diffs)
    }

    /// The newest checkpoint: the one `aiex.undoLastAiEdit` restores.
    pub fn last_checkpoint(&self) -> Result<i64, AiError> {
        self.sessions()?
            .checkpoints()
            .map_err(store_error)?
            .first()
            .map(|c| c.id)
            .ok_or_else(|| AiError::NotApplicable("there is no AI edit to undo".to_owned()))
    }

    /// Records a restore in the session of the checkpoint, if it has one, and forgets the
    /// checkpoints from it on: their edits are undone, and the next undo goes one further back.
    pub fn note_restored(&self, checkpoint: i64) -> Result<(), AiError> {
        let store = self.sessions()?;
        let session = store
            .checkpoints()
            .map_err(store_error)?
            .into_iter()
            .find(|c| c.id == checkpoint)
            .and_then(|c| c.session);
        if let Some(session) = session {
            store
                .append(session, &Event::CheckpointRestored { checkpoint })
                .map_err(store_error)?;
        }
        store
            .forget_checkpoints_from(checkpoint)
            .map_err(store_error)
    }
}
