//! The events of a session. Their JSON form is the export format, one event a line: keep it
//! stable (new variants and optional fields only).

use serde::{Deserialize, Serialize};

/// Something that happened in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Externally tagged (`{"user_message": {...}}`): parsed without buffering each event, which
// keeps opening a long session fast.
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The session began.
    SessionCreated {
        /// What the session is about (the first question, shortened).
        title: String,
    },
    /// The user asked something; `turn` numbers the exchanges from 1.
    UserMessage { turn: u32, text: String },
    /// What the model was shown with a message: files and ranges (workspace-relative).
    ContextAttached { turn: u32, items: Vec<ContextRef> },
    /// A piece of an answer as it streamed in. Replaced by one [`Event::AssistantText`] when
    /// the answer completes; left in the log when the process died first.
    AssistantDelta { turn: u32, text: String },
    /// A whole answer.
    AssistantText { turn: u32, text: String },
    /// The answer stopped before its end (cancelled, or the provider failed).
    AssistantStopped { turn: u32, reason: String },
    /// The model proposed an edit of these files.
    EditProposed {
        turn: u32,
        proposal: u32,
        files: Vec<String>,
    },
    /// The user applied a proposed edit.
    EditApplied { proposal: u32 },
    /// The user rejected a proposed edit.
    EditRejected { proposal: u32 },
    /// Files were recorded before an AI edit.
    CheckpointCreated { checkpoint: i64, name: String },
    /// Files were put back as a checkpoint recorded them.
    CheckpointRestored { checkpoint: i64 },
}

/// A piece of context a message carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextRef {
    /// Workspace-relative path (or a buffer's name).
    pub path: String,
    /// The byte range, when only part of the file was attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(usize, usize)>,
    /// Why it was attached: `file`, `selection`, `#file`, `#symbol`, `workspace`.
    pub reason: String,
}

/// An event as stored: its place in the log and when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position in the session's log (increasing, gaps where deltas were compacted).
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What happened.
    pub event: Event,
}
