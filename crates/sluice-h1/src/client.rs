//! The client of one `host:port`: encoding a request, sending it on a pooled or new
//! connection, and handing back the response head with its body.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::body::Body;
use crate::conn::Conn;
use crate::pool::Pool;
use crate::H1Error;

/// An HTTP/1.1 client for one `host:port`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    addr: String,
    host_header: String,
    connect_timeout: Duration,
    pool: Arc<Pool>,
}

/// A response whose head has arrived; its body is read as a stream.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Client {
    /// `host` as written in the URL (a name, an IPv4 address or a bracketed IPv6 address).
    pub fn new(host: &str, port: u16, connect_timeout: Duration) -> Self {
        let host_header = if port == 80 {
            host.to_owned()
        } else {
            format!("{host}:{port}")
        };
        Client {
            inner: Arc::new(Inner {
                addr: format!("{host}:{port}"),
                host_header,
                connect_timeout,
                pool: Arc::default(),
            }),
        }
    }

    /// Idle pooled connections (for tests and diagnostics).
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.len()
    }

    /// Sends `POST path` with `headers` (`host` and `content-length` are added) and `body`, and
    /// waits for the response head.
    ///
    /// A request is never sent twice once the provider may have read it: a pooled connection is
    /// checked before use (closed or holding unexpected bytes: dropped), and the only retry, on
    /// a new connection, is for a pooled one whose peer had closed before the request could be
    /// written.
    pub async fn post(
        &self,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response, H1Error> {
        let request = encode_request(path, &self.inner.host_header, headers, body);
        loop {
            let (mut conn, reused) = match self.inner.pool.take() {
                Some(conn) => (conn, true),
                None => (
                    Conn::connect(&self.inner.addr, self.inner.connect_timeout).await?,
                    false,
                ),
            };
            if let Err(e) = conn.write_all(&request).await {
                if reused && e.is_stale_connection() {
                    continue;
                }
                return Err(e);
            }
            match conn.read_head().await {
                Ok(head) => {
                    let body =
                        Body::new(conn, head.framing, head.keep_alive, self.inner.pool.clone());
                    return Ok(Response {
                        status: head.status,
                        headers: head.headers,
                        body,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The request head and body in one buffer, so they leave in one write.
fn encode_request(path: &str, host: &str, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
