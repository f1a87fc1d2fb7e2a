//! A newline-delimited JSON splitter (Ollama's streams): one frame per non-empty line.

use super::{decode, Frame};

/// Incremental NDJSON splitter.
#[derive(Debug, Clone, Default)]
pub struct NdjsonParser {
    line: Vec<u8>,
}

impl NdjsonParser {
    /// Feeds the next chunk, appending the lines it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Frame>) {
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.line.extend_from_slice(&rest[..end]);
            self.emit(out);
            rest = &rest[end + 1..];
        }
        self.line.extend_from_slice(rest);
    }

    fn emit(&mut self, out: &mut Vec<Frame>) {
        let line = std::mem::take(&mut self.line);
        let trimmed = line.strip_suffix(b"\r").unwrap_or(&line);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        out.push(Frame {
            event: None,
            data: decode(trimmed),
        });
    }

    /// Ends the stream: a last line without a newline is still a line. Never reports a cut;
    /// whether the last object was complete is for the JSON parser to say.
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> bool {
        self.emit(out);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_anywhere_come_out_whole() {
        let mut parser = NdjsonParser::default();
        let mut out = Vec::new();
        parser.feed(b"{\"a\":1}\r\n\n{\"b\"", &mut out);
        parser.feed(b":2}\n{\"c\":3}", &mut out);
        parser.finish(&mut out);
        let data: Vec<_> = out.into_iter().map(|f| f.data).collect();
        assert_eq!(data, vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    }
}
