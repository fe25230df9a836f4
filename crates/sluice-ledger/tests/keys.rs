//! The API keys the ledger database keeps, against real databases: every test in `both!` runs
//! once on SQLite and once on Postgres (see `common` for how each gets a fresh ledger).

mod common;

use common::{dec, row, Kind, TestLedger};
use sluice_ledger::{ApiKey, GroupBy, KeySpend, Ledger, LedgerError, Row, UsageQuery};
use sluice_types::{Budget, BudgetWindow, KeyLimits};

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
    keys_round_trip_exactly,
    a_key_id_is_stored_once,
    revoking_keeps_the_first_time,
    updates_change_limits_name_admin_and_expiry_only,
    touching_keeps_the_latest_use,
    key_spend_sums_exactly_per_currency_within_the_window,
    usage_can_be_limited_to_one_key,
    the_keys_migration_applies_to_an_existing_ledger,
    a_stored_key_that_does_not_read_is_a_one_line_error,
);

fn budget(amount: &str, currency: &str, window: BudgetWindow) -> Option<Budget> {
    Some(Budget {
        amount: dec(amount),
        currency: currency.into(),
        window,
    })
}

/// A key with no limits, created at `created_ms`.
fn key(id: &str, created_ms: i64) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("key {id}"),
        secret_hash: format!("{id:0>64}"),
        admin: false,
        limits: KeyLimits::default(),
        created_ms,
        expires_ms: None,
        revoked_ms: None,
        last_used_ms: None,
        updated_ms: created_ms,
    }
}

async fn keys_round_trip_exactly(kind: Kind) {
    let t = TestLedger::new(kind).await;
    assert_eq!(t.ledger.keys().await.unwrap(), []);
    let full = ApiKey {
        name: "everything — ünïcode".into(),
        admin: true,
        limits: KeyLimits {
            rpm: Some(u32::MAX),
            tpm: Some(1_000_000_000_000),
            budget: budget("1234.567890123456789", "JPY", BudgetWindow::Week),
            models: Some(vec![
                "gpt-4.1".into(),
                "deepseek-v3.2".into(),
                "\"odd\" ,]".into(),
            ]),
        },
        expires_ms: Some(1_800_000_000_000),
        revoked_ms: Some(1_700_000_000_500),
        last_used_ms: Some(1_700_000_000_400),
        updated_ms: 1_700_000_000_500,
        ..key("full00000000", 1_700_000_000_000)
    };
    let variants = [
        full.clone(),
        ApiKey {
            limits: KeyLimits {
                rpm: Some(60),
                ..KeyLimits::default()
            },
            ..key("rpmonly00000", 3)
        },
        ApiKey {
            limits: KeyLimits {
                tpm: Some(0),
                ..KeyLimits::default()
            },
            ..key("tpmonly00000", 2)
        },
        ApiKey {
            limits: KeyLimits {
                budget: budget("10.50", "USD", BudgetWindow::Month),
                ..KeyLimits::default()
            },
            ..key("budget000000", 2)
        },
        ApiKey {
            limits: KeyLimits {
                budget: budget("0.000000000000000001", "EUR", BudgetWindow::Day),
                models: Some(Vec::new()),
                ..KeyLimits::default()
            },
            ..key("tinybudget00", 2)
        },
        key("open00000000", 1),
    ];
    for k in &variants {
        t.ledger.insert_key(k).await.unwrap();
    }

    // By creation time, then id.
    let got = t.ledger.keys().await.unwrap();
    let ids: Vec<&str> = got.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "open00000000",
            "budget000000",
            "tinybudget00",
            "tpmonly00000",
            "rpmonly00000",
            "full00000000"
        ]
    );
    for k in &variants {
        let stored = got.iter().find(|g| g.id == k.id).unwrap();
        assert_eq!(stored, k);
        assert_eq!(t.ledger.key(&k.id).await.unwrap().as_ref(), Some(k));
    }
    // Amounts keep every digit as written, trailing zeros included.
    let amount = |id: &str| {
        let k = got.iter().find(|g| g.id == id).unwrap();
        k.limits.budget.as_ref().unwrap().amount.to_string()
    };
    assert_eq!(amount("full00000000"), "1234.567890123456789");
    assert_eq!(amount("budget000000"), "10.50");
    assert_eq!(amount("tinybudget00"), "0.000000000000000001");
    assert_eq!(t.ledger.key("nope").await.unwrap(), None);
    assert!(!full.is_active(1_700_000_000_600));

    let names = t.ledger.key_names().await.unwrap();
    assert_eq!(names.len(), variants.len());
    assert_eq!(names["full00000000"], "everything — ünïcode");
    assert_eq!(names["open00000000"], "key open00000000");
}

async fn a_key_id_is_stored_once(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let first = key("dup000000000", 1);
    t.ledger.insert_key(&first).await.unwrap();
    let second = ApiKey {
        name: "another".into(),
        ..key("dup000000000", 2)
    };
    let err = t.ledger.insert_key(&second).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::KeyExists { id, .. } if id == "dup000000000"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("ledger {}: key dup000000000 already exists", t.ledger.url())
    );
    assert_eq!(t.ledger.keys().await.unwrap(), [first]);
}

async fn revoking_keeps_the_first_time(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let k = key("revoked00000", 10);
    t.ledger.insert_key(&k).await.unwrap();
    t.ledger.insert_key(&key("kept00000000", 10)).await.unwrap();
    assert!(t.ledger.revoke_key("revoked00000", 500).await.unwrap());
    assert!(t.ledger.revoke_key("revoked00000", 900).await.unwrap());
    assert!(!t.ledger.revoke_key("nope", 900).await.unwrap());
    let got = t.ledger.key("revoked00000").await.unwrap().unwrap();
    assert_eq!(
        got,
        ApiKey {
            revoked_ms: Some(500),
            updated_ms: 500,
            ..k
        }
    );
    assert!(!got.is_active(0));
    // Revoked keys are still keys.
    assert_eq!(t.ledger.keys().await.unwrap().len(), 2);
    let other = t.ledger.key("kept00000000").await.unwrap().unwrap();
    assert_eq!(other.revoked_ms, None);
    assert!(other.is_active(i64::MAX));
}

async fn updates_change_limits_name_admin_and_expiry_only(kind: Kind) {
    let t = TestLedger::new(kind).await;
    let original = ApiKey {
        limits: KeyLimits {
            rpm: Some(10),
            tpm: None,
            budget: budget("5", "USD", BudgetWindow::Month),
            models: None,
        },
        last_used_ms: Some(40),
        ..key("upd000000000", 10)
    };
    t.ledger.insert_key(&original).await.unwrap();
    t.ledger.revoke_key("upd000000000", 50).await.unwrap();
    let wanted = ApiKey {
        name: "renamed".into(),
        admin: true,
        limits: KeyLimits {
            rpm: None,
            tpm: Some(5000),
            budget: budget("300.25", "JPY", BudgetWindow::Days30),
            models: Some(vec!["mock".into()]),
        },
        expires_ms: Some(99_999),
        updated_ms: 60,
        // What `update_key` does not change, changed here to show it stays as stored.
        secret_hash: "f".repeat(64),
        created_ms: 1,
        revoked_ms: None,
        last_used_ms: Some(1),
        ..original.clone()
    };
    assert!(t.ledger.update_key(&wanted).await.unwrap());
    let got = t.ledger.key("upd000000000").await.unwrap().unwrap();
    assert_eq!(
        got,
        ApiKey {
            secret_hash: original.secret_hash.clone(),
            created_ms: 10,
            revoked_ms: Some(50),
            last_used_ms: Some(40),
            ..wanted.clone()
        }
    );
    // Limits can be taken away again.
    let cleared = ApiKey {
        limits: KeyLimits::default(),
        expires_ms: None,
        updated_ms: 70,
        ..got.clone()
    };
    assert!(t.ledger.update_key(&cleared).await.unwrap());
    assert_eq!(
        t.ledger.key("upd000000000").await.unwrap().unwrap(),
        cleared
    );
    assert!(!t.ledger.update_key(&key("nope", 1)).await.unwrap());
    assert_eq!(t.ledger.key("nope").await.unwrap(), None);
}

async fn touching_keeps_the_latest_use(kind: Kind) {
    let t = TestLedger::new(kind).await;
    for id in ["a00000000000", "b00000000000", "c00000000000"] {
        t.ledger.insert_key(&key(id, 1)).await.unwrap();
    }
    let last_used = |id: &'static str| {
        let ledger = t.ledger.clone();
        async move { ledger.key(id).await.unwrap().unwrap().last_used_ms }
    };
    let uses = |list: &[(&str, i64)]| -> Vec<(String, i64)> {
        list.iter()
            .map(|(id, at)| ((*id).to_owned(), *at))
            .collect()
    };
    t.ledger
        .touch_keys(&uses(&[
            ("a00000000000", 100),
            ("b00000000000", 50),
            ("a00000000000", 90),
            ("unknown", 7),
        ]))
        .await
        .unwrap();
    assert_eq!(last_used("a00000000000").await, Some(100));
    assert_eq!(last_used("b00000000000").await, Some(50));
    assert_eq!(last_used("c00000000000").await, None);
    // An older time (a batch that arrived late) does not move it back.
    t.ledger
        .touch_keys(&uses(&[("a00000000000", 80), ("b00000000000", 60)]))
        .await
        .unwrap();
    assert_eq!(last_used("a00000000000").await, Some(100));
    assert_eq!(last_used("b00000000000").await, Some(60));
    t.ledger.touch_keys(&[]).await.unwrap();
    // Touching changes nothing else.
    let a = t.ledger.key("a00000000000").await.unwrap().unwrap();
    assert_eq!(
        a,
        ApiKey {
            last_used_ms: Some(100),
            ..key("a00000000000", 1)
        }
    );
}

const SINCE: i64 = 1_780_000_000_000;
const UNTIL: i64 = SINCE + 86_400_000;

fn spend_rows() -> Vec<Row> {
    let r = |id: &str, at_ms: i64, key: Option<&str>, currency: &str, usd: &str, local: &str| Row {
        at_ms,
        key_id: key.map(str::to_owned),
        currency: currency.into(),
        cost_usd: dec(usd),
        cost_local: dec(local),
        ..row(id)
    };
    let mut rows = vec![
        // The window's bounds: since is in, until is out.
        r("before", SINCE - 1, Some("k1"), "JPY", "100", "100"),
        r(
            "first",
            SINCE,
            Some("k1"),
            "JPY",
            "0.00017151",
            "0.00017151",
        ),
        r("last", UNTIL - 1, Some("k1"), "JPY", "0.2", "0.3"),
        r("after", UNTIL, Some("k1"), "JPY", "100", "100"),
        r(
            "usd",
            SINCE + 5,
            Some("k1"),
            "USD",
            "0.0040325",
            "0.0040325",
        ),
        // Other keys and requests without one are not k1's.
        r("other", SINCE + 5, Some("k2"), "JPY", "7", "7"),
        r("nokey", SINCE + 5, None, "JPY", "7", "7"),
    ];
    // Ten tenths: exactly 1 in decimal, 0.9999999999999999 in floating point.
    for i in 0..10 {
        rows.push(r(
            &format!("tenth-{i}"),
            SINCE + i,
            Some("k1"),
            "USD",
            "0.1",
            "0.1",
        ));
    }
    rows
}

async fn key_spend_sums_exactly_per_currency_within_the_window(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger.insert(&spend_rows()).await.unwrap();
    let spend = t.ledger.key_spend("k1", SINCE, UNTIL).await.unwrap();
    assert_eq!(
        spend,
        [
            KeySpend {
                currency: "JPY".into(),
                cost_usd: dec("0.20017151"),
                cost_local: dec("0.30017151"),
                requests: 2,
            },
            KeySpend {
                currency: "USD".into(),
                cost_usd: dec("1.0040325"),
                cost_local: dec("1.0040325"),
                requests: 11,
            },
        ]
    );
    assert_eq!(spend[0].cost_local.to_string(), "0.30017151");
    assert_eq!(spend[1].cost_usd.to_string(), "1.0040325");
    // The bounds themselves.
    let jpy = t.ledger.key_spend("k1", SINCE - 1, SINCE).await.unwrap();
    assert_eq!((jpy.len(), jpy[0].cost_usd), (1, dec("100")));
    let around = t.ledger.key_spend("k1", UNTIL, UNTIL + 1).await.unwrap();
    assert_eq!(around[0].requests, 1);
    assert!(t
        .ledger
        .key_spend("k1", UNTIL + 1, UNTIL + 9)
        .await
        .unwrap()
        .is_empty());
    assert!(t
        .ledger
        .key_spend("nope", 0, i64::MAX)
        .await
        .unwrap()
        .is_empty());
}

async fn usage_can_be_limited_to_one_key(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger.insert(&spend_rows()).await.unwrap();
    let usage = |key_id: Option<&str>, since_ms: Option<i64>| {
        let ledger = t.ledger.clone();
        let q = UsageQuery {
            since_ms,
            until_ms: Some(UNTIL),
            by: GroupBy::Key,
            key_id: key_id.map(str::to_owned),
        };
        async move {
            ledger
                .usage(q)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.group, r.requests, r.cost_usd.to_string()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        usage(Some("k1"), Some(SINCE)).await,
        [("k1".to_owned(), 13, "1.20420401".to_owned())]
    );
    assert_eq!(
        usage(Some("k1"), None).await,
        [("k1".to_owned(), 14, "101.20420401".to_owned())]
    );
    assert_eq!(
        usage(Some("k2"), None).await,
        [("k2".to_owned(), 1, "7".to_owned())]
    );
    assert!(usage(Some("nope"), None).await.is_empty());
    // Without a key: every request, those without a key too.
    let all = usage(None, Some(SINCE)).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all.iter().map(|r| r.1).sum::<u64>(), 15);
}

async fn the_keys_migration_applies_to_an_existing_ledger(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger.insert(&[row("kept")]).await.unwrap();
    // Back to a database as the first release left it: requests only, version 1.
    t.exec(
        "DROP TABLE ledger_rollup_minutes; DROP TABLE ledger_rollup_days; \
         DROP INDEX ledger_requests_finished; DROP INDEX ledger_requests_model_finished; \
         DROP INDEX ledger_requests_provider_finished; DROP INDEX ledger_requests_key_finished; \
         DROP INDEX ledger_requests_status_finished; \
         ALTER TABLE ledger_requests DROP COLUMN finished_ms; \
         DELETE FROM ledger_schema_migrations WHERE version IN (4, 5); \
         DROP INDEX ledger_requests_client_request_id; \
         ALTER TABLE ledger_requests DROP COLUMN client_request_id; \
         DROP TABLE ledger_api_keys; DROP INDEX ledger_requests_key_at_ms; \
         DELETE FROM ledger_schema_migrations WHERE version IN (2, 3);",
    )
    .await;
    assert_eq!(
        t.scalar("SELECT MAX(version) FROM ledger_schema_migrations")
            .await,
        1
    );
    let index_count = match kind {
        Kind::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master \
             WHERE type = 'index' AND name = 'ledger_requests_key_at_ms'"
        }
        Kind::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes \
             WHERE indexname = 'ledger_requests_key_at_ms' AND schemaname = current_schema()"
        }
    };
    assert_eq!(t.scalar(index_count).await, 0);

    // Opening it applies versions 2 to 5 and keeps the rows; opening again applies nothing.
    let upgraded = Ledger::open(&t.url).await.unwrap();
    assert_eq!(upgraded.get("kept").await.unwrap(), Some(row("kept")));
    assert_eq!(upgraded.keys().await.unwrap(), []);
    upgraded.insert_key(&key("new000000000", 5)).await.unwrap();
    drop(upgraded);
    let again = Ledger::open(&t.url).await.unwrap();
    assert_eq!(again.keys().await.unwrap(), [key("new000000000", 5)]);
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM ledger_schema_migrations")
            .await,
        5
    );
    // The rollups were filled from the row kept.
    assert_eq!(
        t.scalar("SELECT CAST(SUM(requests) AS BIGINT) FROM ledger_rollup_days")
            .await,
        1
    );
    assert_eq!(t.scalar(index_count).await, 1);
    let name: i64 = t
        .scalar(
            "SELECT COUNT(*) FROM ledger_schema_migrations WHERE version = 2 AND name = 'api_keys'",
        )
        .await;
    assert_eq!(name, 1);
}

async fn a_stored_key_that_does_not_read_is_a_one_line_error(kind: Kind) {
    let t = TestLedger::new(kind).await;
    t.ledger
        .insert_key(&ApiKey {
            limits: KeyLimits {
                budget: budget("1", "USD", BudgetWindow::Day),
                ..KeyLimits::default()
            },
            ..key("odd000000000", 1)
        })
        .await
        .unwrap();
    // A window a newer build might write.
    t.exec("UPDATE ledger_api_keys SET budget_window = '1h'")
        .await;
    let err = t.ledger.keys().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, LedgerError::Query { op: "keys", .. }),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.ends_with("key odd000000000: column budget_window: unknown window \"1h\""),
        "{text}"
    );
    assert!(t.ledger.key("odd000000000").await.is_err());
    // The names still read: they need no limits.
    assert_eq!(t.ledger.key_names().await.unwrap().len(), 1);
}
