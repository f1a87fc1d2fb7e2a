//! The AI features' protocol surface that is not a code action: the status and usage
//! commands. Completions, hover explanations and actions are engine calls
//! (`crate::engine`); the handlers in `server.rs` and `actions.rs` only convert.

/// The commands `workspace/executeCommand` accepts besides the code actions.
pub const COMMANDS: &[&str] = &["aiex.status", "aiex.usage"];
