//! One connection: the socket, its read buffer, writing a request and reading a response head.

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::H1Error;

/// Bytes asked of the socket per read: `MIN_READ` while tokens trickle, growing to `MAX_READ`
/// while the provider outruns the relay (fewer system calls), as hyper's reads do. Starting
/// smaller than a page measured worse at 10,000 open streams (26 → 31 KiB RSS per stream,
/// `scripts/bench-relay.sh`): the buffers regrown under the split-off frames fragment the heap.
const MIN_READ: usize = 4096;
const MAX_READ: usize = 16 * 1024;
/// A response head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

#[derive(Debug)]
pub(crate) struct Conn {
    io: TcpStream,
    /// Received bytes not yet consumed.
    pub(crate) buf: BytesMut,
    /// The next read's size, between `MIN_READ` and `MAX_READ`.
    read_size: usize,
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Chunked,
    Length(u64),
    /// Until the server closes the connection (which then cannot be reused).
    Close,
}

#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: Framing,
    /// The connection may carry another request once this body is read.
    pub(crate) keep_alive: bool,
}

impl Conn {
    pub(crate) async fn connect(addr: &str, timeout: Duration) -> Result<Conn, H1Error> {
        let io = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(io)) => io,
            Ok(Err(source)) => {
                return Err(H1Error::Connect {
                    addr: addr.to_owned(),
                    source,
                })
            }
            Err(_) => {
                return Err(H1Error::ConnectTimeout {
                    addr: addr.to_owned(),
                    timeout,
                })
            }
        };
        // Small request and response writes must not wait for ACKs.
        io.set_nodelay(true)?;
        Ok(Conn {
            io,
            buf: BytesMut::new(),
            read_size: MIN_READ,
        })
    }

    /// For a pooled connection: the peer has not closed it and sent nothing unasked (such as
    /// a `408` before closing). Checked without waiting.
    pub(crate) fn is_idle_and_open(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<(), H1Error> {
        self.io.write_all(bytes).await?;
        Ok(())
    }

    /// Reads more bytes into the buffer; `Ok(0)` is end of stream.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, H1Error>> {
        if self.buf.capacity() - self.buf.len() < self.read_size / 4 {
            self.buf.reserve(self.read_size);
        }
        let room = self.buf.capacity() - self.buf.len();
        let read =
            tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut self.io), cx, &mut self.buf)
                .map_err(H1Error::Io);
        if let Poll::Ready(Ok(n)) = read {
            self.read_size = next_read_size(self.read_size, n, room);
        }
        read
    }

    async fn fill(&mut self) -> Result<usize, H1Error> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Reads the response head, skipping any `1xx` interim responses.
    pub(crate) async fn read_head(&mut self) -> Result<Head, H1Error> {
        loop {
            if let Some(head) = self.parse_head()? {
                if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS
                {
                    continue;
                }
                return Ok(head);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(H1Error::InvalidResponse("response head too large".into()));
            }
            if self.fill().await? == 0 {
                return Err(H1Error::UnexpectedEof);
            }
        }
    }

    /// Parses a complete head from the buffer and consumes it, or returns `None`.
    fn parse_head(&mut self) -> Result<Option<Head>, H1Error> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut slots);
        let len = match res.parse(&self.buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(H1Error::InvalidResponse(e.to_string())),
        };
        let status = res
            .code
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| H1Error::InvalidResponse("bad status code".into()))?;
        let mut headers = HeaderMap::with_capacity(res.headers.len());
        for h in res.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|e| H1Error::InvalidResponse(e.to_string()))?;
            let value = HeaderValue::from_bytes(h.value)
                .map_err(|e| H1Error::InvalidResponse(e.to_string()))?;
            headers.append(name, value);
        }
        let http11 = res.version == Some(1);
        let _ = self.buf.split_to(len);
        let framing = framing_of(status, &headers)?;
        let connection = header_tokens(&headers, http::header::CONNECTION);
        let keep_alive = framing != Framing::Close
            && if http11 {
                !connection.iter().any(|t| t == "close")
            } else {
                connection.iter().any(|t| t == "keep-alive")
            };
        Ok(Some(Head {
            status,
            headers,
            framing,
            keep_alive,
        }))
    }
}

fn framing_of(status: StatusCode, headers: &HeaderMap) -> Result<Framing, H1Error> {
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Length(0));
    }
    let codings = header_tokens(headers, http::header::TRANSFER_ENCODING);
    if let Some(last) = codings.last() {
        return Ok(if last == "chunked" {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    match headers.get(http::header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Framing::Length)
            .ok_or_else(|| H1Error::InvalidResponse("bad content-length".into())),
        None => Ok(Framing::Close),
    }
}

/// The comma-separated tokens of every value of a header, lower-cased.
fn header_tokens(headers: &HeaderMap, name: HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The size of the read after one that got `got` bytes into `room`: double when the read filled
/// its room (more was waiting), halve when it used less than an eighth.
fn next_read_size(size: usize, got: usize, room: usize) -> usize {
    if got >= room {
        (size * 2).min(MAX_READ)
    } else if got < size / 8 {
        (size / 2).max(MIN_READ)
    } else {
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grow_while_they_fill_and_shrink_while_they_trickle() {
        let mut size = MIN_READ;
        for _ in 0..10 {
            size = next_read_size(size, size, size);
        }
        assert_eq!(size, MAX_READ);
        // A read that half fills its room keeps the size.
        assert_eq!(next_read_size(size, size / 2, size), size);
        for _ in 0..10 {
            size = next_read_size(size, 100, size);
        }
        assert_eq!(size, MIN_READ);
    }
}
