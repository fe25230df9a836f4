//! One client connection: HTTP/1.1 over hyper, with the time limits of `[server]` that hyper
//! cannot tell apart. hyper's own header timer also runs while a keep-alive connection sits
//! idle, so it would close idle connections after `header_timeout` instead of `idle_timeout`;
//! it is off, and this module keeps both clocks:
//!
//! - **idle**: no request in progress and no byte of a new one: closed after `idle_timeout`;
//! - **head**: the first byte of a request has arrived but not its whole head: closed after
//!   `header_timeout` from that byte (a client sending its headers a byte a minute);
//! - while a request is in progress nothing here limits it: its body has `body_timeout` in the
//!   handler (408), and a stream has the relay's own limits.
//!
//! The clocks are two atomics touched by the socket's reads and by the requests' starts and
//! ends ([`ConnClock`]); the connection's task looks at them only when a deadline may be due.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// What a connection's deadlines are computed from. Times are milliseconds since the
/// connection was accepted (`0` in `head_since` means "no head arriving").
#[derive(Debug)]
struct ConnClock {
    opened: Instant,
    /// Requests whose response has not finished.
    busy: AtomicUsize,
    /// Since when nothing has been in progress.
    idle_since: AtomicU64,
    /// When the first byte of a new request head arrived (0: none).
    head_since: AtomicU64,
}

impl ConnClock {
    fn new() -> Self {
        ConnClock {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        // At least 1, so a head that starts at once is not taken for "none".
        (self.opened.elapsed().as_millis() as u64).max(1)
    }

    /// Bytes were read from the socket.
    fn read(&self) {
        if self.busy.load(Ordering::Relaxed) == 0 && self.head_since.load(Ordering::Relaxed) == 0 {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// A request's head was read: the request is in progress until its response ends.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// When the connection must be closed if nothing changes, or `None` while a request is
    /// in progress.
    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        if self.busy.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let at = |ms: u64, limit: Duration| self.opened + Duration::from_millis(ms) + limit;
        match self.head_since.load(Ordering::Relaxed) {
            0 => Some(at(
                self.idle_since.load(Ordering::Relaxed),
                limits.idle_timeout,
            )),
            since => Some(at(since, limits.header_timeout)),
        }
    }
}

/// A request in progress; dropped when its response body ends (or is dropped).
#[derive(Debug)]
struct InFlight(Arc<ConnClock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle_since.store(self.0.now_ms(), Ordering::Relaxed);
        }
    }
}

/// The socket, noting when bytes arrive.
struct Clocked {
    tcp: TcpStream,
    clock: Arc<ConnClock>,
}

impl AsyncRead for Clocked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read();
        }
        res
    }
}

impl AsyncWrite for Clocked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// A response body that ends its request's [`InFlight`] when it ends or is dropped.
struct Watched {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves one connection until it ends, a deadline closes it, or `shutdown` asks it to finish
/// what is in progress and close. `_permit` holds its place under `max_connections`.
pub async fn serve(
    tcp: TcpStream,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let clock = Arc::new(ConnClock::new());
    let io = TokioIo::new(Clocked {
        tcp,
        clock: clock.clone(),
    });
    let requests = clock.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = requests.begin();
        let router = router.clone();
        async move {
            let res = match router.oneshot(req.map(Body::new)).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(res.map(|inner| Watched {
                inner,
                _in_flight: in_flight,
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // The head's clock is kept above, apart from the idle one.
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        // A head may start at any moment after this look, and is due `header_timeout` after
        // its first byte: looking again within `header_timeout` never misses its deadline.
        let next_look = Instant::now() + limits.header_timeout;
        let wake = clock
            .deadline(&limits)
            .map_or(next_look, |d| d.min(next_look));
        tokio::select! {
            _ = conn.as_mut() => return,
            () = shutdown.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(wake) => {
                if clock.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    // Idle too long, or a head that does not arrive: the connection goes.
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_and_head_clocks_run_apart_and_stop_while_a_request_runs() {
        let limits = ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        };
        let clock = Arc::new(ConnClock::new());
        let opened = clock.opened;
        // Idle from the start.
        assert_eq!(clock.deadline(&limits), Some(opened + limits.idle_timeout));
        tokio::time::advance(Duration::from_secs(5)).await;
        // A byte of a head: the head's clock, from that byte.
        clock.read();
        let head = clock.deadline(&limits).unwrap();
        assert!(
            head >= opened + Duration::from_secs(15) && head < opened + Duration::from_secs(16)
        );
        // The head is read: no limit while the request runs.
        let req = clock.begin();
        assert_eq!(clock.deadline(&limits), None);
        clock.read();
        assert_eq!(clock.deadline(&limits), None);
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(req);
        // Idle again, from the end of the response.
        let idle = clock.deadline(&limits).unwrap();
        assert!(idle >= Instant::now() + limits.idle_timeout - Duration::from_millis(1));
    }
}
