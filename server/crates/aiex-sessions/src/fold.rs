//! A session's state as a fold of its events: the one place that decides what a log means.

use serde::{Deserialize, Serialize};

use crate::event::{ContextRef, Event, EventRecord};
use crate::SessionId;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub turn: u32,
    pub role: Role,
    pub text: String,
    /// What the model was shown with a user message.
    pub context: Vec<ContextRef>,
    /// An answer that never completed: the process died, or it was stopped (`stopped` says
    /// why when known).
    pub interrupted: bool,
    pub stopped: Option<String>,
}

/// Where a proposed edit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Proposed,
    Applied,
    Rejected,
}

/// An edit the model proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u32,
    pub turn: u32,
    pub files: Vec<String>,
    pub state: ProposalState,
}

/// A session as its events make it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub title: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub messages: Vec<Message>,
    pub proposals: Vec<Proposal>,
    /// Checkpoints taken in this session, in order.
    pub checkpoints: Vec<(i64, String)>,
    pub restored: Vec<i64>,
    /// The number of events folded.
    pub events: usize,
}

impl Session {
    /// The number of the next turn.
    pub fn next_turn(&self) -> u32 {
        self.messages.iter().map(|m| m.turn).max().unwrap_or(0) + 1
    }
}

/// Folds a session's log, in order, into its state.
pub fn fold(id: SessionId, records: &[EventRecord]) -> Session {
    let mut session = Session {
        id,
        ..Session::default()
    };
    for record in records {
        session.apply(record.at_ms, &record.event);
    }
    session
}

impl Session {
    /// Folds one more event, written at `at_ms`, into the state: a fold continued where it
    /// stopped gives what folding the whole log gives.
    pub fn apply(&mut self, at_ms: i64, event: &Event) {
        if self.events == 0 {
            self.created_ms = at_ms;
        }
        self.events += 1;
        self.updated_ms = at_ms;
        apply(self, event);
    }
}

fn apply(session: &mut Session, event: &Event) {
    match event {
        Event::SessionCreated { title } => session.title.clone_from(title),
        Event::UserMessage { turn, text } => session.messages.push(Message {
            turn: *turn,
            role: Role::User,
            text: text.clone(),
            context: Vec::new(),
            interrupted: false,
            stopped: None,
        }),
        Event::ContextAttached { turn, items } => {
            if let Some(message) = session
                .messages
                .iter_mut()
                .rev()
                .find(|m| m.turn == *turn && m.role == Role::User)
            {
                message.context.extend(items.iter().cloned());
            }
        }
        Event::AssistantDelta { turn, text } => {
            // Deltas stay in the log only when the answer never completed.
            answer(session, *turn, true).text.push_str(text);
        }
        Event::AssistantText { turn, text } => {
            let message = answer(session, *turn, false);
            message.text.clone_from(text);
            message.interrupted = false;
        }
        Event::AssistantStopped { turn, reason } => {
            let message = answer(session, *turn, true);
            message.interrupted = true;
            message.stopped = Some(reason.clone());
        }
        Event::EditProposed {
            turn,
            proposal,
            files,
        } => session.proposals.push(Proposal {
            id: *proposal,
            turn: *turn,
            files: files.clone(),
            state: ProposalState::Proposed,
        }),
        Event::EditApplied { proposal } => set_state(session, *proposal, ProposalState::Applied),
        Event::EditRejected { proposal } => set_state(session, *proposal, ProposalState::Rejected),
        Event::CheckpointCreated { checkpoint, name } => {
            session.checkpoints.push((*checkpoint, name.clone()));
        }
        Event::CheckpointRestored { checkpoint } => session.restored.push(*checkpoint),
    }
}

/// The assistant message of `turn`, created when it is the first piece of it.
fn answer(session: &mut Session, turn: u32, interrupted: bool) -> &mut Message {
    // Searched from the end, and no further back than the turn's own messages (turns only
    // grow): the answer being written is the last message or near it, and a search of the
    // whole list for each answer would make folding a long log quadratic.
    let found = session
        .messages
        .iter()
        .enumerate()
        .rev()
        .take_while(|(_, m)| m.turn >= turn)
        .find(|(_, m)| m.turn == turn && m.role == Role::Assistant)
        .map(|(index, _)| index);
    let index = found.unwrap_or_else(|| {
        session.messages.push(Message {
            turn,
            role: Role::Assistant,
            text: String::new(),
            context: Vec::new(),
            interrupted,
            stopped: None,
        });
        session.messages.len() - 1
    });
    &mut session.messages[index]
}

fn set_state(session: &mut Session, id: u32, state: ProposalState) {
    if let Some(proposal) = session.proposals.iter_mut().rev().find(|p| p.id == id) {
        proposal.state = state;
    }
}
