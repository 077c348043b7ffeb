//! Incremental Server-Sent Events parser (the WHATWG event-stream format).
//!
//! Bytes arrive in arbitrary pieces: a chunk may end mid-line, between `\r` and `\n`, or in
//! the middle of a UTF-8 character. Lines are split on bytes (line ends are ASCII, so this is
//! safe) and only complete lines are decoded, so chunking never changes the events.

/// One dispatched event: its `event:` name (`message` when absent) and its data lines joined
/// by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// The bytes are not an event stream (bad UTF-8, a runaway line).
    #[error("malformed event stream: {0}")]
    Malformed(String),
    /// The stream ended in the middle of an event.
    #[error("event stream ended in the middle of an event")]
    Cut,
}

/// A line longer than this is not an event stream a provider would send: stop buffering.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes; returns the events completed by them.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut chunk = chunk;
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        self.buf.extend_from_slice(chunk);

        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + offset;
            let line_end = self.buf[end];
            let line = self.buf[start..end].to_vec();
            start = end + 1;
            if line_end == b'\r' {
                match self.buf.get(start) {
                    Some(b'\n') => start += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(SseError::Malformed(format!(
                "a line longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        Ok(events)
    }

    /// Call at end of input: an unfinished line or event means the stream was cut.
    pub fn finish(&self) -> Result<(), SseError> {
        if !self.buf.is_empty() || self.has_data || self.event.is_some() {
            return Err(SseError::Cut);
        }
        Ok(())
    }

    /// Whether the parser holds nothing of an unfinished event.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && !self.has_data && self.event.is_none()
    }

    fn line(&mut self, raw: &[u8]) -> Result<Option<SseEvent>, SseError> {
        let mut line = std::str::from_utf8(raw)
            .map_err(|e| SseError::Malformed(format!("invalid UTF-8 ({e})")))?;
        if !self.started {
            self.started = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` matter for browsers reconnecting, not for one-shot calls;
            // unknown fields are ignored by the spec.
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".to_string()),
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c)?);
        }
        p.finish()?;
        Ok(out)
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_named_events_comments_and_multiline_data() {
        let out = all(&[b": comment\nevent: ping\ndata: {}\n\ndata: a\ndata:b\n\n"]).unwrap();
        assert_eq!(out, vec![ev("ping", "{}"), ev("message", "a\nb")]);
    }

    #[test]
    fn crlf_split_across_chunks_and_bare_cr() {
        let out = all(&[b"data: x\r", b"\n\r", b"\ndata: y\r\r"]).unwrap();
        assert_eq!(out, vec![ev("message", "x"), ev("message", "y")]);
    }

    #[test]
    fn utf8_split_mid_character() {
        let bytes = "data: 你好\n\n".as_bytes();
        let out = all(&[&bytes[..7], &bytes[7..]]).unwrap();
        assert_eq!(out, vec![ev("message", "你好")]);
    }

    #[test]
    fn cut_mid_event_is_reported() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: {\"a\":").unwrap().is_empty());
        assert_eq!(p.finish(), Err(SseError::Cut));
        let mut p = SseParser::new();
        p.feed(b"data: x\n").unwrap();
        assert_eq!(p.finish(), Err(SseError::Cut));
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        assert!(matches!(
            all(&[b"data: \xff\xfe\n\n"]),
            Err(SseError::Malformed(_))
        ));
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        assert_eq!(all(&[b"event: ping\n\n"]).unwrap(), vec![]);
    }
}
