//! `kill -9`: SQLite runs in WAL mode with `synchronous=NORMAL`, so a process killed without
//! warning loses at most the rows its writer had not committed yet, and the file opens cleanly
//! afterwards.
//!
//! The parent test runs this test binary again as a child (only the child test, with
//! `SLUICE_LEDGER_CRASH_CHILD` naming the database file). The child records rows through the
//! writer without pause and prints `written N dropped D` each time its count of stored rows
//! changes; the parent kills it with SIGKILL mid-stream, then opens the file and checks that
//! every row the child had reported written is there. Run normally, the child test does
//! nothing.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use sluice_ledger::{Ledger, Row, WriterConfig};

const CHILD_ENV: &str = "SLUICE_LEDGER_CRASH_CHILD";

/// Rows the child must have reported written before it is killed.
const KILL_AFTER: u64 = 3_000;

fn row(i: u64) -> Row {
    let mut row = Row::new(format!("r{i}"), 1_714_000_000_000, "m", "ok", 200);
    row.prompt_tokens = i;
    row
}

#[test]
fn child_records_until_killed() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ledger = Ledger::open(&format!("sqlite://{path}")).await.unwrap();
        let (handle, task) = ledger.writer(WriterConfig {
            batch: 64,
            flush_every: Duration::from_millis(5),
            ..WriterConfig::default()
        });
        tokio::spawn(task);
        let mut reported = 0;
        let mut next = 0;
        loop {
            // Stay well under the queue's bound, so that no row is dropped: the rows stored
            // are then exactly the first ones recorded.
            if handle.pending() < 10_000 {
                for _ in 0..32 {
                    handle.record(row(next));
                    next += 1;
                }
            }
            let written = handle.written();
            if written != reported {
                // Line-buffered stdout: each line is out before the next row is recorded.
                println!("written {written} dropped {}", handle.dropped());
                reported = written;
            }
            tokio::task::yield_now().await;
        }
    });
}

#[test]
fn a_killed_process_keeps_every_row_its_writer_reported_written() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_records_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut reported = Reported::default();
    let mut line = String::new();
    while reported.written < KILL_AFTER {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the child ended before it was killed: {err}");
        }
        reported.note(&line);
    }
    // SIGKILL: no destructor, no flush, no shutdown.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
    // What the child printed before it died is still in the pipe.
    for line in stdout.lines() {
        reported.note(&line.unwrap());
    }
    assert_eq!(reported.dropped, 0);
    assert!(reported.written >= KILL_AFTER);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ledger = Ledger::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("the file opens after kill -9");
        let count = ledger.count().await.unwrap();
        assert!(
            count >= reported.written,
            "{count} rows stored, {} reported written",
            reported.written
        );
        // Rows are written in the order recorded: the first ones reported are all there.
        let last = ledger
            .get(&format!("r{}", reported.written - 1))
            .await
            .unwrap();
        assert_eq!(last, Some(row(reported.written - 1)));
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let first_ones: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM ledger_requests WHERE prompt_tokens < ?1",
            [reported.written as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(first_ones as u64, reported.written);
}

/// The highest counts the child printed.
#[derive(Debug, Default)]
struct Reported {
    written: u64,
    dropped: u64,
}

impl Reported {
    fn note(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        if let (Some("written"), Some(w), Some("dropped"), Some(d)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            if let (Ok(w), Ok(d)) = (w.parse::<u64>(), d.parse::<u64>()) {
                self.written = self.written.max(w);
                self.dropped = self.dropped.max(d);
            }
        }
    }
}
