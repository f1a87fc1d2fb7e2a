//! Conversions between LSP types and core types. Nothing else in Aiex sees LSP positions.

use ropey::Rope;
use tower_lsp_server::ls_types as lsp;

use crate::chunks::ByteRange;
use crate::document::{
    position, DocumentKey, Language, Position, PositionEncoding, PositionRange, TextChange,
};
use crate::features::folding::{Fold, FoldKind};
use crate::features::symbols::{Symbol, SymbolKind};

/// The encoding to use given what the client offers: UTF-8 when offered, UTF-16 otherwise.
pub fn negotiate_encoding(capabilities: &lsp::ClientCapabilities) -> PositionEncoding {
    let offered = capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref());
    match offered {
        Some(kinds) if kinds.contains(&lsp::PositionEncodingKind::UTF8) => PositionEncoding::Utf8,
        _ => PositionEncoding::Utf16,
    }
}

/// The LSP name of an encoding.
pub fn encoding_kind(encoding: PositionEncoding) -> lsp::PositionEncodingKind {
    match encoding {
        PositionEncoding::Utf8 => lsp::PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => lsp::PositionEncodingKind::UTF16,
        PositionEncoding::Utf32 => lsp::PositionEncodingKind::UTF32,
    }
}

pub use super::paths::file_path;

/// The engine's key of a document: its file's path, normalised (`//`, `/./`, `/../` and
/// percent-encoding resolved here, once; only `file` URIs on the local host name files), or
/// the URI itself for a buffer with no file.
pub fn document_key(uri: &lsp::Uri) -> DocumentKey {
    match file_path(uri) {
        Some(path) => DocumentKey::file(&path),
        None => DocumentKey::unsaved(uri.as_str()),
    }
}

/// The URI of a document, for messages to the client.
pub fn uri_of(key: &DocumentKey) -> Option<lsp::Uri> {
    match key {
        DocumentKey::File(path) => lsp::Uri::from_file_path(path),
        DocumentKey::Unsaved(name) => name.parse().ok(),
    }
}

/// The language of a document from its language id and URI.
pub fn language_of(language_id: &str, uri: &lsp::Uri) -> Language {
    Language::detect(language_id, uri.path().as_str())
}

/// A core position from an LSP one.
pub fn position_from_lsp(position: lsp::Position) -> Position {
    Position::new(position.line, position.character)
}

/// An LSP position from a core one.
pub fn position_to_lsp(position: Position) -> lsp::Position {
    lsp::Position::new(position.line, position.column)
}

/// A core content change from an LSP one.
pub fn change_from_lsp(change: lsp::TextDocumentContentChangeEvent) -> TextChange {
    TextChange {
        range: change.range.map(|range| PositionRange {
            start: position_from_lsp(range.start),
            end: position_from_lsp(range.end),
        }),
        text: change.text,
    }
}

/// The LSP range of a byte range in `rope`.
pub fn range_to_lsp(rope: &Rope, range: ByteRange, encoding: PositionEncoding) -> lsp::Range {
    lsp::Range::new(
        position_to_lsp(position::position_of(rope, range.start, encoding)),
        position_to_lsp(position::position_of(rope, range.end, encoding)),
    )
}

/// An outline entry as an LSP document symbol.
pub fn symbol_to_lsp(
    rope: &Rope,
    symbol: &Symbol,
    encoding: PositionEncoding,
) -> lsp::DocumentSymbol {
    let kind = match symbol.kind {
        SymbolKind::Module => lsp::SymbolKind::MODULE,
        SymbolKind::Interface => lsp::SymbolKind::INTERFACE,
        SymbolKind::Class => lsp::SymbolKind::CLASS,
        SymbolKind::Function => lsp::SymbolKind::FUNCTION,
        SymbolKind::Macro => lsp::SymbolKind::FUNCTION,
        SymbolKind::Type => lsp::SymbolKind::TYPE_PARAMETER,
        SymbolKind::Callback => lsp::SymbolKind::INTERFACE,
    };
    let children: Vec<lsp::DocumentSymbol> = symbol
        .children
        .iter()
        .map(|child| symbol_to_lsp(rope, child, encoding))
        .collect();
    #[allow(deprecated)]
    lsp::DocumentSymbol {
        name: symbol.name.clone(),
        detail: symbol.detail.clone(),
        kind,
        tags: None,
        deprecated: None,
        range: range_to_lsp(rope, symbol.range, encoding),
        selection_range: range_to_lsp(rope, symbol.selection, encoding),
        children: (!children.is_empty()).then_some(children),
    }
}

/// A fold as an LSP folding range.
pub fn fold_to_lsp(fold: &Fold) -> lsp::FoldingRange {
    lsp::FoldingRange {
        start_line: u32::try_from(fold.start_line).unwrap_or(u32::MAX),
        end_line: u32::try_from(fold.end_line).unwrap_or(u32::MAX),
        kind: Some(match fold.kind {
            FoldKind::Region => lsp::FoldingRangeKind::Region,
            FoldKind::Comment => lsp::FoldingRangeKind::Comment,
        }),
        ..lsp::FoldingRange::default()
    }
}
