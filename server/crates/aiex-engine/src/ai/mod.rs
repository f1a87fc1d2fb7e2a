//! AI features, independent of the protocol: what to ask a model for at a cursor, how to turn
//! its answer into an edit that is safe to show, and the latency machinery around it
//! (typing rhythm, reuse of suggestions the user is typing into).
//!
//! Architecture invariant: nothing here knows LSP or talks to the network; the `lsp` layer
//! calls the provider layer with the requests built here and feeds the answers back.

pub mod actions;
pub mod completion;
pub mod rhythm;
pub mod suggestions;
