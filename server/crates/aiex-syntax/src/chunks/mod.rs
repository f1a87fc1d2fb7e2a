//! Chunks: the semantic units of an Elixir file (modules and functions with their docs and
//! specs), extracted from the syntax tree.
//!
//! Chunks are what the offline features show and what the context engine and the AI features
//! reason about. They hold byte ranges into the text they came from, never LSP positions.

mod calls;
mod extract;

use serde::{Deserialize, Serialize};

pub use calls::{calls_in, MAX_CALLS};
pub use extract::{extract, extract_around, top_level_at};

/// A half-open range of bytes in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
pub struct ByteRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl ByteRange {
    /// The range of a syntax node.
    pub fn of(node: tree_sitter::Node<'_>) -> Self {
        Self {
            start: node.start_byte(),
            end: node.end_byte(),
        }
    }

    /// Number of bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the range covers nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when `byte` lies inside the range (its end included, as a cursor can sit there).
    pub fn contains(&self, byte: usize) -> bool {
        self.start <= byte && byte <= self.end
    }
}

/// Everything extracted from one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileChunks {
    /// Top-level modules, in source order (nested modules live inside them).
    pub modules: Vec<ModuleChunk>,
    /// Functions defined outside any module (as in scripts).
    pub functions: Vec<FunctionChunk>,
}

impl FileChunks {
    /// Every module, nested ones included, depth first.
    pub fn all_modules(&self) -> Vec<&ModuleChunk> {
        fn walk<'a>(modules: &'a [ModuleChunk], out: &mut Vec<&'a ModuleChunk>) {
            for module in modules {
                out.push(module);
                walk(&module.modules, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.modules, &mut out);
        out
    }

    /// Every remote call made by the functions of the file's modules, one per call site: the
    /// module as the calling module's aliases resolve it (`Repo` → `MyApp.Repo`), and the
    /// function's name.
    pub fn remote_calls(&self) -> Vec<(String, &str)> {
        let mut calls = Vec::new();
        for module in self.all_modules() {
            for function in &module.functions {
                for call in &function.calls {
                    if let Some(written) = &call.module {
                        calls.push((module.expand_alias(written), call.name.as_str()));
                    }
                }
            }
        }
        calls
    }

    /// The call sites of [`Self::remote_calls`] whose module is one of `modules`: the module's
    /// position in `modules` and the function's name. Nothing is allocated per call site.
    pub fn remote_calls_into<'s>(
        &'s self,
        modules: &'s [&str],
    ) -> impl Iterator<Item = (usize, &'s str)> + 's {
        self.all_modules().into_iter().flat_map(move |module| {
            module.functions.iter().flat_map(move |function| {
                function.calls.iter().filter_map(move |call| {
                    let written = call.module.as_deref()?;
                    // Expanded once per call site, compared with each module.
                    let expansion = module.expansion(written);
                    let at = modules
                        .iter()
                        .position(|full| ModuleChunk::expands_to(expansion, written, full))?;
                    Some((at, call.name.as_str()))
                })
            })
        })
    }

    /// The remote calls of [`Self::remote_calls`] counted by target (module, function,
    /// call sites), in order of first call, and every function's `calls` emptied: the form a
    /// long-lived holder of many files' chunks (the workspace index) keeps, as the call sites
    /// themselves (a name or two and a range each) were a third of its chunks' heap.
    pub fn take_remote_calls(&mut self) -> Vec<(String, String, u32)> {
        let mut counted: Vec<(String, String, u32)> = Vec::new();
        let mut at: std::collections::HashMap<(String, String), usize> =
            std::collections::HashMap::new();
        for (module, function) in self.remote_calls() {
            let key = (module, function.to_owned());
            match at.get(&key) {
                Some(&i) => counted[i].2 += 1,
                None => {
                    at.insert(key.clone(), counted.len());
                    counted.push((key.0, key.1, 1));
                }
            }
        }
        fn clear(modules: &mut [ModuleChunk]) {
            for module in modules {
                for function in &mut module.functions {
                    function.calls = Vec::new();
                }
                clear(&mut module.modules);
            }
        }
        clear(&mut self.modules);
        for function in &mut self.functions {
            function.calls = Vec::new();
        }
        counted
    }

    /// Gives back the spare capacity of every list and string: chunks built by pushing (or
    /// read from JSON) hold up to twice what they use, which a holder of many files keeps.
    pub fn shrink_to_fit(&mut self) {
        for module in &mut self.modules {
            module.shrink_to_fit();
        }
        self.modules.shrink_to_fit();
        for function in &mut self.functions {
            function.shrink_to_fit();
        }
        self.functions.shrink_to_fit();
    }

    /// The innermost module whose range contains `byte`.
    pub fn module_at(&self, byte: usize) -> Option<&ModuleChunk> {
        let mut found = None;
        let mut level = &self.modules;
        while let Some(module) = level.iter().find(|m| m.range.contains(byte)) {
            found = Some(module);
            level = &module.modules;
        }
        found
    }
}

/// What kind of module definition a [`ModuleChunk`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// `defmodule`.
    Module,
    /// `defprotocol`.
    Protocol,
    /// `defimpl`.
    Impl,
}

/// A module with its documentation, directives and definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleChunk {
    /// Fully qualified name (a nested module's name includes its parent's).
    pub name: String,
    /// How the module was defined.
    pub kind: ModuleKind,
    /// For `defimpl`: the type the protocol is implemented for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implemented_for: Option<String>,
    /// The whole definition.
    pub range: ByteRange,
    /// The module name as written.
    pub name_range: ByteRange,
    /// The `@moduledoc`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moduledoc: Option<Doc>,
    /// `alias`, `import`, `use` and `require` lines.
    pub directives: Vec<Directive>,
    /// Other module attributes (`@name value`), in source order.
    pub attributes: Vec<Attribute>,
    /// Functions and macros grouped by name and arity, in order of first clause.
    pub functions: Vec<FunctionChunk>,
    /// Types (`@type`, `@typep`, `@opaque`) and callbacks (`@callback`, `@macrocallback`).
    pub types: Vec<TypeChunk>,
    /// Modules defined inside this one.
    pub modules: Vec<ModuleChunk>,
}

impl ModuleChunk {
    fn shrink_to_fit(&mut self) {
        self.name.shrink_to_fit();
        shrink_option(&mut self.implemented_for);
        shrink_doc(&mut self.moduledoc);
        for directive in &mut self.directives {
            directive.module.shrink_to_fit();
            shrink_option(&mut directive.alias_as);
            directive.text.shrink_to_fit();
        }
        self.directives.shrink_to_fit();
        shrink_attributes(&mut self.attributes);
        for function in &mut self.functions {
            function.shrink_to_fit();
        }
        self.functions.shrink_to_fit();
        for declared in &mut self.types {
            declared.name.shrink_to_fit();
            declared.definition.shrink_to_fit();
            shrink_doc(&mut declared.doc);
        }
        self.types.shrink_to_fit();
        for module in &mut self.modules {
            module.shrink_to_fit();
        }
        self.modules.shrink_to_fit();
    }

    /// The source text of each directive once: `alias A.{B, C}` is one line of source but two
    /// [`Directive`]s, and a prompt that showed it per name repeated it.
    pub fn directive_lines(&self) -> Vec<&str> {
        let mut lines: Vec<&str> = Vec::with_capacity(self.directives.len());
        for directive in &self.directives {
            if !lines.contains(&directive.text.as_str()) {
                lines.push(&directive.text);
            }
        }
        lines
    }

    /// The function `name/arity` of this module, accepting arities reachable through defaults.
    pub fn function(&self, name: &str, arity: usize) -> Option<&FunctionChunk> {
        self.functions
            .iter()
            .find(|f| f.name == name && f.accepts_arity(arity))
    }

    /// The module an alias in this module stands for (`Repo` → `MyApp.Repo`).
    pub fn resolve_alias(&self, short: &str) -> Option<&str> {
        self.directives
            .iter()
            .filter(|d| d.kind == DirectiveKind::Alias)
            .find(|d| d.alias_as.as_deref() == Some(short))
            .map(|d| d.module.as_str())
    }

    /// Expands a module name as written inside this module through its aliases and
    /// `__MODULE__` (`Repo.Query` → `MyApp.Repo.Query`); other names are returned unchanged.
    pub fn expand_alias(&self, written: &str) -> String {
        match self.expansion(written) {
            Some((base, Some(rest))) => format!("{base}.{rest}"),
            Some((base, None)) => base.to_owned(),
            None => written.to_owned(),
        }
    }

    /// True when `written`, a module name as written inside this module whose
    /// [`Self::expansion`] is `expansion`, names `full` once expanded as [`Self::expand_alias`]
    /// does, without building the expanded name: a request asks this of every call site in a
    /// file.
    fn expands_to(expansion: Option<(&str, Option<&str>)>, written: &str, full: &str) -> bool {
        match expansion {
            Some((base, Some(rest))) => {
                full.strip_prefix(base)
                    .and_then(|after| after.strip_prefix('.'))
                    == Some(rest)
            }
            Some((base, None)) => base == full,
            None => written == full,
        }
    }

    /// The full module that the first segment of `written` stands for, and the segments after
    /// it; `None` when nothing expands.
    fn expansion<'s, 'w>(&'s self, written: &'w str) -> Option<(&'s str, Option<&'w str>)> {
        let (head, rest) = match written.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (written, None),
        };
        let base = if head == "__MODULE__" {
            self.name.as_str()
        } else {
            self.resolve_alias(head)?
        };
        Some((base, rest))
    }
}

/// Documentation attached with `@moduledoc` or `@doc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "text")]
pub enum Doc {
    /// The documentation text (heredoc indentation removed).
    Text(String),
    /// `@doc false` / `@moduledoc false`: deliberately hidden.
    Hidden,
}

/// The kind of a module directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectiveKind {
    /// `alias`.
    Alias,
    /// `import`.
    Import,
    /// `use`.
    Use,
    /// `require`.
    Require,
}

/// An `alias`, `import`, `use` or `require` of one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directive {
    /// Which directive.
    pub kind: DirectiveKind,
    /// The module it names, fully written out (`alias A.{B, C}` gives two directives).
    pub module: String,
    /// For `alias`: the short name it introduces (`as:` or the last segment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_as: Option<String>,
    /// The directive's source text.
    pub text: String,
    /// Where it is.
    pub range: ByteRange,
}

/// A module attribute other than the documentation and typing ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// The attribute name, without `@`.
    pub name: String,
    /// The source text of the whole attribute.
    pub text: String,
    /// Where it is.
    pub range: ByteRange,
}

/// The macro a function chunk was defined with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionKind {
    /// `def`.
    Def,
    /// `defp`.
    Defp,
    /// `defmacro`.
    Defmacro,
    /// `defmacrop`.
    Defmacrop,
    /// `defguard`.
    Defguard,
    /// `defguardp`.
    Defguardp,
    /// `defdelegate`.
    Defdelegate,
    /// `defn` (Nx numerical definitions).
    Defn,
    /// `defnp`.
    Defnp,
}

impl FunctionKind {
    /// The kind for a definition macro's name.
    pub fn from_keyword(keyword: &str) -> Option<Self> {
        Some(match keyword {
            "def" => Self::Def,
            "defp" => Self::Defp,
            "defmacro" => Self::Defmacro,
            "defmacrop" => Self::Defmacrop,
            "defguard" => Self::Defguard,
            "defguardp" => Self::Defguardp,
            "defdelegate" => Self::Defdelegate,
            "defn" => Self::Defn,
            "defnp" => Self::Defnp,
            _ => return None,
        })
    }

    /// The definition macro's name.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Def => "def",
            Self::Defp => "defp",
            Self::Defmacro => "defmacro",
            Self::Defmacrop => "defmacrop",
            Self::Defguard => "defguard",
            Self::Defguardp => "defguardp",
            Self::Defdelegate => "defdelegate",
            Self::Defn => "defn",
            Self::Defnp => "defnp",
        }
    }

    /// True for the private kinds.
    pub fn is_private(self) -> bool {
        matches!(
            self,
            Self::Defp | Self::Defmacrop | Self::Defguardp | Self::Defnp
        )
    }

    /// True for macros and guards (which are macros).
    pub fn is_macro(self) -> bool {
        matches!(
            self,
            Self::Defmacro | Self::Defmacrop | Self::Defguard | Self::Defguardp
        )
    }
}

/// One clause of a function: its head and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clause {
    /// The head as written, whitespace collapsed: `name(args) when guard`.
    pub signature: String,
    /// The whole clause, from the definition macro to its `end`.
    pub range: ByteRange,
    /// The function name in this clause.
    pub name_range: ByteRange,
}

/// A function or macro: all clauses of one name and arity, with their docs and specs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionChunk {
    /// The function name.
    pub name: String,
    /// The number of parameters (defaults included).
    pub arity: usize,
    /// How many parameters have defaults: the function also answers to the lower arities.
    pub defaults: usize,
    /// The definition macro.
    pub kind: FunctionKind,
    /// The clauses, in source order.
    pub clauses: Vec<Clause>,
    /// The `@doc` before the first clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<Doc>,
    /// The `@spec`s for this name and arity.
    pub specs: Vec<String>,
    /// The `@impl` value (`true` or a behaviour name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impl_: Option<String>,
    /// Other attributes written right before the first clause (`@decorate`, `@deprecated`...).
    pub attributes: Vec<Attribute>,
    /// From the first leading attribute to the end of the last clause.
    pub range: ByteRange,
    /// The calls the clause bodies make, in source order (one per call site).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<Call>,
}

/// A call made from a function body: `helper(x)`, `Repo.insert(user)`, `x |> f(y)`, `&f/2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The module as written before the dot (`Repo`, `MyApp.Repo`, `__MODULE__`); `None` for a
    /// local or imported call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The function name.
    pub name: String,
    /// The number of arguments, the piped-in one included.
    pub arity: usize,
    /// The function name at the call site.
    pub range: ByteRange,
}

fn shrink_option(text: &mut Option<String>) {
    if let Some(text) = text {
        text.shrink_to_fit();
    }
}

fn shrink_doc(doc: &mut Option<Doc>) {
    if let Some(Doc::Text(text)) = doc {
        text.shrink_to_fit();
    }
}

fn shrink_attributes(attributes: &mut Vec<Attribute>) {
    for attribute in attributes.iter_mut() {
        attribute.name.shrink_to_fit();
        attribute.text.shrink_to_fit();
    }
    attributes.shrink_to_fit();
}

impl FunctionChunk {
    fn shrink_to_fit(&mut self) {
        self.name.shrink_to_fit();
        for clause in &mut self.clauses {
            clause.signature.shrink_to_fit();
        }
        self.clauses.shrink_to_fit();
        shrink_doc(&mut self.doc);
        for spec in &mut self.specs {
            spec.shrink_to_fit();
        }
        self.specs.shrink_to_fit();
        shrink_option(&mut self.impl_);
        shrink_attributes(&mut self.attributes);
        for call in &mut self.calls {
            shrink_option(&mut call.module);
            call.name.shrink_to_fit();
        }
        self.calls.shrink_to_fit();
    }

    /// `name/arity`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.name, self.arity)
    }

    /// True when a call with `arity` arguments reaches this function.
    pub fn accepts_arity(&self, arity: usize) -> bool {
        arity <= self.arity && arity + self.defaults >= self.arity
    }

    /// The heads of the first `max` clauses (`def name(args) when guard`), one per line, and
    /// a comment saying how many more there are.
    pub fn clause_heads(&self, max: usize) -> String {
        let mut out = String::new();
        for clause in self.clauses.iter().take(max) {
            out.push_str(&format!("{} {}\n", self.kind.keyword(), clause.signature));
        }
        if self.clauses.len() > max {
            out.push_str(&format!("# … {} more clauses\n", self.clauses.len() - max));
        }
        out
    }

    /// Size of the chunk in bytes.
    pub fn byte_len(&self) -> usize {
        self.range.len()
    }

    /// The first paragraph of the documentation, if documented.
    pub fn doc_summary(&self) -> Option<&str> {
        match &self.doc {
            Some(Doc::Text(text)) => text.split("\n\n").next().map(str::trim),
            _ => None,
        }
    }
}

/// What kind of typespec a [`TypeChunk`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    /// `@type`.
    Type,
    /// `@typep`.
    Typep,
    /// `@opaque`.
    Opaque,
    /// `@callback`.
    Callback,
    /// `@macrocallback`.
    Macrocallback,
}

/// A type or callback declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeChunk {
    /// The type's name.
    pub name: String,
    /// Its number of parameters.
    pub arity: usize,
    /// Which attribute declared it.
    pub kind: TypeKind,
    /// The declaration without the leading `@kind`.
    pub definition: String,
    /// The `@typedoc` before it (for types) or `@doc` (for callbacks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<Doc>,
    /// The whole attribute.
    pub range: ByteRange,
    /// The name as written.
    pub name_range: ByteRange,
}

#[cfg(test)]
mod tests;
