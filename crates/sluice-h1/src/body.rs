//! A response body as a stream of byte slices, polled by whoever reads it (the relay task), not
//! by a connection task of its own.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use crate::chunked::{ChunkedDecoder, Decoded};
use crate::conn::{Conn, Framing};
use crate::pool::Pool;
use crate::H1Error;

#[derive(Debug)]
enum Reader {
    Chunked(ChunkedDecoder),
    Length(u64),
    Close,
}

/// The body of one response. Read to its end, its connection returns to the pool; dropped
/// earlier, its connection is closed.
#[derive(Debug)]
pub struct Body {
    /// `None` once the body has ended.
    conn: Option<Conn>,
    reader: Reader,
    keep_alive: bool,
    pool: Arc<Pool>,
}

impl Body {
    pub(crate) fn new(conn: Conn, framing: Framing, keep_alive: bool, pool: Arc<Pool>) -> Self {
        let reader = match framing {
            Framing::Chunked => Reader::Chunked(ChunkedDecoder::new()),
            Framing::Length(n) => Reader::Length(n),
            Framing::Close => Reader::Close,
        };
        Body {
            conn: Some(conn),
            reader,
            keep_alive,
            pool,
        }
    }

    /// Reads the whole body, up to `limit` bytes (the rest is dropped with the connection).
    pub async fn read_to_end(mut self, limit: usize) -> Result<Vec<u8>, H1Error> {
        use futures_util::StreamExt;
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// The body ended as its framing says: the connection may serve another request.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && conn.buf.is_empty() {
                self.pool.put(conn);
            }
        }
    }
}

impl Stream for Body {
    type Item = Result<Bytes, H1Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            // First what is already buffered.
            match &mut this.reader {
                Reader::Chunked(dec) => match dec.decode(&mut conn.buf) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(Decoded::End) => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(e) => {
                        this.conn = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Reader::Length(0) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Reader::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(conn.buf.len());
                        *left -= n as u64;
                        return Poll::Ready(Some(Ok(conn.buf.split_to(n).freeze())));
                    }
                }
                Reader::Close => {
                    if !conn.buf.is_empty() {
                        return Poll::Ready(Some(Ok(conn.buf.split().freeze())));
                    }
                }
            }
            // Then the socket.
            match ready!(conn.poll_fill(cx)) {
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(match this.reader {
                        Reader::Close => None,
                        _ => Some(Err(H1Error::UnexpectedEof)),
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
