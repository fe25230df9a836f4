//! The incremental decoder: bytes in, frames (events and comments) out.

use bytes::{Buf, Bytes, BytesMut};

/// Events (and unterminated lines) larger than this are refused, so one malformed or hostile
/// stream cannot make the gateway buffer without bound. Real chunks are well under 64 KiB;
/// the headroom is for a chunk that carries a whole image or a very long tool call.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One dispatched event. Fields the gateway does not relay (`id`, `retry`) are still decoded so
/// callers can see them, but nothing in them is interpreted here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<Bytes>,
    /// The data lines joined with `\n`.
    pub data: Bytes,
    /// The last `id:` field seen in this event (without NUL, as the standard requires).
    pub id: Option<Bytes>,
    /// The last valid `retry:` field seen in this event, in milliseconds.
    pub retry: Option<u64>,
}

impl Event {
    /// The event type, `message` when none was given.
    pub fn event_type(&self) -> &[u8] {
        self.event.as_deref().unwrap_or(b"message")
    }
}

/// What the decoder yields: an event, or a comment line (its text after the `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Event(Event),
    Comment(Bytes),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// An event or line grew past the configured bound before it was complete.
    EventTooLarge { limit: usize },
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => {
                write!(f, "an SSE event exceeded {limit} bytes")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// The data of the event being assembled. One line is the common case and stays a slice of the
/// input; several lines are joined into an owned buffer.
#[derive(Debug, Default)]
enum DataBuf {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl DataBuf {
    fn len(&self) -> usize {
        match self {
            DataBuf::Empty => 0,
            DataBuf::One(b) => b.len(),
            DataBuf::Many(b) => b.len(),
        }
    }

    fn push_line(&mut self, value: Bytes) {
        *self = match std::mem::take(self) {
            DataBuf::Empty => DataBuf::One(value),
            DataBuf::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + 1 + value.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(&value);
                DataBuf::Many(joined)
            }
            DataBuf::Many(mut joined) => {
                joined.extend_from_slice(b"\n");
                joined.extend_from_slice(&value);
                DataBuf::Many(joined)
            }
        };
    }

    fn take(&mut self) -> Option<Bytes> {
        match std::mem::take(self) {
            DataBuf::Empty => None,
            DataBuf::One(b) => Some(b),
            DataBuf::Many(b) => Some(b.freeze()),
        }
    }
}

/// An incremental SSE decoder. Feed it with [`Decoder::push`], drain it with
/// [`Decoder::next_frame`], and call [`Decoder::finish`] at end of input.
#[derive(Debug)]
pub struct Decoder {
    /// Bytes received and not yet consumed as complete lines.
    buf: BytesMut,
    /// How far into `buf` we already looked for a line end, so a long line that arrives in many
    /// pieces is scanned once, not once per piece.
    scanned: usize,
    /// The previous line ended in `\r` at the very end of the input seen so far: a `\n` that
    /// starts the next piece belongs to that line end.
    skip_lf: bool,
    /// Nothing has been consumed yet, so a UTF-8 byte order mark may still be skipped.
    at_start: bool,
    data: DataBuf,
    event: Option<Bytes>,
    id: Option<Bytes>,
    retry: Option<u64>,
    max_event_bytes: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            scanned: 0,
            skip_lf: false,
            at_start: true,
            data: DataBuf::Empty,
            event: None,
            id: None,
            retry: None,
            max_event_bytes,
        }
    }

    /// Appends received bytes. Nothing is parsed until [`Decoder::next_frame`] is called.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held for an incomplete line or event.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() + self.event_len()
    }

    /// Bytes held for the event being assembled (its data, type and id so far).
    fn event_len(&self) -> usize {
        self.data.len()
            + self.event.as_ref().map_or(0, Bytes::len)
            + self.id.as_ref().map_or(0, Bytes::len)
    }

    /// The next complete frame, or `Ok(None)` when more input is needed.
    ///
    /// Memory stays bounded: an event being assembled may not grow past the limit (checked
    /// after every line, so many short `data:` lines in one read count too), and when more
    /// input is needed what is held (an unterminated line and the open event) may not exceed
    /// it either. Past the limit it returns [`SseError::EventTooLarge`], and the stream is
    /// over: the decoder's state is not meant to be used again.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, SseError> {
        while let Some(line) = self.next_line()? {
            if let Some(frame) = self.process_line(line) {
                // A dispatch emptied the open event and a comment left it as it was.
                return Ok(Some(frame));
            }
            if self.event_len() > self.max_event_bytes {
                return Err(self.too_large());
            }
        }
        if self.buffered_len() > self.max_event_bytes {
            return Err(self.too_large());
        }
        Ok(None)
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }

    /// Ends the input. A last line without its line end is taken as complete, and an event
    /// still open (no blank line after it) is returned, so a stream that ends in
    /// `data: [DONE]` with no trailing blank line still yields it. Strict EventSource would drop
    /// it; callers that want that can ignore the result.
    pub fn finish(&mut self) -> Option<Event> {
        if !self.buf.is_empty() {
            let line = self.buf.split().freeze();
            self.scanned = 0;
            if let Some(Frame::Event(ev)) = self.process_line(line) {
                // A complete event cannot come from a non-empty line; kept for completeness.
                return Some(ev);
            }
        }
        self.dispatch()
    }

    /// Splits off the next complete line (without its terminator).
    fn next_line(&mut self) -> Result<Option<Bytes>, SseError> {
        if self.skip_lf && !self.buf.is_empty() {
            if self.buf[0] == b'\n' {
                self.buf.advance(1);
            }
            self.skip_lf = false;
        }
        if self.at_start {
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let n = self.buf.len().min(BOM.len());
            if self.buf[..n] != BOM[..n] {
                self.at_start = false;
            } else if n == BOM.len() {
                self.buf.advance(BOM.len());
                self.at_start = false;
            } else {
                return Ok(None);
            }
        }
        let Some(pos) = memchr::memchr2(b'\n', b'\r', &self.buf[self.scanned..]) else {
            self.scanned = self.buf.len();
            return Ok(None);
        };
        let end = self.scanned + pos;
        self.scanned = 0;
        let terminator = self.buf[end];
        let mut line = self.buf.split_to(end + 1);
        line.truncate(end);
        if terminator == b'\r' {
            if self.buf.is_empty() {
                self.skip_lf = true;
            } else if self.buf[0] == b'\n' {
                self.buf.advance(1);
            }
        }
        Ok(Some(line.freeze()))
    }

    fn process_line(&mut self, line: Bytes) -> Option<Frame> {
        if line.is_empty() {
            return self.dispatch().map(Frame::Event);
        }
        if line[0] == b':' {
            return Some(Frame::Comment(line.slice(1..)));
        }
        let (name, value) = match memchr::memchr(b':', &line) {
            Some(colon) => {
                let start = if line.get(colon + 1) == Some(&b' ') {
                    colon + 2
                } else {
                    colon + 1
                };
                (&line[..colon], line.slice(start..))
            }
            None => (&line[..], Bytes::new()),
        };
        match name {
            b"data" => self.data.push_line(value),
            b"event" => self.event = Some(value),
            b"id" if memchr::memchr(0, &value).is_none() => self.id = Some(value),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse().ok());
            }
            _ => {} // Unknown fields are ignored, as the standard says.
        }
        None
    }

    /// Completes the current event. Per the standard, an event with no `data:` line is not
    /// dispatched (its other fields are discarded).
    fn dispatch(&mut self) -> Option<Event> {
        let event = self.event.take();
        let id = self.id.take();
        let retry = self.retry.take();
        let data = self.data.take()?;
        Some(Event {
            event,
            data,
            id,
            retry,
        })
    }
}

#[cfg(test)]
mod tests;
