//! Hover documentation: what the workspace knows about the function or module under the cursor.
//!
//! The target is read from the tree (a local call, a remote call through an alias, a capture,
//! a definition's name, a module alias) and resolved against the chunks of the known files.

use tree_sitter::{Node, Tree};

use crate::chunks::{ByteRange, Doc, FileChunks, FunctionChunk, ModuleChunk};
use crate::semantics;
use crate::syntax::node_text;

/// What the cursor points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoverTarget {
    /// A function, called or defined: `module` as written (`None` for a local call).
    Function {
        /// The module as written before the dot (`Repo`, `MyApp.Repo`, `__MODULE__`).
        module: Option<String>,
        /// The function name.
        name: String,
        /// The number of arguments, when the call site shows it.
        arity: Option<usize>,
    },
    /// A module name.
    Module {
        /// The alias as written.
        name: String,
    },
}

/// A hover's content.
#[derive(Debug, Clone, PartialEq)]
pub struct HoverDoc {
    /// Markdown to show.
    pub markdown: String,
    /// The source range the hover is about.
    pub range: ByteRange,
    /// The function hovered, when it resolved to one: its module's name and its chunk.
    pub function: Option<(String, FunctionChunk)>,
}

/// Everything hover needs: the file under the cursor and the other files known.
pub struct HoverContext<'a> {
    /// The document's text.
    pub source: &'a str,
    /// Its tree.
    pub tree: &'a Tree,
    /// Its chunks.
    pub chunks: &'a FileChunks,
    /// Where the modules of the other known files are found.
    pub workspace: &'a (dyn ModuleLookup + Sync),
}

/// Where hover finds a module defined in another file than the document's: asked by name,
/// so a holder of many files (the index, which keeps them packed) unpacks only the one file
/// a hover reads.
pub trait ModuleLookup {
    /// The chunks of the file defining module `name`.
    fn file_defining(&self, name: &str) -> Option<std::sync::Arc<FileChunks>>;
}

/// A list of files, looked through in order.
impl ModuleLookup for Vec<std::sync::Arc<FileChunks>> {
    fn file_defining(&self, name: &str) -> Option<std::sync::Arc<FileChunks>> {
        self.iter()
            .find(|file| file.all_modules().iter().any(|m| m.name == name))
            .cloned()
    }
}

/// The hover at `offset`, or `None` when nothing known is there.
pub fn hover(context: &HoverContext<'_>, offset: usize) -> Option<HoverDoc> {
    let (target, range) = target_at(context.tree, context.source, offset)?;
    let scopes = semantics::scopes_at(context.chunks, offset);
    let mut resolved = None;
    let markdown = match &target {
        HoverTarget::Module { name } => {
            let full = semantics::expand(&scopes, name);
            render_module(&*find_module(context, &full)?)
        }
        HoverTarget::Function {
            module,
            name,
            arity,
        } => {
            let (owner, function) = semantics::resolve_call(
                &scopes,
                module.as_deref(),
                name,
                *arity,
                |module, allow_private| {
                    let owner = find_module(context, module)?;
                    let function =
                        semantics::find_function(&owner, name, *arity, allow_private)?.clone();
                    Some((owner, function))
                },
            )?;
            let markdown = render_function(&owner, &function);
            resolved = Some((owner.into_owned().name, function));
            markdown
        }
    };
    Some(HoverDoc {
        markdown,
        range,
        function: resolved,
    })
}

/// Reads what the identifier or alias at `offset` refers to.
pub fn target_at(tree: &Tree, source: &str, offset: usize) -> Option<(HoverTarget, ByteRange)> {
    let root = tree.root_node();
    let node = root
        .named_descendant_for_byte_range(offset, offset)
        .filter(|n| matches!(n.kind(), "identifier" | "alias"))
        .or_else(|| {
            // A cursor right after a name still hovers it.
            let before = offset.checked_sub(1)?;
            root.named_descendant_for_byte_range(before, before)
        })
        .filter(|n| matches!(n.kind(), "identifier" | "alias"))?;
    let range = ByteRange::of(node);
    let text = node_text(node, source).to_owned();
    if node.kind() == "alias" {
        return Some((
            HoverTarget::Module {
                name: module_path_until(node, source),
            },
            range,
        ));
    }
    let parent = node.parent()?;
    // `Mod.fun(...)`: the identifier is the right side of a dot that is a call's target.
    if parent.kind() == "dot" && parent.child_by_field_name("right") == Some(node) {
        let module = parent
            .child_by_field_name("left")
            .map(|l| node_text(l, source).to_owned());
        let call = parent.parent().filter(|p| p.kind() == "call");
        let arity = call
            .map(|c| call_arity(c, source))
            .or_else(|| capture_arity(parent, source));
        return Some((
            HoverTarget::Function {
                module,
                name: text,
                arity,
            },
            range,
        ));
    }
    if parent.kind() == "call" && parent.child_by_field_name("target") == Some(node) {
        if is_definition_keyword(&text) {
            return None;
        }
        return Some((
            HoverTarget::Function {
                module: None,
                name: text,
                arity: Some(call_arity(parent, source)),
            },
            range,
        ));
    }
    // `&fun/2`: a capture of a local function.
    if let Some(arity) = capture_arity(node, source) {
        return Some((
            HoverTarget::Function {
                module: None,
                name: text,
                arity: Some(arity),
            },
            range,
        ));
    }
    // `def name, do: ...` or a bare pipe step `|> name`: treat the identifier as a local function.
    let in_definition_head = parent.kind() == "arguments"
        && parent
            .parent()
            .and_then(|call| call.child_by_field_name("target"))
            .is_some_and(|t| is_definition_keyword(node_text(t, source)));
    if in_definition_head {
        return Some((
            HoverTarget::Function {
                module: None,
                name: text,
                arity: Some(0),
            },
            range,
        ));
    }
    None
}

fn is_definition_keyword(text: &str) -> bool {
    crate::chunks::FunctionKind::from_keyword(text).is_some()
}

/// The number of arguments of a call, counting the piped-in one.
fn call_arity(call: Node<'_>, source: &str) -> usize {
    let mut arity = call
        .named_children(&mut call.walk())
        .find(|c| c.kind() == "arguments")
        .map(|args| {
            args.named_children(&mut args.walk())
                .filter(|a| a.kind() != "comment")
                .count()
        })
        .unwrap_or(0);
    let piped = call.parent().is_some_and(|p| {
        p.kind() == "binary_operator"
            && p.child_by_field_name("right") == Some(call)
            && p.child_by_field_name("operator")
                .is_some_and(|op| node_text(op, source) == "|>")
    });
    if piped {
        arity += 1;
    }
    arity
}

/// The arity of `&name/arity` when `node` is the captured name (or dot).
fn capture_arity(node: Node<'_>, source: &str) -> Option<usize> {
    let slash = node.parent().filter(|p| p.kind() == "binary_operator")?;
    if slash.child_by_field_name("left") != Some(node)
        || slash
            .child_by_field_name("operator")
            .map(|op| node_text(op, source))
            != Some("/")
    {
        return None;
    }
    let capture = slash.parent().filter(|p| p.kind() == "unary_operator")?;
    if capture
        .child_by_field_name("operator")
        .map(|op| node_text(op, source))
        != Some("&")
    {
        return None;
    }
    node_text(slash.child_by_field_name("right")?, source)
        .parse()
        .ok()
}

/// For an alias inside a dotted module name, the name up to and including it.
fn module_path_until(alias: Node<'_>, source: &str) -> String {
    node_text(alias, source).to_owned()
}

/// The module `name`: the document's own, else a copy of another file's.
fn find_module<'a>(
    context: &'a HoverContext<'_>,
    name: &str,
) -> Option<std::borrow::Cow<'a, ModuleChunk>> {
    let own = context
        .chunks
        .all_modules()
        .into_iter()
        .find(|m| m.name == name);
    if let Some(module) = own {
        return Some(std::borrow::Cow::Borrowed(module));
    }
    let file = context.workspace.file_defining(name)?;
    let module = file
        .all_modules()
        .into_iter()
        .find(|m| m.name == name)?
        .clone();
    Some(std::borrow::Cow::Owned(module))
}

/// Markdown for a function: its heads, specs and documentation.
pub fn render_function(owner: &ModuleChunk, function: &FunctionChunk) -> String {
    let mut out = format!("**{}.{}**\n\n```elixir\n", owner.name, function.label());
    out.push_str(&function.clause_heads(3));
    for spec in &function.specs {
        out.push_str(&format!("@spec {spec}\n"));
    }
    out.push_str("```\n");
    match &function.doc {
        Some(Doc::Text(text)) => out.push_str(&format!("\n{text}\n")),
        Some(Doc::Hidden) => out.push_str("\n*Hidden from documentation (`@doc false`).*\n"),
        None => {}
    }
    out
}

/// Markdown for a module: its name and `@moduledoc`.
pub fn render_module(module: &ModuleChunk) -> String {
    let mut out = format!("**{}**\n", module.name);
    if let Some(Doc::Text(text)) = &module.moduledoc {
        out.push_str(&format!("\n{text}\n"));
    }
    let public = module
        .functions
        .iter()
        .filter(|f| !f.kind.is_private())
        .count();
    out.push_str(&format!("\n*{public} public functions and macros.*\n"));
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::chunks::extract;
    use crate::syntax::parse_str;

    const ACCOUNTS: &str =
        include_str!("../../../../../fixtures/sample_app/lib/sample_app/accounts.ex");
    const REPO: &str = include_str!("../../../../../fixtures/sample_app/lib/sample_app/repo.ex");
    const GUARDS: &str =
        include_str!("../../../../../fixtures/sample_app/lib/sample_app/guards.ex");

    fn chunks_of(source: &str) -> Arc<FileChunks> {
        Arc::new(extract(&parse_str(source).expect("parse"), source))
    }

    /// Hovers at the first occurrence of `needle` (offset `delta` into it) in ACCOUNTS.
    fn hover_at(needle: &str, delta: usize) -> Option<HoverDoc> {
        let tree = parse_str(ACCOUNTS).expect("parse");
        let chunks = extract(&tree, ACCOUNTS);
        let workspace = vec![chunks_of(REPO), chunks_of(GUARDS)];
        let context = HoverContext {
            source: ACCOUNTS,
            tree: &tree,
            chunks: &chunks,
            workspace: &workspace,
        };
        let offset = ACCOUNTS.find(needle).expect("needle") + delta;
        hover(&context, offset)
    }

    #[test]
    fn remote_call_through_an_alias_shows_spec_and_doc_from_another_file() {
        let doc = hover_at("Repo.insert(user)", 6).expect("hover");
        assert!(
            doc.markdown.starts_with("**SampleApp.Repo.insert/1**"),
            "{}",
            doc.markdown
        );
        assert!(doc
            .markdown
            .contains("@spec insert(struct()) :: {:ok, struct()}"));
        assert!(doc.markdown.contains("Inserts a record."));
        assert_eq!(&ACCOUNTS[doc.range.start..doc.range.end], "insert");
    }

    #[test]
    fn local_recursive_call_resolves_by_arity_through_defaults() {
        let doc = hover_at("fetch(id, attempts - 1)", 1).expect("hover");
        assert!(
            doc.markdown.contains("SampleApp.Accounts.fetch/2"),
            "{}",
            doc.markdown
        );
        assert!(doc
            .markdown
            .contains("def fetch(id, attempts \\\\ @max_attempts)"));
    }

    #[test]
    fn definition_name_and_imported_guard_are_hoverable() {
        let doc = hover_at("def register(%{email", 5).expect("hover");
        assert!(doc.markdown.contains("Registers a user from `attrs`."));
        let guard = hover_at("is_email(email) do", 2).expect("hover");
        assert!(
            guard.markdown.contains("SampleApp.Guards.is_email/1"),
            "{}",
            guard.markdown
        );
    }

    #[test]
    fn aliases_show_the_module_doc_and_unknown_names_show_nothing() {
        let doc = hover_at("Repo.insert(user)", 1).expect("hover");
        assert!(
            doc.markdown
                .contains("An in-memory stand-in for a database."),
            "{}",
            doc.markdown
        );
        assert_eq!(
            hover_at("Mailer.deliver_welcome", 9),
            None,
            "Mailer's file is not known here"
        );
        assert_eq!(hover_at("{:ok, user}", 1), None);
    }
}
