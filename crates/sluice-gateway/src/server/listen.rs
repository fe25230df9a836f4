//! The accept loop: every accepted socket gets TCP_NODELAY, TCP keep-alive (so a client that
//! vanished without a FIN is found out) and, with `[stream] send_buffer`, a bounded kernel
//! send buffer; at most `[server] max_connections` are open at once — beyond that, accepting
//! waits (the kernel's backlog holds the rest), so a flood of connections is backpressure, not
//! a crash. Running out of file descriptors is logged (at most once a second) and waited out.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{self, ConnLimits};

/// What the accept loop needs from the config.
#[derive(Debug, Clone, Copy)]
pub struct ListenConfig {
    pub max_connections: usize,
    pub limits: ConnLimits,
    /// `SO_SNDBUF` for client sockets.
    pub send_buffer: Option<usize>,
}

/// TCP keep-alive on client sockets: the first probe after this long without traffic.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Accepts and serves until `shutdown` resolves; then stops accepting, asks every connection
/// to finish what it is doing and close, and returns once all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    cfg: ListenConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal.cancel();
    });
    let slots = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut last_warning: Option<Instant> = None;
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let tcp = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(e) => {
                    accept_failed(&e, &mut last_warning).await;
                    continue;
                }
            },
        };
        configure(&tcp, cfg.send_buffer);
        connections.spawn(conn::serve(
            tcp,
            router.clone(),
            cfg.limits,
            stop.clone(),
            permit,
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

fn configure(tcp: &TcpStream, send_buffer: Option<usize>) {
    // Small SSE writes must not wait for ACKs.
    let _ = tcp.set_nodelay(true);
    let sock = SockRef::from(tcp);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    let _ = sock.set_tcp_keepalive(&keepalive);
    // A bounded kernel buffer makes a slow client's backlog reach the relay's queue (and its
    // slow-client policy) instead of piling up in the kernel.
    if let Some(size) = send_buffer {
        let _ = sock.set_send_buffer_size(size);
    }
}

/// An accept that failed: out of file descriptors (or another resource) is waited out, with
/// a warning at most once a second; the connection behind it stays in the kernel's backlog.
async fn accept_failed(e: &std::io::Error, last_warning: &mut Option<Instant>) {
    let now = Instant::now();
    if last_warning.is_none_or(|t| now - t >= Duration::from_secs(1)) {
        *last_warning = Some(now);
        tracing::warn!(error = %e, "cannot accept a connection; waiting before the next");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}
