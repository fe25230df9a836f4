//! The store shared by replicas (Redis) as the limiter uses it: whether it answers, what
//! failed, and the queue that carries settlements to it off the request path.
//!
//! When a call fails the store is marked down, with one warning (not one per request), and
//! admissions follow the `on_store_error` policy without trying Redis: a background probe asks
//! it every [`PROBE_EVERY`] and marks it up, with one line, when it answers again, so the
//! gateway returns to shared limits without a restart and no request pays for a connection
//! attempt to a server that is down. Settlements never wait for Redis: they go on a bounded
//! queue that one task applies (several at a time), holding a settlement while the store is
//! down and applying it when the store is back. A full queue drops the settlement (counted);
//! its reservation then expires.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_types::OnStoreError;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

use crate::plan::Settlement;
use crate::redis::{RedisStore, StoreError};

/// How often the probe asks Redis whether it answers (while it is up too, so an idle replica
/// notices an outage before a request does).
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Timeouts in a row that mark the store down. One slow answer is the gateway or Redis busy
/// under a burst, not an outage: only a refused connection, or a store that keeps missing
/// its deadline, switches every request to the policy.
pub(crate) const TIMEOUTS_TO_DOWN: u32 = 3;

/// Settlements waiting for Redis at most; beyond this they are dropped.
pub(crate) const QUEUE_CAPACITY: usize = 65_536;

/// The Redis store, its health and its settlement queue.
#[derive(Debug)]
pub(crate) struct Shared {
    store: Arc<RedisStore>,
    state: Arc<State>,
    queue: mpsc::Sender<Settlement>,
}

/// What the request path, the probe and the settlement task share.
#[derive(Debug)]
struct State {
    up: AtomicBool,
    /// The limiter is gone: background tasks stop.
    closing: AtomicBool,
    /// Woken on every change of `up` and on `closing`.
    changed: Notify,
    /// Woken on `closing`.
    closed: Notify,
    policy: OnStoreError,
    errors: AtomicU64,
    /// Calls in a row that missed their deadline.
    timeouts: AtomicU32,
    /// Settlements given up: the queue was full, Redis refused one for good, or the limiter
    /// closed while Redis was down.
    dropped: AtomicU64,
    /// Settlements queued and not yet applied (or dropped).
    pending: AtomicU64,
    /// Woken when `pending` goes down.
    applied: Notify,
}

impl Shared {
    /// Starts the probe and the settlement task on the current Tokio runtime.
    pub fn start(store: RedisStore, policy: OnStoreError) -> Shared {
        let store = Arc::new(store);
        let state = Arc::new(State {
            up: AtomicBool::new(true),
            closing: AtomicBool::new(false),
            changed: Notify::new(),
            closed: Notify::new(),
            policy,
            errors: AtomicU64::new(0),
            timeouts: AtomicU32::new(0),
            dropped: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            applied: Notify::new(),
        });
        let (queue, settlements) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(probe(store.clone(), state.clone()));
        tokio::spawn(apply_settlements(store.clone(), state.clone(), settlements));
        Shared {
            store,
            state,
            queue,
        }
    }

    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    /// Whether Redis answered the last call made to it.
    pub fn is_up(&self) -> bool {
        self.state.up.load(Ordering::Acquire)
    }

    /// A call to Redis failed: counted, and the store marked down (for timeouts, once
    /// [`TIMEOUTS_TO_DOWN`] came in a row).
    pub fn failed(&self, e: &StoreError) {
        self.state.failed(e);
    }

    /// A call to Redis was answered.
    pub fn answered(&self) {
        self.state.timeouts.store(0, Ordering::Relaxed);
    }

    /// Queues a settlement for Redis, or drops it (counted) when the queue is full.
    pub fn settle(&self, s: Settlement) {
        self.state.pending.fetch_add(1, Ordering::AcqRel);
        if self.queue.try_send(s).is_err() {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
            self.state.finished();
        }
    }

    /// Waits until every queued settlement was applied, or `deadline`; whether they were.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let applied = self.state.applied.notified();
            tokio::pin!(applied);
            // Registered before the count is read, so a wake-up in between is not missed.
            applied.as_mut().enable();
            if self.state.pending.load(Ordering::Acquire) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, applied).await.is_err() {
                return self.state.pending.load(Ordering::Acquire) == 0;
            }
        }
    }

    pub fn errors(&self) -> u64 {
        self.state.errors.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.state.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::Release);
        self.state.changed.notify_waiters();
        self.state.closed.notify_waiters();
    }
}

impl State {
    fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    fn failed(&self, e: &StoreError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if matches!(e, StoreError::Timeout(_))
            && self.timeouts.fetch_add(1, Ordering::Relaxed) + 1 < TIMEOUTS_TO_DOWN
        {
            return;
        }
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                error = %e,
                on_store_error = self.policy.as_str(),
                "the Redis limit store does not answer: limits follow on_store_error until it does"
            );
            self.changed.notify_waiters();
        }
    }

    fn recovered(&self) {
        self.timeouts.store(0, Ordering::Relaxed);
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!("the Redis limit store answers again: limits are shared again");
            self.changed.notify_waiters();
        }
    }

    fn finished(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        self.applied.notify_waiters();
    }

    /// Waits until the store is up, the limiter closes, or `at_most` passes.
    async fn wait_up(&self, at_most: Duration) {
        let changed = self.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if self.is_up() || self.is_closing() {
            return;
        }
        let _ = tokio::time::timeout(at_most, changed).await;
    }
}

/// Asks Redis at once (so readiness reflects it before the first request), then every
/// [`PROBE_EVERY`]: an idle replica notices an outage, and one whose store is down notices it
/// is back, without a request paying for it.
async fn probe(store: Arc<RedisStore>, state: Arc<State>) {
    while !state.is_closing() {
        match store.ping().await {
            Ok(()) => state.recovered(),
            Err(e) => state.failed(&e),
        }
        let closed = state.closed.notified();
        tokio::pin!(closed);
        closed.as_mut().enable();
        if state.is_closing() {
            break;
        }
        let _ = tokio::time::timeout(PROBE_EVERY, closed).await;
    }
}

/// Settlements applied at once: they commute (each adds to counters or moves a `tat`), so
/// they need not wait for each other, and their calls share the multiplexed connection.
const IN_FLIGHT: usize = 64;

/// Applies queued settlements, up to [`IN_FLIGHT`] at a time.
async fn apply_settlements(
    store: Arc<RedisStore>,
    state: Arc<State>,
    mut settlements: mpsc::Receiver<Settlement>,
) {
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            next = settlements.recv(), if running.len() < IN_FLIGHT => match next {
                Some(s) => {
                    running.spawn(apply(store.clone(), state.clone(), s));
                }
                None => break,
            },
            Some(_) = running.join_next(), if !running.is_empty() => state.finished(),
        }
    }
    while running.join_next().await.is_some() {
        state.finished();
    }
}

/// Applies one settlement. One that fails because Redis is away is applied when it is back;
/// one that can never succeed (a script error) is dropped and counted.
async fn apply(store: Arc<RedisStore>, state: Arc<State>, s: Settlement) {
    loop {
        if !state.is_up() {
            if state.is_closing() {
                state.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            state.wait_up(PROBE_EVERY).await;
            continue;
        }
        match store.settle(&s).await {
            Ok(()) => return,
            // A timeout may come after Redis applied it: sent again, its cost is charged
            // twice, which errs on the safe side of a budget.
            Err(e) if e.is_transient() => state.failed(&e),
            Err(e) => {
                tracing::warn!(error = %e, "a settlement could not be applied; its reservation will expire");
                state.errors.fetch_add(1, Ordering::Relaxed);
                state.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}
