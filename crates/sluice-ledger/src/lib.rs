//! The usage ledger: one row per request (ids, key, model, provider, status, tokens, cost,
//! timings, attempts, error) in SQLite (WAL, the embedded default) or Postgres (shared by
//! several gateway replicas), and the reports read from it.
//!
//! This crate owns the ledger's schema and its migrations, the batching writer and the usage
//! queries. It knows no HTTP and no pricing: the gateway computes a [`Row`] and hands it over.
//!
//! **Ledger writes never await on the response path.** [`LedgerHandle::record`] puts the row
//! on a bounded queue without waiting (a full queue counts a drop instead); a background
//! [`WriterTask`] writes batches, holds rows and retries while the database fails, and on
//! [`LedgerHandle::shutdown`] writes everything it was given before it ends.
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
mod migrations;
mod postgres;
mod report;
mod row;
mod sqlite;
mod url;
mod writer;

use std::sync::Arc;

pub use error::LedgerError;
pub use report::{GroupBy, UnknownGroupBy, UsageQuery, UsageRow, NO_GROUP};
pub use row::{Row, STATUS_OK};
pub use url::redact as redact_url;
pub use writer::{start_writer, LedgerHandle, Store, WriterConfig, WriterTask};

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
}

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
        let backend = match parsed.target {
            Target::Sqlite(path) => {
                Backend::Sqlite(SqliteStore::open(redacted.clone(), path).await?)
            }
            Target::Postgres(config) => {
                Backend::Postgres(Box::new(PgStore::open(redacted.clone(), *config).await?))
            }
        };
        Ok(Ledger {
            inner: Arc::new(Inner {
                url: redacted,
                backend,
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

    /// A batching writer into this ledger; spawn the returned task.
    pub fn writer(&self, config: WriterConfig) -> (LedgerHandle, WriterTask) {
        start_writer(self.clone(), config)
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
        let _ = |ledger: Ledger, handle: LedgerHandle| {
            send(&Ledger::open("sqlite://x.db"));
            send(&ledger.usage(UsageQuery::default()));
            send(&ledger.count());
            send(&ledger.totals_by_model_provider(None));
            send(&ledger.get("id"));
            send(&ledger.ping());
            send(&ledger.insert(&[]));
            send(&handle.shutdown());
            send(&ledger.writer(WriterConfig::default()).1);
        };
    }
}
