//! Aiex: an AI assistant for Elixir, served as a language server.
//!
//! This crate is the `aiex` binary's library: the protocol layer (`lsp`), the command line
//! (`cli`) and logging, over the engine in `aiex-engine`. See ARCHITECTURE.md at the
//! repository root for the map of crates and their invariants.

pub mod cli;
pub mod lifecycle;
pub mod logging;
pub mod lsp;

pub use aiex_engine::{
    ai, checks, chunks, config, context, document, engine, features, index, llm, metrics, team,
};
pub use aiex_engine::{secrets, sessions, syntax, walk};
