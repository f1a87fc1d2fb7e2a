//! Document symbols: the outline of a file, from its chunks.

use serde::Serialize;

use crate::chunks::{
    ByteRange, FileChunks, FunctionChunk, ModuleChunk, ModuleKind, TypeChunk, TypeKind,
};

/// What a symbol is, in the outline's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    /// A module.
    Module,
    /// A protocol.
    Interface,
    /// A protocol implementation.
    Class,
    /// A public or private function.
    Function,
    /// A macro or guard.
    Macro,
    /// A type.
    Type,
    /// A callback a behaviour requires.
    Callback,
}

/// One entry of the outline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    /// The name shown (`MyApp.Accounts`, `register/1`).
    pub name: String,
    /// A detail line (the first signature or spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What it is.
    pub kind: SymbolKind,
    /// Everything that belongs to it.
    pub range: ByteRange,
    /// Its name.
    pub selection: ByteRange,
    /// Nested symbols.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Symbol>,
}

/// The most symbols an outline holds. Each costs 4.5 KB on its way to the editor:
/// tower-lsp-server builds a JSON tree of the whole answer, seven maps a symbol (the symbol,
/// its two ranges and their four positions), each a B-tree node of ~650 bytes. At 2,000 the
/// tree of an outline was 9.1 MB, alive with the document's syntax tree (26.5 MB at the tree
/// limit) and over the memory budget of a file at the limit (`hostile_memory` bench); 1,000 is
/// still more than a file written by hand holds, and a generated file of thousands of modules
/// gets a note instead.
pub const MAX_SYMBOLS: usize = 1_000;

/// The hierarchical outline of a file: at most [`MAX_SYMBOLS`] symbols, the first in the file;
/// a longer outline ends with a symbol saying how many were left out.
pub fn document_symbols(chunks: &FileChunks) -> Vec<Symbol> {
    let mut symbols: Vec<Symbol> = chunks.modules.iter().map(module_symbol).collect();
    symbols.extend(chunks.functions.iter().map(function_symbol));
    symbols.sort_by_key(|s| s.range.start);
    let mut budget = MAX_SYMBOLS;
    let total = count(&symbols);
    if total <= budget {
        return symbols;
    }
    keep_first(&mut symbols, &mut budget);
    let end = symbols.last().map_or(0, |s| s.range.end);
    symbols.push(Symbol {
        name: format!("… {} more symbols not shown", total - MAX_SYMBOLS),
        detail: Some(format!("the outline holds at most {MAX_SYMBOLS} symbols")),
        kind: SymbolKind::Module,
        range: ByteRange { start: end, end },
        selection: ByteRange { start: end, end },
        children: Vec::new(),
    });
    symbols
}

/// The number of symbols in a forest (iteratively).
fn count(symbols: &[Symbol]) -> usize {
    let mut total = 0;
    let mut stack: Vec<&Symbol> = symbols.iter().collect();
    while let Some(symbol) = stack.pop() {
        total += 1;
        stack.extend(symbol.children.iter());
    }
    total
}

/// Keeps the first `budget` symbols in source order (a parent before its children). The
/// nesting is bounded by the chunks' own limit, so the recursion is shallow.
fn keep_first(symbols: &mut Vec<Symbol>, budget: &mut usize) {
    let mut kept = 0;
    for symbol in symbols.iter_mut() {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        kept += 1;
        keep_first(&mut symbol.children, budget);
    }
    symbols.truncate(kept);
}

fn module_symbol(module: &ModuleChunk) -> Symbol {
    let mut children: Vec<Symbol> = module.types.iter().map(type_symbol).collect();
    children.extend(module.functions.iter().map(function_symbol));
    children.extend(module.modules.iter().map(module_symbol));
    children.sort_by_key(|s| s.range.start);
    let (kind, detail) = match module.kind {
        ModuleKind::Module => (SymbolKind::Module, None),
        ModuleKind::Protocol => (SymbolKind::Interface, Some("protocol".to_owned())),
        ModuleKind::Impl => (
            SymbolKind::Class,
            Some(format!(
                "impl for {}",
                module.implemented_for.as_deref().unwrap_or("?")
            )),
        ),
    };
    Symbol {
        name: module.name.clone(),
        detail,
        kind,
        range: module.range,
        selection: module.name_range,
        children,
    }
}

fn function_symbol(function: &FunctionChunk) -> Symbol {
    let kind = if function.kind.is_macro() {
        SymbolKind::Macro
    } else {
        SymbolKind::Function
    };
    let detail = function.specs.first().cloned().or_else(|| {
        function
            .clauses
            .first()
            .map(|c| format!("{} {}", function.kind.keyword(), c.signature))
    });
    Symbol {
        name: function.label(),
        detail,
        kind,
        range: function.range,
        selection: function
            .clauses
            .first()
            .map(|c| c.name_range)
            .unwrap_or(function.range),
        children: Vec::new(),
    }
}

fn type_symbol(typespec: &TypeChunk) -> Symbol {
    let kind = match typespec.kind {
        TypeKind::Callback | TypeKind::Macrocallback => SymbolKind::Callback,
        _ => SymbolKind::Type,
    };
    Symbol {
        name: format!("{}/{}", typespec.name, typespec.arity),
        detail: Some(typespec.definition.clone()),
        kind,
        range: typespec.range,
        selection: typespec.name_range,
        children: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::extract;
    use crate::syntax::parse_str;

    fn outline(symbols: &[Symbol], depth: usize, out: &mut String) {
        for symbol in symbols {
            out.push_str(&format!(
                "{}{:?} {}\n",
                "  ".repeat(depth),
                symbol.kind,
                symbol.name
            ));
            outline(&symbol.children, depth + 1, out);
        }
    }

    #[test]
    fn outline_nests_modules_and_orders_by_position() {
        let source = include_str!("../../../../../fixtures/sample_app/lib/sample_app/accounts.ex");
        let tree = parse_str(source).expect("parse");
        let symbols = document_symbols(&extract(&tree, source));
        let mut out = String::new();
        outline(&symbols, 0, &mut out);
        expect_test::expect![[r#"
            Module SampleApp.Accounts
              Type id/0
              Function register/1
              Function fetch/2
              Function __debug__/0
              Function normalize/1
              Module SampleApp.Accounts.User
                Type t/0
                Function new/1
        "#]]
        .assert_eq(&out);
        let register = &symbols[0].children[1];
        assert_eq!(
            &source[register.selection.start..register.selection.end],
            "register"
        );
    }

    #[test]
    fn a_huge_outline_is_cut_at_the_limit_and_says_how_many_were_left_out() {
        let source: String = (0..1_000)
            .map(|i| format!("defmodule M{i} do\n  def f, do: 1\n  def g, do: 2\nend\n"))
            .collect();
        let tree = parse_str(&source).expect("parse");
        let symbols = document_symbols(&extract(&tree, &source));
        assert_eq!(count(&symbols), MAX_SYMBOLS + 1);
        let last = symbols.last().expect("a note");
        assert_eq!(last.name, "… 2000 more symbols not shown");
        assert_eq!(symbols[0].name, "M0");
        assert_eq!(symbols[0].children.len(), 2);
    }
}
