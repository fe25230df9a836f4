//! The writer against real databases: refusals kept apart from billable rows, its health, and
//! nothing lost at a shutdown deadline (the spill file and its replay). Every test in `both!`
//! runs once on SQLite and once on Postgres (see `common`).

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, row, Kind, TestLedger};
use sluice_ledger::{Ledger, Row, ShutdownReport, WriterConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

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
    a_refusal_flood_does_not_crowd_billable_rows_out,
    write_ok_follows_the_database,
    rows_unwritten_at_the_deadline_are_spilled_and_replayed_once,
    a_torn_last_line_is_skipped_on_replay,
    a_replay_that_fails_keeps_the_file_for_the_next,
);

fn fast() -> WriterConfig {
    WriterConfig {
        batch: 64,
        flush_every: Duration::from_millis(10),
        ..WriterConfig::default()
    }
}

fn refusal(id: &str) -> Row {
    Row::new(id, 1_714_000_000_000, "gpt-4.1", "rejected", 429)
}

/// A spill file for this test: SQLite's default next to its file, a file of the test's own
/// for Postgres (which has no default).
fn spill_path(t: &TestLedger, dir: &tempfile::TempDir) -> PathBuf {
    match t.ledger.spill_path() {
        Some(path) => path.to_path_buf(),
        None => dir.path().join("ledger.spill.jsonl"),
    }
}

async fn a_refusal_flood_does_not_crowd_billable_rows_out(kind: Kind) {
    const BILLABLE: usize = 2_000;
    let t = TestLedger::new(kind).await;
    // The billable queue holds exactly the billable rows: one refusal in it would push one out.
    let (handle, task) = t.ledger.writer(WriterConfig {
        queue: BILLABLE,
        refusal_queue: 64,
        ..fast()
    });
    // Before the writer runs, refusals fill their queue far past its bound...
    for i in 0..10_000 {
        handle.record_refusal(refusal(&format!("early-refusal-{i}")));
    }
    assert_eq!(handle.dropped_refusals(), 10_000 - 64);
    let task = tokio::spawn(task);
    // ...and keep coming while billable rows are recorded.
    let flood = {
        let handle = handle.clone();
        tokio::spawn(async move {
            for i in 0..50_000 {
                handle.record_refusal(refusal(&format!("refusal-{i}")));
                if i % 1000 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    for i in 0..BILLABLE {
        handle.record(row(&format!("billable-{i}")));
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    flood.await.unwrap();
    handle.shutdown().await;
    task.await.unwrap();

    assert_eq!(handle.dropped(), 0);
    let billable = t
        .scalar("SELECT COUNT(*) FROM ledger_requests WHERE status = 'ok'")
        .await;
    assert_eq!(billable, BILLABLE as i64, "every billable row is written");
    let refusals = t
        .scalar("SELECT COUNT(*) FROM ledger_requests WHERE status = 'rejected'")
        .await;
    assert!(
        refusals >= 64,
        "the refusals queued were written too: {refusals}"
    );
    assert_eq!(
        handle.dropped_refusals() + refusals as u64,
        60_000,
        "each refusal is written or counted"
    );
    assert_eq!(handle.written(), t.ledger.count().await.unwrap());
}

async fn write_ok_follows_the_database(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let (handle, task) = t.ledger.writer(fast());
    let task = tokio::spawn(task);
    assert!(handle.write_ok(), "nothing failed yet");
    handle.record(row("first"));
    eventually("the first row", || handle.written() == 1).await;
    assert!(handle.write_ok());

    t.break_inserts(true).await;
    handle.record(row("during"));
    eventually("a failed write", || handle.write_failures() >= 1).await;
    assert!(!handle.write_ok());
    // Still false while the row is held between retries.
    eventually("a second failed write", || handle.write_failures() >= 2).await;
    assert!(!handle.write_ok());
    assert_eq!(handle.pending(), 1);

    t.break_inserts(false).await;
    eventually("writes to work again", || handle.write_ok()).await;
    assert_eq!(handle.written(), 2);
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(t.ledger.count().await.unwrap(), 2);
}

async fn rows_unwritten_at_the_deadline_are_spilled_and_replayed_once(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let spill = spill_path(&t, &dir);
    if kind == Kind::Sqlite {
        let db = t.sqlite_path().unwrap();
        assert_eq!(
            spill,
            PathBuf::from(format!("{}.spill.jsonl", db.display()))
        );
    }
    t.ledger.insert(&[row("stored-before")]).await.unwrap();
    t.break_inserts(true).await;
    let config = WriterConfig {
        spill_path: (kind == Kind::Postgres).then(|| spill.clone()),
        ..fast()
    };
    let (handle, task) = t.ledger.writer(config);
    let task = tokio::spawn(task);
    for i in 0..300 {
        let mut r = row(&format!("r{i}"));
        r.cost_usd = common::dec("0.000000000001");
        r.client_request_id = Some(format!("client-{i}"));
        handle.record(r);
    }
    for i in 0..20 {
        handle.record_refusal(refusal(&format!("x{i}")));
    }
    // A row already stored, recorded again: replay must not store it twice.
    handle.record(row("stored-before"));
    eventually("a failed write", || handle.write_failures() >= 1).await;
    assert!(!handle.write_ok());

    let report = handle
        .shutdown_by(Instant::now() + Duration::from_millis(300))
        .await;
    assert_eq!(
        report,
        ShutdownReport {
            written: 0,
            spilled: 321,
            lost: 0
        }
    );
    task.await.unwrap();
    assert_eq!(handle.pending(), 0);
    let text = std::fs::read_to_string(&spill).unwrap();
    assert_eq!(text.lines().count(), 321);
    assert!(
        text.contains(r#""cost_usd":"0.000000000001""#),
        "exact decimal text"
    );

    t.break_inserts(false).await;
    assert_eq!(t.ledger.replay_spill(&spill).await.unwrap(), 321);
    assert!(!spill.exists(), "the file goes once its rows are committed");
    assert_eq!(t.ledger.count().await.unwrap(), 321);
    let r7 = t.ledger.get("r7").await.unwrap().expect("replayed");
    assert_eq!(r7.client_request_id.as_deref(), Some("client-7"));
    assert_eq!(r7.cost_usd, common::dec("0.000000000001"));
    // Replaying again adds nothing.
    assert_eq!(t.ledger.replay_spill(&spill).await.unwrap(), 0);
    assert_eq!(t.ledger.count().await.unwrap(), 321);
}

async fn a_torn_last_line_is_skipped_on_replay(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let spill = spill_path(&t, &dir);
    let mut text = String::new();
    for id in ["a", "b"] {
        text.push_str(&serde_json::to_string(&row(id)).unwrap());
        text.push('\n');
    }
    // The process died while writing the third row.
    let torn = serde_json::to_string(&row("c")).unwrap();
    text.push_str(&torn[..torn.len() - 10]);
    std::fs::File::create(&spill)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert_eq!(t.ledger.replay_spill(&spill).await.unwrap(), 2);
    assert_eq!(t.ledger.count().await.unwrap(), 2);
    assert_eq!(t.ledger.get("c").await.unwrap(), None);
    assert!(!spill.exists());
}

async fn a_replay_that_fails_keeps_the_file_for_the_next(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let spill = spill_path(&t, &dir);
    let line = |id: &str| format!("{}\n", serde_json::to_string(&row(id)).unwrap());
    std::fs::write(&spill, line("a") + &line("b")).unwrap();
    t.break_inserts(true).await;
    let e = t.ledger.replay_spill(&spill).await.unwrap_err();
    assert!(!e.to_string().contains('\n'), "{e}");
    // Meanwhile a writer spills again: a file of its own, replayed after the first.
    std::fs::write(&spill, line("c")).unwrap();
    t.break_inserts(false).await;
    assert_eq!(t.ledger.replay_spill(&spill).await.unwrap(), 3);
    assert_eq!(t.ledger.count().await.unwrap(), 3);
    assert!(!spill.exists());
    let leftovers: Vec<_> = std::fs::read_dir(spill.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("replaying"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A TCP relay to a server, that can be taken away: its port then refuses connections and
/// the connections it carried end, as when a database host goes down.
struct Relay {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn to(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let carried = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                carried.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        tasks.lock().unwrap().push(accept);
        Relay { port, tasks }
    }

    fn take_away(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// `url` with its `host:port` replaced.
fn with_authority(url: &str, authority: &str) -> (String, String) {
    let start = url
        .find('@')
        .or_else(|| url.find("://").map(|i| i + 2))
        .unwrap()
        + 1;
    let end = start + url[start..].find(['/', '?']).unwrap_or(url.len() - start);
    let old = url[start..end].to_owned();
    (format!("{}{authority}{}", &url[..start], &url[end..]), old)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_spilled_when_postgres_is_gone() {
    let t = TestLedger::new(Kind::Postgres).await;
    let (_, upstream) = with_authority(&t.url, "");
    let relay = Relay::to(upstream).await;
    let (url, _) = with_authority(&t.url, &format!("127.0.0.1:{}", relay.port));
    let ledger = Ledger::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("replica.spill.jsonl");
    assert_eq!(ledger.spill_path(), None, "Postgres has no default");
    let (handle, task) = ledger.writer(WriterConfig {
        spill_path: Some(spill.clone()),
        ..fast()
    });
    let task = tokio::spawn(task);
    handle.record(row("before"));
    eventually("the first row", || handle.written() == 1).await;

    relay.take_away();
    for i in 0..50 {
        handle.record(row(&format!("r{i}")));
    }
    eventually("a failed write", || handle.write_failures() >= 1).await;
    assert!(!handle.write_ok());
    let report = handle
        .shutdown_by(Instant::now() + Duration::from_millis(300))
        .await;
    assert_eq!(
        report,
        ShutdownReport {
            written: 1,
            spilled: 50,
            lost: 0
        }
    );
    task.await.unwrap();

    // The next start, with the database back.
    assert_eq!(t.ledger.replay_spill(&spill).await.unwrap(), 50);
    assert_eq!(t.ledger.count().await.unwrap(), 51);
}
