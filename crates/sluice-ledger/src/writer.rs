//! The batching writer: the request path hands rows to a bounded queue without waiting, and
//! one background task writes them in batches.
//!
//! - [`LedgerHandle::record`] is a `try_send`: it never blocks and never fails the caller. A
//!   full queue counts the row in [`LedgerHandle::dropped`].
//! - The task writes a batch when `batch` rows are waiting or `flush_every` after the oldest
//!   waiting row arrived, one transaction per batch.
//! - A failed batch (an error, or no answer within 30 s) is retried with exponential backoff
//!   (100 ms doubling to 5 s) while the task keeps taking rows from the queue, holding up to
//!   `hold_on_failure` of them in memory; rows beyond that are counted as dropped. The store ignores a `request_id` it already
//!   has, so a batch retried after an unclear failure is not written twice.
//! - [`LedgerHandle::shutdown`] (or dropping every handle) makes the task write everything it
//!   was given, then end.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use crate::error::LedgerError;
use crate::row::Row;

/// The first wait before retrying a failed batch; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A batch not written by then counts as failed (and is retried): a database that stopped
/// answering must not stall the writer while the queue fills.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the writer puts its batches. The ledger implements it; tests use fakes.
pub trait Store: Send + Sync + 'static {
    /// Writes `rows` in one transaction, leaving any `request_id` already stored as it is.
    fn insert(&self, rows: &[Row]) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

impl<S: Store> Store for Arc<S> {
    fn insert(&self, rows: &[Row]) -> impl Future<Output = Result<(), LedgerError>> + Send {
        (**self).insert(rows)
    }
}

/// How the writer queues and batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Rows the queue between the request path and the writer holds.
    pub queue: usize,
    /// Rows written per transaction at most; a batch this full is written at once.
    pub batch: usize,
    /// How long a row may wait for its batch to fill.
    pub flush_every: Duration,
    /// Rows kept in memory while the database fails (at least `batch`).
    pub hold_on_failure: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            queue: 65_536,
            batch: 512,
            flush_every: Duration::from_millis(100),
            hold_on_failure: 100_000,
        }
    }
}

// Rows travel unboxed (one allocation fewer per request); `Shutdown` is sent once.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Row(Row),
    Shutdown,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    written: AtomicU64,
    write_failures: AtomicU64,
    held: AtomicU64,
}

/// The request path's side of the writer. Cheap to clone; every clone feeds the same task.
#[derive(Clone)]
pub struct LedgerHandle {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    done: watch::Receiver<bool>,
}

impl std::fmt::Debug for LedgerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerHandle")
            .field("pending", &self.pending())
            .field("written", &self.written())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl LedgerHandle {
    /// Queues `row` for the writer. Never waits and never fails: if the queue is full (or the
    /// writer has shut down) the row is counted in [`dropped`](Self::dropped) instead.
    pub fn record(&self, row: Row) {
        if self.tx.try_send(Msg::Row(row)).is_err() {
            let before = self.counters.dropped.fetch_add(1, Relaxed);
            if before % 1000 == 0 {
                tracing::warn!(
                    dropped = before + 1,
                    "ledger queue full or closed: request rows dropped"
                );
            }
        }
    }

    /// Rows lost so far: queue full, writer gone, or beyond `hold_on_failure` while the
    /// database failed.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Relaxed)
    }

    /// Rows the writer has stored.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Relaxed)
    }

    /// Batches that failed to write (each is retried).
    pub fn write_failures(&self) -> u64 {
        self.counters.write_failures.load(Relaxed)
    }

    /// Rows recorded but not stored yet: in the queue or held by the writer.
    pub fn pending(&self) -> u64 {
        let queued = self.tx.max_capacity() - self.tx.capacity();
        queued as u64 + self.counters.held.load(Relaxed)
    }

    /// Asks the writer to store every row recorded before this call and waits until it has
    /// and has ended. Rows recorded afterwards are dropped. While the database stays down this
    /// waits (retrying) for it; bound it with `tokio::time::timeout` where that matters. If the
    /// [`WriterTask`] was never run, this never returns.
    pub async fn shutdown(&self) {
        // An error means the writer already closed its queue: then only wait for it.
        let _ = self.tx.send(Msg::Shutdown).await;
        let mut done = self.done.clone();
        // An error means the task was dropped without finishing; nothing is left to wait for.
        let _ = done.wait_for(|finished| *finished).await;
    }
}

/// The writer's background work: spawn it (`tokio::spawn(task)`); it ends after
/// [`LedgerHandle::shutdown`] or when every handle is dropped, once all rows are written.
#[must_use = "the writer does nothing unless its task is spawned or awaited"]
pub struct WriterTask {
    run: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for WriterTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.run.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for WriterTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterTask")
    }
}

/// A writer over any [`Store`]; [`Ledger::writer`](crate::Ledger::writer) is this over the
/// ledger itself.
pub fn start_writer<S: Store>(store: S, config: WriterConfig) -> (LedgerHandle, WriterTask) {
    let (tx, rx) = mpsc::channel(config.queue.max(1));
    let (done_tx, done) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let handle = LedgerHandle {
        tx,
        counters: Arc::clone(&counters),
        done,
    };
    let task = WriterTask {
        run: Box::pin(async move {
            Writer::new(store, config, counters).run(rx).await;
            done_tx.send_replace(true);
        }),
    };
    (handle, task)
}

struct Writer<S> {
    store: S,
    batch: usize,
    hold: usize,
    flush_every: Duration,
    counters: Arc<Counters>,
    /// Rows taken from the queue and not yet stored, oldest first.
    pending: VecDeque<Row>,
    /// When the oldest pending row must be written.
    deadline: Option<Instant>,
    /// While failing: no write before this.
    retry_at: Option<Instant>,
    backoff: Duration,
    failures_in_a_row: u64,
    dropped_while_failing: u64,
}

impl<S: Store> Writer<S> {
    fn new(store: S, config: WriterConfig, counters: Arc<Counters>) -> Self {
        let batch = config.batch.max(1);
        Self {
            store,
            batch,
            hold: config.hold_on_failure.max(batch),
            flush_every: config.flush_every,
            counters,
            pending: VecDeque::new(),
            deadline: None,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            failures_in_a_row: 0,
            dropped_while_failing: 0,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut received = Vec::with_capacity(self.batch);
        // Whether rows may still arrive.
        let mut open = true;
        loop {
            let now = Instant::now();
            let may_write = self.retry_at.is_none_or(|t| now >= t);
            let due = !self.pending.is_empty()
                && (self.pending.len() >= self.batch
                    || !open
                    || self.deadline.is_some_and(|d| now >= d));
            if may_write && due {
                self.write_batch().await;
                continue;
            }
            if !open && self.pending.is_empty() {
                return;
            }
            let wake = match (self.pending.is_empty(), may_write) {
                (true, _) => None,
                (false, false) => self.retry_at,
                (false, true) => self.deadline,
            };
            if !open {
                // Only a retry is left to wait for.
                if let Some(t) = wake {
                    sleep_until(t).await;
                }
                continue;
            }
            tokio::select! {
                n = rx.recv_many(&mut received, self.batch) => {
                    if n == 0 {
                        open = false;
                    }
                    for msg in received.drain(..) {
                        match msg {
                            Msg::Row(row) => self.take(row),
                            // Rows already queued are still drained; later sends fail.
                            Msg::Shutdown => rx.close(),
                        }
                    }
                }
                () = sleep_until_some(wake) => {}
            }
        }
    }

    fn take(&mut self, row: Row) {
        if self.pending.len() >= self.hold {
            self.counters.dropped.fetch_add(1, Relaxed);
            if self.dropped_while_failing == 0 {
                tracing::warn!(
                    held = self.pending.len(),
                    "ledger unavailable and hold_on_failure reached: request rows dropped"
                );
            }
            self.dropped_while_failing += 1;
            return;
        }
        if self.pending.is_empty() {
            // No deadline if `flush_every` is beyond any clock: then batches fill or shut down.
            self.deadline = Instant::now().checked_add(self.flush_every);
        }
        self.pending.push_back(row);
        self.counters.held.store(self.pending.len() as u64, Relaxed);
    }

    async fn write_batch(&mut self) {
        let n = self.pending.len().min(self.batch);
        let attempt = self.store.insert(&self.pending.make_contiguous()[..n]);
        let result = match tokio::time::timeout(WRITE_TIMEOUT, attempt).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {}s", WRITE_TIMEOUT.as_secs())),
        };
        match result {
            Ok(()) => {
                self.pending.drain(..n);
                self.counters.held.store(self.pending.len() as u64, Relaxed);
                self.counters.written.fetch_add(n as u64, Relaxed);
                if self.failures_in_a_row > 0 {
                    tracing::info!(
                        failed_attempts = self.failures_in_a_row,
                        dropped = self.dropped_while_failing,
                        "ledger writes resumed"
                    );
                }
                self.failures_in_a_row = 0;
                self.dropped_while_failing = 0;
                self.retry_at = None;
                self.backoff = FIRST_BACKOFF;
                if self.pending.is_empty() {
                    self.deadline = None;
                }
            }
            Err(e) => {
                self.counters.write_failures.fetch_add(1, Relaxed);
                self.failures_in_a_row += 1;
                if self.failures_in_a_row == 1 || self.failures_in_a_row % 60 == 0 {
                    tracing::warn!(
                        error = %e,
                        held = self.pending.len(),
                        attempts = self.failures_in_a_row,
                        "ledger write failed; holding rows and retrying"
                    );
                }
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn sleep_until_some(t: Option<Instant>) {
    match t {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn row(id: usize) -> Row {
        Row {
            request_id: format!("r{id}"),
            client_request_id: None,
            at_ms: 0,
            key_id: None,
            model: "m".into(),
            provider: None,
            provider_model: None,
            status: "ok".into(),
            http_status: 200,
            stream: true,
            prompt_tokens: 1,
            completion_tokens: 1,
            estimated: false,
            cost_usd: Default::default(),
            cost_local: Default::default(),
            currency: "USD".into(),
            ttft_ms: None,
            duration_ms: 1.0,
            attempts: 1,
            error: None,
        }
    }

    /// Records every batch it is given.
    #[derive(Clone, Default)]
    struct Batches(Arc<Mutex<Vec<usize>>>);

    impl Store for Batches {
        async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
            self.0.lock().unwrap().push(rows.len());
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn full_batches_are_written_at_once_and_the_rest_after_flush_every() {
        let store = Batches::default();
        let config = WriterConfig {
            queue: 100,
            batch: 10,
            flush_every: Duration::from_secs(1),
            hold_on_failure: 100,
        };
        let (handle, task) = start_writer(store.clone(), config);
        let task = tokio::spawn(task);
        for i in 0..25 {
            handle.record(row(i));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(*store.0.lock().unwrap(), [10, 10]);
        assert_eq!(handle.pending(), 5);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(*store.0.lock().unwrap(), [10, 10, 5]);
        assert_eq!(handle.written(), 25);
        drop(handle);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_full_queue_counts_drops_without_blocking() {
        let (handle, task) = start_writer(
            Batches::default(),
            WriterConfig {
                queue: 2,
                ..WriterConfig::default()
            },
        );
        for i in 0..5 {
            handle.record(row(i));
        }
        assert_eq!(handle.dropped(), 3);
        assert_eq!(handle.pending(), 2);
        let task = tokio::spawn(task);
        handle.shutdown().await;
        task.await.unwrap();
        assert_eq!(handle.written(), 2);
        handle.record(row(9));
        assert_eq!(handle.dropped(), 4, "a row after shutdown is dropped");
    }

    #[tokio::test]
    async fn a_config_of_zeros_still_works() {
        let store = Batches::default();
        let (handle, task) = start_writer(
            store.clone(),
            WriterConfig {
                queue: 0,
                batch: 0,
                flush_every: Duration::ZERO,
                hold_on_failure: 0,
            },
        );
        let task = tokio::spawn(task);
        handle.record(row(1));
        handle.shutdown().await;
        task.await.unwrap();
        assert_eq!(handle.written(), 1);
    }
}
