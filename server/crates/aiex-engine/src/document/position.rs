//! Positions: the one place where (line, column) in a negotiated encoding meets byte offsets.
//!
//! LSP positions count lines separated by `\n`, `\r\n` or `\r`, and columns in UTF-16 code units
//! unless the client and server agreed on UTF-8. Every conversion in Aiex goes through here.
//! Out-of-range positions are clamped (to the end of the line, or of the document) and reported
//! as such, so callers can log them; a column inside a multi-byte character rounds down to the
//! character's start, so a conversion never splits a character.

use ropey::Rope;

/// How the columns of a position are counted, as negotiated with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// Columns are UTF-8 bytes.
    Utf8,
    /// Columns are UTF-16 code units (the LSP default).
    #[default]
    Utf16,
    /// Columns are characters (Unicode scalar values): what a person counts, as the command
    /// line takes `FILE:LINE:COL` (and LSP's `utf-32`).
    Utf32,
}

/// A zero-based (line, column) position, the column counted in some [`PositionEncoding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Position {
    /// Zero-based line.
    pub line: u32,
    /// Zero-based column, in the encoding's units.
    pub column: u32,
}

impl Position {
    /// A position at `line`, `column`.
    pub const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

/// A byte offset resolved from a [`Position`], with whether the position had to be clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedOffset {
    /// Byte offset into the text, always on a character boundary.
    pub byte: usize,
    /// True when the position lay outside the document or its line and was moved inside.
    pub clamped: bool,
}

/// Byte length of `line` without its line terminator.
fn line_content_len(rope: &Rope, line: usize) -> usize {
    let slice = rope.line(line);
    let mut len = slice.len_bytes();
    if len > 0 && slice.byte(len - 1) == b'\n' {
        len -= 1;
    }
    if len > 0 && slice.byte(len - 1) == b'\r' {
        len -= 1;
    }
    len
}

/// Resolves `position` to a byte offset in `rope`, clamping it into the document.
///
/// ```
/// use aiex_engine::document::position::{offset_of, Position, PositionEncoding};
///
/// let rope = ropey::Rope::from_str("a😀b\n");
/// // The emoji is two UTF-16 code units and four UTF-8 bytes.
/// assert_eq!(offset_of(&rope, Position::new(0, 3), PositionEncoding::Utf16).byte, 5);
/// assert_eq!(offset_of(&rope, Position::new(0, 5), PositionEncoding::Utf8).byte, 5);
/// assert!(offset_of(&rope, Position::new(9, 0), PositionEncoding::Utf16).clamped);
/// ```
pub fn offset_of(rope: &Rope, position: Position, encoding: PositionEncoding) -> ResolvedOffset {
    let line = position.line as usize;
    if line >= rope.len_lines() {
        return ResolvedOffset {
            byte: rope.len_bytes(),
            clamped: true,
        };
    }
    let line_start = rope.line_to_byte(line);
    let content_len = line_content_len(rope, line);
    let column = position.column as usize;
    let (byte, clamped) = match encoding {
        PositionEncoding::Utf8 => {
            if column > content_len {
                (line_start + content_len, true)
            } else {
                // Round down to the start of the character the column falls in.
                let char_idx = rope.byte_to_char(line_start + column);
                (rope.char_to_byte(char_idx), false)
            }
        }
        PositionEncoding::Utf16 => {
            let start_char = rope.byte_to_char(line_start);
            let end_char = rope.byte_to_char(line_start + content_len);
            let start_cu = rope.char_to_utf16_cu(start_char);
            let end_cu = rope.char_to_utf16_cu(end_char);
            if start_cu + column > end_cu {
                (line_start + content_len, true)
            } else {
                // Ropey maps a unit inside a surrogate pair to the pair's character.
                let char_idx = rope.utf16_cu_to_char(start_cu + column);
                (rope.char_to_byte(char_idx), false)
            }
        }
        PositionEncoding::Utf32 => {
            let start_char = rope.byte_to_char(line_start);
            let end_char = rope.byte_to_char(line_start + content_len);
            if start_char + column > end_char {
                (line_start + content_len, true)
            } else {
                (rope.char_to_byte(start_char + column), false)
            }
        }
    };
    ResolvedOffset { byte, clamped }
}

/// How far into a line [`position_of`] counts the column byte by byte; past it, it asks the
/// rope's indexes (each a search from the root and a scan of up to a chunk). An outline of
/// 2,000 symbols converts 8,000 positions, and the rope's way (six searches each) was the
/// larger part of answering `documentSymbol` on a file at the tree limit.
const SCAN_COLUMN_BYTES: usize = 4 * 1024;

/// The position of byte offset `byte` in `rope` (clamped to the end of the text).
pub fn position_of(rope: &Rope, byte: usize, encoding: PositionEncoding) -> Position {
    let byte = byte.min(rope.len_bytes());
    let line = rope.byte_to_line(byte);
    let line_start = rope.line_to_byte(line);
    let column = if byte - line_start <= SCAN_COLUMN_BYTES {
        scanned_column(rope, line_start, byte, encoding)
    } else {
        indexed_column(rope, line_start, byte, encoding)
    };
    Position::new(to_u32(line), to_u32(column))
}

/// The column of `byte` on the line starting at `line_start`, counted over the bytes between.
fn scanned_column(
    rope: &Rope,
    line_start: usize,
    byte: usize,
    encoding: PositionEncoding,
) -> usize {
    let (mut chunks, chunk_start, _, _) = rope.chunks_at_byte(line_start);
    let mut skip = line_start - chunk_start;
    let wanted = byte - line_start;
    let mut seen = 0;
    let mut column = 0;
    // Where the last character counted starts (from `line_start`), its length and its width.
    let mut last = (0, 0, 0);
    while seen < wanted {
        let Some(chunk) = chunks.next() else { break };
        let bytes = &chunk.as_bytes()[skip.min(chunk.len())..];
        skip = 0;
        let taken = &bytes[..(wanted - seen).min(bytes.len())];
        for (at, &b) in taken.iter().enumerate() {
            if b & 0xC0 == 0x80 {
                continue;
            }
            let width = match encoding {
                PositionEncoding::Utf8 => utf8_len(b),
                PositionEncoding::Utf16 => 1 + usize::from(b >= 0xF0),
                PositionEncoding::Utf32 => 1,
            };
            column += width;
            last = (seen + at, utf8_len(b), width);
        }
        seen += taken.len();
    }
    // `byte` inside a character counts as that character's start.
    if column > 0 && last.0 + last.1 > wanted {
        column -= last.2;
    }
    column
}

/// The UTF-8 length of the character starting with `lead`.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

/// [`scanned_column`] through the rope's indexes, for long lines.
fn indexed_column(
    rope: &Rope,
    line_start: usize,
    byte: usize,
    encoding: PositionEncoding,
) -> usize {
    // A byte inside a character counts as that character's start.
    let char_idx = rope.byte_to_char(byte);
    match encoding {
        PositionEncoding::Utf8 => rope.char_to_byte(char_idx) - line_start,
        PositionEncoding::Utf16 => {
            rope.char_to_utf16_cu(char_idx) - rope.char_to_utf16_cu(rope.byte_to_char(line_start))
        }
        PositionEncoding::Utf32 => char_idx - rope.byte_to_char(line_start),
    }
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rope(text: &str) -> Rope {
        Rope::from_str(text)
    }

    #[test]
    fn columns_scanned_on_short_lines_match_the_ropes_indexes_in_every_encoding() {
        // Characters of 1 to 4 bytes, lines long enough to span the rope's chunks, and
        // `\r\n`, `\r` and `\n` endings.
        let line = "aé€😀x".repeat(300);
        let text = format!("{line}\r\n{line}\r{line}\n😀😀\n");
        let r = rope(&text);
        assert!(r.chunks().count() > 3);
        for encoding in [
            PositionEncoding::Utf8,
            PositionEncoding::Utf16,
            PositionEncoding::Utf32,
        ] {
            for byte in (0..=text.len())
                .step_by(7)
                .chain([text.len() - 1, text.len()])
            {
                let line = r.byte_to_line(byte);
                let start = r.line_to_byte(line);
                assert_eq!(
                    scanned_column(&r, start, byte, encoding),
                    indexed_column(&r, start, byte, encoding),
                    "{encoding:?} at byte {byte}"
                );
            }
        }
    }

    #[test]
    fn utf32_columns_count_characters_and_round_trip() {
        let r = rope("a😀b\nçd\n");
        let at = |line, column| offset_of(&r, Position::new(line, column), PositionEncoding::Utf32);
        assert_eq!(at(0, 2).byte, 5);
        assert_eq!(at(1, 1).byte, 9);
        assert!(at(1, 9).clamped);
        assert_eq!(
            position_of(&r, 5, PositionEncoding::Utf32),
            Position::new(0, 2)
        );
    }

    #[test]
    fn utf16_columns_count_surrogate_pairs_as_two_units() {
        let r = rope("a😀b\nx");
        assert_eq!(
            offset_of(&r, Position::new(0, 3), PositionEncoding::Utf16).byte,
            5
        );
        assert_eq!(
            position_of(&r, 5, PositionEncoding::Utf16),
            Position::new(0, 3)
        );
        // Inside the surrogate pair rounds down to the emoji's start.
        assert_eq!(
            offset_of(&r, Position::new(0, 2), PositionEncoding::Utf16).byte,
            1
        );
    }

    #[test]
    fn utf8_columns_are_bytes_and_round_down_inside_a_character() {
        let r = rope("é=1\n");
        assert_eq!(
            offset_of(&r, Position::new(0, 2), PositionEncoding::Utf8).byte,
            2
        );
        assert_eq!(
            offset_of(&r, Position::new(0, 1), PositionEncoding::Utf8).byte,
            0
        );
        assert_eq!(
            position_of(&r, 3, PositionEncoding::Utf8),
            Position::new(0, 3)
        );
    }

    #[test]
    fn columns_past_the_line_end_clamp_before_the_terminator() {
        let r = rope("ab\r\ncd");
        let resolved = offset_of(&r, Position::new(0, 10), PositionEncoding::Utf16);
        assert_eq!(
            resolved,
            ResolvedOffset {
                byte: 2,
                clamped: true
            }
        );
        let resolved = offset_of(&r, Position::new(1, 2), PositionEncoding::Utf8);
        assert_eq!(
            resolved,
            ResolvedOffset {
                byte: 6,
                clamped: false
            }
        );
    }

    #[test]
    fn lines_past_the_end_clamp_to_the_document_end() {
        let r = rope("ab\n");
        assert_eq!(
            offset_of(&r, Position::new(1, 0), PositionEncoding::Utf16).byte,
            3
        );
        let resolved = offset_of(&r, Position::new(7, 0), PositionEncoding::Utf16);
        assert_eq!(
            resolved,
            ResolvedOffset {
                byte: 3,
                clamped: true
            }
        );
    }

    #[test]
    fn lone_carriage_returns_and_crlf_both_end_lines() {
        let r = rope("a\rb\r\nc\nd");
        assert_eq!(
            offset_of(&r, Position::new(1, 0), PositionEncoding::Utf16).byte,
            2
        );
        assert_eq!(
            offset_of(&r, Position::new(2, 0), PositionEncoding::Utf16).byte,
            5
        );
        assert_eq!(
            offset_of(&r, Position::new(3, 0), PositionEncoding::Utf16).byte,
            7
        );
        assert_eq!(
            position_of(&r, 7, PositionEncoding::Utf8),
            Position::new(3, 0)
        );
    }

    #[test]
    fn unicode_line_separators_do_not_end_lines() {
        // LSP only knows \n, \r\n and \r; U+2028 is an ordinary character.
        let r = rope("a\u{2028}b\nc");
        assert_eq!(
            offset_of(&r, Position::new(1, 0), PositionEncoding::Utf16).byte,
            6
        );
        assert_eq!(
            position_of(&r, 4, PositionEncoding::Utf16),
            Position::new(0, 2)
        );
    }
}
