//! What the writer is configured with, what it writes into and what it reports at exit: the
//! public types the handle and the task share.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::LedgerError;
use crate::row::Row;

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

/// How the writer queues, batches and spills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// Billable rows the queue between the request path and the writer holds.
    pub queue: usize,
    /// Rows of refused requests (400, 401, 404, 429...) their own queue holds. It is smaller
    /// and separate so that a flood of refusals never takes the place of billable rows; while
    /// the database fails, the writer holds at most this many refusals too.
    pub refusal_queue: usize,
    /// Rows written per transaction at most; a batch this full is written at once.
    pub batch: usize,
    /// How long a row may wait for its batch to fill.
    pub flush_every: Duration,
    /// Billable rows kept in memory while the database fails (at least `batch`).
    pub hold_on_failure: usize,
    /// Where [`LedgerHandle::shutdown_by`](crate::LedgerHandle::shutdown_by) appends the rows
    /// it could not write by its deadline. `None` in a ledger's writer means the ledger's
    /// default ([`Ledger::spill_path`](crate::Ledger::spill_path): next to a SQLite file,
    /// none for Postgres); with no path at all, such rows are lost (and counted).
    pub spill_path: Option<PathBuf>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            queue: 65_536,
            refusal_queue: 8_192,
            batch: 512,
            flush_every: Duration::from_millis(100),
            hold_on_failure: 100_000,
            spill_path: None,
        }
    }
}

/// What became of the rows the writer was given, once it has ended. Every row recorded and
/// not dropped (see [`LedgerHandle::dropped`](crate::LedgerHandle::dropped)) is in exactly one
/// of these counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Rows stored in the database over the writer's life.
    pub written: u64,
    /// Rows appended to the spill file at the deadline, to be replayed with
    /// [`Ledger::replay_spill`](crate::Ledger::replay_spill).
    pub spilled: u64,
    /// Rows neither stored nor spilled: there was no spill path, or the spill file could not
    /// be written (the error is logged).
    pub lost: u64,
}
