//! Writing SSE frames into a caller-owned buffer, so the relay can reuse one buffer per stream
//! instead of allocating per event.

use bytes::{BufMut, BytesMut};

/// The keep-alive comment sent while nothing else is.
pub const KEEPALIVE: &[u8] = b": keep-alive\n\n";

/// Writes `data: <payload>\n\n`. A payload with line breaks becomes several `data:` lines, so
/// the receiver reassembles exactly `payload` (with `\r\n` and `\r` read as `\n`).
pub fn write_data(out: &mut BytesMut, payload: &[u8]) {
    write_event(out, None, payload);
}

/// Writes an event with an optional `event:` type. `event_type` must not contain line breaks.
pub fn write_event(out: &mut BytesMut, event_type: Option<&str>, payload: &[u8]) {
    out.reserve(payload.len() + 16);
    if let Some(ty) = event_type {
        out.put_slice(b"event: ");
        out.put_slice(ty.as_bytes());
        out.put_u8(b'\n');
    }
    for line in lines(payload) {
        out.put_slice(b"data: ");
        out.put_slice(line);
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}

/// Writes a `:` comment line (each line of `text` as its own comment) and a blank line.
pub fn write_comment(out: &mut BytesMut, text: &[u8]) {
    for line in lines(text) {
        out.put_slice(b": ");
        out.put_slice(line);
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}

/// Splits on `\r\n`, `\n` or `\r`; an empty input is one empty line.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let cur = rest?;
        match memchr::memchr2(b'\n', b'\r', cur) {
            None => {
                rest = None;
                Some(cur)
            }
            Some(i) => {
                let skip = if cur[i] == b'\r' && cur.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = Some(&cur[i + skip..]);
                Some(&cur[..i])
            }
        }
    })
}
