//! A ledger of one test's own: a SQLite file in a temporary directory, or a schema of its own
//! in the Postgres on this machine (`SLUICE_TEST_POSTGRES_URL` overrides where), removed when
//! dropped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sluice_ledger::{Ledger, Row};

/// Where the ledger lives for one test; dropping it removes it.
pub enum Store {
    Sqlite(tempfile::TempDir),
    Postgres { base: String, schema: String },
}

fn postgres_url() -> String {
    std::env::var("SLUICE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

impl Store {
    pub async fn new(postgres: bool) -> Store {
        if !postgres {
            return Store::Sqlite(tempfile::tempdir().unwrap());
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "sluice_gw_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let base = postgres_url();
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot reach Postgres at {base}: {e}"));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        Store::Postgres { base, schema }
    }

    pub fn url(&self) -> String {
        match self {
            Store::Sqlite(dir) => format!("sqlite://{}", dir.path().join("ledger.db").display()),
            Store::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-csearch_path%3D{schema}")
            }
        }
    }

    pub async fn ledger(&self) -> Ledger {
        Ledger::open(&self.url()).await.expect("open ledger")
    }

    /// The row of the request the client sent with `x-request-id: id` (the gateway keys its
    /// rows by ids of its own).
    pub async fn row(&self, id: &str) -> Row {
        let ledger = self.ledger().await;
        for _ in 0..250 {
            if let Some(row) = ledger
                .get_by_client_id(id)
                .await
                .expect("query")
                .into_iter()
                .next()
            {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no ledger row for {id}");
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Postgres { base, schema } = self {
            let (url, name) = (base.clone(), schema.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}
