//! Turns a tree-sitter-elixir tree into [`FileChunks`].
//!
//! The walk visits module bodies statement by statement, as the compiler sees them: attributes
//! accumulate until the next definition takes them; definitions nested in `quote` blocks or in
//! function bodies are not the module's own and are skipped.

use std::collections::HashMap;

use tree_sitter::{Node, Tree};

use super::{
    Attribute, ByteRange, Clause, Directive, DirectiveKind, Doc, FileChunks, FunctionChunk,
    FunctionKind, ModuleChunk, ModuleKind, TypeChunk, TypeKind,
};
use crate::syntax::node_text;

/// Extracts the chunks of `source`, whose tree is `tree`.
///
/// ```
/// let source = "defmodule Cart do\n  @doc \"Totals.\"\n  def total(items, tax \\\\ 0), do: Enum.sum(items) + tax\nend\n";
/// let tree = aiex_syntax::syntax::parse_str(source).expect("parse");
/// let chunks = aiex_syntax::chunks::extract(&tree, source);
/// let total = &chunks.modules[0].functions[0];
/// assert_eq!((total.label().as_str(), total.defaults), ("total/2", 1));
/// assert_eq!(total.doc_summary(), Some("Totals."));
/// ```
pub fn extract(tree: &Tree, source: &str) -> FileChunks {
    let mut scope = Scope::new(source, None, 0);
    scope.visit_statements(tree.root_node());
    let (functions, modules) = scope.finish_top_level();
    FileChunks { modules, functions }
}

/// How deep blocks are followed (nested modules, conditional definitions, error-recovery
/// bodies). Real code nests a few levels; a generated file of 20,000 nested `defmodule`s would
/// otherwise overflow the stack of the walk (which recurses once per level), and its names,
/// each holding its parents', would take memory quadratic in the depth. Deeper definitions are
/// left out of the chunks, with a warning. It also keeps every later walk over the chunks
/// (outline, serialisation, drop) shallow.
pub const MAX_NESTING: usize = 32;

/// Extracts only the top-level form that contains `byte` (the module around a cursor): what a
/// request at the cursor needs, at a fraction of the cost of the whole file. The result depends
/// only on the tree, the source and [`top_level_at`]`(tree, byte)`: two places in the same
/// top-level form get the same chunks.
///
/// Hot path: runs on completion requests (the engine prepares it after a reparse).
pub fn extract_around(tree: &Tree, source: &str, byte: usize) -> FileChunks {
    let mut scope = Scope::new(source, None, 0);
    match top_level_node_at(tree, byte) {
        // A module whose body the parser could not hold together: take the whole file.
        Some(statement) if statement.kind() == "ERROR" || statement.has_error() => {
            return extract(tree, source)
        }
        Some(statement) => scope.visit_statement(statement),
        None => {}
    }
    let (functions, modules) = scope.finish_top_level();
    FileChunks { modules, functions }
}

/// The byte range of the top-level form [`extract_around`] extracts for `byte` (`None`: no
/// form holds it, and the chunks are empty).
pub fn top_level_at(tree: &Tree, byte: usize) -> Option<ByteRange> {
    top_level_node_at(tree, byte).map(ByteRange::of)
}

fn top_level_node_at(tree: &Tree, byte: usize) -> Option<Node<'_>> {
    let root = tree.root_node();
    let mut cursor = root.walk();
    let found = root
        .named_children(&mut cursor)
        .find(|statement| statement.start_byte() <= byte && byte <= statement.end_byte());
    found
}

/// Attributes that configure the module itself, never a function.
const MODULE_ONLY_ATTRIBUTES: &[&str] = &[
    "behaviour",
    "compile",
    "derive",
    "enforce_keys",
    "on_load",
    "before_compile",
    "after_compile",
    "after_verify",
    "external_resource",
    "vsn",
];

/// Attributes seen since the last definition, waiting for the definition they belong to.
#[derive(Default)]
struct Pending {
    doc: Option<Doc>,
    typedoc: Option<Doc>,
    impl_: Option<String>,
    attributes: Vec<Attribute>,
    /// Where the earliest pending attribute starts: the next chunk's range starts there.
    start: Option<usize>,
}

/// The body of one module (or the file's top level) being walked.
struct Scope<'s> {
    source: &'s str,
    module_name: Option<String>,
    moduledoc: Option<Doc>,
    directives: Vec<Directive>,
    attributes: Vec<Attribute>,
    functions: Vec<FunctionChunk>,
    /// Each function name's positions in `functions`: a clause or a spec finds its function
    /// without scanning every function (a generated module may define thousands).
    functions_named: HashMap<String, Vec<usize>>,
    specs: Vec<(String, usize, String)>,
    types: Vec<TypeChunk>,
    modules: Vec<ModuleChunk>,
    pending: Pending,
    /// How many blocks enclose this scope's statements.
    depth: usize,
}

impl<'s> Scope<'s> {
    fn new(source: &'s str, module_name: Option<String>, depth: usize) -> Self {
        Self {
            source,
            depth,
            module_name,
            moduledoc: None,
            directives: Vec::new(),
            attributes: Vec::new(),
            functions: Vec::new(),
            functions_named: HashMap::new(),
            specs: Vec::new(),
            types: Vec::new(),
            modules: Vec::new(),
            pending: Pending::default(),
        }
    }

    fn text(&self, node: Node<'_>) -> &'s str {
        node_text(node, self.source)
    }

    /// Visits the statements directly inside `block` (the root, a `do_block`, or an `ERROR`
    /// node that error recovery left in place of a body).
    fn visit_statements(&mut self, block: Node<'_>) {
        if self.depth >= MAX_NESTING {
            tracing::warn!(
                "definitions nested more than {MAX_NESTING} blocks deep (at byte {}) are left \
                 out of the outline and the AI context",
                block.start_byte()
            );
            return;
        }
        self.depth += 1;
        self.visit_statements_within(block);
        self.depth -= 1;
    }

    fn visit_statements_within(&mut self, block: Node<'_>) {
        let mut cursor = block.walk();
        let statements: Vec<Node<'_>> = block
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .collect();
        let mut previous_end: Option<usize> = None;
        let mut index = 0;
        while index < statements.len() {
            let statement = statements[index];
            // A plain attribute separated from the next statement by a blank line belongs to
            // the module, not to the definition that follows.
            if let Some(end) = previous_end {
                if has_blank_line(self.source.get(end..statement.start_byte()).unwrap_or("")) {
                    self.detach_pending_attributes();
                }
            }
            // While the user types, a module's `do` block is often broken: the parser then
            // leaves the module call bodiless and its statements in the ERROR node after it.
            let orphan_body = statements.get(index + 1).copied().filter(|next| {
                next.kind() == "ERROR"
                    && module_kind(statement, self.source).is_some()
                    && child_of_kind(statement, "do_block").is_none()
            });
            match (orphan_body, module_kind(statement, self.source)) {
                (Some(body), Some(kind)) => {
                    self.visit_module(statement, kind, Some(body));
                    index += 1;
                }
                _ if statement.kind() == "ERROR" => self.visit_statements(statement),
                _ => self.visit_statement(statement),
            }
            previous_end = Some(statements[index].end_byte());
            index += 1;
        }
    }

    fn visit_statement(&mut self, node: Node<'_>) {
        match node.kind() {
            "unary_operator" => self.visit_attribute(node),
            "call" => self.visit_call(node),
            _ => {}
        }
    }

    fn visit_call(&mut self, call: Node<'_>) {
        let Some(keyword) = call_name(call, self.source) else {
            return;
        };
        match keyword {
            "defmodule" => self.visit_module(call, ModuleKind::Module, None),
            "defprotocol" => self.visit_module(call, ModuleKind::Protocol, None),
            "defimpl" => self.visit_module(call, ModuleKind::Impl, None),
            "alias" => self.visit_directive(call, DirectiveKind::Alias),
            "import" => self.visit_directive(call, DirectiveKind::Import),
            "use" => self.visit_directive(call, DirectiveKind::Use),
            "require" => self.visit_directive(call, DirectiveKind::Require),
            // Quoted code defines functions in the caller's module, not this one.
            "quote" => {}
            _ => {
                if let Some(kind) = FunctionKind::from_keyword(keyword) {
                    self.visit_definition(call, kind);
                } else if let Some(block) = child_of_kind(call, "do_block") {
                    // Conditional definitions: `if Code.ensure_loaded?(X) do def ... end`.
                    self.visit_statements(block);
                }
            }
        }
    }

    /// Visits a module definition; `orphan_body` is the ERROR node holding its body, if the
    /// parser separated them.
    fn visit_module(&mut self, call: Node<'_>, kind: ModuleKind, orphan_body: Option<Node<'_>>) {
        let Some(arguments) = child_of_kind(call, "arguments") else {
            return;
        };
        let Some(name_node) = first_named(arguments) else {
            return;
        };
        let written = collapse_whitespace(self.text(name_node));
        let name = match (&self.module_name, written.strip_prefix("__MODULE__.")) {
            (Some(parent), Some(rest)) => format!("{parent}.{rest}"),
            (Some(parent), None) if kind == ModuleKind::Module => format!("{parent}.{written}"),
            _ => written,
        };
        let implemented_for = if kind == ModuleKind::Impl {
            keyword_value(arguments, "for", self.source).map(collapse_whitespace)
        } else {
            None
        };
        let mut inner = Scope::new(self.source, Some(name.clone()), self.depth);
        let body = child_of_kind(call, "do_block").or(orphan_body);
        if let Some(block) = body {
            inner.visit_statements(block);
        }
        let range = ByteRange {
            start: call.start_byte(),
            end: body.map_or(call.end_byte(), |b| b.end_byte().max(call.end_byte())),
        };
        let module =
            inner.finish_module(name, kind, implemented_for, range, ByteRange::of(name_node));
        self.pending = Pending::default();
        self.modules.push(module);
    }

    fn visit_directive(&mut self, call: Node<'_>, kind: DirectiveKind) {
        let Some(arguments) = child_of_kind(call, "arguments") else {
            return;
        };
        let Some(target) = first_named(arguments) else {
            return;
        };
        let text = collapse_whitespace(self.text(call));
        let range = ByteRange::of(call);
        let explicit_as = keyword_value(arguments, "as", self.source).map(str::to_owned);
        for module in expand_multi_alias(target, self.source, self.module_name.as_deref()) {
            let alias_as = (kind == DirectiveKind::Alias).then(|| {
                explicit_as
                    .clone()
                    .unwrap_or_else(|| last_segment(&module).to_owned())
            });
            self.directives.push(Directive {
                kind,
                module,
                alias_as,
                text: text.clone(),
                range,
            });
        }
    }

    fn visit_attribute(&mut self, node: Node<'_>) {
        let Some(operand) = node.child_by_field_name("operand") else {
            return;
        };
        if !self.text(node).starts_with('@') {
            return;
        }
        let (name, value) = match operand.kind() {
            "call" => match call_name(operand, self.source) {
                Some(name) => (
                    name,
                    child_of_kind(operand, "arguments").and_then(first_named),
                ),
                None => return,
            },
            "identifier" => (self.text(operand), None),
            _ => return,
        };
        let range = ByteRange::of(node);
        match name {
            "moduledoc" => self.moduledoc = value.map(|v| doc_value(v, self.source)),
            "doc" => {
                self.pending.start.get_or_insert(range.start);
                self.pending.doc = value.map(|v| doc_value(v, self.source));
            }
            "typedoc" => self.pending.typedoc = value.map(|v| doc_value(v, self.source)),
            "impl" => {
                self.pending.start.get_or_insert(range.start);
                self.pending.impl_ = value.map(|v| collapse_whitespace(self.text(v)));
            }
            "spec" => {
                if let Some((fname, arity)) = value.and_then(|v| spec_head(v, self.source)) {
                    let spec = collapse_whitespace(self.text(node).trim_start_matches("@spec"));
                    self.specs.push((fname, arity, spec));
                }
                self.pending.start.get_or_insert(range.start);
            }
            "type" | "typep" | "opaque" | "callback" | "macrocallback" => {
                self.visit_type(name, value, node);
            }
            _ => {
                let attribute = Attribute {
                    name: name.to_owned(),
                    text: collapse_whitespace(self.text(node)),
                    range,
                };
                if MODULE_ONLY_ATTRIBUTES.contains(&name) {
                    self.attributes.push(attribute);
                } else {
                    // Decided later: the next definition takes it unless a blank line intervenes.
                    self.pending.attributes.push(attribute);
                }
            }
        }
    }

    fn visit_type(&mut self, keyword: &str, value: Option<Node<'_>>, node: Node<'_>) {
        let Some(value) = value else { return };
        let Some((name, arity, name_node)) = typespec_head(value, self.source) else {
            return;
        };
        let kind = match keyword {
            "type" => TypeKind::Type,
            "typep" => TypeKind::Typep,
            "opaque" => TypeKind::Opaque,
            "callback" => TypeKind::Callback,
            _ => TypeKind::Macrocallback,
        };
        let doc = match kind {
            TypeKind::Callback | TypeKind::Macrocallback => self.pending.doc.take(),
            _ => self.pending.typedoc.take(),
        };
        self.types.push(TypeChunk {
            name,
            arity,
            kind,
            definition: collapse_whitespace(self.text(value)),
            doc,
            range: ByteRange::of(node),
            name_range: ByteRange::of(name_node),
        });
        if matches!(kind, TypeKind::Callback | TypeKind::Macrocallback) {
            self.pending = Pending::default();
        }
    }

    fn visit_definition(&mut self, call: Node<'_>, kind: FunctionKind) {
        let pending = std::mem::take(&mut self.pending);
        let Some(head) = definition_head(call, self.source) else {
            return;
        };
        let first_attribute = pending.attributes.first().map(|a| a.range.start);
        let start = [pending.start, first_attribute].into_iter().flatten().min();
        let clause_range = ByteRange::of(call);
        let calls = super::calls::clause_calls(call, head.signature, self.source);
        let clause = Clause {
            signature: text_without_comments(head.signature, self.source),
            range: clause_range,
            name_range: ByteRange::of(head.name),
        };
        let name = self.text(head.name);
        let functions = &self.functions;
        let existing = self.functions_named.get(name).and_then(|at| {
            at.iter().copied().find(|&at| {
                let f = &functions[at];
                f.arity == head.arity && f.kind == kind
            })
        });
        if let Some(at) = existing {
            let function = &mut self.functions[at];
            function.range.end = function.range.end.max(clause_range.end);
            function.defaults = function.defaults.max(head.defaults);
            function.clauses.push(clause);
            let room = super::calls::MAX_CALLS.saturating_sub(function.calls.len());
            function.calls.extend(calls.into_iter().take(room));
            if function.doc.is_none() {
                function.doc = pending.doc;
            }
            return;
        }
        self.functions_named
            .entry(name.to_owned())
            .or_default()
            .push(self.functions.len());
        self.functions.push(FunctionChunk {
            name: name.to_owned(),
            arity: head.arity,
            defaults: head.defaults,
            kind,
            clauses: vec![clause],
            doc: pending.doc,
            specs: Vec::new(),
            impl_: pending.impl_,
            attributes: pending.attributes,
            range: ByteRange {
                start: start.unwrap_or(clause_range.start),
                end: clause_range.end,
            },
            calls,
        });
    }

    /// Turns attributes that no definition took into module attributes.
    fn detach_pending_attributes(&mut self) {
        let detached = std::mem::take(&mut self.pending.attributes);
        self.attributes.extend(detached);
    }

    /// Attaches each `@spec` to the function of its name and arity.
    fn attach_specs(&mut self) {
        for (name, arity, spec) in self.specs.drain(..) {
            let functions = &self.functions;
            let found = self.functions_named.get(&name).and_then(|at| {
                at.iter()
                    .copied()
                    .find(|&at| functions[at].accepts_arity(arity))
            });
            if let Some(at) = found {
                self.functions[at].specs.push(spec);
            }
        }
    }

    fn finish_module(
        mut self,
        name: String,
        kind: ModuleKind,
        implemented_for: Option<String>,
        range: ByteRange,
        name_range: ByteRange,
    ) -> ModuleChunk {
        self.attach_specs();
        self.detach_pending_attributes();
        self.attributes.sort_by_key(|a| a.range.start);
        ModuleChunk {
            name,
            kind,
            implemented_for,
            range,
            name_range,
            moduledoc: self.moduledoc,
            directives: self.directives,
            attributes: self.attributes,
            functions: self.functions,
            types: self.types,
            modules: self.modules,
        }
    }

    fn finish_top_level(mut self) -> (Vec<FunctionChunk>, Vec<ModuleChunk>) {
        self.attach_specs();
        (self.functions, self.modules)
    }
}

/// The parts of a definition's head.
struct DefinitionHead<'t> {
    /// The function name.
    name: Node<'t>,
    /// The head with its guard: what the signature shows.
    signature: Node<'t>,
    arity: usize,
    defaults: usize,
}

/// Reads `name(args) when guard` (or `name`, or `name when guard`) from a definition call.
fn definition_head<'t>(call: Node<'t>, source: &str) -> Option<DefinitionHead<'t>> {
    let arguments = child_of_kind(call, "arguments")?;
    let signature = first_named(arguments)?;
    let mut head = signature;
    if head.kind() == "binary_operator" && operator_text(head, source) == Some("when") {
        head = head.child_by_field_name("left")?;
    }
    match head.kind() {
        "identifier" => Some(DefinitionHead {
            name: head,
            signature,
            arity: 0,
            defaults: 0,
        }),
        "call" => {
            let name = head.child_by_field_name("target")?;
            if name.kind() != "identifier" {
                // `def unquote(name)(args)` and friends: the name is computed at compile time.
                return None;
            }
            let (arity, defaults) = match child_of_kind(head, "arguments") {
                Some(args) => count_parameters(args, source),
                None => (0, 0),
            };
            Some(DefinitionHead {
                name,
                signature,
                arity,
                defaults,
            })
        }
        _ => None,
    }
}

/// Counts the parameters of an argument list, and how many have `\\` defaults.
fn count_parameters(arguments: Node<'_>, source: &str) -> (usize, usize) {
    let mut cursor = arguments.walk();
    let mut arity = 0;
    let mut defaults = 0;
    for argument in arguments.named_children(&mut cursor) {
        if argument.kind() == "comment" {
            continue;
        }
        arity += 1;
        if argument.kind() == "binary_operator" && operator_text(argument, source) == Some("\\\\") {
            defaults += 1;
        }
    }
    (arity, defaults)
}

/// The name and arity a `@spec` is for: `name(args) :: result [when ...]`.
fn spec_head(value: Node<'_>, source: &str) -> Option<(String, usize)> {
    let (name, arity, _) = typespec_head(value, source)?;
    Some((name, arity))
}

/// The name, arity and name node of a typespec: `name(args) :: definition [when ...]`.
fn typespec_head<'t>(value: Node<'t>, source: &str) -> Option<(String, usize, Node<'t>)> {
    let mut node = value;
    loop {
        if node.kind() != "binary_operator" {
            break;
        }
        let operator = operator_text(node, source)?;
        if operator != "when" && operator != "::" {
            break;
        }
        node = node.child_by_field_name("left")?;
    }
    match node.kind() {
        "identifier" => Some((node_text(node, source).to_owned(), 0, node)),
        "call" => {
            let name = node.child_by_field_name("target")?;
            if name.kind() != "identifier" {
                return None;
            }
            let arity = child_of_kind(node, "arguments")
                .map(|args| count_parameters(args, source).0)
                .unwrap_or(0);
            Some((node_text(name, source).to_owned(), arity, name))
        }
        _ => None,
    }
}

/// The value of a `@doc`/`@moduledoc`: a string, a sigil, or `false`.
fn doc_value(value: Node<'_>, source: &str) -> Doc {
    match value.kind() {
        "boolean" if node_text(value, source) == "false" => Doc::Hidden,
        "string" | "sigil" => {
            let mut cursor = value.walk();
            let mut text = String::new();
            for part in value.named_children(&mut cursor) {
                match part.kind() {
                    "quoted_content" | "escape_sequence" | "interpolation" => {
                        text.push_str(node_text(part, source));
                    }
                    _ => {}
                }
            }
            Doc::Text(dedent(&text))
        }
        _ => Doc::Text(node_text(value, source).to_owned()),
    }
}

/// Removes the common indentation of a heredoc's lines, and surrounding blank lines.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|line| line.get(indent..).unwrap_or_else(|| line.trim_start()))
        .collect();
    lines.join("\n").trim_matches('\n').trim_end().to_owned()
}

/// Expands `A.{B, C}` into `A.B` and `A.C`; other targets give their own text.
fn expand_multi_alias(target: Node<'_>, source: &str, module: Option<&str>) -> Vec<String> {
    let expand_module = |text: &str| -> String {
        let text = collapse_whitespace(text);
        match (module, text.strip_prefix("__MODULE__")) {
            (Some(current), Some(rest)) => format!("{current}{rest}"),
            _ => text,
        }
    };
    if target.kind() == "dot" {
        if let (Some(left), Some(right)) = (
            target.child_by_field_name("left"),
            target.child_by_field_name("right"),
        ) {
            if right.kind() == "tuple" {
                let base = expand_module(node_text(left, source));
                let mut cursor = right.walk();
                return right
                    .named_children(&mut cursor)
                    .filter(|n| n.kind() == "alias")
                    .map(|n| format!("{base}.{}", node_text(n, source)))
                    .collect();
            }
        }
    }
    vec![expand_module(node_text(target, source))]
}

/// The value of `key:` in the keyword list of an argument list.
fn keyword_value<'s>(arguments: Node<'_>, key: &str, source: &'s str) -> Option<&'s str> {
    let keywords = child_of_kind(arguments, "keywords")?;
    let mut cursor = keywords.walk();
    let found = keywords.named_children(&mut cursor).find(|pair| {
        pair.child_by_field_name("key")
            .map(|k| node_text(k, source).trim_end().trim_end_matches(':') == key)
            .unwrap_or(false)
    })?;
    found
        .child_by_field_name("value")
        .map(|v| node_text(v, source))
}

/// The kind of module a statement defines, if it is `defmodule`, `defprotocol` or `defimpl`.
fn module_kind(node: Node<'_>, source: &str) -> Option<ModuleKind> {
    if node.kind() != "call" {
        return None;
    }
    match call_name(node, source)? {
        "defmodule" => Some(ModuleKind::Module),
        "defprotocol" => Some(ModuleKind::Protocol),
        "defimpl" => Some(ModuleKind::Impl),
        _ => None,
    }
}

/// The identifier a call is made to (`def`, `alias`, `foo` in `foo(1)`), for local calls only.
fn call_name<'s>(call: Node<'_>, source: &'s str) -> Option<&'s str> {
    let target = call.child_by_field_name("target")?;
    (target.kind() == "identifier").then(|| node_text(target, source))
}

fn operator_text<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    node.child_by_field_name("operator")
        .map(|op| node_text(op, source))
}

fn child_of_kind<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    let found = node
        .named_children(&mut cursor)
        .find(|child| child.kind() == kind);
    found
}

fn first_named(node: Node<'_>) -> Option<Node<'_>> {
    let mut cursor = node.walk();
    let found = node
        .named_children(&mut cursor)
        .find(|child| child.kind() != "comment");
    found
}

fn last_segment(module: &str) -> &str {
    module.rsplit('.').next().unwrap_or(module)
}

/// The text of `node` with its comments left out, whitespace collapsed.
fn text_without_comments(node: Node<'_>, source: &str) -> String {
    let mut text = String::new();
    let mut position = node.start_byte();
    let mut stack = vec![node];
    let mut comments = Vec::new();
    while let Some(current) = stack.pop() {
        if current.kind() == "comment" {
            comments.push(current.byte_range());
            continue;
        }
        let mut cursor = current.walk();
        stack.extend(current.named_children(&mut cursor));
    }
    comments.sort_by_key(|range| range.start);
    for comment in comments {
        text.push_str(source.get(position..comment.start).unwrap_or(""));
        position = comment.end;
    }
    text.push_str(source.get(position..node.end_byte()).unwrap_or(""));
    collapse_whitespace(&text)
}

/// True when `gap` (the text between two statements) holds an empty line.
fn has_blank_line(gap: &str) -> bool {
    let lines: Vec<&str> = gap.split('\n').collect();
    // The first and last pieces are the ends of the surrounding statements' lines.
    lines.len() > 2
        && lines[1..lines.len() - 1]
            .iter()
            .any(|line| line.trim().is_empty())
}

/// Joins runs of whitespace (newlines included) into single spaces.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
