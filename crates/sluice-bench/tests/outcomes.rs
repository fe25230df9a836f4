//! The library against real servers in this process: the simulated provider for successes
//! and its fault models, and a canned-reply server for malformed streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sluice_bench::{compare, run, BenchConfig, BenchError};
use sluice_mock::{MockSettings, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The simulated provider on a free port; its base URL.
async fn mock(tokens: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = MockSettings {
        tokens,
        ttft: Duration::ZERO,
        itl: Duration::ZERO,
        fail_percent: 0,
    };
    tokio::spawn(async move {
        let _ = sluice_mock::serve(listener, settings, Stats::new(), std::future::pending()).await;
    });
    format!("http://{addr}/v1")
}

/// A server that answers every request with `200` and this SSE body, then closes.
async fn canned(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_request(&mut sock).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// A server that answers every request with `200` and the SSE body `first`, then after
/// `pause` the body `rest`, then closes: the second part cannot be read before `pause`.
async fn paced(first: &'static str, pause: Duration, rest: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_request(&mut sock).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    first.len() + rest.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(first.as_bytes()).await;
                tokio::time::sleep(pause).await;
                let _ = sock.write_all(rest.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// Reads one request's head and its `content-length` body.
async fn read_request(sock: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return;
            }
        }
    }
}

fn cfg(base_url: &str, model: &str, requests: u64) -> BenchConfig {
    BenchConfig {
        base_url: base_url.to_owned(),
        api: sluice_bench::Api::Chat,
        model: model.to_owned(),
        api_key: None,
        concurrency: 2,
        requests: Some(requests),
        duration: None,
        prompt: "Tell me about rivers.".into(),
        max_tokens: None,
        headers: Vec::new(),
        timeout: Duration::from_secs(10),
        read_delay: None,
    }
}

fn quiet(_: u64, _: Option<u64>) {}

#[tokio::test]
async fn successes_are_timed_and_tokens_counted() {
    let base = mock(7).await;
    let seen = Mutex::new(Vec::new());
    let report = run(&cfg(&base, "mock", 5), &|done, total| {
        seen.lock().unwrap().push((done, total));
    })
    .await
    .unwrap();
    assert_eq!((report.requests, report.ok), (5, 5), "{report:?}");
    assert!(report.errors.is_empty());
    assert_eq!(report.completion_tokens, 35);
    assert_eq!(report.ttft.count, 5);
    assert_eq!(report.total.count, 5);
    assert_eq!(report.tpot.count, 5);
    assert_eq!(report.gap.count, 30);
    assert!(report.ttft.min_ms <= report.ttft.p50_ms && report.ttft.p50_ms <= report.ttft.max_ms);
    assert!(report.tokens_per_s > 0.0);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.last(), Some(&(5, Some(5))));
}

#[tokio::test]
async fn faults_are_counted_by_kind() {
    let base = mock(8).await;
    for (model, kind) in [
        ("mock-500", "http_5xx"),
        ("mock-429", "http_4xx"),
        ("mock-drop", "incomplete"),
        ("mock-stall", "timeout"),
    ] {
        let mut c = cfg(&base, model, 2);
        c.timeout = Duration::from_millis(300);
        let report = run(&c, &quiet).await.unwrap();
        assert_eq!(report.ok, 0, "{model}: {report:?}");
        assert_eq!(report.errors.get(kind), Some(&2), "{model}: {report:?}");
        assert!(report.error_examples.contains_key(kind));
        assert_eq!(report.ttft.count, 0);
    }
}

#[tokio::test]
async fn malformed_streams_are_counted_by_kind() {
    let cases = [
        (
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"upstream failed\"}}\n\n",
            "stream_error",
        ),
        (
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "incomplete",
        ),
        ("data: this is not json\n\ndata: [DONE]\n\n", "protocol"),
    ];
    for (body, kind) in cases {
        let base = canned(body).await;
        let report = run(&cfg(&base, "m", 3), &quiet).await.unwrap();
        assert_eq!(report.errors.get(kind), Some(&3), "{kind}: {report:?}");
    }
    // `[DONE]` without a trailing blank line still completes the stream.
    let base =
        canned("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]")
            .await;
    let report = run(&cfg(&base, "m", 2), &quiet).await.unwrap();
    assert_eq!(report.ok, 2, "{report:?}");
    assert_eq!(report.completion_tokens, 2);
}

#[tokio::test]
async fn a_refused_port_is_connect_for_every_request() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let report = run(&cfg(&format!("http://127.0.0.1:{port}/v1"), "m", 4), &quiet)
        .await
        .unwrap();
    assert_eq!(report.errors.get("connect"), Some(&4), "{report:?}");
    assert!(report.all_failed_to_connect());
}

#[tokio::test]
async fn bad_settings_are_errors_before_any_request() {
    let err = run(&cfg("not-a-url", "m", 1), &quiet).await.unwrap_err();
    assert!(matches!(err, BenchError::BadUrl { .. }), "{err}");
    let mut c = cfg("http://127.0.0.1:1/v1", "m", 1);
    c.requests = None;
    assert!(matches!(
        run(&c, &quiet).await,
        Err(BenchError::BadConfig(_))
    ));
}

#[tokio::test]
async fn a_duration_bounds_the_run() {
    let base = mock(3).await;
    let mut c = cfg(&base, "mock", 0);
    c.requests = None;
    c.duration = Some(Duration::from_millis(200));
    c.headers = vec![("x-mock-ttft-ms".into(), "20".into())];
    let totals = AtomicU64::new(0);
    let report = run(&c, &|_, total| {
        assert_eq!(total, None);
        totals.fetch_add(1, Ordering::Relaxed);
    })
    .await
    .unwrap();
    assert!(report.ok >= 2, "{report:?}");
    assert_eq!(report.ok, totals.load(Ordering::Relaxed));
    assert!(report.wall < Duration::from_secs(5));
}

#[tokio::test]
async fn compare_runs_the_same_load_against_both() {
    let fast = mock(4).await;
    let slow = mock(4).await;
    let a = cfg(&fast, "mock", 6);
    let mut b = cfg(&slow, "mock", 6);
    b.headers = vec![("x-mock-ttft-ms".into(), "100".into())];
    let (ra, rb) = compare(&a, &b, &quiet).await.unwrap();
    assert_eq!((ra.ok, rb.ok), (6, 6));
    assert!(rb.ttft.p50_ms >= 100.0, "{rb:?}");
    assert!(ra.ttft.p50_ms < rb.ttft.p50_ms, "{ra:?} vs {rb:?}");
    let diff = sluice_bench::Diff::between(&ra, &rb);
    assert!(diff.ttft.p50_ms > 50.0, "{diff:?}");
}

#[tokio::test]
async fn a_read_delay_follows_every_read_and_is_in_the_total() {
    // The simulated provider: the request still succeeds, only later.
    let base = mock(10).await;
    let mut c = cfg(&base, "mock", 1);
    c.concurrency = 1;
    c.read_delay = Some(Duration::from_millis(20));
    let report = run(&c, &quiet).await.unwrap();
    assert_eq!((report.requests, report.ok), (1, 1), "{report:?}");
    assert_eq!(report.completion_tokens, 10);
    // At least one read returned data and was followed by a delay.
    assert!(report.total.p50_ms >= 20.0, "{report:?}");

    // The read that returns the second part cannot return before the pause, and a delay
    // follows it before the read that sees the end: total >= pause + delay.
    let base = paced(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
        Duration::from_millis(100),
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n",
    )
    .await;
    let mut c = cfg(&base, "m", 1);
    c.concurrency = 1;
    let fast = run(&c, &quiet).await.unwrap();
    assert_eq!(fast.ok, 1, "{fast:?}");
    assert!(fast.total.p50_ms >= 100.0, "{fast:?}");
    c.read_delay = Some(Duration::from_millis(150));
    let slow = run(&c, &quiet).await.unwrap();
    assert_eq!((slow.ok, slow.completion_tokens), (1, 2), "{slow:?}");
    assert!(slow.total.p50_ms >= 250.0, "{slow:?}");

    // A delay longer than the timeout makes the request a timeout, like any slow reply.
    c.timeout = Duration::from_millis(100);
    c.read_delay = Some(Duration::from_millis(300));
    let report = run(&c, &quiet).await.unwrap();
    assert_eq!(report.errors.get("timeout"), Some(&1), "{report:?}");
}
