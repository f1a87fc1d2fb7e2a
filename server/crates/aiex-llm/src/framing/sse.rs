//! A Server-Sent Events parser that follows the WHATWG spec: CRLF, LF or CR line ends, comments,
//! multi-line `data:`, `event:` names, an optional BOM, and chunk boundaries anywhere (even
//! inside a UTF-8 character or between the CR and LF of one line end).

use super::{decode, Frame};

/// Incremental SSE parser: feed it chunks, get complete events.
#[derive(Debug, Clone, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a LF starting the next one belongs to the same line end.
    after_cr: bool,
    /// Whether the first bytes (and a possible BOM) were seen.
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Any field was seen since the last dispatch (to tell a cut stream from a clean end).
    pending_fields: bool,
}

impl SseParser {
    /// Feeds the next chunk, appending the events it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Frame>) {
        if !self.started && !chunk.is_empty() {
            // The BOM may itself be split across chunks; wait for 3 bytes before deciding.
            self.line.extend_from_slice(chunk);
            if self.line.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.line) {
                return;
            }
            self.started = true;
            let buffered = std::mem::take(&mut self.line);
            let body = buffered.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buffered);
            self.feed_started(body, out);
            return;
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        self.feed_started(chunk, out);
    }

    fn feed_started(&mut self, chunk: &[u8], out: &mut Vec<Frame>) {
        let mut rest = chunk;
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            if self.line.is_empty() {
                self.process_line(&rest[..end], out);
            } else {
                self.line.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, out);
            }
            let was_cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.line.extend_from_slice(rest);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<Frame>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // A comment, often a keep-alive.
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&decode(value));
                self.has_data = true;
                self.pending_fields = true;
            }
            b"event" => {
                self.event = Some(decode(value));
                self.pending_fields = true;
            }
            // `id` and `retry` matter for reconnecting EventSource clients; Aiex never
            // reconnects a generation, so they are read and dropped.
            _ => self.pending_fields = true,
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Frame>) {
        self.pending_fields = false;
        let event = self.event.take();
        if !self.has_data {
            return; // Per spec an event with no data is not dispatched.
        }
        self.has_data = false;
        out.push(Frame {
            event: event.filter(|name| !name.is_empty()),
            data: std::mem::take(&mut self.data),
        });
    }

    /// Ends the stream. Per spec, an event not closed by a blank line is dropped; returns true
    /// when such a partial event (or partial line) was left, which means the stream was cut.
    pub fn finish(&mut self) -> bool {
        let cut = !self.line.is_empty() || self.pending_fields;
        self.line.clear();
        self.data.clear();
        self.has_data = false;
        self.event = None;
        self.pending_fields = false;
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> (Vec<Frame>, bool) {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out);
        }
        let cut = parser.finish();
        (out, cut)
    }

    fn frame(event: Option<&str>, data: &str) -> Frame {
        Frame {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn lf_crlf_and_cr_line_ends_give_the_same_events() {
        let lf = parse(&[b"event: a\ndata: 1\n\ndata: 2\n\n"]);
        let crlf = parse(&[b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"]);
        let cr = parse(&[b"event: a\rdata: 1\r\rdata: 2\r\r"]);
        let expected = (vec![frame(Some("a"), "1"), frame(None, "2")], false);
        assert_eq!(lf, expected);
        assert_eq!(crlf, expected);
        assert_eq!(cr, expected);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_end() {
        let (events, cut) = parse(&[b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"]);
        assert_eq!(events, vec![frame(None, "1"), frame(None, "2")]);
        assert!(!cut);
    }

    #[test]
    fn comments_are_skipped_and_multi_line_data_is_joined() {
        let (events, _) = parse(&[b": keep-alive\n\ndata: a\ndata:b\ndata\n\n"]);
        assert_eq!(events, vec![frame(None, "a\nb\n")]);
    }

    #[test]
    fn bom_is_stripped_even_when_split() {
        let (events, _) = parse(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(events, vec![frame(None, "x")]);
    }

    #[test]
    fn utf8_character_split_across_chunks_survives() {
        let text = "data: é→😀\n\n".as_bytes();
        let (events, _) = parse(&[&text[..7], &text[7..9], &text[9..]]);
        assert_eq!(events, vec![frame(None, "é→😀")]);
    }

    #[test]
    fn event_without_trailing_blank_line_is_reported_as_cut() {
        let (events, cut) = parse(&[b"data: 1\n\ndata: {\"partial"]);
        assert_eq!(events, vec![frame(None, "1")]);
        assert!(cut);
    }

    #[test]
    fn event_with_only_event_name_is_not_dispatched() {
        let (events, _) = parse(&[b"event: ping\n\ndata: x\n\n"]);
        assert_eq!(events, vec![frame(None, "x")]);
    }
}
