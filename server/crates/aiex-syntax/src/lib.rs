//! Elixir syntax for Aiex: tree-sitter parsing, the semantic chunks of a file (modules,
//! functions, docs, specs, calls), the one secret detector, and the workspace walker.
//!
//! Architecture invariant: no LSP, no network, no model; nothing here knows documents or
//! the engine. Byte ranges only.

pub mod chunks;
pub mod secrets;
pub mod syntax;
pub mod walk;
