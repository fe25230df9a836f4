//! The writer's loop: takes rows from the two queues (billable first), writes them in
//! batches, holds and retries while the database fails, and at a stop deadline hands what is
//! left to the spill file.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::config::{ShutdownReport, Store, WriterConfig};
use super::shared::{Counters, Stop};
use crate::row::Row;
use crate::spill;

/// The first wait before retrying a failed batch; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A batch not written by then counts as failed (and is retried): a database that stopped
/// answering must not stall the writer while the queue fills.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The two queues' receiving ends and the stop request, as the loop sees them.
pub(super) struct Inputs {
    pub rows: mpsc::Receiver<Row>,
    pub refusals: mpsc::Receiver<Row>,
    pub stop: watch::Receiver<Stop>,
    /// Whether a stop request may still come (false once every handle is gone).
    pub stop_open: bool,
}

impl Inputs {
    /// Takes in a change of the stop request: the deadline, if the writer must now stop.
    /// The queues close at once: rows already queued are still drained, later ones dropped.
    fn stop_changed(
        &mut self,
        changed: Result<(), watch::error::RecvError>,
    ) -> Option<Option<Instant>> {
        if changed.is_err() {
            // Every handle is gone: the queues end too, once drained.
            self.stop_open = false;
            return None;
        }
        let Stop::By(deadline) = *self.stop.borrow_and_update() else {
            return None;
        };
        self.rows.close();
        self.refusals.close();
        Some(deadline)
    }
}

/// Which of the two kinds of rows.
#[derive(Clone, Copy)]
enum Kind {
    Billable,
    Refusal,
}

pub(super) struct Writer<S> {
    store: S,
    batch: usize,
    hold: usize,
    hold_refusals: usize,
    flush_every: Duration,
    spill_path: Option<PathBuf>,
    counters: Arc<Counters>,
    /// Billable rows taken from the queue and not yet stored, oldest first.
    billable: VecDeque<Row>,
    /// Rows of refused requests taken from their queue and not yet stored, oldest first.
    refusals: VecDeque<Row>,
    /// When the oldest held row must be written.
    deadline: Option<Instant>,
    /// While failing: no write before this.
    retry_at: Option<Instant>,
    backoff: Duration,
    failures_in_a_row: u64,
    dropped_while_failing: u64,
    /// Set once asked to stop: the deadline, if any, past which rows are spilled.
    stopping: Option<Option<Instant>>,
}

impl<S: Store> Writer<S> {
    pub fn new(store: S, config: WriterConfig, counters: Arc<Counters>) -> Self {
        let batch = config.batch.max(1);
        Self {
            store,
            batch,
            hold: config.hold_on_failure.max(batch),
            hold_refusals: config.refusal_queue.max(batch),
            flush_every: config.flush_every,
            spill_path: config.spill_path,
            counters,
            billable: VecDeque::new(),
            refusals: VecDeque::new(),
            deadline: None,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            failures_in_a_row: 0,
            dropped_while_failing: 0,
            stopping: None,
        }
    }

    pub async fn run(mut self, mut inputs: Inputs) -> ShutdownReport {
        let mut received = Vec::with_capacity(self.batch);
        let mut received_refusals = Vec::with_capacity(self.batch);
        // Whether rows may still arrive on each queue.
        let (mut rows_open, mut refusals_open) = (true, true);
        loop {
            let now = Instant::now();
            let stop_at = self.stopping.flatten();
            if stop_at.is_some_and(|d| now >= d) {
                return self.spill_the_rest(&mut inputs).await;
            }
            let open = rows_open || refusals_open;
            let held = !self.billable.is_empty() || !self.refusals.is_empty();
            let may_write = self.retry_at.is_none_or(|t| now >= t);
            let due = held
                && (self.billable.len() >= self.batch
                    || self.refusals.len() >= self.batch
                    || !open
                    || self.stopping.is_some()
                    || self.deadline.is_some_and(|d| now >= d));
            if may_write && due {
                self.write_batch(&mut inputs, stop_at).await;
                continue;
            }
            if !open && !held {
                return self.report(0, 0);
            }
            let wake = match (held, may_write) {
                (false, _) => None,
                (true, false) => self.retry_at,
                (true, true) => self.deadline,
            };
            let wake = match (wake, stop_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // A stop request first (it is ready once per request, so it starves nothing), then
            // billable rows: refusals are read only when no billable row is waiting.
            tokio::select! {
                biased;
                changed = inputs.stop.changed(), if inputs.stop_open => {
                    if let Some(deadline) = inputs.stop_changed(changed) {
                        self.stopping = Some(deadline);
                    }
                }
                n = inputs.rows.recv_many(&mut received, self.batch), if rows_open => {
                    rows_open = n > 0;
                    for row in received.drain(..) {
                        self.take(row, Kind::Billable);
                    }
                }
                n = inputs.refusals.recv_many(&mut received_refusals, self.batch), if refusals_open => {
                    refusals_open = n > 0;
                    for row in received_refusals.drain(..) {
                        self.take(row, Kind::Refusal);
                    }
                }
                () = sleep_until_some(wake) => {}
            }
        }
    }

    fn take(&mut self, row: Row, kind: Kind) {
        let (held, bound) = match kind {
            Kind::Billable => (self.billable.len(), self.hold),
            Kind::Refusal => (self.refusals.len(), self.hold_refusals),
        };
        // Once stopping, memory is bounded by the closed queues: keep every row for the
        // database or the spill file.
        if held >= bound && self.stopping.is_none() {
            match kind {
                Kind::Billable => {
                    self.counters.dropped.fetch_add(1, Relaxed);
                    if self.dropped_while_failing == 0 {
                        tracing::warn!(
                            held,
                            "ledger unavailable and hold_on_failure reached: request rows dropped"
                        );
                    }
                    self.dropped_while_failing += 1;
                }
                Kind::Refusal => {
                    self.counters.dropped_refusals.fetch_add(1, Relaxed);
                }
            }
            return;
        }
        if self.billable.is_empty() && self.refusals.is_empty() {
            // No deadline if `flush_every` is beyond any clock: then batches fill or shut down.
            self.deadline = Instant::now().checked_add(self.flush_every);
        }
        match kind {
            Kind::Billable => self.billable.push_back(row),
            Kind::Refusal => self.refusals.push_back(row),
        }
        self.note_held();
    }

    fn note_held(&self) {
        let held = self.billable.len() + self.refusals.len();
        self.counters.held.store(held as u64, Relaxed);
    }

    /// Writes one batch, billable rows first. A stop deadline, also one asked for while the
    /// write is under way, cuts it short: its rows stay held (for the spill file), and the
    /// store skips them on replay if it had committed them after all.
    async fn write_batch(&mut self, inputs: &mut Inputs, mut stop_at: Option<Instant>) {
        let kind = if self.billable.is_empty() {
            Kind::Refusal
        } else {
            Kind::Billable
        };
        let rows = match kind {
            Kind::Billable => &mut self.billable,
            Kind::Refusal => &mut self.refusals,
        };
        let n = rows.len().min(self.batch);
        // The attempt borrows the rows it writes: it ends with this block.
        let result = {
            let timeout = Instant::now() + WRITE_TIMEOUT;
            let give_up = sleep_until(stop_at.map_or(timeout, |d| d.min(timeout)));
            let mut give_up = std::pin::pin!(give_up);
            let mut attempt = std::pin::pin!(self.store.insert(&rows.make_contiguous()[..n]));
            loop {
                tokio::select! {
                    biased;
                    result = &mut attempt => break result.map_err(|e| e.to_string()),
                    () = &mut give_up => {
                        break Err(if stop_at.is_some_and(|d| d <= timeout) {
                            "the shutdown deadline came first".to_owned()
                        } else {
                            format!("no answer within {}s", WRITE_TIMEOUT.as_secs())
                        })
                    }
                    changed = inputs.stop.changed(), if inputs.stop_open => {
                        if let Some(deadline) = inputs.stop_changed(changed) {
                            self.stopping = Some(deadline);
                            stop_at = deadline;
                            if let Some(d) = deadline.filter(|d| *d < give_up.deadline()) {
                                give_up.as_mut().reset(d);
                            }
                        }
                    }
                }
            }
        };
        match result {
            Ok(()) => {
                match kind {
                    Kind::Billable => self.billable.drain(..n),
                    Kind::Refusal => self.refusals.drain(..n),
                };
                self.note_held();
                self.counters.written.fetch_add(n as u64, Relaxed);
                self.counters.write_ok.store(true, Relaxed);
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
                if self.billable.is_empty() && self.refusals.is_empty() {
                    self.deadline = None;
                }
            }
            Err(e) => {
                self.counters.write_failures.fetch_add(1, Relaxed);
                self.counters.write_ok.store(false, Relaxed);
                self.failures_in_a_row += 1;
                if self.failures_in_a_row == 1 || self.failures_in_a_row % 60 == 0 {
                    tracing::warn!(
                        error = %e,
                        held = self.billable.len() + self.refusals.len(),
                        attempts = self.failures_in_a_row,
                        "ledger write failed; holding rows and retrying"
                    );
                }
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// At the stop deadline: every row held or still queued goes to the spill file (billable
    /// rows first), and the writer ends.
    async fn spill_the_rest(&mut self, inputs: &mut Inputs) -> ShutdownReport {
        inputs.rows.close();
        inputs.refusals.close();
        drain_closed(&mut inputs.rows, &mut self.billable).await;
        drain_closed(&mut inputs.refusals, &mut self.refusals).await;
        let rows: Vec<Row> = self
            .billable
            .drain(..)
            .chain(self.refusals.drain(..))
            .collect();
        self.note_held();
        let n = rows.len() as u64;
        if n == 0 {
            return self.report(0, 0);
        }
        let Some(path) = self.spill_path.clone() else {
            tracing::error!(
                rows = n,
                "ledger shutdown deadline reached with rows unwritten and no spill file: rows lost"
            );
            return self.report(0, n);
        };
        let shown = path.display().to_string();
        let appended = tokio::task::spawn_blocking(move || spill::append(&path, &rows)).await;
        match appended {
            Ok(Ok(())) => {
                tracing::warn!(
                    rows = n,
                    spill_file = %shown,
                    "ledger shutdown deadline reached: unwritten rows spilled, to be replayed"
                );
                self.report(n, 0)
            }
            Ok(Err(e)) => {
                tracing::error!(rows = n, spill_file = %shown, error = %e, "ledger spill failed: rows lost");
                self.report(0, n)
            }
            Err(e) => {
                tracing::error!(rows = n, spill_file = %shown, error = %e, "ledger spill failed: rows lost");
                self.report(0, n)
            }
        }
    }

    fn report(&self, spilled: u64, lost: u64) -> ShutdownReport {
        self.counters.spilled.fetch_add(spilled, Relaxed);
        self.counters.lost.fetch_add(lost, Relaxed);
        ShutdownReport {
            written: self.counters.written.load(Relaxed),
            spilled: self.counters.spilled.load(Relaxed),
            lost: self.counters.lost.load(Relaxed),
        }
    }
}

/// Moves every row left in a closed queue into `into`. A send that had taken its slot just
/// before the queue closed may land a moment later, so an empty but not yet finished queue is
/// polled again (a bounded number of times: an exit never hangs on it).
async fn drain_closed(rx: &mut mpsc::Receiver<Row>, into: &mut VecDeque<Row>) {
    let mut empty_polls = 0;
    loop {
        match rx.try_recv() {
            Ok(row) => into.push_back(row),
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            Err(mpsc::error::TryRecvError::Empty) if empty_polls < 100 => {
                empty_polls += 1;
                tokio::task::yield_now().await;
            }
            Err(mpsc::error::TryRecvError::Empty) => return,
        }
    }
}

async fn sleep_until_some(t: Option<Instant>) {
    match t {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}
