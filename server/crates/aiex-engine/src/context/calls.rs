//! The calls the context engine follows: the calls near the cursor, a remote call being typed,
//! and their resolution to a function in the context's sources (by the rule of
//! [`crate::semantics`]).

use tree_sitter::Tree;

use super::sources::{SourceFile, Sources};
use crate::chunks::{Call, FunctionChunk, FunctionKind, ModuleChunk};
use crate::semantics;

/// A resolved callee.
pub(crate) struct Callee<'a> {
    /// The file defining it.
    pub file: SourceFile<'a>,
    /// Its module's full name.
    pub module: String,
    /// The function.
    pub function: FunctionChunk,
}

/// The function `call` (made inside `scopes`, innermost first) reaches, if the workspace
/// defines it: the rule is [`semantics::resolve_call`]'s, the files are the context's sources.
pub(crate) fn resolve<'a>(
    sources: &Sources<'a>,
    scopes: &[&ModuleChunk],
    call: &Call,
) -> Option<Callee<'a>> {
    semantics::resolve_call(
        scopes,
        call.module.as_deref(),
        &call.name,
        Some(call.arity),
        |module, allow_private| {
            let file = sources.module_file(module)?;
            let function = semantics::find_function(
                file.module(module)?,
                &call.name,
                Some(call.arity),
                allow_private,
            )?
            .clone();
            Some(Callee {
                file,
                module: module.to_owned(),
                function,
            })
        },
    )
}

/// The calls of the definition around `cursor`, read from the tree, when no function chunk
/// holds the cursor (a definition the user is still typing, or code outside any function).
pub(crate) fn calls_near(tree: &Tree, text: &str, cursor: usize) -> Vec<Call> {
    let Some(mut node) = tree
        .root_node()
        .named_descendant_for_byte_range(cursor, cursor)
    else {
        return Vec::new();
    };
    loop {
        let is_definition = node.kind() == "call"
            && node
                .child_by_field_name("target")
                .and_then(|t| t.utf8_text(text.as_bytes()).ok())
                .is_some_and(|name| FunctionKind::from_keyword(name).is_some());
        if is_definition {
            return crate::chunks::calls_in(node, text);
        }
        match node.parent() {
            Some(parent) => node = parent,
            None => return Vec::new(),
        }
    }
}

/// A remote call being typed: `Payments.` or `Payments.ch` right before the cursor gives the
/// module as written and the partial function name.
pub(crate) fn remote_being_typed(text: &str, cursor: usize) -> Option<(&str, &str)> {
    let line = &text[text[..cursor].rfind('\n').map_or(0, |at| at + 1)..cursor];
    let partial_start = run_start(line, is_identifier_char);
    let partial = &line[partial_start..];
    let before_dot = line[..partial_start].strip_suffix('.')?;
    let module_start = run_start(before_dot, |c| c.is_alphanumeric() || c == '_' || c == '.');
    let module = &before_dot[module_start..];
    let starts_upper = module
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase());
    (starts_upper || module == "__MODULE__").then_some((module, partial))
}

/// The identifier being typed right before the cursor (possibly empty).
pub(crate) fn partial_identifier(text: &str, cursor: usize) -> &str {
    let before = &text[..cursor];
    &before[run_start(before, is_identifier_char)..]
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '?' || c == '!'
}

/// Where the run of characters matching `within` that ends `text` starts.
fn run_start(text: &str, within: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .rev()
        .find(|&(_, c)| !within(c))
        .map_or(0, |(at, c)| at + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identifier_being_typed_is_found() {
        assert_eq!(partial_identifier("  x = valid_em", 14), "valid_em");
        assert_eq!(partial_identifier("  x = ", 6), "");
    }

    #[test]
    fn remote_calls_being_typed_are_recognised() {
        fn at_end(text: &str) -> Option<(&str, &str)> {
            remote_being_typed(text, text.len())
        }
        assert_eq!(at_end("  x <- Payments."), Some(("Payments", "")));
        assert_eq!(at_end("  Shop.Repo.ins"), Some(("Shop.Repo", "ins")));
        assert_eq!(at_end("__MODULE__.fe"), Some(("__MODULE__", "fe")));
        assert_eq!(at_end("  user.name"), None);
        assert_eq!(at_end("  insert("), None);
        assert_eq!(at_end(""), None);
        assert_eq!(at_end("x = «Payments.ch"), Some(("Payments", "ch")));
        assert_eq!(at_end("“Repo.→ins"), None);
        assert_eq!(partial_identifier("a → requ", "a → requ".len()), "requ");
        assert_eq!(partial_identifier("→", "→".len()), "");
    }
}
