//! Offline features computed from documents, trees and chunks, with no LSP types.
//!
//! Architecture invariant: features take core data (ropes, trees, chunks) and return core data
//! (byte ranges, markdown); the `lsp` module converts both ways.

pub mod folding;
pub mod hover;
pub mod symbols;
