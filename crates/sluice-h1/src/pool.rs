//! The pool of idle keep-alive connections to one `host:port`: which connection a request may
//! reuse, and how long an idle one is kept.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::conn::Conn;

/// Idle connections kept per client, and how long one may stay idle before it is dropped
/// (providers close idle keep-alive connections after a while; a reused stale one is retried).
const MAX_IDLE: usize = 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Idle connections, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<VecDeque<(Conn, Instant)>>,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Conn, Instant)>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently used connection that is still open and quiet; expired and dead ones
    /// are dropped on the way.
    pub(crate) fn take(&self) -> Option<Conn> {
        let mut idle = self.lock();
        evict_expired(&mut idle);
        while let Some((conn, _)) = idle.pop_back() {
            if conn.is_idle_and_open() {
                return Some(conn);
            }
        }
        None
    }

    pub(crate) fn put(&self, conn: Conn) {
        let mut idle = self.lock();
        evict_expired(&mut idle);
        if idle.len() >= MAX_IDLE {
            idle.pop_front();
        }
        idle.push_back((conn, Instant::now()));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

fn evict_expired(idle: &mut VecDeque<(Conn, Instant)>) {
    while idle
        .front()
        .is_some_and(|(_, since)| since.elapsed() >= IDLE_TIMEOUT)
    {
        idle.pop_front();
    }
}
