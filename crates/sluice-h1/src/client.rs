//! The client: a pool of idle keep-alive connections to one `host:port`, and sending a request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use crate::body::Body;
use crate::conn::Conn;
use crate::H1Error;

/// Idle connections kept per client, and how long one may stay idle before it is dropped
/// (providers close idle keep-alive connections after a while; a reused stale one is retried).
const MAX_IDLE: usize = 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<(Conn, Instant)>>,
}

impl Pool {
    fn take(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < IDLE_TIMEOUT {
                return Some(conn);
            }
        }
        None
    }

    pub(crate) fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((conn, Instant::now()));
        }
    }

    fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

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
    /// waits for the response head. A pooled connection that turns out to be stale before any
    /// answer is replaced by a new one.
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
            let sent = match conn.write_all(&request).await {
                Ok(()) => conn.read_head().await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(head) => {
                    let body =
                        Body::new(conn, head.framing, head.keep_alive, self.inner.pool.clone());
                    return Ok(Response {
                        status: head.status,
                        headers: head.headers,
                        body,
                    });
                }
                Err(e) if reused && e.is_stale_connection() => continue,
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
