//! The spend rollups and the finished-requests list against real databases (SQLite and
//! Postgres): the rollups equal the sums of the rows after inserts of any shape (duplicates,
//! re-sent batches, the writer) and after the migration that fills them on a ledger written
//! without them; spend over any window equals the rows'; pages of the list come newest first,
//! filtered, without overlap or gaps.

mod common;

use std::collections::BTreeSet;

use common::{dec, row, Kind, TestLedger};
use sluice_ledger::{Finished, Ledger, Row, SpendRow, TailCursor, TailQuery, WriterConfig};

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
    rollups_equal_the_rows_after_inserts,
    the_migration_fills_the_rollups_of_a_ledger_written_without_them,
    spend_over_any_window_equals_the_rows,
    the_tail_pages_newest_first_without_overlap,
    the_tail_filters_by_model_provider_key_and_status,
);

/// 2025-12-06T00:00:00Z.
const DAY0: i64 = 1_764_979_200_000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

/// `n` rows over three days around [`DAY0`], several models, providers (and none), keys (and
/// none), currencies, with costs of many digits; deterministic.
fn rows(n: usize, prefix: &str) -> Vec<Row> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|i| {
            let r = next();
            let mut row = row(&format!("{prefix}{i}"));
            row.at_ms = DAY0 - DAY + (r % (3 * DAY as u64)) as i64;
            row.model = ["gpt-4.1", "mock", "claude"][(r >> 20) as usize % 3].into();
            row.provider =
                [Some("up"), Some("openai"), None][(r >> 24) as usize % 3].map(Into::into);
            row.key_id = [Some("k1"), Some("k2"), None][(r >> 28) as usize % 3].map(Into::into);
            row.currency = ["USD", "JPY"][(r >> 32) as usize % 2].into();
            row.status = ["ok", "ok", "ok", "provider_5xx"][(r >> 34) as usize % 4].into();
            row.prompt_tokens = r % 1000;
            row.completion_tokens = (r >> 10) % 5000;
            row.cost_usd = dec(&format!("0.{:09}", r % 1_000_000_000));
            row.cost_local = dec(&format!(
                "{}.{:012}",
                (r >> 40) % 100,
                r % 1_000_000_000_000
            ));
            row.duration_ms = ((r >> 12) % 90_000) as f64 + 0.75;
            row
        })
        .collect()
}

/// Every row's sums since 1970, from the rows.
async fn from_rows(l: &Ledger) -> Vec<SpendRow> {
    l.spend_from_rows(0, None).await.unwrap()
}

async fn rollups_equal_the_rows_after_inserts(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let l = &t.ledger;
    assert!(l.spend(0, None).await.unwrap().is_empty());
    let batch = rows(400, "a");
    l.insert(&batch).await.unwrap();
    let expected = from_rows(l).await;
    assert!(expected.len() > 20, "{}", expected.len());
    assert_eq!(l.spend(0, None).await.unwrap(), expected);
    // Ids stored before, and twice within one batch, are skipped by the rollups as by the rows.
    let mut again = batch[..50].to_vec();
    again[0].cost_usd = dec("999");
    let mut fresh = rows(30, "b");
    fresh.push(fresh[0].clone());
    again.extend(fresh);
    l.insert(&again).await.unwrap();
    assert_eq!(l.count().await.unwrap(), 430);
    let expected = from_rows(l).await;
    assert_eq!(l.spend(0, None).await.unwrap(), expected);
    assert!(expected.iter().all(|r| r.cost_usd < dec("999")));
    // Through the batching writer.
    let (handle, task) = l.writer(WriterConfig::default());
    let task = tokio::spawn(task);
    for r in rows(300, "c") {
        handle.record(r);
    }
    handle.shutdown().await;
    task.await.unwrap();
    assert_eq!(l.count().await.unwrap(), 730);
    let expected = from_rows(l).await;
    assert_eq!(l.spend(0, None).await.unwrap(), expected);
    let total: u64 = expected.iter().map(|r| r.requests).sum();
    assert_eq!(total, 730);
}

async fn the_migration_fills_the_rollups_of_a_ledger_written_without_them(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger.insert(&rows(500, "a")).await.unwrap();
    let expected = from_rows(&t.ledger).await;
    // Back to version 4: rows only, no rollups.
    t.exec(
        "DROP TABLE ledger_rollup_minutes; DROP TABLE ledger_rollup_days; \
         DELETE FROM ledger_schema_migrations WHERE version = 5;",
    )
    .await;
    let upgraded = Ledger::open(&t.url).await.unwrap();
    assert_eq!(upgraded.spend(0, None).await.unwrap(), expected);
    assert_eq!(upgraded.spend(DAY0, None).await.unwrap(), {
        upgraded.spend_from_rows(DAY0, None).await.unwrap()
    });
    // And they are kept up to date from there.
    upgraded.insert(&rows(100, "b")).await.unwrap();
    assert_eq!(
        upgraded.spend(0, None).await.unwrap(),
        from_rows(&upgraded).await
    );
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM ledger_schema_migrations WHERE version = 5")
            .await,
        1
    );
}

async fn spend_over_any_window_equals_the_rows(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let l = &t.ledger;
    let mut batch = rows(600, "a");
    // Rows at the edges of minutes and days.
    for (i, at) in [
        DAY0 - 1,
        DAY0,
        DAY0 + MINUTE - 1,
        DAY0 + MINUTE,
        DAY0 + DAY - 1,
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = row(&format!("edge{i}"));
        r.at_ms = at;
        batch.push(r);
    }
    l.insert(&batch).await.unwrap();
    let mid = DAY0 + 5 * 3_600_000 + 17 * MINUTE + 123;
    let windows = [
        (0, None),
        (DAY0, None),
        (DAY0 - DAY, Some(DAY0)),
        (mid, None),
        (mid, Some(mid + 2 * DAY + 45 * MINUTE)),
        (mid, Some(mid + 30 * MINUTE)),
        (DAY0 + MINUTE, Some(DAY0 + 2 * MINUTE)),
        (DAY0 + DAY, Some(DAY0 + DAY)),
        (DAY0 + 10 * DAY, None),
    ];
    for (since, until) in windows {
        let rolled = l.spend(since, until).await.unwrap();
        let raw = l.spend_from_rows(since, until).await.unwrap();
        assert_eq!(rolled, raw, "since {since} until {until:?}");
    }
    // A window of one minute holds exactly the rows that started in it.
    let one = l.spend(DAY0, Some(DAY0 + MINUTE)).await.unwrap();
    let n: u64 = one.iter().map(|r| r.requests).sum();
    let expected = batch
        .iter()
        .filter(|r| (DAY0..DAY0 + MINUTE).contains(&r.at_ms))
        .count();
    assert_eq!(n as usize, expected);
}

/// A row finishing at `finished` (start plus whole milliseconds).
fn finishing(id: &str, finished: i64, model: &str) -> Row {
    let mut r = row(id);
    r.at_ms = finished - 500;
    r.duration_ms = 500.9;
    r.model = model.into();
    r
}

/// Reads every page of `q`, `per_page` rows at a time.
async fn all_pages(l: &Ledger, mut q: TailQuery, per_page: usize) -> Vec<Vec<Finished>> {
    q.limit = per_page;
    let mut pages = Vec::new();
    loop {
        let page = l.tail(&q).await.unwrap();
        assert!(page.len() <= per_page);
        let Some(last) = page.last() else { break };
        q.before = Some(last.cursor());
        let full = page.len() == per_page;
        pages.push(page);
        if !full {
            break;
        }
    }
    pages
}

async fn the_tail_pages_newest_first_without_overlap(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let l = &t.ledger;
    let mut batch = Vec::new();
    for i in 0..95 {
        // Two by two at the same millisecond: ties go by id.
        let at = DAY0 + (i / 2) * 1000;
        batch.push(finishing(&format!("r{i:03}"), at, "m"));
    }
    // A long request that started first and finished last comes first.
    let mut long = row("long");
    long.at_ms = DAY0 - 3_600_000;
    long.duration_ms = 3_600_000.0 + 200_000.0;
    batch.push(long);
    l.insert(&batch).await.unwrap();
    let first = l
        .tail(&TailQuery {
            limit: 1,
            ..TailQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first[0].row.request_id, "long");
    assert_eq!(first[0].finished_ms, DAY0 + 200_000);
    assert_eq!(first[0].row, batch[95]);

    let pages = all_pages(l, TailQuery::default(), 7).await;
    assert_eq!(pages.len(), 14);
    let seen: Vec<(i64, String)> = pages
        .iter()
        .flatten()
        .map(|f| (f.finished_ms, f.row.request_id.clone()))
        .collect();
    let mut expected: Vec<(i64, String)> = batch
        .iter()
        .map(|r| (r.at_ms + r.duration_ms as i64, r.request_id.clone()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 96);
    // A page after the last row is empty; a cursor that names no row still pages by position.
    let after_last = TailQuery {
        limit: 5,
        before: Some(pages.last().unwrap().last().unwrap().cursor()),
        ..TailQuery::default()
    };
    assert!(l.tail(&after_last).await.unwrap().is_empty());
    let between = TailQuery {
        limit: 2,
        before: Some(TailCursor {
            finished_ms: expected[10].0,
            request_id: format!("{}~", expected[10].1),
        }),
        ..TailQuery::default()
    };
    let page = l.tail(&between).await.unwrap();
    assert_eq!(page[0].row.request_id, expected[10].1);
}

async fn the_tail_filters_by_model_provider_key_and_status(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let l = &t.ledger;
    let batch = rows(300, "a");
    l.insert(&batch).await.unwrap();
    let check = |q: TailQuery, keep: &dyn Fn(&Row) -> bool| {
        let mut expected: Vec<(i64, String)> = batch
            .iter()
            .filter(|r| keep(r))
            .map(|r| (r.at_ms + r.duration_ms as i64, r.request_id.clone()))
            .collect();
        expected.sort_by(|a, b| b.cmp(a));
        (q, expected)
    };
    let cases = [
        check(
            TailQuery {
                model: Some("mock".into()),
                ..TailQuery::default()
            },
            &|r| r.model == "mock",
        ),
        check(
            TailQuery {
                provider: Some("openai".into()),
                status: Some("provider_5xx".into()),
                ..TailQuery::default()
            },
            &|r| r.provider.as_deref() == Some("openai") && r.status == "provider_5xx",
        ),
        check(
            TailQuery {
                key_id: Some("k2".into()),
                model: Some("claude".into()),
                ..TailQuery::default()
            },
            &|r| r.key_id.as_deref() == Some("k2") && r.model == "claude",
        ),
        check(
            TailQuery {
                key_id: Some("nobody".into()),
                ..TailQuery::default()
            },
            &|_| false,
        ),
    ];
    for (q, expected) in cases {
        let seen: Vec<(i64, String)> = all_pages(l, q.clone(), 9)
            .await
            .into_iter()
            .flatten()
            .map(|f| (f.finished_ms, f.row.request_id))
            .collect();
        assert_eq!(seen, expected, "{q:?}");
    }
}
