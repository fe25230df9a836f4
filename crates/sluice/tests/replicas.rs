//! Two gateway replicas on loopback sharing one Postgres ledger and one Redis (a
//! `redis-server` this test starts on a free port, so it can stop it): a key's limits hold
//! across both, a revoked key is refused by both within seconds, a thousand concurrent requests
//! finish with a row each, and a Redis outage follows `[limits] on_store_error`, then heals
//! without a restart.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::store::Store;
use common::{chat, eventually, Proc};
use serde_json::{json, Value};

/// A `redis-server` of the test's own.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Redis { port, child: None };
        r.run();
        r
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is on the PATH");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on {}", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two replicas of one config.
struct Pair {
    up: Proc,
    a: Proc,
    b: Proc,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

fn pair(store: &Store, redis: &Redis, extra: &str) -> Pair {
    let up = Proc::mock_upstream(&["--tokens", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    let toml = format!(
        "ledger = \"{}\"\nredis = \"{}\"\n{}",
        store.url(),
        redis.url(),
        common::config_for(
            &up,
            &format!(
                "[providers.up.prices]\n\"mock\" = {{ input = 1000.0, output = 1000.0 }}\n{extra}"
            )
        )
    );
    std::fs::write(&config, toml).unwrap();
    let serve = || {
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
    };
    let (a, b) = (serve(), serve());
    Pair {
        up,
        a,
        b,
        config,
        _dir: dir,
    }
}

impl Pair {
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
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    fn create(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let v = self.keys(&all);
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    fn url(&self, second: bool) -> String {
        let gw = if second { &self.b } else { &self.a };
        gw.url("/v1/chat/completions")
    }

    /// Waits until both replicas know `key`: each is closed to callers without a key (it has
    /// read the key table) and takes this one.
    async fn loaded(&self, key: &str) {
        for second in [false, true] {
            let url = self.url(second);
            eventually("the replica needs a key", || async {
                common::post(&url, &small(), &[]).await.status == 401
            })
            .await;
            eventually("the key is known", || async {
                status(&url, key, &small()).await != 401
            })
            .await;
        }
    }
}

fn small() -> Value {
    let mut body = chat("mock", false);
    body["max_tokens"] = json!(5);
    body
}

async fn status(url: &str, key: &str, body: &Value) -> u16 {
    common::client()
        .post(url)
        .header("authorization", format!("Bearer {key}"))
        .json(body)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn requests_per_minute_hold_across_both_replicas() {
    let store = Store::new(true).await;
    let redis = Redis::start();
    let p = pair(&store, &redis, "");
    let (_, key) = p.create(&["--name", "shared", "--rpm", "6"]);
    p.loaded(&key).await;
    // `loaded` used one request on each replica: four are left, whichever replica serves them.
    let mut codes = Vec::new();
    for i in 0..8 {
        codes.push(status(&p.url(i % 2 == 1), &key, &small()).await);
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 4, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 4, "{codes:?}");
}

#[tokio::test]
async fn a_budget_holds_across_both_replicas_under_concurrency() {
    let store = Store::new(true).await;
    let redis = Redis::start();
    let p = pair(&store, &redis, "");
    let (_, probe) = p.create(&["--name", "probe"]);
    p.loaded(&probe).await;
    let one = common::post(
        &p.url(false),
        &small(),
        &[("authorization", &format!("Bearer {probe}"))],
    )
    .await
    .json()["usage"]["cost"]
        .as_f64()
        .unwrap();
    let budget = format!("{:.6}", one * 10.0);
    let (_, key) = p.create(&["--name", "ten", "--budget-usd", &budget]);
    p.loaded(&key).await;
    let requests = (0..50).map(|i| {
        let url = p.url(i % 2 == 0);
        let key = key.clone();
        async move {
            common::client()
                .post(&url)
                .header("authorization", format!("Bearer {key}"))
                .header("x-mock-ttft-ms", "300")
                .json(&small())
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let codes = futures_util::future::join_all(requests).await;
    let admitted = codes.iter().filter(|c| matches!(c, Ok(200))).count();
    // `loaded` spent two of the ten.
    assert!(
        (1..=8).contains(&admitted),
        "{admitted} admitted: {codes:?}"
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_both_replicas_within_seconds() {
    let store = Store::new(true).await;
    let redis = Redis::start();
    let p = pair(&store, &redis, "");
    let (id, key) = p.create(&["--name", "soon-gone"]);
    p.loaded(&key).await;
    p.keys(&["revoke", &id]);
    for second in [false, true] {
        let url = p.url(second);
        eventually("the revoked key is refused", || async {
            status(&url, &key, &small()).await == 401
        })
        .await;
    }
}

#[tokio::test]
async fn two_times_five_hundred_concurrent_requests_each_leave_a_row() {
    let store = Store::new(true).await;
    let redis = Redis::start();
    let p = pair(&store, &redis, "");
    let (id, key) = p.create(&["--name", "busy", "--rpm", "100000", "--tpm", "100000000"]);
    p.loaded(&key).await;
    let requests = (0..1000).map(|i| {
        let url = p.url(i % 2 == 0);
        let key = key.clone();
        async move {
            common::client()
                .post(&url)
                .header("authorization", format!("Bearer {key}"))
                .header("x-request-id", format!("pair-{i}"))
                .json(&small())
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let before = p.up.stats().await["requests"].as_u64().unwrap();
    let codes = futures_util::future::join_all(requests).await;
    let failed: Vec<_> = codes.iter().filter(|c| !matches!(c, Ok(200))).collect();
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    assert_eq!(
        p.up.stats().await["requests"].as_u64().unwrap(),
        before + 1000
    );
    let ledger = store.ledger().await;
    // The thousand, and the two of `loaded`, are the key's rows.
    eventually("every request has its row", || async {
        let spend = ledger.key_spend(&id, 0, i64::MAX).await.unwrap();
        spend.iter().map(|s| s.requests).sum::<u64>() == 1002
    })
    .await;
}

async fn outage(policy: &str) {
    let store = Store::new(true).await;
    let mut redis = Redis::start();
    let p = pair(
        &store,
        &redis,
        &format!("[limits]\non_store_error = \"{policy}\"\n"),
    );
    let (_, key) = p.create(&["--name", "limited", "--rpm", "1000"]);
    p.loaded(&key).await;
    redis.stop();
    let during = status(&p.url(false), &key, &small()).await;
    let during_b = status(&p.url(true), &key, &small()).await;
    if policy == "closed" {
        assert_eq!((during, during_b), (503, 503));
        let r = common::post(
            &p.url(false),
            &small(),
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
        assert_eq!(r.json()["error"]["code"], "limits_unavailable");
    } else {
        assert_eq!((during, during_b), (200, 200));
    }
    let metrics = common::get(&p.a.url("/metrics")).await.body;
    let limit_lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("sluice_limit"))
        .collect();
    assert!(
        metrics.contains("sluice_limit_store_up 0"),
        "{limit_lines:?}"
    );
    redis.run();
    // Both replicas find Redis again by themselves, and use it.
    for gw in [&p.a, &p.b] {
        let metrics = gw.url("/metrics");
        eventually("Redis answers again", || async {
            common::get(&metrics)
                .await
                .body
                .contains("sluice_limit_store_up 1")
        })
        .await;
        assert_eq!(
            status(&gw.url("/v1/chat/completions"), &key, &small()).await,
            200
        );
    }
}

#[tokio::test]
async fn with_redis_stopped_closed_refuses_with_503_and_heals() {
    outage("closed").await;
}

#[tokio::test]
async fn with_redis_stopped_open_serves_per_replica_and_heals() {
    outage("open").await;
}
