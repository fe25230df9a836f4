//! No row lost, whatever happens to the gateway or its ledger, black-box: readiness follows
//! whether the ledger can write; rows that cannot be written at exit are kept in a spill file
//! and written at the next start; a `kill -9` leaves a ledger that opens cleanly with every row
//! it had written; a mass hang-up loses no row and does not stall `/readyz`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::store::Store;
use common::{chat, config_for, eventually, post, Proc};
use futures_util::StreamExt;

/// A gateway in front of `up`, writing to `store`, started in `dir` (its config file there).
fn serve(up: &Proc, store: &Store, dir: &std::path::Path, top: &str) -> Proc {
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = \"{}\"\n{top}\n{}",
            store.url(),
            config_for(up, "")
        ),
    )
    .unwrap();
    Proc::spawn(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
        None,
    )
}

async fn sql(store: &Store, statement: &str) {
    let Store::Postgres { base, schema } = store else {
        panic!("a Postgres store")
    };
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path TO {schema}; {statement}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn readiness_turns_down_when_the_ledger_cannot_write_and_back_up_when_it_can() {
    let store = Store::new(true).await;
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(&up, &store, dir.path(), "");
    let ready = gw.url("/readyz");
    assert_eq!(common::get(&ready).await.status, 200);
    // The table goes away under the gateway: reads still work, writes fail.
    sql(
        &store,
        "ALTER TABLE ledger_requests RENAME TO ledger_requests_away",
    )
    .await;
    let url = gw.url("/v1/chat/completions");
    assert_eq!(post(&url, &chat("mock", false), &[]).await.status, 200);
    eventually("unready", || async {
        let r = common::get(&ready).await;
        r.status == 503
            && r.json()["ledger"]
                .as_str()
                .is_some_and(|l| l.contains("cannot write"))
    })
    .await;
    // The request is still served; its row is held and written once the table is back.
    sql(
        &store,
        "ALTER TABLE ledger_requests_away RENAME TO ledger_requests",
    )
    .await;
    eventually("ready again", || async {
        common::get(&ready).await.status == 200
    })
    .await;
    let ledger = store.ledger().await;
    eventually("the held row written", || async {
        ledger.count().await.unwrap() == 1
    })
    .await;
}

/// Holds SQLite's write lock on `db` until killed (python's sqlite3, a second process).
fn lock_sqlite(db: &std::path::Path) -> Child {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked',flush=True)\ntime.sleep(3600)",
            db.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

#[tokio::test]
async fn rows_that_cannot_be_written_at_exit_are_spilled_and_written_at_the_next_start() {
    let store = Store::new(false).await;
    let Store::Sqlite(ledger_dir) = &store else {
        unreachable!()
    };
    let db = ledger_dir.path().join("ledger.db");
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let mut gw = serve(&up, &store, dir.path(), "shutdown_grace = \"2s\"");
    let url = gw.url("/v1/chat/completions");
    assert_eq!(
        post(&url, &chat("mock", false), &[("x-request-id", "before")])
            .await
            .status,
        200
    );
    let ledger = store.ledger().await;
    eventually("the first row", || async {
        ledger.count().await.unwrap() == 1
    })
    .await;
    // Another process holds the write lock: rows can no longer be written.
    let mut lock = lock_sqlite(&db);
    for i in 0..5 {
        let id = format!("locked-{i}");
        assert_eq!(
            post(&url, &chat("mock", i % 2 == 0), &[("x-request-id", &id)])
                .await
                .status,
            200
        );
    }
    gw.sigterm();
    let status = tokio::task::spawn_blocking(move || gw.wait_exit(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let spill = ledger_dir.path().join("ledger.db.spill.jsonl");
    let kept = std::fs::read_to_string(&spill).expect("a spill file next to the ledger");
    assert_eq!(kept.lines().count(), 5, "{kept}");
    let _ = lock.kill();
    let _ = lock.wait();
    // The next start writes them before serving.
    let gw = serve(&up, &store, dir.path(), "");
    assert_eq!(common::get(&gw.url("/readyz")).await.status, 200);
    let ledger = store.ledger().await;
    eventually("the spilled rows written", || async {
        ledger.count().await.unwrap() == 6
    })
    .await;
    for i in 0..5 {
        assert_eq!(
            ledger
                .get_by_client_id(&format!("locked-{i}"))
                .await
                .unwrap()
                .len(),
            1
        );
    }
    assert!(!spill.exists());
}

#[tokio::test]
async fn after_kill_9_the_ledger_opens_cleanly_with_every_row_it_had_written() {
    let store = Store::new(false).await;
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(&up, &store, dir.path(), "");
    let url = gw.url("/v1/chat/completions");
    for i in 0..20 {
        let id = format!("k{i}");
        assert_eq!(
            post(&url, &chat("mock", i % 2 == 0), &[("x-request-id", &id)])
                .await
                .status,
            200
        );
    }
    let ledger = store.ledger().await;
    eventually("rows written", || async {
        ledger.count().await.unwrap() == 20
    })
    .await;
    let killed = Command::new("kill")
        .args(["-9", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(gw);
    let gw = serve(&up, &store, dir.path(), "");
    assert_eq!(common::get(&gw.url("/readyz")).await.status, 200);
    assert_eq!(store.ledger().await.count().await.unwrap(), 20);
    assert_eq!(
        post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_mass_hang_up_loses_no_row_and_readiness_keeps_answering() {
    // A thousand in CI; `SLUICE_TEST_HANGUPS=5000` for the figure.
    let streams: usize = std::env::var("SLUICE_TEST_HANGUPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let store = Store::new(false).await;
    let up = Proc::mock_upstream(&["--tokens", "400", "--itl", "20ms"]);
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(&up, &store, dir.path(), "");
    let url = gw.url("/v1/chat/completions");
    let client = common::client();
    let opened = futures_util::future::join_all((0..streams).map(|_| {
        let req = client.post(&url).json(&chat("mock", true)).send();
        async move {
            let res = req.await.unwrap();
            let mut body = res.bytes_stream();
            body.next().await;
            body
        }
    }))
    .await;
    // Every client leaves at once.
    drop(opened);
    let ready = common::get(&gw.url("/readyz")).await;
    assert_eq!(ready.status, 200);
    let ledger = store.ledger().await;
    eventually("a row for every stream", || async {
        ledger.count().await.unwrap() == streams as u64
    })
    .await;
    let metrics = common::get(&gw.url("/metrics")).await.body;
    assert!(
        metrics.contains("sluice_active_streams 0"),
        "streams still open"
    );
}

#[tokio::test]
async fn a_postgres_ledger_over_tls_records_requests() {
    let store = Store::new(true).await;
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = \"{}&sslmode=require\"\n{}",
            store.url(),
            config_for(&up, "")
        ),
    )
    .unwrap();
    let gw = Proc::spawn(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
        None,
    );
    let r = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", false),
        &[("x-request-id", "tls")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(store.row("tls").await.status, "ok");
}
