//! The caps on what one request (or the server's settings) may ask of the mock: tokens per
//! answer and the ttft and itl delays. Over HTTP a header past its cap, or not a number, is a
//! 400 in OpenAI's shape naming the header and the cap; settings past their caps are refused
//! by `serve` and read as the caps by the in-process `respond`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_mock::{respond, serve, MockSettings, Stats, MAX_DELAY, MAX_DELAY_MS, MAX_TOKENS};

fn fast() -> MockSettings {
    MockSettings {
        tokens: 16,
        ttft: Duration::ZERO,
        itl: Duration::ZERO,
        fail_percent: 0,
    }
}

fn chat(stream: bool) -> String {
    json!({
        "model": "mock",
        "stream": stream,
        "messages": [{"role": "user", "content": "how long can you go"}]
    })
    .to_string()
}

struct Mock {
    base: String,
    client: reqwest::Client,
}

async fn spawn() -> Mock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        fast(),
        Stats::new(),
        std::future::pending(),
    ));
    Mock {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl Mock {
    async fn post(&self, stream: bool, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/v1/chat/completions", self.base))
            .header("content-type", "application/json")
            .body(chat(stream));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.unwrap()
    }

    /// Expects a 400 `invalid_request_error` whose message names `header` and `cap`.
    async fn refused(&self, header: &str, value: &str, cap: u64) {
        for stream in [true, false] {
            let resp = self.post(stream, &[(header, value)]).await;
            assert_eq!(resp.status(), 400, "{header}: {value}");
            assert_eq!(resp.headers()["content-type"], "application/json");
            let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            assert!(v["error"]["code"].is_null(), "{v}");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!(
                    "header '{header}' must be an integer from 0 to {cap} (got "
                )),
                "{message}"
            );
        }
    }
}

#[tokio::test]
async fn tokens_header_past_its_cap_or_not_a_number_is_400() {
    let mock = spawn().await;
    assert_eq!(MAX_TOKENS, 1_000_000);
    for bad in [
        "1000001",
        "1000000000",
        "99999999999999999999999",
        "-1",
        "1e5",
        "lots",
        "",
    ] {
        mock.refused("x-mock-tokens", bad, 1_000_000).await;
    }
}

#[tokio::test]
async fn delay_headers_past_their_cap_or_not_a_number_are_400() {
    let mock = spawn().await;
    assert_eq!(MAX_DELAY_MS, 60_000);
    assert_eq!(MAX_DELAY, Duration::from_secs(60));
    for header in ["x-mock-ttft-ms", "x-mock-itl-ms"] {
        for bad in ["60001", "86400000", "18446744073709551616", "1.5", "soon"] {
            mock.refused(header, bad, 60_000).await;
        }
        // The cap itself is accepted: a stream's head is sent before its first delay.
        let resp = mock.post(true, &[(header, "60000")]).await;
        assert_eq!(resp.status(), 200, "{header}");
    }
}

/// The largest answer there is, without a stream: built in one linear pass, so it is quick
/// even in a debug build (quadratic work on ~600 KB would take minutes).
#[tokio::test]
async fn largest_non_streaming_answer_is_built_at_once() {
    let mock = spawn().await;
    let started = Instant::now();
    let resp = mock.post(false, &[("x-mock-tokens", "1000000")]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(body.len() < 1_000_000 * 10 + 1_000, "{} bytes", body.len());
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 1_000_000);
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(content.split(' ').count(), 1_000_000);
    assert_eq!(
        content,
        sluice_mock::completion_text(
            sluice_mock::seed_for(&serde_json::from_str(&chat(false)).unwrap()),
            1_000_000
        )
    );
}

#[tokio::test]
async fn a_long_stream_completes() {
    let mock = spawn().await;
    let resp = mock.post(true, &[("x-mock-tokens", "100000")]).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert_eq!(text.matches(r#""delta":{"content":" "#).count(), 99_999);
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn serve_refuses_settings_past_their_caps() {
    let over = [
        MockSettings {
            tokens: MAX_TOKENS + 1,
            ..fast()
        },
        MockSettings {
            ttft: MAX_DELAY + Duration::from_millis(1),
            ..fast()
        },
        MockSettings {
            itl: Duration::MAX,
            ..fast()
        },
    ];
    for (settings, named) in over.into_iter().zip(["tokens", "ttft", "itl"]) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = serve(listener, settings, Stats::new(), std::future::pending())
            .await
            .expect_err("served settings past their caps");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("mock {named} must be at most ")),
            "{message}"
        );
    }
    let at_caps = MockSettings {
        tokens: MAX_TOKENS,
        ttft: MAX_DELAY,
        itl: MAX_DELAY,
        fail_percent: 100,
    };
    assert_eq!(at_caps.check(), Ok(()));
}

/// The gateway calls `respond` in-process with its own settings: past their caps they are
/// read as the caps, never an `Instant` overflow or an unbounded answer.
#[tokio::test]
async fn in_process_settings_past_their_caps_are_capped() {
    let huge = MockSettings {
        tokens: usize::MAX,
        ttft: Duration::ZERO,
        itl: Duration::MAX,
        fail_percent: 0,
    };
    let stats = Stats::new();
    let headers = http::HeaderMap::new();
    let answer = respond(&huge, &stats, &headers, chat(false).as_bytes());
    assert_eq!(answer.status, 200);
    let chunks: Vec<_> = answer.body.collect().await;
    let body: Vec<u8> = chunks.into_iter().flat_map(Result::unwrap).collect();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], MAX_TOKENS);

    let forever = MockSettings {
        ttft: Duration::MAX,
        ..huge
    };
    let answer = respond(&forever, &stats, &headers, chat(true).as_bytes());
    assert_eq!(answer.status, 200);
    drop(answer);
    assert_eq!(stats.snapshot().cancelled, 1);
}
