//! Conversations that survive restarts, and a way back from every AI edit.
//!
//! - [`SessionStore`]: one SQLite database (WAL) holding an append-only log of [`Event`]s per
//!   session. The state of a session ([`Session`]) is a fold of its events ([`fold`]); a
//!   process killed in the middle of an answer leaves its streamed deltas in the log, and the
//!   fold shows that answer as interrupted.
//! - [`checkpoint`]: the text of files before an AI edit, stored as a Myers line diff against
//!   the file's previous checkpoint; restored byte for byte, refusing when the file changed
//!   since the edit unless forced.
//!
//! Architecture invariant: no protocol, engine or provider dependency. Events in, state out;
//! the caller decides where the database lives (never a workspace file).

pub mod checkpoint;
mod diff;
mod event;
mod fold;
mod store;

pub use checkpoint::{Checkpoint, CheckpointFile, Restored};
pub use event::{ContextRef, Event, EventRecord};
pub use fold::{fold, Message, Proposal, ProposalState, Role, Session};
pub use store::{Retention, SessionStore, SessionSummary, StoreError};

/// A session's identity: the database row id.
pub type SessionId = i64;
