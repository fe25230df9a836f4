//! Incremental decoding of `Transfer-Encoding: chunked`: data comes out as slices of the read
//! buffer, whatever the split of the input.

use bytes::{Buf, Bytes, BytesMut};

use crate::H1Error;

/// A chunk-size line longer than this is not a chunk-size line.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data { remaining: u64 },
    DataEnd,
    Trailers,
    Done,
}

/// What the decoder produced from the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    Data(Bytes),
    End,
    NeedMore,
}

#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        ChunkedDecoder { state: State::Size }
    }

    /// Consumes what it can from `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, H1Error> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::End),
                State::Size => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = parse_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data { remaining: size }
                    };
                }
                State::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let data = buf.split_to(n).freeze();
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data { remaining: left }
                    };
                    return Ok(Decoded::Data(data));
                }
                State::DataEnd => match buf.first() {
                    None => return Ok(Decoded::NeedMore),
                    Some(b'\n') => {
                        buf.advance(1);
                        self.state = State::Size;
                    }
                    Some(b'\r') if buf.len() < 2 => return Ok(Decoded::NeedMore),
                    Some(b'\r') if buf[1] == b'\n' => {
                        buf.advance(2);
                        self.state = State::Size;
                    }
                    Some(_) => {
                        return Err(H1Error::InvalidResponse(
                            "chunk data not followed by a line end".into(),
                        ))
                    }
                },
                State::Trailers => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                    }
                }
            }
        }
    }
}

/// Takes one line (without its `\n` or `\r\n`) if a whole one is buffered.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, H1Error> {
    match memchr::memchr(b'\n', buf) {
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i);
            if line.last() == Some(&b'\r') {
                line.truncate(i - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE => {
            Err(H1Error::InvalidResponse("chunk-size line too long".into()))
        }
        None => Ok(None),
    }
}

/// The hexadecimal size before any `;extension`.
fn parse_size(line: &[u8]) -> Result<u64, H1Error> {
    let end = line
        .iter()
        .position(|b| *b == b';' || *b == b' ' || *b == b'\t')
        .unwrap_or(line.len());
    let digits = &line[..end];
    if digits.is_empty() || digits.len() > 16 {
        return Err(H1Error::InvalidResponse(format!(
            "bad chunk size {:?}",
            String::from_utf8_lossy(line)
        )));
    }
    let mut size: u64 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => {
                return Err(H1Error::InvalidResponse(format!(
                    "bad chunk size {:?}",
                    String::from_utf8_lossy(line)
                )))
            }
        };
        size = size * 16 + u64::from(v);
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `pieces` fed one after another; returns the data and whether the end was seen.
    fn decode(pieces: &[&[u8]]) -> Result<(Vec<u8>, bool), H1Error> {
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf)? {
                    Decoded::Data(d) => out.extend_from_slice(&d),
                    Decoded::End => return Ok((out, true)),
                    Decoded::NeedMore => break,
                }
            }
        }
        Ok((out, false))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let input = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n";
        assert_eq!(decode(&[input]).unwrap(), (b"hello world".to_vec(), true));
    }

    #[test]
    fn upper_case_hex_and_bare_lf() {
        assert_eq!(
            decode(&[b"A\nabcdefghij\n0\n\n"]).unwrap(),
            (b"abcdefghij".to_vec(), true)
        );
    }

    #[test]
    fn incomplete_input_is_not_an_end() {
        assert_eq!(decode(&[b"5\r\nhel"]).unwrap(), (b"hel".to_vec(), false));
        assert_eq!(
            decode(&[b"5\r\nhello\r\n0\r\n"]).unwrap(),
            (b"hello".to_vec(), false)
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(&[b"zz\r\n"]).is_err());
        assert!(decode(&[b"3\r\nabcX"]).is_err());
        assert!(decode(&[&[b'1'; 5000][..]]).is_err());
        assert!(decode(&[b"11111111111111111\r\n"]).is_err());
    }

    fn encode(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    proptest! {
        #[test]
        fn any_split_decodes_to_the_same_data(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let wire = encode(&chunks);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for p in points {
                pieces.push(&wire[last..p]);
                last = p;
            }
            pieces.push(&wire[last..]);
            let expected: Vec<u8> = chunks.concat();
            prop_assert_eq!(decode(&pieces).unwrap(), (expected, true));
        }
    }
}
