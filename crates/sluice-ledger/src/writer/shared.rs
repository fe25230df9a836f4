//! The state the request path's handle and the writer's task share: counters, the health
//! flag and the stop request.

use std::sync::atomic::{AtomicBool, AtomicU64};

use tokio::time::Instant;

/// Counts both sides update without locking.
#[derive(Debug)]
pub(crate) struct Counters {
    pub dropped: AtomicU64,
    pub dropped_refusals: AtomicU64,
    pub written: AtomicU64,
    pub write_failures: AtomicU64,
    /// Rows taken from the queues and not stored yet.
    pub held: AtomicU64,
    pub spilled: AtomicU64,
    pub lost: AtomicU64,
    /// False from a failed batch until a batch is written again.
    pub write_ok: AtomicBool,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            dropped: AtomicU64::new(0),
            dropped_refusals: AtomicU64::new(0),
            written: AtomicU64::new(0),
            write_failures: AtomicU64::new(0),
            held: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            // Nothing has failed yet.
            write_ok: AtomicBool::new(true),
        }
    }
}

/// Whether the writer was asked to stop, and by when it must have finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Running,
    /// Write everything, then end; past the deadline (if any), spill what is left.
    By(Option<Instant>),
}

impl Stop {
    /// This stop request combined with another: the earlier deadline wins, and no deadline
    /// is the latest of all.
    pub fn and(self, deadline: Option<Instant>) -> Stop {
        match (self, deadline) {
            (Stop::Running, d) => Stop::By(d),
            (Stop::By(None), d) | (Stop::By(d), None) => Stop::By(d),
            (Stop::By(Some(a)), Some(b)) => Stop::By(Some(a.min(b))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_deadline_wins() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(Stop::Running.and(None), Stop::By(None));
        assert_eq!(Stop::By(None).and(Some(now)), Stop::By(Some(now)));
        assert_eq!(Stop::By(Some(now)).and(None), Stop::By(Some(now)));
        assert_eq!(Stop::By(Some(later)).and(Some(now)), Stop::By(Some(now)));
        assert_eq!(Stop::By(Some(now)).and(Some(later)), Stop::By(Some(now)));
    }
}
