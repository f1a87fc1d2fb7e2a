//! How deeply a text nests, measured by its tokens before any tree is built.
//!
//! tree-sitter's parse costs memory per level of nesting that is still open (its stack
//! versions keep every level): 30,000 nested `case`s (383 KB) peaked at ~190 MB of heap inside
//! `ts_parser__accept`, about 8.5 KB a level, and 130,000 nested calls left a fragmented heap of
//! ~120 MB behind their freed tree. Hand-written Elixir nests a few dozen levels, so a text that
//! nests past [`MAX_NESTING_DEPTH`] is generated or hostile and gets no tree; this scan finds it
//! in one pass over the bytes, with no allocation.
//!
//! Levels are opened by `(`, `[`, `{`, `<<`, `do` and `fn`, and closed by `)`, `]`, `}`, `>>`
//! and `end`. Strings, charlists, heredocs, sigils, comments and character literals are
//! skipped (their brackets are text), but code inside `#{...}` interpolation counts. The count
//! is an upper bound of what a reader would call nesting, never below it: a miscount only ever
//! refuses a text that is already absurdly deep.

/// The deepest nesting that gets a syntax tree, and the deepest tree level the checks visit
/// (`aiex_checks::MAX_WALK_DEPTH` is this constant): one limit, counted in tokens here and in
/// tree levels by the checks, which meet trees a few levels deeper per token level and chains
/// of binary operators (a 100,000-step pipeline) that open no bracket at all.
///
/// Measured with `aiex symbols` (debug build) on nested `case`s, the costliest level per byte:
/// 1,000 levels peak at 29 MB resident, 2,000 at 37 MB, 4,000 at 55 MB, 8,000 at 88 MB (20 MB
/// for an empty file). In the server (`tests/hostile_files.rs`), 2,000 levels of `case` left
/// it at 47 MB resident against the 50 MB budget of a small file (10 × its size + 50 MB; the
/// debug server alone is 37 MB); 1,000 levels cost half of that, and are still 10 to 50 times
/// deeper than code written by hand.
pub const MAX_NESTING_DEPTH: usize = 1_000;

/// What the scan is reading.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Code.
    Code,
    /// A quoted string, charlist or heredoc ending at `close` (repeated `count` times), with
    /// interpolation (`#{...}`) when `interpolates`.
    Quoted {
        close: u8,
        count: u8,
        interpolates: bool,
    },
}

/// The deepest nesting of `text`, stopping as soon as it passes `limit` (the result is then
/// `limit + 1`).
pub fn nesting_depth(text: &[u8], limit: usize) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    // Open interpolations: the code depth at each `#{`, to return to its string at `}`.
    let mut interpolations: Vec<(usize, Mode)> = Vec::new();
    let mut mode = Mode::Code;
    let mut i = 0;
    let n = text.len();
    while i < n {
        let byte = text[i];
        match mode {
            Mode::Quoted {
                close,
                count,
                interpolates,
            } => {
                if byte == b'\\' {
                    i += 2;
                    continue;
                }
                if interpolates && byte == b'#' && text.get(i + 1) == Some(&b'{') {
                    interpolations.push((depth, mode));
                    mode = Mode::Code;
                    depth += 1;
                    deepest = deepest.max(depth);
                    if deepest > limit {
                        return limit + 1;
                    }
                    i += 2;
                    continue;
                }
                if byte == close && repeats(text, i, close, count) {
                    mode = Mode::Code;
                    i += count as usize;
                    continue;
                }
                i += 1;
            }
            Mode::Code => {
                match byte {
                    b'#' => {
                        i = line_end(text, i);
                        continue;
                    }
                    b'?' if text.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) => {
                        // A character literal: `?(`, `?"`, `?\)`.
                        i += if text.get(i + 1) == Some(&b'\\') {
                            3
                        } else {
                            2
                        };
                        continue;
                    }
                    b'"' | b'\'' => {
                        let count = if repeats(text, i, byte, 3) { 3 } else { 1 };
                        mode = Mode::Quoted {
                            close: byte,
                            count,
                            interpolates: true,
                        };
                        i += count as usize;
                        continue;
                    }
                    b'~' if text.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => {
                        i = sigil_start(text, i, &mut mode);
                        continue;
                    }
                    b'(' | b'[' | b'{' => depth += 1,
                    // `<<` and `>>` as binaries, not inside the operators `<<<`, `>>>`,
                    // `<<~` and `~>>` (one would open a level that nothing closes).
                    b'<' | b'>' if text.get(i + 1) == Some(&byte) => {
                        let operator = text
                            .get(i + 2)
                            .is_some_and(|b| matches!(b, b'<' | b'>' | b'~'))
                            || i.checked_sub(1)
                                .is_some_and(|b| matches!(text[b], b'<' | b'>' | b'~'));
                        if !operator {
                            depth = if byte == b'<' {
                                depth + 1
                            } else {
                                depth.saturating_sub(1)
                            };
                        }
                        i += 2;
                        continue;
                    }
                    b'}' if interpolations
                        .last()
                        .is_some_and(|(at, _)| *at + 1 == depth) =>
                    {
                        let (at, string) = interpolations.pop().expect("an interpolation");
                        depth = at;
                        mode = string;
                    }
                    b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                    b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                        let end = word_end(text, i);
                        let word = &text[i..end];
                        let after = text.get(end).copied();
                        let before = i.checked_sub(1).map(|b| text[b]);
                        // `do:` and `end:` are keys, `:do` an atom, `x.end` a call.
                        let plain = after != Some(b':') && !matches!(before, Some(b':' | b'.'));
                        if plain && (word == b"do" || word == b"fn") {
                            depth += 1;
                        } else if plain && word == b"end" {
                            depth = depth.saturating_sub(1);
                        }
                        i = end;
                        deepest = deepest.max(depth);
                        continue;
                    }
                    _ => {}
                }
                deepest = deepest.max(depth);
                if deepest > limit {
                    return limit + 1;
                }
                i += 1;
            }
        }
    }
    deepest.min(limit + 1)
}

/// Whether `byte` appears `count` times from `at`.
fn repeats(text: &[u8], at: usize, byte: u8, count: u8) -> bool {
    text.get(at..at + count as usize)
        .is_some_and(|run| run.iter().all(|b| *b == byte))
}

/// The index of the newline ending the line of `at` (or the end of the text).
fn line_end(text: &[u8], at: usize) -> usize {
    memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |offset| at + offset)
}

/// The end of the identifier starting at `at` (letters, digits, `_`, and a final `?` or `!`).
fn word_end(text: &[u8], at: usize) -> usize {
    let mut end = at;
    while end < text.len() && (text[end].is_ascii_alphanumeric() || text[end] == b'_') {
        end += 1;
    }
    if end < text.len() && matches!(text[end], b'?' | b'!') {
        end += 1;
    }
    end
}

/// Enters the sigil starting at `at` (`~r/.../`, `~s(...)`, `~S"""..."""`) and returns where
/// its content starts; a `~` followed by no delimiter is left as code.
fn sigil_start(text: &[u8], at: usize, mode: &mut Mode) -> usize {
    let mut i = at + 1;
    while i < text.len() && text[i].is_ascii_alphanumeric() {
        i += 1;
    }
    let Some(&open) = text.get(i) else {
        return i;
    };
    let close = match open {
        b'(' => b')',
        b'[' => b']',
        b'{' => b'}',
        b'<' => b'>',
        b'/' | b'|' | b'"' | b'\'' => open,
        _ => return i,
    };
    let count = if matches!(open, b'"' | b'\'') && repeats(text, i, open, 3) {
        3
    } else {
        1
    };
    // Interpolation in lowercase sigils is rare in generated code; treating every sigil as
    // raw text keeps the scan simple and can only under-count brackets inside `#{...}`.
    *mode = Mode::Quoted {
        close,
        count,
        interpolates: false,
    };
    i + count as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(text: &str) -> usize {
        nesting_depth(text.as_bytes(), 10_000)
    }

    #[test]
    fn counts_brackets_blocks_and_functions() {
        assert_eq!(depth("x"), 0);
        assert_eq!(depth("f(g([1, {2, <<3>>}]))"), 5);
        assert_eq!(depth("defmodule A do\n def f, do: fn x -> x end\nend"), 2);
        assert_eq!(depth("case x do\n y -> case y do\n z -> z\n end\nend"), 2);
    }

    #[test]
    fn shift_and_arrow_operators_are_not_binaries() {
        let shifts = "x = a <<< 1 ||| b >>> 2 <<~ c ~>> d\n".repeat(3_000);
        assert_eq!(depth(&shifts), 0);
        assert_eq!(depth("<<a, b::binary>> <> <<>>"), 1);
    }

    #[test]
    fn keys_atoms_and_calls_named_like_keywords_open_nothing() {
        assert_eq!(depth("[do: 1, end: 2, fn: 3]"), 1);
        assert_eq!(depth(":do; :end; x.do; done(); ending"), 1);
    }

    #[test]
    fn brackets_in_strings_comments_sigils_and_characters_are_text() {
        assert_eq!(depth(r#""((((" <> "\"(((""#), 0);
        assert_eq!(depth("# (((((\nx"), 0);
        assert_eq!(depth("'[[[['"), 0);
        assert_eq!(depth("\"\"\"\n ((( \" ((\n\"\"\""), 0);
        assert_eq!(depth("~r/(((/ <> ~s(a[b) <> ~S\"\"\"\n((\n\"\"\""), 0);
        assert_eq!(depth("?( + ?\\( + ?["), 0);
    }

    #[test]
    fn code_in_an_interpolation_counts_and_the_string_resumes_after_it() {
        assert_eq!(depth(r##""a #{f(g(x))} ((( ""##), 3);
        assert_eq!(depth(r##""#{%{a: 1}} }}}" <> f(x)"##), 2);
    }

    #[test]
    fn stops_counting_past_the_limit() {
        let deep = "(".repeat(50_000);
        assert_eq!(nesting_depth(deep.as_bytes(), 100), 101);
        let cases = "case x do\n y -> ".repeat(3_000);
        assert_eq!(nesting_depth(cases.as_bytes(), 2_000), 2_001);
    }

    #[test]
    fn an_unbalanced_text_never_goes_below_zero() {
        assert_eq!(depth(")))) end end (("), 2);
    }
}
