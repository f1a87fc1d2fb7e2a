//! Aiex: an AI assistant for Elixir, served as a language server.
//!
//! The crate is a library (the core and the protocol layer) with a thin `aiex` binary on top.
//! See ARCHITECTURE.md at the repository root for the map of modules and their invariants.

pub mod ai;
pub mod checks;
pub mod chunks;
pub mod cli;
pub mod config;
pub mod context;
pub mod document;
pub mod features;
pub mod index;
pub mod llm;
pub mod logging;
pub mod lsp;
pub mod secrets;
pub mod syntax;
pub mod walk;
