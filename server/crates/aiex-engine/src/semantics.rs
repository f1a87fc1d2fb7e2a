//! The one Elixir semantic layer: which function a call reaches. Hover, the context engine and
//! explanations all resolve through here, so they never disagree about a name.
//!
//! The rule, as Elixir's lexical scoping has it: a remote call (`Alias.fun(...)`) expands its
//! module through the aliases of the innermost enclosing module that knows it (and
//! `__MODULE__`); a local call reaches the innermost module's own functions, then the functions
//! imported by any enclosing module (public ones, within the import's `only:`/`except:`). The
//! arity must match (default arguments count); only a name with no known arity (a bare name
//! under the cursor) takes the first definition of that name.

use crate::chunks::{DirectiveKind, FileChunks, FunctionChunk, ModuleChunk};

/// The modules lexically around `offset`, innermost first: a nested module sees the aliases
/// and imports of the modules around it.
pub fn scopes_at(chunks: &FileChunks, offset: usize) -> Vec<&ModuleChunk> {
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
pub fn expand(scopes: &[&ModuleChunk], written: &str) -> String {
    scopes
        .iter()
        .map(|scope| scope.expand_alias(written))
        .find(|expanded| expanded != written)
        .unwrap_or_else(|| written.to_owned())
}

/// The function `name` of `module` for `arity` (any arity when unknown), public unless
/// `allow_private`.
pub fn find_function<'m>(
    module: &'m ModuleChunk,
    name: &str,
    arity: Option<usize>,
    allow_private: bool,
) -> Option<&'m FunctionChunk> {
    module
        .functions
        .iter()
        .filter(|f| f.name == name && (allow_private || !f.kind.is_private()))
        .find(|f| arity.is_none_or(|a| f.accepts_arity(a)))
}

/// Resolves a call made inside `scopes` (innermost first): `module` as written (`None` for a
/// local call), `name` and `arity`. `lookup(module, allow_private)` finds the function in the
/// named module wherever the caller keeps its files; the first module the rule names that
/// defines it wins.
pub fn resolve_call<T>(
    scopes: &[&ModuleChunk],
    module: Option<&str>,
    name: &str,
    arity: Option<usize>,
    mut lookup: impl FnMut(&str, bool) -> Option<T>,
) -> Option<T> {
    if let Some(written) = module {
        let full = expand(scopes, written);
        // `__MODULE__.f` or a module's own name may reach its private functions.
        let own = scopes.iter().any(|scope| scope.name == full);
        return lookup(&full, own);
    }
    let current = scopes.first()?;
    if let Some(found) = lookup(&current.name, true) {
        return Some(found);
    }
    scopes
        .iter()
        .flat_map(|scope| scope.directives.iter())
        .filter(|d| d.kind == DirectiveKind::Import)
        .filter(|d| arity.is_none_or(|a| import_allows(&d.text, name, a)))
        .find_map(|d| lookup(&d.module, false))
}

/// Whether an `import` directive brings `name/arity` in, from its `only:` and `except:` lists
/// (`only: [valid_email?: 1]`, `only: :functions`, `except: [helper: 2]`).
pub fn import_allows(directive_text: &str, name: &str, arity: usize) -> bool {
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
    }

    fn chunks(source: &str) -> FileChunks {
        let tree = crate::syntax::parse_str(source).expect("parse");
        crate::chunks::extract(&tree, source)
    }

    #[test]
    fn a_nested_module_sees_the_aliases_and_imports_around_it() {
        let outer = chunks(
            "defmodule Outer do\n  alias Shop.Repo\n  import Shop.Helpers\n  defmodule Inner do\n    def go, do: Repo.all() && help(1)\n  end\nend\n",
        );
        let helpers = chunks(
            "defmodule Shop.Helpers do\n  def help(x), do: x\n  defp hidden(x), do: x\nend\n",
        );
        let offset = 90;
        let scopes = scopes_at(&outer, offset);
        assert_eq!(scopes.first().map(|m| m.name.as_str()), Some("Outer.Inner"));
        assert_eq!(expand(&scopes, "Repo"), "Shop.Repo");
        let modules = helpers.all_modules();
        let find = |module: &str, private: bool| {
            modules
                .iter()
                .find(|m| m.name == module)
                .and_then(|m| find_function(m, "help", Some(1), private))
                .map(|f| f.label())
        };
        assert_eq!(
            resolve_call(&scopes, None, "help", Some(1), find),
            Some("help/1".to_owned())
        );
        let wrong_arity = |module: &str, private: bool| {
            modules
                .iter()
                .find(|m| m.name == module)
                .and_then(|m| find_function(m, "help", Some(2), private))
                .map(|f| f.label())
        };
        assert_eq!(
            resolve_call(&scopes, None, "help", Some(2), wrong_arity),
            None
        );
    }

    #[test]
    fn an_import_never_reaches_a_private_function() {
        let helpers = chunks("defmodule Shop.Helpers do\n  defp hidden(x), do: x\nend\n");
        let module = &helpers.modules[0];
        assert!(find_function(module, "hidden", Some(1), false).is_none());
        assert!(find_function(module, "hidden", Some(1), true).is_some());
    }
}
