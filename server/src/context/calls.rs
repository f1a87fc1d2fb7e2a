//! Resolution of a call to the function it reaches: through the current module's aliases and
//! `__MODULE__` for remote calls; in the current module, then its imports, for local calls.

use tree_sitter::Tree;

use super::sources::{SourceFile, Sources};
use crate::chunks::{Call, DirectiveKind, FunctionChunk, FunctionKind, ModuleChunk};

/// A resolved callee.
pub(crate) struct Callee<'a> {
    /// The file defining it.
    pub file: SourceFile<'a>,
    /// Its module's full name.
    pub module: String,
    /// The function.
    pub function: FunctionChunk,
}

/// The function `call` (made inside `current`) reaches, if the workspace defines it.
pub(crate) fn resolve<'a>(
    sources: &Sources<'a>,
    current: Option<&ModuleChunk>,
    call: &Call,
) -> Option<Callee<'a>> {
    if let Some(written) = &call.module {
        let full = current.map_or_else(|| written.clone(), |m| m.expand_alias(written));
        return lookup(sources, &full, call, true);
    }
    let current = current?;
    if let Some(function) = current.function(&call.name, call.arity) {
        if let Some(file) = sources.module_file(&current.name) {
            return Some(Callee {
                file,
                module: current.name.clone(),
                function: function.clone(),
            });
        }
    }
    current
        .directives
        .iter()
        .filter(|d| d.kind == DirectiveKind::Import)
        .find_map(|d| lookup(sources, &d.module, call, false))
}

/// `module.name/arity` in the workspace; private functions only when `allow_private` (a call
/// through `__MODULE__` or the module's own name may reach them, an import never does).
fn lookup<'a>(
    sources: &Sources<'a>,
    module: &str,
    call: &Call,
    allow_private: bool,
) -> Option<Callee<'a>> {
    let file = sources.module_file(module)?;
    let function = file
        .module(module)?
        .function(&call.name, call.arity)
        .filter(|f| allow_private || !f.kind.is_private())?
        .clone();
    Some(Callee {
        file,
        module: module.to_owned(),
        function,
    })
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
