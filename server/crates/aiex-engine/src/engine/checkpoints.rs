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

/// A checkpoint taken before an edit of one file, with what the edit will leave there.
#[derive(Debug, Clone)]
pub struct PendingCheckpoint {
    pub id: i64,
    pub path: PathBuf,
    pub after: String,
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
        let Some(file) = AiEditFile::of_edit(edit) else {
            // An unsaved buffer: there is no file to restore; the editor's undo covers it.
            return Ok(None);
        };
        let id =
            self.checkpoint_before_ai_edit(session, &edit.label, std::slice::from_ref(&file))?;
        let mut after = edit.base.clone();
        let start = after.byte_to_char(edit.range.start);
        let end = after.byte_to_char(edit.range.end);
        after.remove(start..end);
        after.insert(start, &edit.new_text);
        Ok(Some(PendingCheckpoint {
            id,
            path: file.path,
            after: after.to_string(),
        }))
    }

    /// Notes that the edit after `pending` was applied.
    pub fn note_edit_applied(&self, pending: &PendingCheckpoint) -> Result<(), AiError> {
        self.note_ai_edit_applied(pending.id, &pending.path, &pending.after)
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
