//! The ledger against real databases: every test in `both!` runs once on SQLite and once on
//! Postgres (see `common` for how each gets a fresh ledger).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{dec, eventually, row, Kind, TestLedger};
use sluice_ledger::{GroupBy, Ledger, LedgerError, Row, Store, UsageQuery, UsageRow, WriterConfig};

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Postgres).await
                }
            )*
        }
    };
}

both!(
    rows_round_trip_exactly,
    concurrent_rows_arrive_exactly_once,
    shutdown_flushes_rows_recorded_just_before,
    dropping_every_handle_flushes,
    a_duplicate_request_id_is_stored_once,
    a_batch_resent_after_a_partial_failure_is_not_duplicated,
    usage_groups_and_sums_exactly,
    migrations_are_idempotent,
    the_writer_keeps_rows_while_the_database_fails,
    rows_that_share_a_client_request_id_are_all_kept,
);

fn fast() -> WriterConfig {
    WriterConfig {
        queue: 65_536,
        batch: 64,
        flush_every: Duration::from_millis(10),
        hold_on_failure: 100_000,
        ..WriterConfig::default()
    }
}

async fn rows_round_trip_exactly(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let full = Row {
        request_id: "req-full".into(),
        client_request_id: Some("client-ü-7".into()),
        at_ms: 1_714_000_123_456,
        key_id: Some("key-ü-1".into()),
        model: "deepseek-v3.2".into(),
        provider: Some("holysheep".into()),
        provider_model: Some("deepseek-chat".into()),
        status: "provider_5xx".into(),
        http_status: 502,
        stream: false,
        prompt_tokens: 1_234_567,
        completion_tokens: 89,
        estimated: true,
        cost_usd: dec("0.00017151"),
        cost_local: dec("12345.678901234567"),
        currency: "JPY".into(),
        ttft_ms: Some(123.456789),
        duration_ms: 98765.4321,
        attempts: 3,
        error: Some("upstream said \"boom\"\nand more".into()),
    };
    let bare = Row {
        request_id: "req-bare".into(),
        key_id: None,
        provider: None,
        provider_model: None,
        status: "rejected".into(),
        http_status: 401,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: dec("0"),
        cost_local: dec("0"),
        ttft_ms: None,
        attempts: 0,
        error: None,
        ..common::row("unused")
    };
    let (handle, task) = t.ledger.writer(fast());
    let task = tokio::spawn(task);
    handle.record(full.clone());
    handle.record(bare.clone());
    handle.shutdown().await;
    task.await.unwrap();

    let got = t.ledger.get("req-full").await.unwrap().expect("stored");
    assert_eq!(got, full);
    assert_eq!(got.cost_usd.to_string(), "0.00017151");
    assert_eq!(got.cost_local.to_string(), "12345.678901234567");
    assert_eq!(t.ledger.get("req-bare").await.unwrap(), Some(bare));
    assert_eq!(t.ledger.get("req-none").await.unwrap(), None);
    t.ledger.ping().await.unwrap();
}

async fn concurrent_rows_arrive_exactly_once(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let (handle, task) = t.ledger.writer(fast());
    let task = tokio::spawn(task);
    let mut recorders = Vec::new();
    for task_no in 0..40 {
        let handle = handle.clone();
        recorders.push(tokio::spawn(async move {
            for i in 0..25 {
                handle.record(row(&format!("t{task_no}-r{i}")));
                if i % 5 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for r in recorders {
        r.await.unwrap();
    }
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(handle.dropped(), 0);
    assert_eq!(handle.written(), 1000);
    assert_eq!(handle.pending(), 0);
    assert_eq!(t.ledger.count().await.unwrap(), 1000);
    let distinct = t
        .scalar("SELECT COUNT(DISTINCT request_id) FROM ledger_requests")
        .await;
    assert_eq!(distinct, 1000);
    assert!(t.ledger.get("t39-r24").await.unwrap().is_some());
    let by_model = t.ledger.usage(UsageQuery::default()).await.unwrap();
    assert_eq!(by_model.len(), 1);
    assert_eq!(by_model[0].requests, 1000);
    assert_eq!(by_model[0].cost_usd, dec("0.296"));
}

async fn shutdown_flushes_rows_recorded_just_before(kind: Kind) {
    let t = TestLedger::new(kind).await;
    // Nothing would be written for an hour, or before 10,000 rows, but for the shutdown.
    let (handle, task) = t.ledger.writer(WriterConfig {
        batch: 10_000,
        flush_every: Duration::from_secs(3600),
        ..fast()
    });
    let task = tokio::spawn(task);
    for i in 0..37 {
        handle.record(row(&format!("r{i}")));
    }
    handle.shutdown().await;
    assert_eq!(t.ledger.count().await.unwrap(), 37);
    assert_eq!(handle.written(), 37);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the writer ends after shutdown")
        .unwrap();
    // A second shutdown returns at once.
    handle.shutdown().await;
}

async fn dropping_every_handle_flushes(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let (handle, task) = t.ledger.writer(WriterConfig {
        flush_every: Duration::from_secs(3600),
        ..fast()
    });
    let task = tokio::spawn(task);
    let other = handle.clone();
    for i in 0..5 {
        handle.record(row(&format!("a{i}")));
        other.record(row(&format!("b{i}")));
    }
    drop(handle);
    drop(other);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the writer ends once every handle is gone")
        .unwrap();
    assert_eq!(t.ledger.count().await.unwrap(), 10);
}

async fn a_duplicate_request_id_is_stored_once(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let first = row("dup");
    let second = Row {
        model: "other".into(),
        cost_usd: dec("9"),
        ..row("dup")
    };
    // In one batch...
    t.ledger
        .insert(&[first.clone(), second.clone(), row("single")])
        .await
        .unwrap();
    // ...in a later one, and through the writer.
    t.ledger
        .insert(std::slice::from_ref(&second))
        .await
        .unwrap();
    let (handle, task) = t.ledger.writer(fast());
    let task = tokio::spawn(task);
    handle.record(second.clone());
    handle.record(second);
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(t.ledger.count().await.unwrap(), 2);
    assert_eq!(t.ledger.get("dup").await.unwrap(), Some(first));
}

/// Stores the first batch, then reports a failure (as a lost COMMIT acknowledgement would).
struct CommitThenFail {
    ledger: Ledger,
    failed: AtomicBool,
}

impl Store for CommitThenFail {
    async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
        self.ledger.insert(rows).await?;
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Err(LedgerError::Query {
                url: self.ledger.url().to_owned(),
                op: "insert",
                cause: "connection reset after commit".into(),
            });
        }
        Ok(())
    }
}

async fn a_batch_resent_after_a_partial_failure_is_not_duplicated(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let store = CommitThenFail {
        ledger: t.ledger.clone(),
        failed: AtomicBool::new(false),
    };
    let (handle, task) = sluice_ledger::start_writer(store, fast());
    let task = tokio::spawn(task);
    for i in 0..50 {
        handle.record(row(&format!("r{i}")));
    }
    handle.shutdown().await;
    task.await.unwrap();
    assert!(handle.write_failures() >= 1);
    assert_eq!(handle.written(), 50);
    assert_eq!(t.ledger.count().await.unwrap(), 50);
}

const DAY1_LAST_MS: i64 = 1_709_337_599_999; // 2024-03-01T23:59:59.999Z
const DAY2_FIRST_MS: i64 = 1_709_337_600_000; // 2024-03-02T00:00:00.000Z

fn usage_rows() -> Vec<Row> {
    let mut rows = vec![
        Row {
            at_ms: DAY1_LAST_MS,
            key_id: Some("k1".into()),
            model: "gpt-4.1".into(),
            provider: Some("holysheep".into()),
            prompt_tokens: 10,
            completion_tokens: 20,
            cost_usd: dec("0.1"),
            ..row("a")
        },
        Row {
            at_ms: DAY2_FIRST_MS,
            key_id: Some("k2".into()),
            model: "gpt-4.1".into(),
            provider: Some("openai".into()),
            prompt_tokens: 1,
            completion_tokens: 2,
            estimated: true,
            cost_usd: dec("0.2"),
            ..row("b")
        },
        Row {
            at_ms: DAY2_FIRST_MS + 1000,
            key_id: None,
            model: "deepseek".into(),
            provider: Some("holysheep".into()),
            prompt_tokens: 100,
            completion_tokens: 0,
            status: "provider_5xx".into(),
            http_status: 502,
            cost_usd: dec("0.00017151"),
            ..row("c")
        },
        Row {
            at_ms: DAY2_FIRST_MS + 2000,
            key_id: Some("k1".into()),
            model: "mock".into(),
            provider: None,
            provider_model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            status: "rejected".into(),
            http_status: 429,
            cost_usd: dec("0"),
            ..row("d")
        },
    ];
    // Ten tenths: exactly 1 in decimal, 0.9999999999999999 in floating point.
    for i in 0..10 {
        rows.push(Row {
            at_ms: DAY1_LAST_MS - 1000,
            key_id: Some("k3".into()),
            model: "tenth".into(),
            provider: Some("local".into()),
            prompt_tokens: 1,
            completion_tokens: 1,
            cost_usd: dec("0.1"),
            ..row(&format!("tenth-{i}"))
        });
    }
    rows
}

fn summary(rows: &[UsageRow]) -> Vec<(String, u64, u64, u64, String, u64, u64)> {
    rows.iter()
        .map(|r| {
            (
                r.group.clone(),
                r.requests,
                r.prompt_tokens,
                r.completion_tokens,
                r.cost_usd.to_string(),
                r.estimated_requests,
                r.errors,
            )
        })
        .collect()
}

fn s(
    group: &str,
    requests: u64,
    prompt: u64,
    completion: u64,
    cost: &str,
    estimated: u64,
    errors: u64,
) -> (String, u64, u64, u64, String, u64, u64) {
    (
        group.into(),
        requests,
        prompt,
        completion,
        cost.into(),
        estimated,
        errors,
    )
}

async fn usage_groups_and_sums_exactly(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger.insert(&usage_rows()).await.unwrap();
    let usage = |by, since_ms, until_ms| {
        let ledger = t.ledger.clone();
        async move {
            ledger
                .usage(UsageQuery {
                    since_ms,
                    until_ms,
                    by,
                    key_id: None,
                })
                .await
                .unwrap()
        }
    };

    assert_eq!(
        summary(&usage(GroupBy::Model, None, None).await),
        [
            s("tenth", 10, 10, 10, "1", 0, 0),
            s("gpt-4.1", 2, 11, 22, "0.3", 1, 0),
            s("deepseek", 1, 100, 0, "0.00017151", 0, 1),
            s("mock", 1, 0, 0, "0", 0, 1),
        ]
    );
    assert_eq!(
        summary(&usage(GroupBy::Provider, None, None).await),
        [
            s("local", 10, 10, 10, "1", 0, 0),
            s("openai", 1, 1, 2, "0.2", 1, 0),
            s("holysheep", 2, 110, 20, "0.10017151", 0, 1),
            s("-", 1, 0, 0, "0", 0, 1),
        ]
    );
    assert_eq!(
        summary(&usage(GroupBy::Key, None, None).await),
        [
            s("k3", 10, 10, 10, "1", 0, 0),
            s("k2", 1, 1, 2, "0.2", 1, 0),
            s("k1", 2, 10, 20, "0.1", 0, 1),
            s("-", 1, 100, 0, "0.00017151", 0, 1),
        ]
    );
    assert_eq!(
        summary(&usage(GroupBy::Day, None, None).await),
        [
            s("2024-03-01", 11, 20, 30, "1.1", 0, 0),
            s("2024-03-02", 3, 101, 2, "0.20017151", 1, 2),
        ]
    );
    // since is inclusive, until exclusive.
    assert_eq!(
        summary(&usage(GroupBy::Day, Some(DAY2_FIRST_MS), None).await),
        [s("2024-03-02", 3, 101, 2, "0.20017151", 1, 2)]
    );
    assert_eq!(
        summary(&usage(GroupBy::Day, None, Some(DAY2_FIRST_MS)).await),
        [s("2024-03-01", 11, 20, 30, "1.1", 0, 0)]
    );
    assert!(usage(GroupBy::Model, Some(DAY2_FIRST_MS + 5000), None)
        .await
        .is_empty());

    assert_eq!(
        t.ledger.totals_by_model_provider(None).await.unwrap(),
        [
            ("deepseek".into(), "holysheep".into(), 100, 0),
            ("gpt-4.1".into(), "holysheep".into(), 10, 20),
            ("gpt-4.1".into(), "openai".into(), 1, 2),
            ("tenth".into(), "local".into(), 10, 10),
        ]
    );
    assert_eq!(
        t.ledger
            .totals_by_model_provider(Some(DAY2_FIRST_MS))
            .await
            .unwrap(),
        [
            ("deepseek".into(), "holysheep".into(), 100, 0),
            ("gpt-4.1".into(), "openai".into(), 1, 2),
        ]
    );
}

async fn migrations_are_idempotent(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger.insert(&[row("kept")]).await.unwrap();
    // Open again while the first is open, and again after: nothing is re-applied or lost.
    let again = Ledger::open(&t.url).await.unwrap();
    assert_eq!(again.count().await.unwrap(), 1);
    drop(again);
    let third = Ledger::open(&t.url).await.unwrap();
    assert_eq!(third.get("kept").await.unwrap(), Some(row("kept")));
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM ledger_schema_migrations")
            .await,
        5
    );
    assert_eq!(
        t.scalar("SELECT MAX(version) FROM ledger_schema_migrations")
            .await,
        5
    );
    // Two gateways starting at once take turns.
    let (a, b) = tokio::join!(Ledger::open(&t.url), Ledger::open(&t.url));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM ledger_schema_migrations")
            .await,
        5
    );
}

async fn the_writer_keeps_rows_while_the_database_fails(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.break_inserts(true).await;

    // The failure is a one-line error naming the ledger.
    let err = t.ledger.insert(&[row("direct")]).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, LedgerError::Query { op: "insert", .. }),
        "{text}"
    );
    assert!(
        text.starts_with(&format!("ledger {}: insert failed: ", t.ledger.url())),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.contains("simulated outage") || text.contains("ledger_fail"),
        "the database's reason is kept: {text}"
    );

    let (handle, task) = t.ledger.writer(WriterConfig {
        batch: 16,
        ..fast()
    });
    let task = tokio::spawn(task);
    for i in 0..100 {
        handle.record(row(&format!("r{i}")));
    }
    eventually("two failed writes", || handle.write_failures() >= 2).await;
    assert_eq!(t.ledger.count().await.unwrap(), 0);
    assert_eq!(handle.pending(), 100);

    t.break_inserts(false).await;
    eventually("the held rows to be written", || handle.written() == 100).await;
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(handle.dropped(), 0);
    assert_eq!(t.ledger.count().await.unwrap(), 100);
}

async fn rows_that_share_a_client_request_id_are_all_kept(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let with_client = |id: &str, at_ms: i64, client: Option<&str>| Row {
        at_ms,
        client_request_id: client.map(str::to_owned),
        ..row(id)
    };
    let older = with_client("gw-1", 1_000, Some("client-abc"));
    let newer = with_client("gw-2", 2_000, Some("client-abc"));
    let other = with_client("gw-3", 3_000, Some("client-xyz"));
    let none = with_client("gw-4", 4_000, None);
    let (handle, task) = t.ledger.writer(fast());
    let task = tokio::spawn(task);
    for r in [&older, &newer, &other, &none] {
        handle.record(r.clone());
    }
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(t.ledger.count().await.unwrap(), 4);
    assert_eq!(
        t.ledger.get_by_client_id("client-abc").await.unwrap(),
        [newer.clone(), older.clone()],
        "both kept, newest first"
    );
    assert_eq!(
        t.ledger.get_by_client_id("client-xyz").await.unwrap(),
        [other]
    );
    assert_eq!(t.ledger.get_by_client_id("nobody").await.unwrap(), []);
    assert_eq!(t.ledger.get("gw-1").await.unwrap(), Some(older));
    assert_eq!(t.ledger.get("gw-4").await.unwrap(), Some(none));
}

#[tokio::test]
async fn sqlite_is_in_wal_mode_and_creates_its_file() {
    let t = TestLedger::new(Kind::Sqlite).await;
    let path = t.sqlite_path().unwrap();
    assert!(path.exists());
    let conn = rusqlite::Connection::open(path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(t.ledger.backend(), "sqlite");
}

#[tokio::test]
async fn a_relative_sqlite_path_is_relative_to_the_working_directory() {
    // A temporary directory inside the working directory (the crate), named relatively.
    let dir = tempfile::tempdir_in(".").unwrap();
    let name = dir.path().file_name().unwrap().to_str().unwrap().to_owned();
    let ledger = Ledger::open(&format!("sqlite://{name}/ledger.db"))
        .await
        .unwrap();
    ledger.insert(&[row("x")]).await.unwrap();
    let path = std::env::current_dir()
        .unwrap()
        .join(&name)
        .join("ledger.db");
    assert!(path.exists(), "{} was not created", path.display());
}

#[tokio::test]
async fn postgres_backend_reports_itself() {
    let t = TestLedger::new(Kind::Postgres).await;
    assert_eq!(t.ledger.backend(), "postgres");
    assert!(t.ledger.url().starts_with("postgres"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_postgres_connections_are_reestablished() {
    let t = TestLedger::new(Kind::Postgres).await;
    let (handle, task) = t.ledger.writer(fast());
    let task = tokio::spawn(task);
    handle.record(row("before"));
    eventually("the first row", || handle.written() == 1).await;
    assert_eq!(t.ledger.count().await.unwrap(), 1);

    let killed = t.kill_postgres_connections().await;
    assert!(killed >= 2, "writer and reports: {killed}");
    handle.record(row("after"));
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(handle.dropped(), 0);
    assert_eq!(t.ledger.count().await.unwrap(), 2);

    // Killed again right before a report: the report still answers.
    t.kill_postgres_connections().await;
    assert_eq!(t.ledger.count().await.unwrap(), 2);
    t.ledger.ping().await.unwrap();
}

fn assert_one_line(e: &LedgerError, url_shown: &str, secret: Option<&str>) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.starts_with(&format!("ledger {url_shown}: ")), "{text}");
    if let Some(secret) = secret {
        assert!(!text.contains(secret), "{text}");
        assert!(!format!("{e:?}").contains(secret), "{e:?}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_one_line_error_without_the_password() {
    let err = Ledger::open("postgres://sluice:hunter2@127.0.0.1:1/ledger")
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Connect { .. }), "{err}");
    assert_one_line(
        &err,
        "postgres://sluice:***@127.0.0.1:1/ledger",
        Some("hunter2"),
    );
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert!(
        err.to_string().contains("refused"),
        "the cause is named: {err}"
    );
}

#[tokio::test]
async fn a_missing_postgres_database_is_a_one_line_error() {
    // Same server as the other tests, a database that does not exist.
    let base = common::postgres_url();
    let Some((server, _db)) = base.split('?').next().and_then(|u| u.rsplit_once('/')) else {
        panic!("cannot derive a URL from {base}");
    };
    let url = format!("{server}/sluice_no_such_database");
    let err = Ledger::open(&url).await.unwrap_err();
    assert!(matches!(err, LedgerError::Connect { .. }), "{err}");
    assert_one_line(&err, &sluice_ledger::redact_url(&url), None);
    assert!(err.to_string().contains("sluice_no_such_database"), "{err}");
}

#[tokio::test]
async fn bad_sqlite_locations_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/no/such/dir/l.db", dir.path().display());
    let err = Ledger::open(&missing).await.unwrap_err();
    assert!(matches!(err, LedgerError::Connect { .. }), "{err}");
    assert_one_line(&err, &missing, None);
    assert!(err.to_string().contains("does not exist"), "{err}");

    let not_a_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_db,
        "this is not a database, it only has a name ending in .txt\n".repeat(20),
    )
    .unwrap();
    let url = format!("sqlite://{}", not_a_db.display());
    let err = Ledger::open(&url).await.unwrap_err();
    assert_one_line(&err, &url, None);
    assert!(err.to_string().contains("not a database"), "{err}");

    let a_dir = format!("sqlite://{}", dir.path().display());
    let err = Ledger::open(&a_dir).await.unwrap_err();
    assert!(matches!(err, LedgerError::Connect { .. }), "{err}");
    assert_one_line(&err, &a_dir, None);
}

#[tokio::test]
async fn unsupported_urls_are_one_line_errors() {
    let err = Ledger::open("mysql://root:topsecret@db/ledger")
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Url { .. }), "{err}");
    assert_one_line(&err, "mysql://root:***@db/ledger", Some("topsecret"));
}

// --- The writer's hold and retry logic, with fake stores -------------------------------------

/// Fails while `down` is set; records every row it stores.
#[derive(Default)]
struct Flaky {
    down: AtomicBool,
    stored: std::sync::Mutex<Vec<String>>,
}

impl Store for Flaky {
    async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(LedgerError::Query {
                url: "fake".into(),
                op: "insert",
                cause: "down".into(),
            });
        }
        let mut stored = self.stored.lock().unwrap();
        stored.extend(rows.iter().map(|r| r.request_id.clone()));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn rows_beyond_hold_on_failure_are_counted_as_dropped() {
    let store = Arc::new(Flaky::default());
    store.down.store(true, Ordering::SeqCst);
    let (handle, task) = sluice_ledger::start_writer(
        Arc::clone(&store),
        WriterConfig {
            queue: 1000,
            batch: 5,
            flush_every: Duration::from_millis(10),
            hold_on_failure: 10,
            ..WriterConfig::default()
        },
    );
    let task = tokio::spawn(task);
    for i in 0..25 {
        handle.record(row(&format!("r{i}")));
    }
    eventually("the queue to drain into the writer", || {
        handle.dropped() == 15
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(handle.write_failures() >= 3, "retried with backoff");
    assert!(store.stored.lock().unwrap().is_empty());
    assert_eq!(handle.pending(), 10);

    store.down.store(false, Ordering::SeqCst);
    handle.shutdown().await;
    task.await.unwrap();
    let stored = store.stored.lock().unwrap().clone();
    let expected: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    assert_eq!(stored, expected, "the oldest rows are kept, in order");
    assert_eq!(handle.dropped(), 15);
    assert_eq!(handle.written(), 10);
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_a_failing_store_to_recover() {
    let store = Arc::new(Flaky::default());
    store.down.store(true, Ordering::SeqCst);
    let (handle, task) = sluice_ledger::start_writer(Arc::clone(&store), WriterConfig::default());
    let task = tokio::spawn(task);
    for i in 0..3 {
        handle.record(row(&format!("r{i}")));
    }
    let h = handle.clone();
    let shutdown = tokio::spawn(async move { h.shutdown().await });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!shutdown.is_finished(), "rows are still held");
    assert_eq!(handle.pending(), 3);
    store.down.store(false, Ordering::SeqCst);
    shutdown.await.unwrap();
    task.await.unwrap();
    assert_eq!(store.stored.lock().unwrap().len(), 3);
    assert_eq!(handle.dropped(), 0);
}
