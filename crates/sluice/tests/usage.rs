//! Usage reports, black box: requests through a real gateway land in its ledger, and
//! `sluice usage`, `GET /v1/usage` and `sluice cost --from-ledger` report them with exact
//! tokens and decimal costs; a ledger written directly covers days, keys, currencies and
//! windows; bad flags exit 2 and an unusable ledger exits 1, each with one line. Amounts are
//! JSON numbers with exact decimal digits, read here from the document's text.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::str::FromStr;

use common::{chat, config_for, eventually, get, post, Proc};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sluice_ledger::{Ledger, Row};
use sluice_pricing::Decimal;

const PRICES: &str = "[providers.up.prices]\n\"mock\" = { input = 0.27, output = 0.42 }\n";

fn sluice(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env_remove("HOLYSHEEP_API_KEY")
        .env_remove("SLUICE_CONFIG")
        .output()
        .expect("run sluice")
}

fn json_of(out: &Output) -> Doc {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Doc::new(std::str::from_utf8(&out.stdout).expect("UTF-8 on stdout"))
}

/// The single stderr line of a failed run, which must exit with `code`.
fn error_line(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one line, got:\n{stderr}"
    );
    stderr
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// (prompt × 0.27 + completion × 0.42) / 1e6, exactly.
fn cost(prompt: u64, completion: u64) -> Decimal {
    (dec("0.27") * Decimal::from(prompt) + dec("0.42") * Decimal::from(completion))
        / Decimal::from(1_000_000u32)
}

fn row<'a>(doc: &'a Doc, group: &str) -> ReportRow<'a> {
    let at = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["group"] == group)
        .unwrap_or_else(|| panic!("no row {group} in {}", doc.text));
    ReportRow { doc, at }
}

/// A JSON document from stdout or HTTP: its tree for structure, and its text for amounts.
/// Amounts are JSON numbers with exact decimal digits, but `serde_json::Value` holds a
/// fractional number as an `f64` (its `Number::to_string` writes `12.50` as `12.5` and
/// `0.0000001` as `1e-7`), so amounts are read from the text, by JSON pointer.
struct Doc {
    text: String,
    tree: Value,
}

impl Doc {
    fn new(text: &str) -> Doc {
        Doc {
            text: text.to_owned(),
            tree: serde_json::from_str(text).expect("one JSON document"),
        }
    }

    /// The amount at `pointer` (`/total/cost_usd`): a JSON number, parsed from its digits.
    fn amount(&self, pointer: &str) -> Decimal {
        let text = number_text(&self.text, pointer);
        Decimal::from_str(text).unwrap_or_else(|e| panic!("{pointer}: {text}: {e}"))
    }
}

impl std::ops::Index<&str> for Doc {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.tree[key]
    }
}

/// One row of a document's `rows`.
struct ReportRow<'a> {
    doc: &'a Doc,
    at: usize,
}

impl ReportRow<'_> {
    fn amount(&self, key: &str) -> Decimal {
        self.doc.amount(&format!("/rows/{}/{key}", self.at))
    }
}

impl std::ops::Index<&str> for ReportRow<'_> {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.doc.tree["rows"][self.at][key]
    }
}

/// The text of the JSON number at `pointer` in `doc`, exactly as written.
fn number_text<'a>(doc: &'a str, pointer: &str) -> &'a str {
    let mut raw: &'a RawValue = serde_json::from_str(doc).expect("one JSON document");
    for step in pointer.split('/').skip(1) {
        raw = if raw.get().starts_with('[') {
            let items: Vec<&'a RawValue> = serde_json::from_str(raw.get()).unwrap();
            items[step.parse::<usize>().unwrap()]
        } else {
            let fields: HashMap<String, &'a RawValue> = serde_json::from_str(raw.get()).unwrap();
            fields
                .get(step)
                .copied()
                .unwrap_or_else(|| panic!("no {step} on the way to {pointer}"))
        };
    }
    let text = raw.get();
    assert!(
        text.starts_with(|c: char| c == '-' || c.is_ascii_digit()),
        "{pointer} is not a JSON number: {text}"
    );
    text
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn requests_through_the_gateway_are_reported_exactly() {
    let up = Proc::mock_upstream(&["--tokens", "9"]);
    // The gateway's own working directory, with the default ledger `sqlite://sluice.db`.
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let config = cwd.join("sluice.toml");
    std::fs::write(&config, config_for(&up, PRICES)).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let gw = Proc::spawn(
        &["serve", "--config", &config, "--listen", "127.0.0.1:0"],
        &[],
        Some(dir),
    );

    // Three answers for "mock" (one streamed), one through the alias "fast", one failure.
    let (mut prompt, mut completion) = (0, 0);
    for (model, stream) in [("mock", false), ("mock", false), ("fast", false)] {
        let reply = post(&gw.url("/v1/chat/completions"), &chat(model, stream), &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let usage = &reply.json()["usage"];
        prompt += usage["prompt_tokens"].as_u64().unwrap();
        completion += usage["completion_tokens"].as_u64().unwrap();
    }
    let mut streamed = chat("mock", true);
    streamed["stream_options"] = json!({"include_usage": true});
    let reply = post(&gw.url("/v1/chat/completions"), &streamed, &[]).await;
    let usage = reply
        .payloads()
        .into_iter()
        .find(|p| p["usage"].is_object())
        .expect("usage chunk")["usage"]
        .clone();
    prompt += usage["prompt_tokens"].as_u64().unwrap();
    completion += usage["completion_tokens"].as_u64().unwrap();
    assert_eq!(completion, 4 * 9);
    let failed = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-500", false),
        &[],
    )
    .await;
    assert_eq!(failed.status, 502, "{}", failed.body);

    // The batching writer stores the rows within moments.
    let usage_url = gw.url("/v1/usage?by=model");
    eventually("5 requests in the ledger", || async {
        let r = get(&usage_url).await;
        r.status == 200 && r.json()["total"]["requests"] == 5
    })
    .await;
    let http = get(&usage_url).await;
    assert_eq!(
        http.header("access-control-allow-origin"),
        Some("*"),
        "CORS on /v1/usage"
    );
    let http = Doc::new(&http.body);

    let doc = json_of(&sluice(&["usage", "--config", &config, "--json"], &cwd));
    assert_eq!(doc["by"], "model");
    assert_eq!(doc["currency"], "USD");
    let window = doc["until_ms"].as_i64().unwrap() - doc["since_ms"].as_i64().unwrap();
    assert_eq!(window, 30 * 86_400_000);
    let mock_tokens = |n: u64| (prompt / 4 * n, 9 * n);
    let (p3, c3) = mock_tokens(3);
    let mock = row(&doc, "mock");
    assert_eq!(mock["requests"], 3);
    assert_eq!(mock["prompt_tokens"], p3);
    assert_eq!(mock["completion_tokens"], c3);
    assert_eq!(mock.amount("cost_usd"), cost(p3, c3));
    assert_eq!(mock["errors"], 0);
    assert_eq!(mock["estimated_requests"], 0);
    let fast = row(&doc, "fast");
    assert_eq!(fast["requests"], 1);
    assert_eq!(fast.amount("cost_usd"), cost(prompt / 4, 9));
    let bad = row(&doc, "mock-500");
    assert_eq!(
        (bad["requests"].as_u64(), bad["errors"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(bad.amount("cost_usd"), Decimal::ZERO);
    // Highest cost first.
    assert_eq!(doc["rows"][0]["group"], "mock");

    let total = &doc["total"];
    assert_eq!(total["requests"], 5);
    assert_eq!(total["prompt_tokens"], prompt);
    assert_eq!(total["completion_tokens"], completion);
    assert_eq!(total["total_tokens"], prompt + completion);
    assert_eq!(doc.amount("/total/cost_usd"), cost(prompt, completion));
    assert_eq!(doc.amount("/total/local"), cost(prompt, completion));
    assert_eq!(total["errors"], 1);
    assert!(total.get("group").is_none());

    // The gateway serves the same numbers, as JSON numbers with the same digits.
    assert_eq!(http["rows"], doc["rows"]);
    assert_eq!(http["total"], doc["total"]);
    assert_eq!(http["by"], "model");
    for pointer in ["/total/cost_usd", "/total/local", "/rows/0/cost_usd"] {
        assert_eq!(
            number_text(&http.text, pointer),
            number_text(&doc.text, pointer)
        );
    }

    // By provider: everything went to "up".
    let doc = json_of(&sluice(
        &["usage", "--config", &config, "--by", "provider", "--json"],
        &cwd,
    ));
    assert_eq!(doc["by"], "provider");
    assert_eq!(doc["rows"].as_array().unwrap().len(), 1);
    let up_row = row(&doc, "up");
    assert_eq!(up_row["requests"], 5);
    assert_eq!(up_row.amount("cost_usd"), cost(prompt, completion));
    let http = Doc::new(&get(&gw.url("/v1/usage?by=provider&since=1h")).await.body);
    assert_eq!(http["rows"], doc["rows"]);
    assert_eq!(http.amount("/rows/0/cost_usd"), cost(prompt, completion));

    // By day: today only, in UTC.
    let doc = json_of(&sluice(
        &["usage", "--config", &config, "--by", "day", "--json"],
        &cwd,
    ));
    let days = doc["rows"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    let day = days[0]["group"].as_str().unwrap();
    assert!(
        day.len() == 10 && day.as_bytes()[4] == b'-' && day.as_bytes()[7] == b'-',
        "{day}"
    );
    assert_eq!(days[0]["requests"], 5);

    // A window that ends before the requests: nothing.
    let doc = json_of(&sluice(
        &["usage", "--config", &config, "--until", "1d", "--json"],
        &cwd,
    ));
    assert_eq!(doc["rows"], json!([]));
    assert_eq!(doc["total"]["requests"], 0);
    assert_eq!(doc.amount("/total/cost_usd"), Decimal::ZERO);

    // The table: the model, the counts and a total line.
    let out = sluice(&["usage", "--config", &config], &cwd);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("Usage by model from "), "{table}");
    assert!(table.contains("(ledger sqlite://sluice.db)"), "{table}");
    let mock_line = table
        .lines()
        .find(|l| l.starts_with("mock "))
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(
        mock_line.split_whitespace().nth(1),
        Some("3"),
        "{mock_line}"
    );
    let total_line = table.lines().find(|l| l.starts_with("TOTAL")).unwrap();
    assert_eq!(total_line.split_whitespace().nth(1), Some("5"), "{table}");

    // The monthly projection from this traffic: a 30-day window is a month as measured.
    let doc = json_of(&sluice(
        &["cost", "--config", &config, "--from-ledger", "--json"],
        &cwd,
    ));
    let measured = &doc["from_ledger"];
    assert_eq!(measured["prompt_tokens"], prompt);
    assert_eq!(measured["completion_tokens"], completion);
    assert_eq!(doc.amount("/from_ledger/scale"), Decimal::ONE);
    assert_eq!(measured["window_ms"], 30 * 86_400_000_i64);
    assert_eq!(measured["models"], json!(["mock"]));
    let mtok = |tokens: u64| Decimal::from(tokens) / Decimal::from(1_000_000u32);
    assert_eq!(doc.amount("/input_mtok"), mtok(prompt));
    assert_eq!(doc.amount("/output_mtok"), mtok(completion));
    // Only the model seen ("fast" is "mock" at "up"), at every provider pricing it.
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", doc.text);
    assert_eq!(
        (rows[0]["provider"].as_str(), rows[0]["model"].as_str()),
        (Some("up"), Some("mock"))
    );
    assert_eq!(doc.amount("/rows/0/usd_month"), cost(prompt, completion));

    // Over the last day, scaled x30 to a month.
    let doc = json_of(&sluice(
        &[
            "cost",
            "--config",
            &config,
            "--from-ledger",
            "--since",
            "1d",
            "--json",
        ],
        &cwd,
    ));
    assert_eq!(doc.amount("/from_ledger/scale"), dec("30"));
    assert_eq!(doc.amount("/input_mtok"), mtok(prompt * 30));
    assert_eq!(
        doc.amount("/rows/0/usd_month"),
        cost(prompt * 30, completion * 30)
    );
    // --model keeps working: an unpriced model is a usage error, as without --from-ledger.
    let out = sluice(
        &[
            "cost",
            "--config",
            &config,
            "--from-ledger",
            "--model",
            "nope",
        ],
        &cwd,
    );
    assert!(error_line(&out, 2).contains("--model"));
    let out = sluice(&["cost", "--config", &config, "--from-ledger"], &cwd);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("Measured in ledger sqlite://sluice.db"),
        "{table}"
    );
    assert!(table.contains("scaled x1 to a 30-day month"), "{table}");
}

#[tokio::test]
async fn the_http_report_checks_its_parameters() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config_for(&up, PRICES));
    for (query, what) in [
        ("by=nope", "by"),
        ("since=yesterday", "since"),
        ("until=2x", "until"),
        ("since=1h&until=2h", "until"),
        ("currency=12", "currency"),
        ("group=model", "group"),
    ] {
        let r = get(&gw.url(&format!("/v1/usage?{query}"))).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        let err = &r.json()["error"];
        assert_eq!(err["type"], "invalid_request_error", "{query}");
        assert!(
            err["message"].as_str().unwrap().contains(what),
            "{query}: {err}"
        );
    }
    // Unix milliseconds work as bounds, and an empty value is the default.
    let since = now_ms() - 60_000;
    let r = get(&gw.url(&format!(
        "/v1/usage?since={since}&until=&by=day&currency=jpy"
    )))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = Doc::new(&r.body);
    assert_eq!(doc["since_ms"], since);
    assert_eq!(doc["by"], "day");
    assert_eq!(doc["currency"], "JPY");
    // No configured provider bills in JPY: the built-in sheets do, first by name.
    assert_eq!(doc["rate"]["provider"], "anthropic");
    assert_eq!(number_text(&doc.text, "/rate/per_usd"), "7.3");
}

/// A ledger written directly: three days, two keys, two providers, an estimate and an error.
async fn write_ledger(path: &Path) -> i64 {
    let ledger = Ledger::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let now = now_ms();
    let day = 86_400_000;
    let row = |id: &str, days_ago: i64, key: Option<&str>, provider: &str, cost_usd: &str| Row {
        request_id: id.to_owned(),
        client_request_id: None,
        at_ms: now - days_ago * day,
        key_id: key.map(str::to_owned),
        model: "deepseek-v3.2".to_owned(),
        provider: Some(provider.to_owned()),
        provider_model: Some("deepseek-v3.2".to_owned()),
        status: "ok".to_owned(),
        http_status: 200,
        stream: true,
        prompt_tokens: 1000,
        completion_tokens: 2000,
        estimated: false,
        cost_usd: dec(cost_usd),
        cost_local: dec(cost_usd),
        currency: "JPY".to_owned(),
        ttft_ms: Some(10.0),
        duration_ms: 100.0,
        attempts: 1,
        error: None,
    };
    let mut estimated = row("r3", 1, Some("k2"), "deepseek", "0.00111");
    estimated.estimated = true;
    let mut failed = row("r4", 0, None, "holysheep", "0");
    failed.status = "provider_5xx".to_owned();
    failed.http_status = 502;
    failed.prompt_tokens = 0;
    failed.completion_tokens = 0;
    let rows = vec![
        row("r1", 0, Some("k1"), "holysheep", "0.00111"),
        row("r2", 2, Some("k1"), "holysheep", "0.00111"),
        estimated,
        failed,
        // Outside the default 30-day window.
        row("old", 40, Some("k1"), "holysheep", "0.00111"),
    ];
    ledger.insert(&rows).await.unwrap();
    now
}

#[tokio::test]
async fn reports_group_by_day_and_key_and_convert_currencies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    write_ledger(&db).await;
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"
ledger = "sqlite://{}"
display_currency = "JPY"

[providers.holysheep]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
billing = {{ currency = "JPY", per_usd = 1.0 }}
"#,
            db.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["usage", "--config", config, "--json"];
        args.extend_from_slice(extra);
        json_of(&sluice(&args, dir.path()))
    };

    // By day: oldest first, whatever the cost.
    let doc = run(&["--by", "day"]);
    let days: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert_eq!(days.len(), 3, "{}", doc.text);
    let mut sorted = days.clone();
    sorted.sort_unstable();
    assert_eq!(days, sorted);
    assert_eq!(doc["total"]["requests"], 4);
    assert_eq!(number_text(&doc.text, "/total/cost_usd"), "0.00333");
    assert_eq!(doc["total"]["estimated_requests"], 1);
    assert_eq!(doc["total"]["errors"], 1);

    // The display currency from the config, at the configured provider's rate.
    assert_eq!(doc["currency"], "JPY");
    assert_eq!(doc["rate"]["provider"], "holysheep");
    assert_eq!(doc["rate"]["source"], "config");
    assert_eq!(doc.amount("/rate/per_usd"), Decimal::ONE);
    assert_eq!(doc.amount("/total/local"), dec("0.00333"));

    // By key; requests without a key are "-".
    let doc = run(&["--by", "key"]);
    assert_eq!(row(&doc, "k1")["requests"], 2);
    assert_eq!(row(&doc, "k2")["estimated_requests"], 1);
    assert_eq!(row(&doc, "-")["errors"], 1);

    // A longer window takes in the old request; --until ends it early.
    assert_eq!(run(&["--since", "60d"])["total"]["requests"], 5);
    assert_eq!(
        run(&["--since", "60d", "--until", "30d"])["total"]["requests"],
        1
    );

    // A currency no provider bills in: USD only, and the note says so.
    let doc = run(&["--currency", "eur"]);
    assert_eq!(doc["currency"], "EUR");
    assert_eq!(doc["rate"], Value::Null);
    assert_eq!(doc["total"]["local"], Value::Null);
    assert!(doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["local"].is_null()));
    assert!(doc["note"].as_str().unwrap().contains("No USD to EUR rate"));
    let table = sluice(
        &["usage", "--config", config, "--currency", "EUR"],
        dir.path(),
    );
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(!table.contains("COST EUR"), "{table}");
    assert!(table.contains("No USD to EUR rate"), "{table}");
    // USD: the list price itself.
    let doc = run(&["--currency", "USD"]);
    assert_eq!(doc.amount("/total/local"), dec("0.00333"));
    let table = sluice(
        &["usage", "--config", config, "--by", "provider"],
        dir.path(),
    );
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("COST JPY"), "{table}");
    assert!(
        table.contains("holysheep's billing rate of 1 JPY per USD"),
        "{table}"
    );

    // The cost projection: DeepSeek V3.2 seen, so every provider pricing it.
    let doc = json_of(&sluice(
        &["cost", "--config", config, "--from-ledger", "--json"],
        dir.path(),
    ));
    assert_eq!(doc["from_ledger"]["prompt_tokens"], 3000);
    assert_eq!(doc["from_ledger"]["completion_tokens"], 6000);
    assert_eq!(number_text(&doc.text, "/input_mtok"), "0.003");
    assert_eq!(number_text(&doc.text, "/output_mtok"), "0.006");
    let mut providers: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["model"], "deepseek-v3.2");
            r["provider"].as_str().unwrap()
        })
        .collect();
    providers.sort_unstable();
    assert_eq!(providers, ["deepseek", "holysheep"]);
    // 0.003 × 0.27 + 0.006 × 0.42 at either.
    assert_eq!(doc.amount("/rows/0/usd_month"), dec("0.00333"));
}

#[test]
fn bad_flags_exit_2_and_an_unusable_ledger_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    for args in [
        &["usage", "--by", "nope"][..],
        &["usage", "--since", "yesterday"],
        &["usage", "--currency", "euro"],
        &["cost", "--since", "1d"],
        &["cost", "--from-ledger", "--input-mtok", "5"],
    ] {
        let out = sluice(args, cwd);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = error_line(&sluice(&["usage", "--since", "yesterday"], cwd), 2);
    assert!(line.contains("--since"), "{line}");

    // No ledger file where the config says: one line naming it, nothing created.
    let out = sluice(&["usage"], cwd);
    let line = error_line(&out, 1);
    assert!(line.contains("sqlite://sluice.db"), "{line}");
    assert!(!cwd.join("sluice.db").exists());
    let line = error_line(&sluice(&["cost", "--from-ledger"], cwd), 1);
    assert!(line.contains("sqlite://sluice.db"), "{line}");

    // A path that cannot be opened as a database: the directory itself, or under a file.
    std::fs::write(cwd.join("plain"), "not a directory").unwrap();
    for ledger in [
        format!("sqlite://{}", cwd.display()),
        format!("sqlite://{}/plain/ledger.db", cwd.display()),
    ] {
        let config = cwd.join("bad.toml");
        std::fs::write(&config, format!("ledger = \"{ledger}\"\n")).unwrap();
        let out = sluice(
            &["usage", "--config", config.to_str().unwrap(), "--json"],
            cwd,
        );
        let line = error_line(&out, 1);
        assert!(line.contains("ledger"), "{ledger}: {line}");
        assert!(out.stdout.is_empty(), "{ledger}");
    }
    // A config that keeps no ledger has nothing to report; a ledger URL the config refuses is
    // a config error.
    for (ledger, code) in [("none", 1), ("mysql://root@localhost/db", 2)] {
        let config = cwd.join("bad.toml");
        std::fs::write(&config, format!("ledger = \"{ledger}\"\n")).unwrap();
        let line = error_line(
            &sluice(&["usage", "--config", config.to_str().unwrap()], cwd),
            code,
        );
        assert!(line.contains("ledger"), "{ledger}: {line}");
    }
}
