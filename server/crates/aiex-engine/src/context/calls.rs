//! Resolution of a call to the function it reaches: through the current module's aliases and
//! `__MODULE__` for remote calls; in the current module, then its imports, for local calls.

use tree_sitter::Tree;

use super::sources::{SourceFile, Sources};
use crate::chunks::{Call, DirectiveKind, FileChunks, FunctionChunk, FunctionKind, ModuleChunk};

/// A resolved callee.
pub(crate) struct Callee<'a> {
    /// The file defining it.
    pub file: SourceFile<'a>,
    /// Its module's full name.
    pub module: String,
    /// The function.
    pub function: FunctionChunk,
}

/// The modules lexically around `offset`, innermost first: a nested module sees the aliases
/// and imports of the modules around it.
pub(crate) fn scopes_at(chunks: &FileChunks, offset: usize) -> Vec<&ModuleChunk> {
    let mut scopes = Vec::new();
    let mut level = &chunks.modules;
    while let Some(module) = level.iter().find(|m| m.range.contains(offset)) {
        scopes.push(module);
        level = &module.modules;
    }
    scopes.reverse();
    scopes
}

/// A module name as written, expanded through the aliases of the innermost scope that knows
/// it (and `__MODULE__`).
pub(crate) fn expand(scopes: &[&ModuleChunk], written: &str) -> String {
    scopes
        .iter()
        .map(|scope| scope.expand_alias(written))
        .find(|expanded| expanded != written)
        .unwrap_or_else(|| written.to_owned())
}

/// The function `call` (made inside `scopes`, innermost first) reaches, if the workspace
/// defines it.
pub(crate) fn resolve<'a>(
    sources: &Sources<'a>,
    scopes: &[&ModuleChunk],
    call: &Call,
) -> Option<Callee<'a>> {
    if let Some(written) = &call.module {
        return lookup(sources, &expand(scopes, written), call, true);
    }
    let current = scopes.first()?;
    if let Some(function) = current.function(&call.name, call.arity) {
        if let Some(file) = sources.module_file(&current.name) {
            return Some(Callee {
                file,
                module: current.name.clone(),
                function: function.clone(),
            });
        }
    }
    scopes
        .iter()
        .flat_map(|scope| scope.directives.iter())
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

/// Whether an `import` directive brings `name/arity` in, from its `only:` and `except:` lists
/// (`only: [valid_email?: 1]`, `only: :functions`, `except: [helper: 2]`).
pub(crate) fn import_allows(directive_text: &str, name: &str, arity: usize) -> bool {
    let listed = |key: &str| -> Option<bool> {
        let rest = &directive_text[directive_text.find(key)? + key.len()..];
        let rest = rest.trim_start();
        if rest.starts_with(":functions") {
            return Some(true);
        }
        if rest.starts_with(":macros") {
            return Some(false);
        }
        let list = &rest[rest.find('[')? + 1..rest.find(']')?];
        Some(list.split(',').any(|pair| {
            let mut parts = pair.split(':').map(str::trim);
            parts.next() == Some(name) && parts.next().and_then(|a| a.parse().ok()) == Some(arity)
        }))
    };
    if let Some(included) = listed("only:") {
        return included;
    }
    !listed("except:").unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_only_and_except_lists_filter_functions() {
        let only = "import Shop.Validation, only: [valid_email?: 1, require_fields: 2]";
        assert!(import_allows(only, "valid_email?", 1));
        assert!(import_allows(only, "require_fields", 2));
        assert!(!import_allows(only, "require_fields", 1));
        assert!(!import_allows(only, "positive_quantity", 1));
        assert!(import_allows("import Shop.Formatting", "format_price", 2));
        assert!(!import_allows(
            "import F, except: [format_date: 1]",
            "format_date",
            1
        ));
        assert!(import_allows(
            "import F, except: [format_date: 1]",
            "format_price",
            2
        ));
        assert!(import_allows(
            "import F, only: :functions",
            "format_price",
            2
        ));
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
