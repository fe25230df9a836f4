//! [`LedgerHandle`]: the request path's side of the writer. Recording never waits and never
//! fails; the handle also reads the writer's counters and health, and asks it to stop.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::config::ShutdownReport;
use super::shared::{Counters, Stop};
use crate::row::Row;

/// How long [`LedgerHandle::shutdown_by`] waits past its deadline for the writer to finish
/// its spill file before it gives up on it: appending and syncing even a full hold of rows
/// takes well under this on a working disk, and a hung disk must not hang the exit.
const SPILL_GRACE: Duration = Duration::from_secs(5);

/// The request path's side of the writer. Cheap to clone; every clone feeds the same task.
#[derive(Clone)]
pub struct LedgerHandle {
    rows: mpsc::Sender<Row>,
    refusals: mpsc::Sender<Row>,
    stop: Arc<watch::Sender<Stop>>,
    counters: Arc<Counters>,
    done: watch::Receiver<Option<ShutdownReport>>,
}

impl std::fmt::Debug for LedgerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerHandle")
            .field("pending", &self.pending())
            .field("written", &self.written())
            .field("dropped", &self.dropped())
            .field("dropped_refusals", &self.dropped_refusals())
            .field("write_ok", &self.write_ok())
            .finish()
    }
}

impl LedgerHandle {
    pub(super) fn new(
        rows: mpsc::Sender<Row>,
        refusals: mpsc::Sender<Row>,
        stop: watch::Sender<Stop>,
        counters: Arc<Counters>,
        done: watch::Receiver<Option<ShutdownReport>>,
    ) -> Self {
        Self {
            rows,
            refusals,
            stop: Arc::new(stop),
            counters,
            done,
        }
    }

    /// Queues the row of a request that may be billed. Never waits and never fails: if the
    /// queue is full (or the writer has shut down) the row is counted in
    /// [`dropped`](Self::dropped) instead.
    pub fn record(&self, row: Row) {
        if self.rows.try_send(row).is_err() {
            let before = self.counters.dropped.fetch_add(1, Relaxed);
            if before % 1000 == 0 {
                tracing::warn!(
                    dropped = before + 1,
                    "ledger queue full or closed: request rows dropped"
                );
            }
        }
    }

    /// Queues the row of a request the gateway refused before any provider saw it (400,
    /// 401, 404, 429...), on a queue of its own: a flood of refusals fills that queue, never
    /// the billable one, and the writer takes billable rows first. A full queue counts the
    /// row in [`dropped_refusals`](Self::dropped_refusals). Never waits and never fails.
    pub fn record_refusal(&self, row: Row) {
        if self.refusals.try_send(row).is_err() {
            let before = self.counters.dropped_refusals.fetch_add(1, Relaxed);
            // A hostile client can make this happen at any rate: log rarely.
            if before % 65_536 == 0 {
                tracing::warn!(
                    dropped_refusals = before + 1,
                    "ledger refusal queue full or closed: rows of refused requests dropped"
                );
            }
        }
    }

    /// Billable rows lost so far: queue full, writer gone, or beyond `hold_on_failure` while
    /// the database failed.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Relaxed)
    }

    /// Rows of refused requests lost so far: their queue full, writer gone, or beyond what
    /// the writer holds of them while the database failed.
    pub fn dropped_refusals(&self) -> u64 {
        self.counters.dropped_refusals.load(Relaxed)
    }

    /// Rows the writer has stored.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Relaxed)
    }

    /// Batches that failed to write (each is retried).
    pub fn write_failures(&self) -> u64 {
        self.counters.write_failures.load(Relaxed)
    }

    /// Whether the ledger is taking rows, for readiness: false from the first batch that
    /// failed to write (a full disk, a read-only file, a database gone) until a batch is
    /// written again, so also while rows are held waiting for a retry. True before anything
    /// was written.
    pub fn write_ok(&self) -> bool {
        self.counters.write_ok.load(Relaxed)
    }

    /// Rows recorded but not stored yet: in either queue or held by the writer.
    pub fn pending(&self) -> u64 {
        let queued = |tx: &mpsc::Sender<Row>| (tx.max_capacity() - tx.capacity()) as u64;
        queued(&self.rows) + queued(&self.refusals) + self.counters.held.load(Relaxed)
    }

    /// Asks the writer to store every row recorded before this call and waits until it has
    /// and has ended. Rows recorded afterwards are dropped. While the database stays down this
    /// waits (retrying) for it; [`shutdown_by`](Self::shutdown_by) bounds the wait and keeps
    /// the rows. If the [`WriterTask`](crate::WriterTask) was never run, this never returns.
    pub async fn shutdown(&self) {
        self.stop.send_modify(|stop| *stop = stop.and(None));
        let mut done = self.done.clone();
        // An error means the task was dropped without finishing; nothing is left to wait for.
        let _ = done.wait_for(Option::is_some).await;
    }

    /// Like [`shutdown`](Self::shutdown), but at `deadline` the writer stops trying: every
    /// row it still holds or has queued (including a batch whose write was under way) is
    /// appended to the spill file and fsync'd, and the writer ends. Returns what became of
    /// the rows. Replaying the spill file later ([`Ledger::replay_spill`](crate::Ledger::replay_spill))
    /// stores each row once, even one whose interrupted write had in fact committed.
    ///
    /// Returns shortly after `deadline` (the time the spill file takes), or at the latest a few
    /// seconds after it if the spill file cannot be written, or the writer task was never run:
    /// then the rows not accounted for are reported lost.
    pub async fn shutdown_by(&self, deadline: Instant) -> ShutdownReport {
        self.stop
            .send_modify(|stop| *stop = stop.and(Some(deadline)));
        let mut done = self.done.clone();
        let finished =
            tokio::time::timeout_at(deadline + SPILL_GRACE, done.wait_for(Option::is_some)).await;
        match finished {
            Ok(Ok(report)) => (*report).unwrap_or_default(),
            // The task was dropped, or did not finish in time: report what the counters know.
            Ok(Err(_)) | Err(_) => ShutdownReport {
                written: self.written(),
                spilled: self.counters.spilled.load(Relaxed),
                lost: self.counters.lost.load(Relaxed) + self.pending(),
            },
        }
    }
}
