//! `sluice keys`, black box: the real binary creates, lists, updates and revokes keys in a
//! config's ledger, on SQLite and on the Postgres on this machine. The secret is printed once
//! and only its hash reaches the database; `keys list` shows each key's spend in its budget
//! window, charged as the gateway charges it, from ledger rows written here directly; `usage
//! --by key` shows keys by name. Bad flags and unknown ids exit 2 with one line.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sluice_ledger::{ApiKey, Ledger, Row};
use sluice_types::{BudgetWindow, Decimal};

/// A provider that bills in yen at 150 per USD: the rate a JPY budget is charged at.
const JPY_PROVIDER: &str = r#"
[providers.yen]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
billing = { currency = "JPY", per_usd = 150 }
"#;

/// Where the keys live for one test (a SQLite file, or a Postgres schema of its own), the
/// config naming it, and the working directory the binary runs in. Dropping it removes all.
struct Keys {
    dir: tempfile::TempDir,
    config: PathBuf,
    url: String,
    /// The Postgres server and schema, dropped at the end.
    schema: Option<(String, String)>,
}

fn postgres_url() -> String {
    std::env::var("SLUICE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach Postgres at {url}: {e}"));
    tokio::spawn(conn);
    client
}

impl Keys {
    async fn new(postgres: bool, extra_toml: &str) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let (url, schema) = if postgres {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let name = format!(
                "sluice_keys_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let base = postgres_url();
            pg_connect(&base)
                .await
                .batch_execute(&format!("CREATE SCHEMA {name}"))
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{name}");
            (url, Some((base, name)))
        } else {
            let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
            (url, None)
        };
        let config = dir.path().join("sluice.toml");
        std::fs::write(&config, format!("ledger = \"{url}\"\n{extra_toml}")).unwrap();
        Keys {
            dir,
            config,
            url,
            schema,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env_remove("HOLYSHEEP_API_KEY")
            .env_remove("SLUICE_CONFIG")
            .output()
            .expect("run sluice")
    }

    /// Stdout of a run that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The one JSON document of a run with `--json`, and its text (exact digits live there).
    fn json(&self, args: &[&str]) -> (Value, String) {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.ok(&all);
        let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (doc, text)
    }

    /// The one stderr line of a run that must exit with `code`, which prints nothing.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        stderr
    }

    /// `keys create` with these flags: (id, the whole key, its secret).
    fn create(&self, flags: &[&str]) -> (String, String, String) {
        let mut args = vec!["keys", "create"];
        args.extend_from_slice(flags);
        let text = self.ok(&args);
        let token = text.lines().next().unwrap().to_owned();
        let rest = token
            .strip_prefix("sk-sluice-")
            .unwrap_or_else(|| panic!("{text}"));
        let (id, secret) = rest.split_once('-').unwrap();
        (id.to_owned(), token.clone(), secret.to_owned())
    }

    async fn ledger(&self) -> Ledger {
        Ledger::open(&self.url).await.expect("open ledger")
    }

    async fn key(&self, id: &str) -> ApiKey {
        self.ledger().await.key(id).await.unwrap().expect("stored")
    }

    /// Everything the database holds about keys, as text: the SQLite files byte for byte (the
    /// write-ahead log too), or every key row as JSON from Postgres.
    async fn stored_text(&self) -> String {
        match &self.schema {
            None => {
                let mut all = Vec::new();
                for name in ["ledger.db", "ledger.db-wal"] {
                    if let Ok(bytes) = std::fs::read(self.dir.path().join(name)) {
                        all.extend(bytes);
                    }
                }
                String::from_utf8_lossy(&all).into_owned()
            }
            Some(_) => {
                let rows = pg_connect(&self.url)
                    .await
                    .query("SELECT row_to_json(k)::TEXT FROM ledger_api_keys k", &[])
                    .await
                    .unwrap();
                rows.iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        if let Some((url, name)) = self.schema.take() {
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

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A request of `key` at `at_ms`, billed in `currency`.
fn request(id: &str, key: Option<&str>, at_ms: i64, currency: &str, usd: &str, local: &str) -> Row {
    let mut row = Row::new(id, at_ms, "mock", "ok", 200);
    row.key_id = key.map(str::to_owned);
    row.provider = Some("yen".into());
    row.prompt_tokens = 10;
    row.completion_tokens = 20;
    row.currency = currency.into();
    row.cost_usd = dec(usd);
    row.cost_local = dec(local);
    row
}

/// The key `id` in a `keys list --json` document.
fn listed<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("no key {id} in {doc:#}"))
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(false).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(true).await })*
        }
    };
}

on_both!(
    the_secret_is_printed_once_and_only_its_hash_is_stored,
    list_shows_limits_and_the_spend_in_each_budget_window,
    update_changes_only_what_is_given,
    revoke_keeps_the_first_time_and_unknown_ids_exit_2,
    budgets_in_a_currency_need_a_rate,
    expired_keys_are_listed_as_expired,
    usage_by_key_shows_key_names,
);

async fn the_secret_is_printed_once_and_only_its_hash_is_stored(postgres: bool) {
    let k = Keys::new(postgres, "").await;
    let (id, token, secret) = k.create(&[
        "--name",
        "ci runner",
        "--rpm",
        "60",
        "--tpm",
        "100000",
        "--budget-usd",
        "10.50",
        "--window",
        "7d",
        "--models",
        "mock,gpt-4.1",
    ]);
    assert_eq!(id.len(), 12);
    assert_eq!(secret.len(), 32);
    let stored = k.key(&id).await;
    assert_eq!(stored.secret_hash, sluice_limit::key::hash_secret(&secret));
    assert!(sluice_limit::key::verify(&secret, &stored.secret_hash));
    assert_eq!(stored.name, "ci runner");
    assert!(!stored.admin);
    assert_eq!(stored.limits.rpm, Some(60));
    assert_eq!(stored.limits.tpm, Some(100_000));
    let budget = stored.limits.budget.clone().unwrap();
    assert_eq!(budget.amount.to_string(), "10.50");
    assert_eq!(
        (budget.currency.as_str(), budget.window),
        ("USD", BudgetWindow::Week)
    );
    assert_eq!(
        stored.limits.models,
        Some(vec!["mock".to_owned(), "gpt-4.1".to_owned()])
    );
    assert_eq!((stored.expires_ms, stored.revoked_ms), (None, None));

    // The database holds the hash, never the secret.
    let raw = k.stored_text().await;
    assert!(raw.contains(&stored.secret_hash), "the hash is stored");
    assert!(!raw.contains(&secret), "the secret reached the database");
    assert!(!raw.contains(&token));

    // Neither listing shows the secret or its hash.
    let text = k.ok(&["keys", "list"]);
    assert!(text.contains(&id) && text.contains("ci runner"), "{text}");
    assert!(text.contains("10.50 USD/7d"), "{text}");
    let (doc, json_text) = k.json(&["keys", "list"]);
    for shown in [&text, &json_text] {
        assert!(!shown.contains(&secret) && !shown.contains(&stored.secret_hash));
    }
    let key = listed(&doc, &id);
    assert_eq!(key["limits"]["rpm"], 60);
    assert_eq!(key["limits"]["budget"]["window"], "7d");
    assert!(json_text.contains("\"amount\": 10.50,"), "{json_text}");
    assert!(key.get("key").is_none());

    // With --json, one object holding the key; an admin key says so.
    let (doc, _) = k.json(&["keys", "create", "--name", "ops", "--admin"]);
    let token = doc["key"].as_str().unwrap();
    let id = doc["id"].as_str().unwrap();
    assert!(token.starts_with(&format!("sk-sluice-{id}-")), "{doc:#}");
    assert_eq!(doc["name"], "ops");
    assert_eq!(doc["admin"], true);
    assert_eq!(doc["status"], "active");
    assert_eq!(doc["limits"]["budget"], Value::Null);
    assert_eq!(doc["expires"], Value::Null);
    assert!(doc["created"].as_str().unwrap().ends_with('Z'));
    assert!(k.key(id).await.admin);
    let secret = token.rsplit('-').next().unwrap();
    assert!(!k.stored_text().await.contains(secret));
}

async fn list_shows_limits_and_the_spend_in_each_budget_window(postgres: bool) {
    let k = Keys::new(postgres, JPY_PROVIDER).await;
    let (yen, _, _) = k.create(&[
        "--name",
        "yen budget",
        "--budget",
        "1000",
        "--currency",
        "JPY",
    ]);
    let (open, _, _) = k.create(&["--name", "no budget"]);
    let (daily, _, _) = k.create(&["--name", "daily", "--budget-usd", "5", "--window", "1d"]);
    let now = now_ms();
    let month_start = BudgetWindow::Month.bounds(now).0;
    let day_start = BudgetWindow::Day.bounds(now).0;
    let rows = vec![
        // Billed in yen: charged the yen billed. Billed in USD: charged at 150 yen per USD.
        request("y1", Some(&yen), now - 1000, "JPY", "0.2", "0.30017151"),
        request("y2", Some(&yen), now - 500, "USD", "0.0040325", "0.0040325"),
        // Before the month began: outside the window.
        request("y0", Some(&yen), month_start - 1, "JPY", "100", "100"),
        // Without a budget: this month in USD, whatever the billing currency.
        request("o1", Some(&open), now - 100, "USD", "0.1", "0.1"),
        request("o2", Some(&open), now - 100, "JPY", "0.2", "30"),
        request("o0", Some(&open), month_start - 1, "USD", "9", "9"),
        // A daily USD budget: today only.
        request("w1", Some(&daily), now - 10, "JPY", "0.25", "37.5"),
        request("w0", Some(&daily), day_start - 1, "USD", "1", "1"),
        request("none", None, now, "USD", "3", "3"),
    ];
    k.ledger().await.insert(&rows).await.unwrap();

    let (doc, text) = k.json(&["keys", "list"]);
    assert_eq!(doc["keys"].as_array().unwrap().len(), 3);
    let spend = &listed(&doc, &yen)["spend"];
    assert_eq!(spend["currency"], "JPY");
    assert_eq!(spend["window"], "month");
    assert_eq!(spend["requests"], 2);
    assert_eq!(spend["since_ms"], month_start);
    assert_eq!(spend["until_ms"], BudgetWindow::Month.bounds(now).1);
    assert!(text.contains("\"amount\": 0.90504651,"), "{text}");
    let spend = &listed(&doc, &open)["spend"];
    assert_eq!(
        (spend["currency"].as_str(), spend["requests"].as_u64()),
        (Some("USD"), Some(2))
    );
    assert!(text.contains("\"amount\": 0.3,"), "{text}");
    let spend = &listed(&doc, &daily)["spend"];
    assert_eq!(spend["window"], "1d");
    assert_eq!(spend["since_ms"], day_start);
    assert!(text.contains("\"amount\": 0.25,"), "{text}");
    assert_eq!(listed(&doc, &yen)["limits"]["budget"]["currency"], "JPY");
    assert!(text.contains("\"amount\": 1000,"), "{text}");

    // The table: amounts rounded to each currency's minor unit.
    let table = k.ok(&["keys", "list"]);
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{table}"))
            .to_owned()
    };
    assert!(line(&yen).contains(" 1,000 JPY/month "), "{table}");
    assert!(line(&yen).ends_with(" 1 JPY"), "{table}");
    assert!(line(&open).ends_with("0.30 USD"), "{table}");
    assert!(line(&daily).contains("5 USD/1d"), "{table}");
    assert!(line(&open).contains(" active "), "{table}");
    assert!(table.contains("LAST USED"), "{table}");

    // Last use, as the gateway records it, is listed.
    k.ledger()
        .await
        .touch_keys(&[(open.clone(), 1_767_225_600_000)])
        .await
        .unwrap();
    let (doc, _) = k.json(&["keys", "list"]);
    assert_eq!(listed(&doc, &open)["last_used"], "2026-01-01T00:00:00Z");
    assert!(k.ok(&["keys", "list"]).contains("2026-01-01 00:00"));
}

async fn update_changes_only_what_is_given(postgres: bool) {
    let k = Keys::new(postgres, JPY_PROVIDER).await;
    let (id, _, _) = k.create(&[
        "--name",
        "before",
        "--rpm",
        "10",
        "--budget-usd",
        "5",
        "--window",
        "1d",
        "--models",
        "mock",
        "--expires",
        "30d",
    ]);
    let created = k.key(&id).await;

    let text = k.ok(&["keys", "update", &id, "--tpm", "5000", "--admin", "true"]);
    assert!(
        text.starts_with(&format!(
            "Updated key {id} \"before\" (admin): rpm 10, tpm 5,000"
        )),
        "{text}"
    );
    let key = k.key(&id).await;
    assert_eq!(
        (key.limits.rpm, key.limits.tpm, key.admin),
        (Some(10), Some(5000), true)
    );
    assert_eq!(key.limits.budget, created.limits.budget);
    assert_eq!(key.limits.models, created.limits.models);
    assert_eq!(
        (key.expires_ms, key.created_ms),
        (created.expires_ms, created.created_ms)
    );
    assert_eq!(key.secret_hash, created.secret_hash);
    assert!(key.updated_ms >= created.updated_ms);

    // A new amount in yen keeps the window; a window alone keeps the amount.
    k.ok(&[
        "keys",
        "update",
        &id,
        "--budget",
        "300.5",
        "--currency",
        "jpy",
    ]);
    let budget = k.key(&id).await.limits.budget.unwrap();
    assert_eq!(
        (budget.amount.to_string().as_str(), budget.currency.as_str()),
        ("300.5", "JPY")
    );
    assert_eq!(budget.window, BudgetWindow::Day);
    let (doc, text) = k.json(&[
        "keys", "update", &id, "--window", "month", "--name", "after",
    ]);
    assert_eq!(doc["name"], "after");
    assert_eq!(doc["limits"]["budget"]["window"], "month");
    assert!(text.contains("\"amount\": 300.5,"), "{text}");

    // `none` takes limits away.
    k.ok(&[
        "keys",
        "update",
        &id,
        "--rpm",
        "none",
        "--tpm",
        "none",
        "--budget",
        "none",
        "--models",
        "none",
        "--expires",
        "none",
        "--admin",
        "false",
    ]);
    let key = k.key(&id).await;
    assert_eq!(key.limits, sluice_types::KeyLimits::default());
    assert_eq!(
        (key.expires_ms, key.admin, key.name.as_str()),
        (None, false, "after")
    );
    // A window with no budget to change, nothing to change, bad values: exit 2, one line.
    let line = k.fails(&["keys", "update", &id, "--window", "7d"], 2);
    assert!(
        line.contains("--window") && line.contains("no budget"),
        "{line}"
    );
    let line = k.fails(&["keys", "update", &id], 2);
    assert!(line.contains("nothing to change"), "{line}");
    let line = k.fails(&["keys", "update", &id, "--admin", "yes"], 2);
    assert!(line.contains("--admin"), "{line}");
    let line = k.fails(&["keys", "update", &id, "--rpm", "0"], 2);
    assert!(line.contains("--rpm"), "{line}");
    let line = k.fails(&["keys", "update", "nosuchkey000", "--rpm", "5"], 2);
    assert!(
        line.contains("\"nosuchkey000\"") && line.contains("no such key"),
        "{line}"
    );
    assert_eq!(k.key(&id).await, key, "failed updates change nothing");
}

async fn revoke_keeps_the_first_time_and_unknown_ids_exit_2(postgres: bool) {
    let k = Keys::new(postgres, "").await;
    let (id, _, _) = k.create(&["--name", "leaving"]);
    let (kept, _, _) = k.create(&["--name", "staying"]);
    let text = k.ok(&["keys", "revoke", &id]);
    assert!(
        text.starts_with(&format!("Revoked key {id} \"leaving\" at ")),
        "{text}"
    );
    let revoked_at = k.key(&id).await.revoked_ms.expect("revoked");
    let (doc, _) = k.json(&["keys", "revoke", &id]);
    assert_eq!(doc["status"], "revoked");
    assert_eq!(doc["revoked_ms"], revoked_at);
    assert!(k
        .ok(&["keys", "revoke", &id])
        .contains("was already revoked"));
    assert_eq!(k.key(&id).await.revoked_ms, Some(revoked_at));
    assert_eq!(k.key(&kept).await.revoked_ms, None);

    // Revoked keys stay listed.
    let (doc, _) = k.json(&["keys", "list"]);
    assert_eq!(listed(&doc, &id)["status"], "revoked");
    assert_eq!(listed(&doc, &kept)["status"], "active");
    assert!(k.ok(&["keys", "list"]).contains(" revoked "));

    let line = k.fails(&["keys", "revoke", "nosuchkey000"], 2);
    assert!(line.contains("\"nosuchkey000\""), "{line}");
    let line = k.fails(&["keys", "revoke", "nosuchkey000", "--json"], 2);
    assert!(line.contains("no such key"), "{line}");
}

async fn budgets_in_a_currency_need_a_rate(postgres: bool) {
    let k = Keys::new(postgres, JPY_PROVIDER).await;
    let (doc, text) = k.json(&[
        "keys",
        "create",
        "--name",
        "yen",
        "--budget",
        "1500.50",
        "--currency",
        "JPY",
        "--window",
        "30d",
    ]);
    assert_eq!(doc["limits"]["budget"]["currency"], "JPY");
    assert_eq!(doc["limits"]["budget"]["window"], "30d");
    assert!(text.contains("\"amount\": 1500.50,"), "{text}");
    let line = k.fails(
        &[
            "keys",
            "create",
            "--name",
            "euro",
            "--budget",
            "10",
            "--currency",
            "EUR",
        ],
        2,
    );
    assert!(
        line.contains("--currency") && line.contains("EUR"),
        "{line}"
    );
    for (flags, flag) in [
        (&["--budget", "10"][..], "--budget"),
        (&["--currency", "JPY"], "--currency"),
        (&["--budget-usd", "10", "--currency", "JPY"], "--budget-usd"),
        (&["--budget-usd", "0"], "--budget-usd"),
        (&["--budget-usd", "lots"], "--budget-usd"),
        (&["--budget-usd", "5", "--window", "week"], "--window"),
        (&["--window", "7d"], "--window"),
        (&["--rpm", "-3"], "--rpm"),
        (&["--tpm", "none"], "--tpm"),
        (&["--models", "a,,b"], "--models"),
        (&["--expires", "later"], "--expires"),
    ] {
        let mut args = vec!["keys", "create", "--name", "bad"];
        args.extend_from_slice(flags);
        let line = k.fails(&args, 2);
        assert!(
            line.starts_with(&format!("sluice: {flag}: ")),
            "{flags:?}: {line}"
        );
    }
    let line = k.fails(&["keys", "create", "--name", " "], 2);
    assert!(line.contains("--name"), "{line}");
    let line = k.fails(&["keys", "create"], 2);
    assert!(line.contains("--name"), "{line}");
    // Nothing refused was stored.
    assert_eq!(k.ledger().await.keys().await.unwrap().len(), 1);
}

async fn expired_keys_are_listed_as_expired(postgres: bool) {
    let k = Keys::new(postgres, "").await;
    let before = now_ms();
    let (month, _, _) = k.create(&["--name", "a month", "--expires", "30d"]);
    let (gone, _, _) = k.create(&["--name", "gone", "--expires", "1ms"]);
    let expires = k.key(&month).await.expires_ms.unwrap();
    let created = k.key(&month).await.created_ms;
    assert_eq!(expires - created, 30 * 86_400_000);
    assert!(created >= before);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (doc, _) = k.json(&["keys", "list"]);
    assert_eq!(listed(&doc, &month)["status"], "active");
    assert_eq!(listed(&doc, &month)["expires_ms"], expires);
    assert_eq!(listed(&doc, &gone)["status"], "expired");
    assert!(!k.key(&gone).await.is_active(now_ms()));
    let table = k.ok(&["keys", "list"]);
    assert!(table.contains(" expired "), "{table}");
}

async fn usage_by_key_shows_key_names(postgres: bool) {
    let k = Keys::new(postgres, "").await;
    let (a, _, _) = k.create(&["--name", "alpha team"]);
    let (b, _, _) = k.create(&["--name", "beta"]);
    let now = now_ms();
    k.ledger()
        .await
        .insert(&[
            request("r1", Some(&a), now - 3, "USD", "0.5", "0.5"),
            request("r2", Some(&a), now - 2, "USD", "0.25", "0.25"),
            request("r3", Some(&b), now - 1, "USD", "0.1", "0.1"),
            request("r4", None, now - 1, "USD", "0.01", "0.01"),
            request("r5", Some("unknown00000"), now - 1, "USD", "0.02", "0.02"),
        ])
        .await
        .unwrap();
    let (doc, text) = k.json(&["usage", "--by", "key"]);
    let row = |group: &str| {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == group)
            .unwrap_or_else(|| panic!("no {group} in {doc:#}"))
            .clone()
    };
    assert_eq!(row("alpha team")["key_id"], a.as_str());
    assert_eq!(row("alpha team")["requests"], 2);
    // Amounts are JSON numbers with their exact digits.
    assert!(row("alpha team")["cost_usd"].is_number());
    assert!(text.contains("\"cost_usd\": 0.75,"), "{text}");
    assert_eq!(row("beta")["key_id"], b.as_str());
    assert!(row("-").get("key_id").is_none());
    assert!(row("unknown00000").get("key_id").is_none());
    assert_eq!(doc["rows"][0]["group"], "alpha team", "highest cost first");
    // Other groupings are untouched.
    let (doc, _) = k.json(&["usage", "--by", "model"]);
    assert!(doc["rows"][0].get("key_id").is_none());

    let table = k.ok(&["usage", "--by", "key"]);
    assert!(
        table.lines().any(|l| l.starts_with("alpha team ")),
        "{table}"
    );
    assert!(table.lines().any(|l| l.starts_with("beta ")), "{table}");
    assert!(!table.contains(&a), "{table}");
}

#[test]
fn a_config_without_a_ledger_or_a_missing_ledger_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("HOLYSHEEP_API_KEY")
            .env_remove("SLUICE_CONFIG")
            .output()
            .expect("run sluice")
    };
    let one_line = |out: &Output, code: i32| {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr
    };
    std::fs::write(dir.path().join("none.toml"), "ledger = \"none\"\n").unwrap();
    for args in [
        &["keys", "create", "--name", "x"][..],
        &["keys", "list"],
        &["keys", "revoke", "abc"],
        &["keys", "update", "abc", "--rpm", "1"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--config", "none.toml"]);
        let line = one_line(&run(&args), 2);
        assert!(line.contains("ledger = \"none\""), "{args:?}: {line}");
    }
    // Without a config: the built-in one, whose ledger is sqlite://sluice.db here. Listing
    // needs it to exist; creating a key makes it.
    let line = one_line(&run(&["keys", "list"]), 1);
    assert!(line.contains("sqlite://sluice.db"), "{line}");
    assert!(!dir.path().join("sluice.db").exists());
    let out = run(&["keys", "create", "--name", "first"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("sluice.db").exists());
    let out = run(&["keys", "list"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("first"));
}
