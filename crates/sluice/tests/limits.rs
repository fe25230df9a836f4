//! Keys and limits on one gateway, black-box: the real `sluice serve` and `sluice keys` on a
//! SQLite ledger, in front of the real simulated provider. Auth as SPEC §3 has it (no key
//! needed until one exists; missing, malformed, wrong, revoked, expired keys refused with 401
//! in OpenAI's shape), the model allow-list (403), requests and tokens per minute and budgets in
//! USD and in yen (429 with `Retry-After`, never forwarded), a budget that holds under
//! concurrency, and self-service usage.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{chat, eventually, post, Proc};
use serde_json::{json, Value};

/// A gateway whose config file (and SQLite ledger) the test keeps, so `sluice keys` can use
/// the same ledger.
struct Setup {
    up: Proc,
    gw: Proc,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

/// Prices the simulated model so budgets have something to count: $1,000 per million tokens
/// is a tenth of a cent a token.
const PRICED: &str = r#"
[providers.up.prices]
"mock" = { input = 1000.0, output = 1000.0 }
"#;

fn setup(extra: &str) -> Setup {
    let up = Proc::mock_upstream(&["--tokens", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    let toml = format!(
        "ledger = \"sqlite://{}\"\n{}",
        dir.path().join("ledger.db").display(),
        common::config_for(&up, &format!("{PRICED}\n{extra}"))
    );
    std::fs::write(&config, toml).unwrap();
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
    Setup {
        up,
        gw,
        config,
        _dir: dir,
    }
}

impl Setup {
    /// `sluice keys <args> --json` on this gateway's ledger.
    fn keys(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("keys")
            .args(args)
            .args(["--config", self.config.to_str().unwrap(), "--json"])
            .output()
            .expect("run sluice keys");
        assert!(
            out.status.success(),
            "sluice keys {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("one JSON document")
    }

    /// Creates a key; returns (id, secret key).
    fn create(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let v = self.keys(&all);
        (
            v["id"].as_str().expect("id").to_owned(),
            v["key"].as_str().expect("key").to_owned(),
        )
    }

    fn url(&self) -> String {
        self.gw.url("/v1/chat/completions")
    }

    /// Waits until the gateway knows `key`: it is closed to callers without a key (so it has
    /// read the key table) and takes this one.
    async fn loaded(&self, key: &str) {
        let url = self.url();
        eventually("the gateway needs a key", || async {
            chat_with(&url, &small(false), None).await.status == 401
        })
        .await;
        eventually("the key is known", || async {
            chat_with(&url, &small(false), Some(key)).await.status != 401
        })
        .await;
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn chat_with(url: &str, body: &Value, key: Option<&str>) -> common::Reply {
    let auth = key.map(bearer);
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    post(url, body, &headers).await
}

fn small(stream: bool) -> Value {
    let mut body = chat("mock", stream);
    body["max_tokens"] = json!(5);
    body
}

#[tokio::test]
async fn no_key_is_needed_until_one_exists_and_a_revoked_key_keeps_the_gateway_closed() {
    let s = setup("");
    assert_eq!(chat_with(&s.url(), &small(true), None).await.status, 200);
    let (id, key) = s.create(&["--name", "first"]);
    // Created while the gateway runs: honoured within seconds.
    let url = s.url();
    eventually("the new key closes the gateway", || async {
        chat_with(&url, &small(false), None).await.status == 401
    })
    .await;
    let refused = chat_with(&url, &small(false), None).await;
    assert_eq!(refused.json()["error"]["code"], "invalid_api_key");
    assert!(refused.json()["error"]["message"].is_string());
    let ok = chat_with(&url, &small(true), Some(&key)).await;
    assert_eq!(ok.status, 200);
    assert!(ok.ends_with_done());
    s.keys(&["revoke", &id]);
    eventually("the revoked key is refused", || async {
        chat_with(&url, &small(false), Some(&key)).await.status == 401
    })
    .await;
    // Revoking the last key does not open the gateway.
    assert_eq!(chat_with(&url, &small(false), None).await.status, 401);
}

#[tokio::test]
async fn missing_malformed_wrong_and_expired_keys_are_refused_and_preflights_pass() {
    let s = setup("[auth]\nrequired = true\n");
    let url = s.url();
    let (_, key) = s.create(&["--name", "good"]);
    let (_, short_lived) = s.create(&["--name", "brief", "--expires", "1s"]);
    s.loaded(&key).await;
    let wrong_secret = format!("{}{}", &key[..key.len() - 4], "AAAA");
    for (what, presented) in [
        ("missing", None),
        ("malformed", Some("not-a-key")),
        ("wrong", Some(wrong_secret.as_str())),
    ] {
        let r = chat_with(&url, &small(false), presented).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "invalid_api_key", "{what}");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let expired = chat_with(&url, &small(false), Some(&short_lived)).await;
    assert_eq!(expired.status, 401);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    // Anthropic's clients send `x-api-key`.
    let r = post(&url, &small(false), &[("x-api-key", key.as_str())]).await;
    assert_eq!(r.status, 200);
    // A CORS preflight needs no key.
    let pre = common::client()
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    // Nothing refused reached the provider: only the successful requests did.
    let stats = s.up.stats().await;
    assert_eq!(stats["requests"], 2, "{stats}");
}

#[tokio::test]
async fn a_model_outside_the_allow_list_is_403() {
    let s = setup("");
    let (_, key) = s.create(&["--name", "fast-only", "--models", "fast"]);
    let url = s.url();
    s.loaded(&key).await;
    let mut fast = small(false);
    fast["model"] = json!("fast");
    assert_eq!(chat_with(&url, &fast, Some(&key)).await.status, 200);
    let r = chat_with(&url, &small(false), Some(&key)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "model_not_allowed");
}

#[tokio::test]
async fn requests_per_minute_answer_429_with_retry_after_and_are_never_forwarded() {
    let s = setup("");
    let (id, key) = s.create(&["--name", "slow", "--rpm", "3"]);
    let url = s.url();
    s.loaded(&key).await;
    let forwarded = s.up.stats().await["requests"].as_u64().unwrap();
    // `loaded` used one of the three.
    for _ in 0..2 {
        assert_eq!(chat_with(&url, &small(false), Some(&key)).await.status, 200);
    }
    let limited = chat_with(&url, &small(true), Some(&key)).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.json()["error"]["code"], "rate_limit_exceeded");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(s.up.stats().await["requests"], forwarded + 2);
    let metrics = common::get(&s.gw.url("/metrics")).await.body;
    assert!(
        metrics.contains(&format!(
            "sluice_limited_requests_total{{key=\"{id}\",reason=\"rpm\"}} 1"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn tokens_per_minute_count_the_output_allowance() {
    let s = setup("");
    let (_, key) = s.create(&["--name", "tokens", "--tpm", "100"]);
    let url = s.url();
    // `loaded` uses a small request (13 tokens).
    s.loaded(&key).await;
    let mut big = small(false);
    big["max_tokens"] = json!(60);
    let with_key = bearer(&key);
    let sixty = [
        ("authorization", with_key.as_str()),
        ("x-mock-tokens", "60"),
    ];
    assert_eq!(post(&url, &big, &sixty).await.status, 200);
    // It used its 60 (and 8 of prompt): another 60 and the prompt's do not fit in the minute.
    let r = post(&url, &big, &sixty).await;
    assert_eq!(r.status, 429, "{}", r.body);
    // More than a minute's worth never fits.
    big["max_tokens"] = json!(500);
    let r = chat_with(&url, &big, Some(&key)).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("tokens-per-minute"), "{}", r.body);
}

/// The cost of one small request, from an open gateway's own usage.
async fn cost_of_one(url: &str, key: &str) -> f64 {
    let mut body = small(false);
    body["stream"] = json!(false);
    let r = chat_with(url, &body, Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["usage"]["cost"].as_f64().expect("usage.cost")
}

#[tokio::test]
async fn fifty_concurrent_streams_against_a_budget_that_fits_ten() {
    let s = setup("");
    let (_, probe) = s.create(&["--name", "probe"]);
    let url = s.url();
    s.loaded(&probe).await;
    let one = cost_of_one(&url, &probe).await;
    let budget = format!("{:.6}", one * 10.0);
    let (_, key) = s.create(&["--name", "ten", "--budget-usd", &budget]);
    // `loaded` spends one request of the ten.
    s.loaded(&key).await;
    let slow = |_| {
        let url = url.clone();
        let key = key.clone();
        async move {
            common::client()
                .post(&url)
                .header("authorization", bearer(&key))
                .header("x-mock-ttft-ms", "300")
                .json(&small(true))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let statuses = futures_util::future::join_all((0..50).map(slow)).await;
    let admitted = statuses.iter().filter(|s| matches!(s, Ok(200))).count();
    let over = statuses.iter().filter(|s| matches!(s, Ok(429))).count();
    assert_eq!(admitted + over, 50, "{statuses:?}");
    // Nine fit after the probe; one more reservation's worth of slack at most.
    assert!((1..=10).contains(&admitted), "{admitted} admitted");
    let r = chat_with(&url, &small(false), Some(&key)).await;
    if r.status == 429 {
        assert_eq!(r.json()["error"]["code"], "insufficient_quota");
        assert!(r.header("retry-after").is_some());
    }
}

#[tokio::test]
async fn a_yen_budget_is_charged_in_yen_as_billed() {
    // The provider bills ¥150 per USD of list price: a small request costs ¥0.15 a token.
    let s = setup("[providers.up.billing]\ncurrency = \"JPY\"\nper_usd = 150.0\n");
    let (id, key) = s.create(&["--name", "yen", "--budget", "20", "--currency", "JPY"]);
    let url = s.url();
    s.loaded(&key).await;
    let mut served = 0;
    for _ in 0..40 {
        match chat_with(&url, &small(false), Some(&key)).await.status {
            200 => served += 1,
            429 => break,
            other => panic!("{other}"),
        }
    }
    assert!(served > 0 && served < 40, "{served}");
    let list = s.keys(&["list"]);
    let entry = list
        .as_array()
        .or_else(|| list["keys"].as_array())
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .cloned()
        .unwrap();
    let text = entry.to_string();
    assert!(text.contains("JPY"), "{text}");
}

#[tokio::test]
async fn an_ordinary_key_reads_its_own_usage_and_an_admin_key_everything() {
    let s = setup("");
    let (_, admin) = s.create(&["--name", "ops", "--admin"]);
    let (_, alice) = s.create(&["--name", "alice"]);
    let (_, bob) = s.create(&["--name", "bob"]);
    let url = s.url();
    s.loaded(&bob).await;
    for _ in 0..2 {
        assert_eq!(
            chat_with(&url, &small(false), Some(&alice)).await.status,
            200
        );
    }
    let usage = |key: String| {
        let url = s.gw.url("/v1/usage?by=key");
        async move {
            common::read(
                common::client()
                    .get(&url)
                    .header("authorization", bearer(&key))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    eventually("rows written", || async {
        usage(admin.clone()).await.body.contains("alice")
    })
    .await;
    let all = usage(admin.clone()).await;
    assert_eq!(all.status, 200);
    assert!(
        all.body.contains("alice") && all.body.contains("bob"),
        "{}",
        all.body
    );
    let own = usage(alice.clone()).await;
    assert_eq!(own.status, 200);
    assert!(
        own.body.contains("alice") && !own.body.contains("bob"),
        "{}",
        own.body
    );
    assert_eq!(common::get(&s.gw.url("/v1/usage")).await.status, 401);
}

#[tokio::test]
async fn metrics_need_an_admin_key_when_configured() {
    let s = setup("[auth]\nmetrics = \"admin\"\n");
    let (_, admin) = s.create(&["--name", "ops", "--admin"]);
    let (_, user) = s.create(&["--name", "user"]);
    let metrics = s.gw.url("/metrics");
    let get = |key: Option<String>| {
        let metrics = metrics.clone();
        async move {
            let mut req = common::client().get(&metrics);
            if let Some(k) = key {
                req = req.header("authorization", bearer(&k));
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    eventually("keys loaded", || async { get(None).await == 401 }).await;
    assert_eq!(get(Some(user)).await, 403);
    assert_eq!(get(Some(admin)).await, 200);
    // Health needs no key.
    assert_eq!(common::get(&s.gw.url("/readyz")).await.status, 200);
}
