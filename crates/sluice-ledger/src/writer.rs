//! The batching writer: the request path hands rows to bounded queues without waiting, and
//! one background task writes them in batches.
//!
//! - [`LedgerHandle::record`] (billable rows) and [`LedgerHandle::record_refusal`] (rows of
//!   requests refused before any provider saw them) are `try_send`s on two queues: they never
//!   block and never fail the caller. A full queue counts the row in
//!   [`LedgerHandle::dropped`] or [`LedgerHandle::dropped_refusals`]. The refusal queue is
//!   separate and smaller, and the task takes billable rows first, so a flood of refused
//!   requests cannot crowd billable rows out.
//! - The task writes a batch when `batch` rows are waiting or `flush_every` after the oldest
//!   waiting row arrived, one transaction per batch.
//! - A failed batch (an error, or no answer within 30 s) is retried with exponential backoff
//!   (100 ms doubling to 5 s) while the task keeps taking rows from the queues, holding up to
//!   `hold_on_failure` billable rows (and `refusal_queue` refusals) in memory; rows beyond
//!   that are counted as dropped. [`LedgerHandle::write_ok`] is false meanwhile. The store
//!   ignores a `request_id` it already has, so a batch retried after an unclear failure is
//!   not written twice.
//! - [`LedgerHandle::shutdown`] (or dropping every handle) makes the task write everything it
//!   was given, then end. [`LedgerHandle::shutdown_by`] does the same until a deadline, then
//!   appends every row still held or queued to the spill file (see `spill`) and ends.

mod config;
mod handle;
mod run;
mod shared;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, watch};

pub use config::{ShutdownReport, Store, WriterConfig};
pub use handle::LedgerHandle;

use run::{Inputs, Writer};
use shared::{Counters, Stop};

/// The writer's background work: spawn it (`tokio::spawn(task)`); it ends after
/// [`LedgerHandle::shutdown`] or [`LedgerHandle::shutdown_by`], or when every handle is
/// dropped, once all rows are written (or spilled).
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
/// ledger itself (with the ledger's default spill file).
pub fn start_writer<S: Store>(store: S, config: WriterConfig) -> (LedgerHandle, WriterTask) {
    let (rows_tx, rows) = mpsc::channel(config.queue.max(1));
    let (refusals_tx, refusals) = mpsc::channel(config.refusal_queue.max(1));
    let (stop_tx, stop) = watch::channel(Stop::Running);
    let (done_tx, done) = watch::channel(None);
    let counters = Arc::new(Counters::default());
    let handle = LedgerHandle::new(rows_tx, refusals_tx, stop_tx, Arc::clone(&counters), done);
    let inputs = Inputs {
        rows,
        refusals,
        stop,
        stop_open: true,
    };
    let task = WriterTask {
        run: Box::pin(async move {
            let report = Writer::new(store, config, counters).run(inputs).await;
            done_tx.send_replace(Some(report));
        }),
    };
    (handle, task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::time::Instant;

    use crate::error::LedgerError;
    use crate::row::Row;

    fn row(id: usize) -> Row {
        Row::new(format!("r{id}"), 0, "m", "ok", 200)
    }

    fn refusal(id: usize) -> Row {
        Row::new(format!("x{id}"), 0, "m", "rejected", 429)
    }

    /// Records every batch it is given; fails while `down`; never answers while `hang`.
    #[derive(Clone, Default)]
    struct Batches {
        batches: Arc<Mutex<Vec<Vec<String>>>>,
        down: Arc<AtomicBool>,
        hang: Arc<AtomicBool>,
    }

    impl Batches {
        fn sizes(&self) -> Vec<usize> {
            self.batches.lock().unwrap().iter().map(Vec::len).collect()
        }

        fn ids(&self) -> Vec<String> {
            self.batches.lock().unwrap().concat()
        }
    }

    impl Store for Batches {
        async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.down.load(Ordering::SeqCst) {
                return Err(LedgerError::Query {
                    url: "fake".into(),
                    op: "insert",
                    cause: "down".into(),
                });
            }
            let ids = rows.iter().map(|r| r.request_id.clone()).collect();
            self.batches.lock().unwrap().push(ids);
            Ok(())
        }
    }

    fn small() -> WriterConfig {
        WriterConfig {
            queue: 100,
            refusal_queue: 10,
            batch: 10,
            flush_every: Duration::from_secs(1),
            hold_on_failure: 100,
            spill_path: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn full_batches_are_written_at_once_and_the_rest_after_flush_every() {
        let store = Batches::default();
        let (handle, task) = start_writer(store.clone(), small());
        let task = tokio::spawn(task);
        for i in 0..25 {
            handle.record(row(i));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(store.sizes(), [10, 10]);
        assert_eq!(handle.pending(), 5);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(store.sizes(), [10, 10, 5]);
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
                refusal_queue: 0,
                batch: 0,
                flush_every: Duration::ZERO,
                hold_on_failure: 0,
                spill_path: None,
            },
        );
        let task = tokio::spawn(task);
        handle.record(row(1));
        handle.record_refusal(refusal(1));
        handle.shutdown().await;
        task.await.unwrap();
        assert_eq!(handle.written(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_flood_fills_only_its_own_queue() {
        let store = Batches::default();
        let (handle, task) = start_writer(store.clone(), small());
        // Before the writer runs, both queues fill: refusals far past their bound.
        for i in 0..1000 {
            handle.record_refusal(refusal(i));
        }
        for i in 0..100 {
            handle.record(row(i));
        }
        assert_eq!(handle.dropped_refusals(), 990);
        assert_eq!(handle.dropped(), 0);
        let task = tokio::spawn(task);
        handle.shutdown().await;
        task.await.unwrap();
        let ids = store.ids();
        assert_eq!(ids.len(), 110);
        // Billable rows went first.
        assert!(ids[..100].iter().all(|id| id.starts_with('r')), "{ids:?}");
        assert_eq!(handle.written(), 110);
    }

    #[tokio::test(start_paused = true)]
    async fn write_ok_is_false_from_a_failed_batch_until_one_is_written() {
        let store = Batches::default();
        let (handle, task) = start_writer(store.clone(), small());
        let task = tokio::spawn(task);
        assert!(handle.write_ok(), "nothing has failed yet");
        store.down.store(true, Ordering::SeqCst);
        handle.record(row(1));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(handle.write_failures() >= 1);
        assert!(!handle.write_ok());
        // Between retries, rows still held: still not ok.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!handle.write_ok());
        store.down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(handle.write_ok());
        assert_eq!(handle.written(), 1);
        handle.shutdown().await;
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_with_no_spill_path_reports_the_rows_lost() {
        let store = Batches::default();
        store.down.store(true, Ordering::SeqCst);
        let (handle, task) = start_writer(store.clone(), small());
        let task = tokio::spawn(task);
        for i in 0..7 {
            handle.record(row(i));
        }
        handle.record_refusal(refusal(0));
        let report = handle
            .shutdown_by(Instant::now() + Duration::from_secs(3))
            .await;
        assert_eq!(
            report,
            ShutdownReport {
                written: 0,
                spilled: 0,
                lost: 8
            }
        );
        task.await.unwrap();
        assert_eq!(handle.pending(), 0);
        // A second call reports the same.
        assert_eq!(handle.shutdown_by(Instant::now()).await, report);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_cuts_a_write_that_never_answers_and_spills_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let spill = dir.path().join("rows.spill.jsonl");
        let store = Batches::default();
        let (handle, task) = start_writer(
            store.clone(),
            WriterConfig {
                spill_path: Some(spill.clone()),
                ..small()
            },
        );
        let task = tokio::spawn(task);
        handle.record(row(0));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(handle.written(), 1);
        store.hang.store(true, Ordering::SeqCst);
        for i in 1..=12 {
            handle.record(row(i));
        }
        // Let the writer start a write that will never answer, then ask for a stop.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let report = handle
            .shutdown_by(Instant::now() + Duration::from_secs(1))
            .await;
        assert_eq!(
            report,
            ShutdownReport {
                written: 1,
                spilled: 12,
                lost: 0
            }
        );
        task.await.unwrap();
        let spilled = crate::spill::read(&spill).unwrap();
        let ids: Vec<_> = spilled.rows.iter().map(|r| r.request_id.as_str()).collect();
        let expected: Vec<String> = (1..=12).map(|i| format!("r{i}")).collect();
        assert_eq!(ids, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_past_spills_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let spill = dir.path().join("s.jsonl");
        let (handle, task) = start_writer(
            Batches::default(),
            WriterConfig {
                spill_path: Some(spill.clone()),
                flush_every: Duration::from_secs(3600),
                ..small()
            },
        );
        for i in 0..3 {
            handle.record(row(i));
        }
        let task = tokio::spawn(task);
        let report = handle.shutdown_by(Instant::now()).await;
        assert_eq!(report.spilled + report.written, 3);
        assert_eq!(report.lost, 0);
        task.await.unwrap();
    }
}
