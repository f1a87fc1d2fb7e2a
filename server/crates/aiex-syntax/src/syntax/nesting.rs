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

/// Bytes the scan reads by index: a slice, or a rope read chunk by chunk
/// ([`RopeBytes`]). Reads move forward with a lookahead of a few bytes and a look back of one.
trait Bytes {
    /// How many bytes there are.
    fn len(&self) -> usize;
    /// The byte at `at`, if within the text.
    fn get(&mut self, at: usize) -> Option<u8>;
    /// The index of the first newline at or after `at`, or the end of the text.
    fn line_end(&mut self, at: usize) -> usize;
}

impl Bytes for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    #[inline]
    fn get(&mut self, at: usize) -> Option<u8> {
        <[u8]>::get(self, at).copied()
    }

    fn line_end(&mut self, at: usize) -> usize {
        memchr::memchr(b'\n', &self[at..]).map_or(self.len(), |offset| at + offset)
    }
}

/// A rope's bytes, read in place from the chunk that holds the index asked for (the scan
/// asks in order, so a chunk is looked up once or twice per chunk of text): no contiguous
/// copy of the text.
pub(super) struct RopeBytes<'a> {
    rope: &'a ropey::Rope,
    chunk: &'a [u8],
    chunk_start: usize,
    len: usize,
}

impl<'a> RopeBytes<'a> {
    pub(super) fn new(rope: &'a ropey::Rope) -> Self {
        Self {
            rope,
            chunk: &[],
            chunk_start: 0,
            len: rope.len_bytes(),
        }
    }

    /// Makes the chunk holding `at` (< len) current.
    #[cold]
    fn seek(&mut self, at: usize) {
        let (chunk, chunk_start, _, _) = self.rope.chunk_at_byte(at);
        self.chunk = chunk.as_bytes();
        self.chunk_start = chunk_start;
    }
}

impl Bytes for RopeBytes<'_> {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&mut self, at: usize) -> Option<u8> {
        if let Some(&byte) = at
            .checked_sub(self.chunk_start)
            .and_then(|offset| self.chunk.get(offset))
        {
            return Some(byte);
        }
        if at >= self.len {
            return None;
        }
        self.seek(at);
        Some(self.chunk[at - self.chunk_start])
    }

    fn line_end(&mut self, mut at: usize) -> usize {
        while at < self.len {
            if self.get(at).is_none() {
                return self.len;
            }
            let offset = at - self.chunk_start;
            match memchr::memchr(b'\n', &self.chunk[offset..]) {
                Some(found) => return at + found,
                None => at = self.chunk_start + self.chunk.len(),
            }
        }
        self.len
    }
}

/// The deepest nesting of `text`, stopping as soon as it passes `limit` (the result is then
/// `limit + 1`).
pub fn nesting_depth(text: &[u8], limit: usize) -> usize {
    depth_of(text, limit)
}

/// [`nesting_depth`] of a rope, read chunk by chunk in place.
pub fn rope_nesting_depth(rope: &ropey::Rope, limit: usize) -> usize {
    depth_of(RopeBytes::new(rope), limit)
}

fn depth_of(mut text: impl Bytes, limit: usize) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    // Open interpolations: the code depth at each `#{`, to return to its string at `}`.
    let mut interpolations: Vec<(usize, Mode)> = Vec::new();
    let mut mode = Mode::Code;
    let mut i = 0;
    let n = text.len();
    while i < n {
        let Some(byte) = text.get(i) else { break };
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
                if interpolates && byte == b'#' && text.get(i + 1) == Some(b'{') {
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
                if byte == close && repeats(&mut text, i, close, count) {
                    mode = Mode::Code;
                    i += count as usize;
                    continue;
                }
                i += 1;
            }
            Mode::Code => {
                match byte {
                    b'#' => {
                        i = text.line_end(i);
                        continue;
                    }
                    b'?' if text.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) => {
                        // A character literal: `?(`, `?"`, `?\)`.
                        i += if text.get(i + 1) == Some(b'\\') { 3 } else { 2 };
                        continue;
                    }
                    b'"' | b'\'' => {
                        let count = if repeats(&mut text, i, byte, 3) { 3 } else { 1 };
                        mode = Mode::Quoted {
                            close: byte,
                            count,
                            interpolates: true,
                        };
                        i += count as usize;
                        continue;
                    }
                    b'~' if text.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic()) => {
                        i = sigil_start(&mut text, i, &mut mode);
                        continue;
                    }
                    b'(' | b'[' | b'{' => depth += 1,
                    // `<<` and `>>` as binaries, not inside the operators `<<<`, `>>>`,
                    // `<<~` and `~>>` (one would open a level that nothing closes).
                    b'<' | b'>' if text.get(i + 1) == Some(byte) => {
                        let operator = text
                            .get(i + 2)
                            .is_some_and(|b| matches!(b, b'<' | b'>' | b'~'))
                            || i.checked_sub(1)
                                .and_then(|b| text.get(b))
                                .is_some_and(|b| matches!(b, b'<' | b'>' | b'~'));
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
                        let before = i.checked_sub(1).and_then(|b| text.get(b));
                        let end = word_end(&mut text, i);
                        let after = text.get(end);
                        // `do:` and `end:` are keys, `:do` an atom, `x.end` a call.
                        let plain = after != Some(b':') && !matches!(before, Some(b':' | b'.'));
                        if plain
                            && (is_word(&mut text, i, end, b"do")
                                || is_word(&mut text, i, end, b"fn"))
                        {
                            depth += 1;
                        } else if plain && is_word(&mut text, i, end, b"end") {
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

/// The longest edit (removed or inserted bytes) and the longest word around it that
/// [`edit_keeps_depth`] looks at; past these a new scan costs about what the look would.
const MAX_NEUTRAL_EDIT: usize = 4 * 1024;
const MAX_NEUTRAL_WORD: usize = 256;

/// Whether replacing bytes `start..end` of `before` by `inserted` leaves the text's nesting,
/// as [`rope_nesting_depth`] counts it, exactly as it was, so a text known to be within the
/// limit (and free of NUL bytes) stays so without a new scan of the whole text: the scan costs
/// about a millisecond on a 7,000-line file, and typing would pay it at every reparse.
///
/// True when the edit, taken with the words it touches, removes and puts there nothing the scan
/// reacts to (brackets, quotes, `#`, `?`, `~`, a backslash, a sigil's closing `/` or `|`, a
/// newline, NUL, the letters of `do`, `fn` or `end`), and the bytes just around those words
/// are none whose reading depends on their neighbours (quotes that may become `"""`, `<` and
/// `>` that may pair, a sigil's `~`, `?`, a backslash, the `#` of `#{`). Every token the scan
/// reads is then the same outside the edit and opens or closes nothing inside it, whatever
/// the scan's mode there (code, string, sigil, comment). `false` only means "scan again".
pub fn edit_keeps_depth(before: &ropey::Rope, start: usize, end: usize, inserted: &str) -> bool {
    let len = before.len_bytes();
    if start > end
        || end > len
        || end - start > MAX_NEUTRAL_EDIT
        || inserted.len() > MAX_NEUTRAL_EDIT
    {
        return false;
    }
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut words_start = start;
    while words_start > 0 && is_word(before.byte(words_start - 1)) {
        words_start -= 1;
        if start - words_start > MAX_NEUTRAL_WORD {
            return false;
        }
    }
    let mut words_end = end;
    while words_end < len && is_word(before.byte(words_end)) {
        words_end += 1;
        if words_end - end > MAX_NEUTRAL_WORD {
            return false;
        }
    }
    let depends_on_neighbours = |b: u8| {
        matches!(
            b,
            b'"' | b'\'' | b'<' | b'>' | b'~' | b'?' | b'\\' | b'#' | 0
        )
    };
    let edge_before = words_start.checked_sub(1).map(|at| before.byte(at));
    let edge_after = (words_end < len).then(|| before.byte(words_end));
    if edge_before
        .into_iter()
        .chain(edge_after)
        .any(depends_on_neighbours)
    {
        return false;
    }
    let slice_bytes = |from: usize, to: usize| -> Vec<u8> {
        before
            .byte_slice(from..to)
            .chunks()
            .flat_map(str::bytes)
            .collect()
    };
    let (head, tail) = (slice_bytes(words_start, start), slice_bytes(end, words_end));
    let old = [head.as_slice(), &slice_bytes(start, end), &tail].concat();
    let new = [head.as_slice(), inserted.as_bytes(), &tail].concat();
    is_neutral(&old) && is_neutral(&new)
}

/// Whether the scan reads `bytes` as nothing that opens or closes a level or changes its mode.
fn is_neutral(bytes: &[u8]) -> bool {
    let reacts = |b: &u8| {
        matches!(
            b,
            b'(' | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'<'
                | b'>'
                | b'"'
                | b'\''
                | b'#'
                | b'?'
                | b'~'
                | b'\\'
                | b'/'
                | b'|'
                | b'\n'
                | 0
        )
    };
    !bytes.iter().any(reacts)
        && ![&b"do"[..], b"fn", b"end"]
            .iter()
            .any(|word| bytes.windows(word.len()).any(|w| w == *word))
}

/// Whether `byte` appears `count` times from `at`.
fn repeats(text: &mut impl Bytes, at: usize, byte: u8, count: u8) -> bool {
    (at..at + count as usize).all(|i| text.get(i) == Some(byte))
}

/// Whether bytes `start..end` are `word`.
fn is_word(text: &mut impl Bytes, start: usize, end: usize, word: &[u8]) -> bool {
    end - start == word.len() && (start..end).zip(word).all(|(i, b)| text.get(i) == Some(*b))
}

/// The end of the identifier starting at `at` (letters, digits, `_`, and a final `?` or `!`).
fn word_end(text: &mut impl Bytes, at: usize) -> usize {
    let mut end = at;
    while text
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        end += 1;
    }
    if text.get(end).is_some_and(|b| matches!(b, b'?' | b'!')) {
        end += 1;
    }
    end
}

/// Enters the sigil starting at `at` (`~r/.../`, `~s(...)`, `~S"""..."""`) and returns where
/// its content starts; a `~` followed by no delimiter is left as code.
fn sigil_start(text: &mut impl Bytes, at: usize, mode: &mut Mode) -> usize {
    let mut i = at + 1;
    while text.get(i).is_some_and(|b| b.is_ascii_alphanumeric()) {
        i += 1;
    }
    let Some(open) = text.get(i) else {
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
    fn a_rope_read_chunk_by_chunk_nests_as_deep_as_its_text() {
        // Ropes keep about 1 KB a chunk: tokens, strings and comments cross chunk boundaries.
        let module = "defmodule A do\n  # ((( a comment\n  def f(x), do: [x, \"(#{g(x)}\"] |> h()\n  def k, do: fn y -> <<y>> end\nend\n";
        let text = format!(
            "{}{}{}",
            module.repeat(300),
            "f(".repeat(700),
            ")".repeat(700)
        );
        let rope = ropey::Rope::from_str(&text);
        assert!(rope.chunks().count() > 10);
        for limit in [5, 699, 10_000] {
            assert_eq!(
                rope_nesting_depth(&rope, limit),
                nesting_depth(text.as_bytes(), limit),
                "limit {limit}"
            );
        }
        assert_eq!(rope_nesting_depth(&rope, 10_000), 700);
        assert_eq!(rope_nesting_depth(&ropey::Rope::new(), 10), 0);
    }

    fn keeps(text: &str, start: usize, end: usize, inserted: &str) -> bool {
        edit_keeps_depth(&ropey::Rope::from_str(text), start, end, inserted)
    }

    #[test]
    fn typing_a_name_or_an_operator_keeps_the_depth_and_brackets_quotes_or_keywords_do_not() {
        let text = "defmodule A do\n  def f(x), do: x + total\nend\n";
        let at = text.find("total").unwrap() + 5;
        assert!(keeps(text, at, at, "s"));
        assert!(keeps(text, at, at, " * 2, "));
        assert!(keeps(text, at - 5, at, "sum"), "a word replaced by another");
        for reacting in [
            "(", ")", "\"", "'", "#", "?", "~", "\n", "<", "/", "|", "\\", "\0",
        ] {
            assert!(!keeps(text, at, at, reacting), "{reacting:?}");
        }
        // A keyword formed, broken or moved next to the edit.
        assert!(!keeps(text, at, at, " do"));
        assert!(
            !keeps("x = tr", 6, 6, "uefn"),
            "the letters of fn, in a word"
        );
        assert!(!keeps("x = e", 5, 5, "nd"));
        assert!(!keeps("foo end", 3, 4, ""), "a space before end removed");
    }

    #[test]
    fn an_edit_beside_a_sigil_or_an_escape_is_scanned_again() {
        // `~r (` is no sigil: its brackets and quotes would become code.
        assert!(!keeps(r#"x = ~r(")"#, 6, 6, " "));
        assert!(!keeps(r#""a\ b""#, 3, 4, ""), "the space after a backslash");
        assert!(!keeps("x = ? y", 5, 6, ""), "a space after ?");
    }

    #[test]
    fn whenever_an_edit_is_said_to_keep_the_depth_a_new_scan_agrees() {
        // Random edits from an alphabet dense in what the scan reacts to, on a text with
        // strings, heredocs, sigils, interpolations, comments and character literals.
        let base = concat!(
            "defmodule A.B do\n  @doc \"\"\"\n  ((( #{f(x)}\n  \"\"\"\n",
            "  def f(x, y \\\\ 1), do: [x, \"(#{g(x)}\"] |> h(?(, ?\\))\n",
            "  # a comment ( [ {\n  def k, do: fn y -> <<y>> end <> ~r/a(b/ <> ~s(c[d)\n",
            "  x = if y, do: :do, else: %{end: 1}.end\nend\n"
        );
        let alphabet: Vec<&str> = vec![
            "a", "d", "o", "e", "n", "f", "x", "_", "1", " ", ".", ":", ",", "=", "(", ")", "[",
            "]", "{", "}", "<", ">", "\"", "'", "#", "?", "~", "\\", "/", "|", "\n", "do", "end",
            "fn",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        let mut text = base.to_owned();
        let (mut kept, mut checked) = (0, 0);
        for _ in 0..20_000 {
            let start = next(text.len() + 1);
            let end = (start + next(4)).min(text.len());
            let inserted: String = (0..next(3))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            let mut edited = text.clone();
            edited.replace_range(start..end, &inserted);
            if keeps(&text, start, end, &inserted) {
                kept += 1;
                assert_eq!(depth(&text), depth(&edited), "{text:?} -> {edited:?}");
            }
            checked += 1;
            // Drift, but stay near the shapes above.
            text = if checked % 50 == 0 {
                base.to_owned()
            } else {
                edited
            };
        }
        assert!(kept > 2_000, "the test exercises kept edits: {kept}");
    }

    #[test]
    fn an_unbalanced_text_never_goes_below_zero() {
        assert_eq!(depth(")))) end end (("), 2);
    }
}
