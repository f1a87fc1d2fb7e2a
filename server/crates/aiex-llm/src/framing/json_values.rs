//! Splits a body made of JSON values: one value (a plain response), several in a row, or the
//! elements of a top-level JSON array (Gemini's `streamGenerateContent` without `alt=sse`),
//! emitting each complete value as soon as its last byte arrives.

use super::{decode, Frame};

/// Incremental splitter of top-level JSON values.
#[derive(Debug, Clone, Default)]
pub struct JsonValuesParser {
    /// Bytes of the value being read.
    value: Vec<u8>,
    /// Nesting depth inside the current value.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// `Some(true)` once a top-level `[` was seen: values are its elements.
    in_array: Option<bool>,
    /// The closing `]` of the top-level array was seen.
    array_closed: bool,
}

impl JsonValuesParser {
    /// Feeds the next chunk, appending the values it completes to `out`. Strings and the
    /// stretches between structural characters are skipped with `memchr`, and bytes are copied
    /// in runs, since Gemini's pretty-printed chunks are mostly indentation and text.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
        let mut i = 0;
        while i < chunk.len() {
            if self.depth > 0 {
                let start = i;
                i = self.scan_value(chunk, i);
                self.value.extend_from_slice(&chunk[start..i]);
                if self.depth == 0 {
                    out.push(Frame {
                        event: None,
                        data: decode(&self.value),
                    });
                    self.value.clear();
                }
                continue;
            }
            let byte = chunk[i];
            i += 1;
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'[' if self.in_array.is_none() => self.in_array = Some(true),
                b',' if self.in_array == Some(true) && !self.array_closed => {}
                b']' if self.in_array == Some(true) && !self.array_closed => {
                    self.array_closed = true
                }
                b'{' | b'[' if !self.array_closed => {
                    self.in_array.get_or_insert(false);
                    self.depth = 1;
                    self.value.push(byte);
                }
                other => {
                    return Err(format!(
                        "unexpected byte {:?} between JSON values",
                        char::from(other)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Advances through a value from `i`; returns where it stopped: just after the value's
    /// closing bracket, or the end of the chunk.
    fn scan_value(&mut self, chunk: &[u8], mut i: usize) -> usize {
        while i < chunk.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                    None => return chunk.len(),
                    Some(offset) => {
                        i += offset;
                        if chunk[i] == b'\\' {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                        }
                        i += 1;
                    }
                }
                continue;
            }
            let rest = &chunk[i..];
            // Look for a bracket only before the next quote or brace, so that each byte is
            // scanned a bounded number of times.
            let quote_or_brace = memchr::memchr3(b'"', b'{', b'}', rest);
            let window = &rest[..quote_or_brace.unwrap_or(rest.len())];
            let Some(offset) = memchr::memchr2(b'[', b']', window).or(quote_or_brace) else {
                return chunk.len();
            };
            i += offset;
            match chunk[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                _ => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return i + 1;
                    }
                }
            }
            i += 1;
        }
        i
    }

    /// Ends the body; returns true when a value or the top-level array was left open.
    pub fn finish(&mut self) -> bool {
        let cut = self.depth > 0 || (self.in_array == Some(true) && !self.array_closed);
        self.value.clear();
        self.depth = 0;
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&str]) -> (Result<Vec<String>, String>, bool) {
        let mut parser = JsonValuesParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            if let Err(error) = parser.feed(chunk.as_bytes(), &mut out) {
                return (Err(error), false);
            }
        }
        let cut = parser.finish();
        (Ok(out.into_iter().map(|f| f.data).collect()), cut)
    }

    #[test]
    fn array_elements_come_out_one_by_one() {
        let (values, cut) = split(&["[{\"a\":\"}]\\\"\"}", ",\n{\"b\":[1,2]}", "]"]);
        assert_eq!(values.unwrap(), vec!["{\"a\":\"}]\\\"\"}", "{\"b\":[1,2]}"]);
        assert!(!cut);
    }

    #[test]
    fn plain_body_is_one_value() {
        let (values, cut) = split(&["{\"x\": ", "1}\n"]);
        assert_eq!(values.unwrap(), vec!["{\"x\": 1}"]);
        assert!(!cut);
    }

    #[test]
    fn unterminated_array_is_cut() {
        let (values, cut) = split(&["[{\"a\":1},{\"b\""]);
        assert_eq!(values.unwrap(), vec!["{\"a\":1}"]);
        assert!(cut);
    }

    #[test]
    fn garbage_between_values_is_an_error() {
        let (values, _) = split(&["{} oops"]);
        assert!(values.is_err());
    }
}
