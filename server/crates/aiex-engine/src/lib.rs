//! The Aiex engine: everything an entry point (the language server, the command line, later
//! chat, Mix tasks and IEx helpers) needs, as plain calls with plain results. It owns the open
//! documents, the workspace index, the configuration, the providers, the context engine, the
//! privacy gate and the audit log.
//!
//! Architecture invariant: no protocol types. The LSP layer converts URIs and positions at
//! its edge and calls in here; nothing in this crate assembles JSON-RPC or knows an editor.

pub mod ai;
pub mod config;
pub mod context;
pub mod document;
pub mod engine;
pub mod features;
pub mod index;
pub mod memory;
pub mod metrics;
pub mod semantics;

pub use engine::Engine;

// The lower crates, re-exported so an entry point depends on one API.
pub use aiex_checks as checks;
pub use aiex_llm as llm;
pub use aiex_sessions as sessions;
pub use aiex_syntax::{chunks, secrets, syntax, walk};
pub use aiex_team as team;
