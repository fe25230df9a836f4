//! Retries, fallback and the circuit breaker, against the real binaries on loopback: a gateway
//! and one or two simulated providers (`sluice mock-upstream`), whose `/stats` count the
//! attempts that reached them.

mod common;

use std::time::{Duration, Instant};

use common::{chat, eventually, get, post, Proc};

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn provider(name: &str, base_url: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"openai\"\nbase_url = \"{base_url}\"\napi_key = \"sk-test\"\n\
         timeouts = {{ connect = \"2s\", first_token = \"5s\", idle = \"5s\", total = \"30s\" }}\n\n"
    )
}

/// Providers `a` and `b` at `up`, `bad` at a path `up` does not serve (404), `dead` at a closed
/// port; the routes under test; and the `[retry]` section given.
fn config(up: &Proc, retry: &str) -> String {
    let base = format!("{}/v1", up.base);
    let mut c = String::new();
    c += &provider("a", &base);
    c += &provider("b", &base);
    c += &provider("bad", &format!("{}/nope/v1", up.base));
    c += &provider("dead", &format!("http://127.0.0.1:{}/v1", closed_port()));
    c += r#"[routes]
"r500" = [{ provider = "a", model = "mock-500" }, { provider = "b", model = "mock" }]
"r429" = [{ provider = "a", model = "mock-429" }, { provider = "b", model = "mock" }]
"rall" = [{ provider = "a", model = "mock-500" }, { provider = "b", model = "mock-500" }]
"rdrop" = [{ provider = "a", model = "mock-drop" }, { provider = "b", model = "mock" }]
"r404" = [{ provider = "bad", model = "mock" }, { provider = "b", model = "mock" }]
"rdead" = [{ provider = "dead", model = "mock" }, { provider = "b", model = "mock" }]

"#;
    c += retry;
    c
}

async fn requests(up: &Proc) -> u64 {
    up.stats().await["requests"].as_u64().expect("requests")
}

fn attempts(reply: &common::Reply) -> u32 {
    reply
        .header("x-sluice-attempts")
        .expect("x-sluice-attempts")
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn a_5xx_is_retried_then_the_next_target_serves() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, "[retry]\nattempts = 2\nbackoff = \"10ms\"\n"));
    let url = gw.url("/v1/chat/completions");

    let reply = post(&url, &chat("r500", true), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("b"));
    // Three tries at `a` (1 + 2 retries), then one at `b`.
    assert_eq!(attempts(&reply), 4);
    assert!(reply.ends_with_done());
    assert!(!reply.content().is_empty());
    assert_eq!(requests(&up).await, 4);

    // Not streamed: the same, except that `a`'s fifth consecutive failure opens its circuit,
    // which cuts its retries short (two tries at `a`, then `b`).
    let reply = post(&url, &chat("r500", false), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("b"));
    assert_eq!(attempts(&reply), 3);
    assert!(reply.json()["choices"][0]["message"]["content"].is_string());
    assert_eq!(requests(&up).await, 7);

    let metrics = get(&gw.url("/metrics")).await.body;
    // Retries are counted by the provider that failed and why: all five here are `a`'s 500s.
    assert!(
        metrics.contains(r#"sluice_retries_total{provider="a",reason="provider_5xx"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sluice_fallbacks_total{provider="b"} 2"#),
        "{metrics}"
    );
    // The request is counted once, under the provider that served it; the failed attempts
    // count as upstream errors of `a`.
    assert!(
        metrics.contains(r#"sluice_upstream_errors_total{provider="a",kind="provider_5xx"} 5"#),
        "{metrics}"
    );
    eventually("both requests are logged with their attempts", || async {
        let logs = gw.logs();
        logs.contains("attempts=4") && logs.contains("attempts=3")
    })
    .await;
    assert_eq!(gw.logs().matches("request finished").count(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_max_retry_after_falls_back_at_once() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(
        &up,
        "[retry]\nattempts = 2\nbackoff = \"10ms\"\nmax_retry_after = \"0s\"\n",
    ));
    let t0 = Instant::now();
    let reply = post(&gw.url("/v1/chat/completions"), &chat("r429", true), &[]).await;
    let took = t0.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("b"));
    // The 429's `retry-after: 1` is longer than allowed: no retry at `a`, no wait.
    assert_eq!(attempts(&reply), 2);
    assert_eq!(requests(&up).await, 2);
    assert!(took < Duration::from_millis(900), "took {took:?}");
}

#[tokio::test]
async fn when_every_target_fails_the_last_error_is_answered() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, "[retry]\nattempts = 1\nbackoff = \"5ms\"\n"));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("rall", true), &[]).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("b"));
    assert_eq!(attempts(&reply), 4);
    let body = reply.json();
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
    assert_eq!(requests(&up).await, 4);
    eventually("the request is logged once", || async {
        gw.logs().contains("attempts=4")
    })
    .await;
    assert_eq!(gw.logs().matches("request finished").count(), 1);
}

#[tokio::test]
async fn a_stream_that_breaks_after_the_commit_is_not_retried() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, "[retry]\nattempts = 2\nbackoff = \"5ms\"\n"));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("rdrop", true), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-sluice-provider"), Some("a"));
    assert_eq!(attempts(&reply), 1);
    assert!(!reply.ends_with_done());
    let last = reply.payloads().pop().expect("events");
    assert!(last["error"].is_object(), "{}", reply.body);
    assert_eq!(requests(&up).await, 1);
}

#[tokio::test]
async fn a_4xx_is_neither_retried_nor_fallen_back_from() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, "[retry]\nattempts = 2\nbackoff = \"5ms\"\n"));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("r404", true), &[]).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("bad"));
    assert_eq!(attempts(&reply), 1);
    assert!(reply.json()["error"].is_object());
    // `b` was never asked.
    assert_eq!(requests(&up).await, 0);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_fallen_back_from() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, "[retry]\nattempts = 1\nbackoff = \"5ms\"\n"));
    for stream in [true, false] {
        let reply = post(&gw.url("/v1/chat/completions"), &chat("rdead", stream), &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.header("x-sluice-provider"), Some("b"));
        assert_eq!(attempts(&reply), 3);
    }
    assert_eq!(requests(&up).await, 2);
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_closes_after_the_cooldown() {
    // `a` is at a port nothing listens on yet; a provider is started there later.
    let port = closed_port();
    let b = Proc::mock_upstream(&[]);
    let mut cfg = provider("a", &format!("http://127.0.0.1:{port}/v1"));
    cfg += &provider("b", &format!("{}/v1", b.base));
    cfg += "[routes]\n\"r\" = [{ provider = \"a\", model = \"mock\" }, { provider = \"b\", model = \"mock\" }]\n\n";
    cfg += "[retry]\nattempts = 0\nbackoff = \"5ms\"\n";
    cfg += "[circuit_breaker]\ncooldown = \"700ms\"\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, cfg).expect("write config");
    let path = path.to_str().expect("utf-8 path").to_owned();
    let gw = Proc::spawn(
        &["serve", "--config", &path, "--listen", "127.0.0.1:0"],
        &[],
        Some(dir),
    );
    let url = gw.url("/v1/chat/completions");

    // Five failures at `a` (each request falls back to `b`) open its circuit.
    for _ in 0..5 {
        let reply = post(&url, &chat("r", true), &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(attempts(&reply), 2);
    }
    let ready = get(&gw.url("/readyz")).await.json();
    assert_eq!(ready["circuits"]["a"], "open", "{ready}");
    assert_eq!(ready["circuits"]["b"], "closed", "{ready}");
    let metrics = get(&gw.url("/metrics")).await.body;
    assert!(
        metrics.contains(r#"sluice_circuit_open{provider="a"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sluice_circuit_open{provider="b"} 0"#),
        "{metrics}"
    );

    // `a` recovers, but while open it is skipped: nothing reaches it.
    let a = Proc::spawn(
        &[
            "mock-upstream",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--ttft",
            "0ms",
            "--itl",
            "0ms",
        ],
        &[],
        None,
    );
    let reply = post(&url, &chat("r", false), &[]).await;
    assert_eq!(reply.header("x-sluice-provider"), Some("b"));
    assert_eq!(attempts(&reply), 1);
    assert_eq!(requests(&a).await, 0);

    // After the cool-down, a probe goes to `a`; its success closes the circuit.
    eventually("the circuit is half-open", || async {
        get(&gw.url("/readyz")).await.json()["circuits"]["a"] == "half_open"
    })
    .await;
    let reply = post(&url, &chat("r", true), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-sluice-provider"), Some("a"));
    assert_eq!(attempts(&reply), 1);
    assert_eq!(requests(&a).await, 1);
    let ready = get(&gw.url("/readyz")).await.json();
    assert_eq!(ready["circuits"]["a"], "closed", "{ready}");
}

#[tokio::test]
async fn a_route_whose_every_target_is_open_still_probes_one() {
    let up = Proc::mock_upstream(&[]);
    let cfg = format!(
        "{}[routes]\n\"r\" = [{{ provider = \"a\", model = \"mock-500\" }}]\n\n[retry]\nattempts = 0\n",
        provider("a", &format!("{}/v1", up.base))
    );
    let gw = Proc::gateway(&cfg);
    let url = gw.url("/v1/chat/completions");
    for _ in 0..7 {
        let reply = post(&url, &chat("r", true), &[]).await;
        assert_eq!(reply.status, 502);
        assert_eq!(attempts(&reply), 1);
    }
    // The circuit opened after five; the next requests were still tried, as probes.
    assert_eq!(requests(&up).await, 7);
    let ready = get(&gw.url("/readyz")).await.json();
    assert_eq!(ready["circuits"]["a"], "open", "{ready}");
}

#[tokio::test]
async fn a_client_that_leaves_during_backoff_ends_all_work() {
    let up = Proc::mock_upstream(&[]);
    // The provider answers 429 with `retry-after: 1`: the gateway waits a second to retry.
    let gw = Proc::gateway(&format!(
        "[providers.a]\nkind = \"openai\"\nbase_url = \"{}/v1\"\n[routes]\n\"r\" = [{{ provider = \"a\", model = \"mock-429\" }}]\n[retry]\nattempts = 3\n",
        up.base
    ));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let res = client
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("r", true))
        .send()
        .await;
    assert!(res.is_err(), "the client gave up during the backoff");
    assert_eq!(requests(&up).await, 1);
    // Past the retry's due time, no retry was sent for the client that left.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(requests(&up).await, 1);
}
