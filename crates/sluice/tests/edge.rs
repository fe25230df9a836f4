//! The gateway's edges, tried as an attacker and a broken provider would, black-box over
//! loopback: slow and idle connections, a flood of sockets, browsers, request ids, hang-ups,
//! oversized and odd provider answers, and a provider that redirects elsewhere. Each case
//! checks that the gateway keeps serving everyone else, answers in OpenAI's shape, and records
//! every request once.

mod common;

use std::time::Duration;

use common::store::Store;
use common::{chat, config_for, eventually, post, Proc};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A gateway with a SQLite ledger in front of the simulated provider, with `extra` config
/// (tables; top-level keys go before them, in `top`).
async fn gateway_with(top: &str, extra: &str) -> (Proc, Proc, Store) {
    let up = Proc::mock_upstream(&["--tokens", "5"]);
    let store = Store::new(false).await;
    let gw = Proc::gateway(&format!(
        "ledger = \"{}\"\n{top}\n{}",
        store.url(),
        config_for(&up, extra)
    ));
    (up, gw, store)
}

async fn gateway(extra: &str) -> (Proc, Proc, Store) {
    gateway_with("", extra).await
}

/// Reads until the peer closes the connection (or `limit` passes); whether it closed.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(limit, read).await.unwrap_or(false)
}

async fn healthy(gw: &Proc) -> bool {
    common::get(&gw.url("/healthz")).await.status == 200
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_and_others_are_served() {
    let (_up, gw, _store) = gateway("[server]\nheader_timeout = \"1s\"\n").await;
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for b in b"X-Slow: a".iter() {
            if slow.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    // Meanwhile the gateway serves others.
    let others = async {
        assert!(healthy(&gw).await);
        let r = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
        assert_eq!(r.status, 200);
    };
    tokio::join!(trickle, others);
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)).await,
        "the slow head was not cut off"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_gets_408_in_openai_shape() {
    let (up, gw, _store) = gateway("[server]\nbody_timeout = \"1s\"\n").await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 10485760\r\n\r\n{\"model\":\"mock\",",
    )
    .await
    .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"request_timeout\""), "{reply}");
    assert_eq!(up.stats().await["requests"], 0);
    assert!(healthy(&gw).await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let (_up, gw, _store) =
        gateway("[server]\nidle_timeout = \"1s\"\nheader_timeout = \"30s\"\n").await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Kept alive, then idle for longer than the idle timeout: closed by the gateway.
    assert!(closed_within(&mut tcp, Duration::from_secs(10)).await);
}

/// Open file descriptors of a process.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[tokio::test]
async fn a_thousand_idle_sockets_neither_stop_serving_nor_open_a_breaker() {
    let (up, gw, _store) = gateway("").await;
    let before = fds(gw.pid());
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
        if i % 2 == 0 {
            // Half of them start a head and stop.
            let _ = tcp
                .write_all(b"POST /v1/chat/completions HTTP/1.1\r\n")
                .await;
        }
        idle.push(tcp);
    }
    assert!(healthy(&gw).await);
    let r = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.ends_with_done());
    let ready = common::get(&gw.url("/readyz")).await.json();
    assert_eq!(ready["circuits"]["up"], "closed", "{ready}");
    // One descriptor per socket, and no more.
    let during = fds(gw.pid());
    assert!(during <= before + 1000 + 50, "{before} -> {during}");
    drop(idle);
    assert_eq!(up.stats().await["requests"], 1);
}

#[tokio::test]
async fn beyond_max_connections_accepting_waits_instead_of_failing() {
    let (_up, gw, _store) = gateway("[server]\nmax_connections = 4\nidle_timeout = \"1s\"\n").await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    // The fifth waits in the backlog until an idle one is closed, then is served.
    let reply = tokio::time::timeout(Duration::from_secs(20), common::get(&gw.url("/healthz")))
        .await
        .expect("served once a place is free");
    assert_eq!(reply.status, 200);
    drop(held);
}

#[tokio::test]
async fn cors_answers_only_the_routes_browsers_call() {
    let (_up, gw, _store) = gateway("").await;
    let with_origin = |path: &str| {
        let url = gw.url(path);
        async move {
            common::read(
                common::client()
                    .get(&url)
                    .header("origin", "https://app.example")
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    for path in ["/v1/models", "/v1/usage"] {
        let r = with_origin(path).await;
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
    }
    for path in ["/metrics", "/readyz", "/healthz"] {
        let r = with_origin(path).await;
        assert_eq!(r.header("access-control-allow-origin"), None, "{path}");
    }
    // With origins named in `[cors]`, only they are answered.
    let (_up2, gw2, _store2) = gateway("[cors]\nallow_origins = [\"https://ops.example\"]\n").await;
    let r = common::read(
        common::client()
            .get(gw2.url("/v1/usage"))
            .header("origin", "https://ops.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ops.example")
    );
    let other = common::read(
        common::client()
            .get(gw2.url("/v1/models"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_post_that_is_not_json_is_415_and_reaches_no_provider() {
    let (up, gw, store) = gateway("").await;
    let r = common::read(
        common::client()
            .post(gw.url("/v1/chat/completions"))
            .header("content-type", "text/plain")
            .header("x-request-id", "form-post")
            .body(json!({"model": "mock", "messages": []}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "unsupported_media_type");
    assert_eq!(up.stats().await["requests"], 0);
    let ledger = store.ledger().await;
    eventually("the refusal's row", || async {
        !ledger
            .get_by_client_id("form-post")
            .await
            .unwrap()
            .is_empty()
    })
    .await;
}

#[tokio::test]
async fn hosts_outside_allowed_hosts_are_refused() {
    let (_up, gw, _store) = gateway("[server]\nallowed_hosts = [\"localhost\"]\n").await;
    let ask = |host: &'static str| {
        let addr = gw.addr;
        async move {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(
                format!("GET /v1/models HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
            let mut out = Vec::new();
            tcp.read_to_end(&mut out).await.unwrap();
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    assert!(ask("evil.example").await.starts_with("HTTP/1.1 403"));
    assert!(ask("localhost:8080").await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn the_same_client_request_id_twice_leaves_two_rows() {
    let (_up, gw, store) = gateway("").await;
    let url = gw.url("/v1/chat/completions");
    let a = post(&url, &chat("mock", true), &[("x-request-id", "dup")]).await;
    let b = post(&url, &chat("mock", false), &[("x-request-id", "dup")]).await;
    assert_eq!(a.header("x-request-id"), Some("dup"));
    let (ida, idb) = (
        a.header("x-sluice-request-id").unwrap().to_owned(),
        b.header("x-sluice-request-id").unwrap().to_owned(),
    );
    assert_ne!(ida, idb);
    let ledger = store.ledger().await;
    eventually("both rows", || async {
        ledger.get_by_client_id("dup").await.unwrap().len() == 2
    })
    .await;
    assert!(ledger.get(&ida).await.unwrap().is_some());
}

#[tokio::test]
async fn simulated_provider_controls_are_bounded() {
    let (up, gw, _store) = gateway("").await;
    let r = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", false),
        &[("x-mock-tokens", "100000000")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("x-mock-tokens"), "{}", r.body);
    assert!(healthy(&gw).await);
    drop(up);
}

#[tokio::test]
async fn a_whole_answer_whose_client_hangs_up_still_has_its_row() {
    let (up, gw, store) = gateway("").await;
    let send = common::client()
        .post(gw.url("/v1/chat/completions"))
        .header("x-request-id", "gone-whole")
        .header("x-mock-ttft-ms", "3000")
        .json(&chat("mock", false))
        .send();
    assert!(tokio::time::timeout(Duration::from_millis(300), send)
        .await
        .is_err());
    let ledger = store.ledger().await;
    eventually("the abandoned request's row", || async {
        !ledger
            .get_by_client_id("gone-whole")
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let row = ledger
        .get_by_client_id("gone-whole")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.status, "client_closed");
    assert!(row.estimated && row.prompt_tokens > 0, "{row:?}");
    // The provider's request was cancelled with it.
    eventually("the provider saw the cancel", || async {
        up.stats().await["cancelled"].as_u64().unwrap_or(0) >= 1
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_refusals_does_not_crowd_out_billable_rows() {
    let (_up, gw, store) = gateway("").await;
    let url = gw.url("/v1/chat/completions");
    let bad = (0..3000).map(|_| {
        let url = url.clone();
        async move {
            common::client()
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let good = (0..100).map(|i| {
        let url = url.clone();
        async move {
            common::client()
                .post(&url)
                .header("x-request-id", format!("good-{i}"))
                .json(&chat("mock", i % 2 == 0))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let (bad, good) = tokio::join!(
        futures_util::future::join_all(bad),
        futures_util::future::join_all(good)
    );
    assert!(bad.iter().all(|s| matches!(s, Ok(400))));
    assert!(good.iter().all(|s| matches!(s, Ok(200))));
    let ledger = store.ledger().await;
    for i in 0..100 {
        let id = format!("good-{i}");
        eventually("a billable row", || async {
            !ledger.get_by_client_id(&id).await.unwrap().is_empty()
        })
        .await;
    }
}

/// A provider that answers every request with `reply` (raw HTTP), counting requests.
async fn scripted(reply: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(&reply).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/v1"), count)
}

fn gateway_for(base_url: &str, extra: &str, store: &Store) -> Proc {
    Proc::gateway(&format!(
        "ledger = \"{}\"\n[providers.up]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n\
         api_key = \"sk-secret-upstream-key\"\n[retry]\nattempts = 0\n[routes]\n\"m\" = [\"up\"]\n{extra}",
        store.url()
    ))
}

fn whole(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn an_answer_larger_than_max_response_body_is_a_protocol_error() {
    let big = "x".repeat(2 * 1024 * 1024);
    let body = format!("{{\"id\":\"a\",\"choices\":[{{\"message\":{{\"content\":\"{big}\"}}}}]}}");
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (base, _) = scripted(reply.into_bytes()).await;
    let store = Store::new(false).await;
    let gw = gateway_for(&base, "[server]\nmax_response_body = \"1MiB\"\n", &store);
    let r = post(&gw.url("/v1/chat/completions"), &whole("m"), &[]).await;
    assert_eq!(r.status, 502, "{}", &r.body[..r.body.len().min(300)]);
    assert_eq!(r.json()["error"]["code"], "protocol");
}

#[tokio::test]
async fn a_huge_error_body_is_read_only_as_far_as_needed() {
    let body = "e".repeat(20 * 1024 * 1024);
    let reply = format!(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (base, _) = scripted(reply.into_bytes()).await;
    let store = Store::new(false).await;
    let gw = gateway_for(&base, "", &store);
    let r = post(&gw.url("/v1/chat/completions"), &whole("m"), &[]).await;
    assert_eq!(r.status, 502);
    assert!(r.body.len() < 64 * 1024, "{} bytes relayed", r.body.len());
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_no_address_leaks() {
    let (elsewhere, hits) =
        scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec()).await;
    let reply = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}/chat/completions\r\ncontent-length: 0\r\n\r\n"
    );
    let (base, _) = scripted(reply.into_bytes()).await;
    let store = Store::new(false).await;
    let gw = gateway_for(&base, "", &store);
    let r = post(
        &gw.url("/v1/chat/completions"),
        &whole("m"),
        &[("x-request-id", "redir")],
    )
    .await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // A provider nobody answers at: the error names no address, no key — not to the
    // client, not in the logs, not in the ledger.
    let dead = Store::new(false).await;
    let gw2 = gateway_for("http://localhost:1/v1", "", &dead);
    let r = post(
        &gw2.url("/v1/chat/completions"),
        &whole("m"),
        &[("x-request-id", "dead")],
    )
    .await;
    assert_eq!(r.status, 502);
    for secret in ["localhost", "sk-secret-upstream-key"] {
        assert!(!r.body.contains(secret), "{secret} in {}", r.body);
        assert!(!gw2.logs().contains(secret), "{secret} in the logs");
    }
    let ledger = dead.ledger().await;
    eventually("the row", || async {
        !ledger.get_by_client_id("dead").await.unwrap().is_empty()
    })
    .await;
    let row = ledger.get_by_client_id("dead").await.unwrap().remove(0);
    let error = row.error.unwrap_or_default();
    assert!(!error.contains("localhost"), "{error}");
}

#[tokio::test]
async fn idle_connections_do_not_hold_the_shutdown() {
    let (_up, mut gw, _store) = gateway_with("shutdown_grace = \"2s\"", "").await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    // A kept-alive connection after a request, too.
    let mut kept = TcpStream::connect(gw.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let _ = kept.read(&mut buf).await.unwrap();
    gw.sigterm();
    let status = tokio::task::spawn_blocking(move || gw.wait_exit(Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    drop(idle);
}

/// Sends one request on a kept-alive connection and reads its answer (by its length).
async fn exchange(tcp: &mut TcpStream, request: &str) -> (u16, String) {
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = text[9..12].parse().unwrap();
                return (status, text[end + 4..end + 4 + len].to_owned());
            }
        }
    }
}

#[tokio::test]
async fn running_out_of_descriptors_is_the_gateways_trouble_not_the_providers() {
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let store = Store::new(false).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = \"{}\"\n{}",
            store.url(),
            config_for(&up, "[retry]\nattempts = 0\n")
        ),
    )
    .unwrap();
    // A hard limit of 96 descriptors: the gateway raises its soft limit to it and no further.
    let gw = Proc::spawn_shell(&format!(
        "ulimit -n 96 && exec {} serve --config {} --listen 127.0.0.1:0",
        env!("CARGO_BIN_EXE_sluice"),
        config.display()
    ));
    let mut kept = TcpStream::connect(gw.addr).await.unwrap();
    let (status, _) = exchange(&mut kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200);
    // Take every descriptor the gateway has left.
    let mut flood = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(gw.addr).await {
            Ok(s) => flood.push(s),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body =
        json!({"model": "mock", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let post = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut overloaded = 0;
    for _ in 0..8 {
        let (status, body) = exchange(&mut kept, &post).await;
        if status == 503 {
            assert!(body.contains("gateway_overloaded"), "{body}");
            overloaded += 1;
        }
    }
    assert!(
        overloaded > 0,
        "the flood never exhausted the gateway's descriptors"
    );
    let (_, ready) = exchange(&mut kept, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["circuits"]["up"], "closed", "{ready}");
    // Once the flood is gone, the provider is reached again.
    drop(flood);
    eventually("served again", || async { post_ok(&gw).await }).await;
}

async fn post_ok(gw: &Proc) -> bool {
    common::client()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("mock", false))
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == 200)
}
