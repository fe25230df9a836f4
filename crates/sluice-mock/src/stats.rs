//! Counters for `GET /stats`, shared between the HTTP adapter and in-process callers.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Shared request/stream counters (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    streams_started: AtomicU64,
    completed: AtomicU64,
    cancelled: AtomicU64,
    errors: AtomicU64,
    active: AtomicU64,
}

/// A point-in-time copy of [`Stats`].
///
/// - `requests`: every completion request, on any API (chat completions, Anthropic messages,
///   Gemini generateContent and streamGenerateContent).
/// - `streams_started`: streaming response bodies created.
/// - `completed`: bodies (streaming or not) that sent everything.
/// - `cancelled`: bodies dropped by the reader before completing (not deliberate drops).
/// - `errors`: 4xx/5xx answers, deliberate `mock-drop` aborts and `mock-error-midstream`
///   error events.
/// - `active`: successful response bodies currently open (streaming or not).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub streams_started: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub errors: u64,
    pub active: u64,
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let c = &self.0;
        StatsSnapshot {
            requests: c.requests.load(Ordering::Relaxed),
            streams_started: c.streams_started.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::Relaxed),
            cancelled: c.cancelled.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            active: c.active.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn request(&self) {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self) {
        self.0.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A response body was created; returns the guard that settles it.
    pub(crate) fn open_body(&self, streaming: bool) -> BodyGuard {
        if streaming {
            self.0.streams_started.fetch_add(1, Ordering::Relaxed);
        }
        self.0.active.fetch_add(1, Ordering::Relaxed);
        BodyGuard {
            stats: self.clone(),
            open: true,
        }
    }
}

/// Settles one open body exactly once: completed, deliberately failed, or (on drop while
/// still open) cancelled by the reader.
#[derive(Debug)]
pub(crate) struct BodyGuard {
    stats: Stats,
    open: bool,
}

impl BodyGuard {
    pub(crate) fn completed(&mut self) {
        if self.close() {
            self.stats.0.completed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn failed(&mut self) {
        if self.close() {
            self.stats.error();
        }
    }

    fn close(&mut self) -> bool {
        let was_open = std::mem::replace(&mut self.open, false);
        if was_open {
            self.stats.0.active.fetch_sub(1, Ordering::Relaxed);
        }
        was_open
    }
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        if self.close() {
            self.stats.0.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_settles_once() {
        let stats = Stats::new();
        {
            let mut g = stats.open_body(true);
            assert_eq!(stats.snapshot().active, 1);
            g.completed();
            g.failed();
        }
        drop(stats.open_body(false));
        {
            let mut g = stats.open_body(true);
            g.failed();
        }
        let s = stats.snapshot();
        assert_eq!(
            s,
            StatsSnapshot {
                requests: 0,
                streams_started: 2,
                completed: 1,
                cancelled: 1,
                errors: 1,
                active: 0
            }
        );
    }
}
