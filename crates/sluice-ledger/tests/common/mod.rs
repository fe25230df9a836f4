//! A fresh ledger per test: SQLite in a temporary directory, or Postgres in a schema of its
//! own (dropped afterwards, also when the test fails).
//!
//! Postgres is `SLUICE_TEST_POSTGRES_URL`, else `postgres://postgres@127.0.0.1:5432/test`. A
//! Postgres that cannot be reached fails the test with its URL; it is never skipped.

#![allow(dead_code)]

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;
use sluice_ledger::{Ledger, Row};
use tokio_postgres::NoTls;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_url() -> String {
    std::env::var("SLUICE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A ledger of its own, and a way to reach its database behind the ledger's back.
pub struct TestLedger {
    // Dropped first: the ledger's connections close before the schema goes.
    pub ledger: Ledger,
    pub url: String,
    kind: Kind,
    sqlite_path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<PgSchema>,
}

impl TestLedger {
    pub async fn new(kind: Kind) -> TestLedger {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let path = dir.path().join("ledger.db");
                let url = format!("sqlite://{}", path.display());
                let ledger = Ledger::open(&url)
                    .await
                    .unwrap_or_else(|e| panic!("open {url}: {e}"));
                TestLedger {
                    ledger,
                    url,
                    kind,
                    sqlite_path: Some(path),
                    _dir: Some(dir),
                    _schema: None,
                }
            }
            Kind::Postgres => {
                let schema = PgSchema::create().await;
                let url = schema.ledger_url();
                let ledger = Ledger::open(&url)
                    .await
                    .unwrap_or_else(|e| panic!("open {url}: {e}"));
                TestLedger {
                    ledger,
                    url,
                    kind,
                    sqlite_path: None,
                    _dir: None,
                    _schema: Some(schema),
                }
            }
        }
    }

    /// Runs statements on a connection of the test's own.
    pub async fn exec(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let conn = self.sqlite();
                conn.execute_batch(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Kind::Postgres => {
                let client = pg_connect(&self.url).await;
                client
                    .batch_execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// One integer from a query on a connection of the test's own.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.kind {
            Kind::Sqlite => self
                .sqlite()
                .query_row(sql, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Kind::Postgres => pg_connect(&self.url)
                .await
                .query_one(sql, &[])
                .await
                .and_then(|r| r.try_get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    /// Makes every insert fail (`true`) or work again (`false`), as an outage would.
    pub async fn break_inserts(&self, broken: bool) {
        let sql = match (self.kind, broken) {
            (Kind::Sqlite, true) => {
                "CREATE TRIGGER ledger_fail BEFORE INSERT ON ledger_requests \
                 BEGIN SELECT RAISE(ABORT, 'simulated outage'); END;"
            }
            (Kind::Sqlite, false) => "DROP TRIGGER ledger_fail;",
            (Kind::Postgres, true) => {
                "ALTER TABLE ledger_requests ADD CONSTRAINT ledger_fail CHECK (false) NOT VALID;"
            }
            (Kind::Postgres, false) => "ALTER TABLE ledger_requests DROP CONSTRAINT ledger_fail;",
        };
        self.exec(sql).await;
    }

    /// Closes the ledger's Postgres connections from the server side, as a restart would.
    pub async fn kill_postgres_connections(&self) -> u64 {
        let schema = self._schema.as_ref().expect("a postgres ledger");
        let client = pg_connect(&schema.base_url).await;
        let killed = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&schema.name],
            )
            .await
            .expect("terminate the ledger's connections");
        killed.len() as u64
    }

    /// The `application_name` the ledger's Postgres connections carry (the schema's name),
    /// to find them on the server.
    pub fn pg_application_name(&self) -> Option<&str> {
        self._schema.as_ref().map(|s| s.name.as_str())
    }

    pub fn sqlite_path(&self) -> Option<&PathBuf> {
        self.sqlite_path.as_ref()
    }

    fn sqlite(&self) -> rusqlite::Connection {
        let path = self.sqlite_path.as_ref().expect("a sqlite ledger");
        let conn = rusqlite::Connection::open(path).expect("open the sqlite file");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }
}

async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
            "cannot reach the test Postgres at {url} (set SLUICE_TEST_POSTGRES_URL to one that \
             runs): {e}"
        )
        });
    tokio::spawn(conn);
    client
}

/// A schema of the test's own; the ledger's connections use it through `search_path`.
struct PgSchema {
    base_url: String,
    name: String,
}

impl PgSchema {
    async fn create() -> PgSchema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "sluice_ledger_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let base_url = postgres_url();
        let client = pg_connect(&base_url).await;
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap_or_else(|e| panic!("create schema {name} at {base_url}: {e}"));
        PgSchema { base_url, name }
    }

    fn ledger_url(&self) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        // The application name lets a test find the ledger's connections on the server.
        format!(
            "{}{sep}options=-csearch_path%3D{name}&application_name={name}",
            self.base_url,
            name = self.name
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        // Drop may run inside the test's runtime (or while it unwinds): use a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A plausible row; tests change what they look at.
pub fn row(id: &str) -> Row {
    Row {
        request_id: id.to_owned(),
        client_request_id: None,
        at_ms: 1_714_000_000_000,
        key_id: Some("key-1".into()),
        model: "gpt-4.1".into(),
        provider: Some("holysheep".into()),
        provider_model: Some("gpt-4.1".into()),
        status: "ok".into(),
        http_status: 200,
        stream: true,
        prompt_tokens: 12,
        completion_tokens: 34,
        estimated: false,
        cost_usd: dec("0.000296"),
        cost_local: dec("0.000296"),
        currency: "USD".into(),
        ttft_ms: Some(210.5),
        duration_ms: 1234.25,
        attempts: 1,
        error: None,
    }
}

/// Waits (up to 20 s) until `f` holds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
