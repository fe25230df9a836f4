//! The usage ledger: one row per request (ids, key, model, provider, status, tokens, cost,
//! timings, attempts, error) in SQLite (WAL, the embedded default) or Postgres (shared by
//! several gateway replicas), and the reports read from it.
//!
//! This crate owns the ledger's schema and its migrations, the batching writer, the usage
//! queries and the gateway's API keys ([`ApiKey`]: stored here so that every replica sharing
//! the database sees the same keys). Beside the rows it keeps spend rollups per minute and per
//! day, written in the same transaction as the rows ([`Ledger::spend`]), and serves the list
//! of finished requests newest first ([`Ledger::tail`]), for the dashboard. It knows no HTTP and no pricing: the gateway computes a
//! [`Row`] and hands it over.
//!
//! **Ledger writes never await on the response path.** [`LedgerHandle::record`] puts the row
//! on a bounded queue without waiting (a full queue counts a drop instead), and
//! [`LedgerHandle::record_refusal`] the row of a refused request on a smaller queue of its own,
//! so that refusals never crowd billable rows out; a background [`WriterTask`] writes batches,
//! holds rows and retries while the database fails ([`LedgerHandle::write_ok`] says so), and
//! on [`LedgerHandle::shutdown`] writes everything it was given before it ends.
//! [`LedgerHandle::shutdown_by`] bounds that wait: past its deadline, the rows still held go to
//! a spill file (JSON lines, fsync'd), which [`Ledger::replay_spill`] stores at the next start.
//!
//! ```no_run
//! # async fn demo(row: sluice_ledger::Row) -> Result<(), sluice_ledger::LedgerError> {
//! use sluice_ledger::{GroupBy, Ledger, UsageQuery, WriterConfig};
//!
//! let ledger = Ledger::open("sqlite://sluice.db").await?;
//! let (handle, task) = ledger.writer(WriterConfig::default());
//! let task = tokio::spawn(task);
//! handle.record(row); // on the request path: never waits
//! handle.shutdown().await; // at exit: every recorded row is stored
//! let _ = task.await;
//! let by_model = ledger.usage(UsageQuery { by: GroupBy::Model, ..Default::default() }).await?;
//! # Ok(()) }
//! ```

mod error;
mod keys;
mod migrations;
mod postgres;
mod report;
mod rollup;
mod row;
mod spill;
mod sqlite;
mod tail;
mod url;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::LedgerError;
pub use keys::{ApiKey, KeySpend};
pub use report::{GroupBy, UnknownGroupBy, UsageQuery, UsageRow, NO_GROUP};
pub use rollup::SpendRow;
pub use row::{Row, CLIENT_ID_MATCHES_MAX, STATUS_OK};
pub use tail::{Finished, TailCursor, TailQuery, TAIL_MAX_ROWS};
pub use url::redact as redact_url;
pub use writer::{start_writer, LedgerHandle, ShutdownReport, Store, WriterConfig, WriterTask};

use postgres::PgStore;
use sqlite::SqliteStore;
use url::Target;

/// An open ledger. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    backend: Backend,
    /// Where this ledger's writers spill by default.
    spill_path: Option<PathBuf>,
}

/// Rows per transaction when a spill file is replayed.
const REPLAY_BATCH: usize = 1000;

enum Backend {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("url", &self.inner.url)
            .finish()
    }
}

impl Ledger {
    /// Opens the ledger at `url` (`sqlite://sluice.db`, `sqlite:///abs/path.db`,
    /// `postgres://...`), creating the SQLite file if missing and applying any pending
    /// migration. A ledger that cannot be reached is an error naming the URL (password
    /// masked) and the cause.
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        let parsed = url::parse(url)?;
        let redacted = parsed.redacted;
        let (backend, spill_path) = match parsed.target {
            Target::Sqlite(path) => {
                let spill = spill::next_to(&path);
                let store = SqliteStore::open(redacted.clone(), path).await?;
                (Backend::Sqlite(store), Some(spill))
            }
            Target::Postgres(target) => {
                let store = PgStore::open(redacted.clone(), *target).await?;
                (Backend::Postgres(Box::new(store)), None)
            }
        };
        Ok(Ledger {
            inner: Arc::new(Inner {
                url: redacted,
                backend,
                spill_path,
            }),
        })
    }

    /// The ledger's URL with any password masked.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.inner.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A batching writer into this ledger; spawn the returned task. Without a
    /// `config.spill_path`, it spills to [`spill_path`](Self::spill_path).
    pub fn writer(&self, mut config: WriterConfig) -> (LedgerHandle, WriterTask) {
        if config.spill_path.is_none() {
            config.spill_path = self.spill_path().map(Path::to_path_buf);
        }
        start_writer(self.clone(), config)
    }

    /// The spill file this ledger's writers use unless told otherwise: `<database
    /// file>.spill.jsonl` next to a SQLite file; none for Postgres, whose gateways pass one
    /// in [`WriterConfig::spill_path`] (a path of their own: each replica has its own file).
    pub fn spill_path(&self) -> Option<&Path> {
        self.inner.spill_path.as_deref()
    }

    /// Stores the rows of the spill file at `path` (request ids already stored are skipped,
    /// as [`insert`](Self::insert) does), then removes the file, only once they are
    /// committed. Returns how many rows the file held; a missing file is `Ok(0)`. A line that
    /// does not parse (a torn last line: the process died while spilling) is skipped with a
    /// warning, never an error. Call it at start-up, before the writers start; if it fails
    /// (the database is down), the file stays for the next try.
    pub async fn replay_spill(&self, path: impl AsRef<Path>) -> Result<u64, LedgerError> {
        let path = path.as_ref();
        let claimed = spill::claimed(path);
        let fail = |p: &Path, e: std::io::Error| LedgerError::spill(self.url(), p, e);
        let mut replayed = 0;
        // First a file an interrupted replay left behind, then the spill file itself.
        for _ in 0..2 {
            if !claimed.exists() && !spill::claim(path).map_err(|e| fail(path, e))? {
                break;
            }
            let file = claimed.clone();
            let read = tokio::task::spawn_blocking(move || spill::read(&file))
                .await
                .map_err(|e| fail(&claimed, std::io::Error::other(e)))?;
            let spilled = read.map_err(|e| fail(&claimed, e))?;
            for chunk in spilled.rows.chunks(REPLAY_BATCH) {
                self.insert(chunk).await?;
            }
            spill::remove(&claimed).map_err(|e| fail(&claimed, e))?;
            replayed += spilled.rows.len() as u64;
            tracing::info!(
                ledger = %self.url(),
                spill_file = %path.display(),
                rows = spilled.rows.len(),
                skipped_lines = spilled.skipped,
                "ledger spill file replayed"
            );
        }
        Ok(replayed)
    }

    /// Writes `rows` now, in one transaction (request ids already stored are skipped). The
    /// request path uses [`writer`](Self::writer) instead.
    pub async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.insert(rows).await,
            Backend::Postgres(p) => p.insert(rows).await,
        }
    }

    /// Requests, tokens, exact cost, estimated and failed requests per group, highest cost
    /// first.
    pub async fn usage(&self, q: UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.usage(q).await,
            Backend::Postgres(p) => p.usage(q).await,
        }
    }

    /// What the requests that started in `since_ms..until_ms` (`None`: up to now) cost, per
    /// model, provider, key and billing currency, from the spend rollups (`rollup`): a few
    /// rows a day whatever the traffic. Both bounds are rounded down to their minute.
    pub async fn spend(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> Result<Vec<SpendRow>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.spend(since_ms, until_ms).await,
            Backend::Postgres(p) => p.spend(since_ms, until_ms).await,
        }
    }

    /// The same as [`spend`](Self::spend), summed from the request rows themselves: what the
    /// rollups must equal, and the baseline they are measured against.
    pub async fn spend_from_rows(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> Result<Vec<SpendRow>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.spend_from_rows(since_ms, until_ms).await,
            Backend::Postgres(p) => p.spend_from_rows(since_ms, until_ms).await,
        }
    }

    /// Finished requests, newest first (by when they finished, then request id), one page.
    pub async fn tail(&self, q: &TailQuery) -> Result<Vec<Finished>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.tail(q).await,
            Backend::Postgres(p) => p.tail(q).await,
        }
    }

    /// How many requests the ledger holds.
    pub async fn count(&self) -> Result<u64, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.count().await,
            Backend::Postgres(p) => p.count().await,
        }
    }

    /// `(model, provider, prompt_tokens, completion_tokens)` summed per model and provider
    /// since `since_ms` (all time if `None`), for cost projections from real traffic. Requests
    /// that never reached a provider are left out. Ordered by model, then provider.
    pub async fn totals_by_model_provider(
        &self,
        since_ms: Option<i64>,
    ) -> Result<Vec<(String, String, u64, u64)>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.totals_by_model_provider(since_ms).await,
            Backend::Postgres(p) => p.totals_by_model_provider(since_ms).await,
        }
    }

    /// The row of one request, if stored.
    pub async fn get(&self, request_id: &str) -> Result<Option<Row>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.get(request_id).await,
            Backend::Postgres(p) => p.get(request_id).await,
        }
    }

    /// Every stored request whose client sent `client_id` as its request id, newest first
    /// (by start time, then request id), at most [`CLIENT_ID_MATCHES_MAX`] of them.
    pub async fn get_by_client_id(&self, client_id: &str) -> Result<Vec<Row>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.get_by_client_id(client_id).await,
            Backend::Postgres(p) => p.get_by_client_id(client_id).await,
        }
    }

    /// Stores a new API key; an id already stored is [`LedgerError::KeyExists`].
    pub async fn insert_key(&self, key: &ApiKey) -> Result<(), LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.insert_key(key).await,
            Backend::Postgres(p) => p.insert_key(key).await,
        }
    }

    /// Every key, revoked and expired ones included, by creation time then id, in one query
    /// (the gateway polls it every few seconds).
    pub async fn keys(&self) -> Result<Vec<ApiKey>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.keys().await,
            Backend::Postgres(p) => p.keys().await,
        }
    }

    /// One key by its public id.
    pub async fn key(&self, id: &str) -> Result<Option<ApiKey>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.key(id).await,
            Backend::Postgres(p) => p.key(id).await,
        }
    }

    /// Revokes a key at `at_ms` (also its `updated_ms`); a key revoked before keeps its first
    /// time. `false` when no key has this id.
    pub async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<bool, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.revoke_key(id, at_ms).await,
            Backend::Postgres(p) => p.revoke_key(id, at_ms).await,
        }
    }

    /// Writes the key's name, admin flag, limits and expiry, and its `updated_ms` (the
    /// caller's clock, like `revoke_key`'s `at_ms`); its secret, creation, revocation and last
    /// use stay as stored. `false` when no key has this id.
    pub async fn update_key(&self, key: &ApiKey) -> Result<bool, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.update_key(key).await,
            Backend::Postgres(p) => p.update_key(key).await,
        }
    }

    /// Records uses of keys, `(id, unix ms)`: each key's `last_used_ms` becomes the latest of
    /// the stored and the given times, in one transaction. Unknown ids are ignored.
    pub async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.touch_keys(uses).await,
            Backend::Postgres(p) => p.touch_keys(uses).await,
        }
    }

    /// What the requests of `key_id` that started in `since_ms..until_ms` (inclusive,
    /// exclusive) cost, summed exactly per billing currency, ordered by currency.
    pub async fn key_spend(
        &self,
        key_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<KeySpend>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.key_spend(key_id, since_ms, until_ms).await,
            Backend::Postgres(p) => p.key_spend(key_id, since_ms, until_ms).await,
        }
    }

    /// Every key's name by its id, for reports that show keys by name.
    pub async fn key_names(&self) -> Result<BTreeMap<String, String>, LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.key_names().await,
            Backend::Postgres(p) => p.key_names().await,
        }
    }

    /// Checks that the database answers (for readiness).
    pub async fn ping(&self) -> Result<(), LedgerError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.ping().await,
            Backend::Postgres(p) => p.ping().await,
        }
    }
}

impl Store for Ledger {
    async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
        Ledger::insert(self, rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    /// The gateway holds these in shared state and awaits them in handlers on any thread.
    #[test]
    fn types_and_futures_cross_threads() {
        send_sync::<Ledger>();
        send_sync::<LedgerHandle>();
        send_sync::<LedgerError>();
        send_sync::<ApiKey>();
        let _ = |ledger: Ledger, handle: LedgerHandle| {
            send(&Ledger::open("sqlite://x.db"));
            send(&ledger.usage(UsageQuery::default()));
            send(&ledger.count());
            send(&ledger.spend(0, None));
            send(&ledger.spend_from_rows(0, None));
            send(&ledger.tail(&TailQuery::default()));
            send(&ledger.totals_by_model_provider(None));
            send(&ledger.get("id"));
            send(&ledger.ping());
            send(&ledger.insert(&[]));
            send(&handle.shutdown());
            send(&handle.shutdown_by(tokio::time::Instant::now()));
            send(&ledger.replay_spill("x"));
            send(&ledger.get_by_client_id("id"));
            send(&ledger.keys());
            send(&ledger.key("id"));
            send(&ledger.key_names());
            send(&ledger.key_spend("id", 0, 1));
            send(&ledger.touch_keys(&[]));
            send(&ledger.revoke_key("id", 1));
            send(&ledger.writer(WriterConfig::default()).1);
        };
    }
}
