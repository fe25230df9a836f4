//! Loopback HTTP tests of the mock provider: real sockets, `sluice_mock::serve`, reqwest.

mod common;

use common::{fast, spawn, JsonBody, Server};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_mock::{respond, serve, MockSettings, Stats};
use std::time::{Duration, Instant};

fn chat(model: &str, stream: bool, text: &str) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": text}
        ]
    })
}

impl Server {
    async fn post(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        self.post_raw(body.to_string(), headers).await
    }

    async fn post_raw(&self, body: String, headers: &[(&str, &str)]) -> reqwest::Response {
        self.post_to("/v1/chat/completions", body, headers).await
    }
}

/// Splits an SSE body into its `data:` payloads (JSON objects, or `None` for `[DONE]`).
fn events(body: &str) -> Vec<Option<Value>> {
    assert!(body.ends_with("\n\n"), "unterminated body: {body:?}");
    body.split_terminator("\n\n")
        .map(|event| {
            let data = event.strip_prefix("data: ").expect("data line");
            assert!(!data.contains('\n'));
            if data == "[DONE]" {
                None
            } else {
                Some(serde_json::from_str(data).unwrap())
            }
        })
        .collect()
}

fn content_of(events: &[Option<Value>]) -> String {
    events
        .iter()
        .flatten()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn content_events(events: &[Option<Value>]) -> usize {
    events
        .iter()
        .flatten()
        .filter(|e| {
            e["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        })
        .count()
}

async fn stream_text(server: &Server, body: &Value, headers: &[(&str, &str)]) -> String {
    let resp = server.post(body, headers).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

#[tokio::test]
async fn deterministic_content() {
    let s = spawn(fast()).await;
    let a = stream_text(&s, &chat("mock", true, "hello"), &[]).await;
    let b = stream_text(&s, &chat("mock-1", true, "hello"), &[]).await;
    let c = stream_text(&s, &chat("mock", true, "goodbye"), &[]).await;
    let (a, b, c) = (
        content_of(&events(&a)),
        content_of(&events(&b)),
        content_of(&events(&c)),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.split(' ').count(), 16);
    assert_eq!(
        a,
        sluice_mock::completion_text(sluice_mock::seed_for(&chat("x", true, "hello")), 16)
    );
}

#[tokio::test]
async fn stream_shape_token_count_and_usage() {
    let s = spawn(fast()).await;
    let mut body = chat("gpt-4.1", true, "one two three");
    body["stream_options"] = json!({"include_usage": true});
    let resp = s.post(&body, &[("x-mock-tokens", "37")]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let evs = events(&resp.text().await.unwrap());

    // role, 37 content, finish, usage, [DONE]
    assert_eq!(evs.len(), 1 + 37 + 1 + 1 + 1);
    assert_eq!(content_events(&evs), 37);
    let first = evs[0].as_ref().unwrap();
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role":"assistant","content":""})
    );
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], "gpt-4.1");
    assert_eq!(first["system_fingerprint"], "fp_sluice_mock");
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-mock-") && id.len() == "chatcmpl-mock-".len() + 16);
    for e in evs.iter().flatten() {
        assert_eq!(e["id"], id);
    }
    let finish = evs[38].as_ref().unwrap();
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = evs[39].as_ref().unwrap();
    assert_eq!(usage["choices"], json!([]));
    // (3 words + 4) + (3 words + 4)
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 14, "completion_tokens": 37, "total_tokens": 51})
    );
    assert!(evs[40].is_none());

    let stats = s.stats().await;
    assert_eq!(
        (stats.requests, stats.streams_started, stats.completed),
        (1, 1, 1)
    );
    assert_eq!((stats.cancelled, stats.errors, stats.active), (0, 0, 0));
}

#[tokio::test]
async fn no_usage_without_include_usage() {
    let s = spawn(fast()).await;
    let text = stream_text(&s, &chat("mock", true, "hi"), &[]).await;
    assert!(!text.contains("usage"));
    let evs = events(&text);
    assert_eq!(evs.len(), 1 + 16 + 1 + 1);
    assert!(evs.last().unwrap().is_none());
    let mut body = chat("mock", true, "hi");
    body["stream_options"] = json!({"include_usage": false});
    assert!(!stream_text(&s, &body, &[]).await.contains("usage"));
}

#[tokio::test]
async fn max_tokens_cuts_with_length() {
    let s = spawn(fast()).await;
    let mut body = chat("mock", true, "hi");
    body["max_tokens"] = json!(5);
    body["stream_options"] = json!({"include_usage": true});
    let evs = events(&stream_text(&s, &body, &[]).await);
    assert_eq!(content_events(&evs), 5);
    let finish = evs[evs.len() - 3].as_ref().unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert_eq!(
        evs[evs.len() - 2].as_ref().unwrap()["usage"]["completion_tokens"],
        5
    );

    let mut body = chat("mock", false, "hi");
    body["max_completion_tokens"] = json!(3);
    let v: Value = s.post(&body, &[]).await.json_body().await;
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn ttft_and_itl_headers_are_honoured() {
    let s = spawn(fast()).await;
    let started = Instant::now();
    let mut resp = s
        .post(
            &chat("mock", true, "hi"),
            &[("x-mock-ttft-ms", "250"), ("x-mock-tokens", "3")],
        )
        .await;
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "first byte after {:?}",
        started.elapsed()
    );
    while resp.chunk().await.unwrap().is_some() {}

    let started = Instant::now();
    let text = stream_text(
        &s,
        &chat("mock", true, "hi"),
        &[("x-mock-itl-ms", "40"), ("x-mock-tokens", "6")],
    )
    .await;
    assert_eq!(content_events(&events(&text)), 6);
    assert!(started.elapsed() >= Duration::from_millis(5 * 40));
}

#[tokio::test]
async fn settings_defaults_apply() {
    let s = spawn(MockSettings {
        tokens: 4,
        ttft: Duration::from_millis(120),
        itl: Duration::from_millis(10),
        fail_percent: 0,
    })
    .await;
    let started = Instant::now();
    let text = stream_text(&s, &chat("mock", true, "hi"), &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(120 + 3 * 10));
    assert_eq!(content_events(&events(&text)), 4);
}

#[tokio::test]
async fn non_streaming_matches_streaming() {
    let s = spawn(fast()).await;
    let streamed = content_of(&events(
        &stream_text(
            &s,
            &chat("mock", true, "same prompt"),
            &[("x-mock-tokens", "25")],
        )
        .await,
    ));
    let started = Instant::now();
    let resp = s
        .post(
            &chat("mock", false, "same prompt"),
            &[("x-mock-tokens", "25"), ("x-mock-ttft-ms", "100")],
        )
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json_body().await;
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "mock");
    assert_eq!(v["system_fingerprint"], "fp_sluice_mock");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock-"));
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], streamed.as_str());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["choices"][0]["logprobs"].is_null());
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 13, "completion_tokens": 25, "total_tokens": 38})
    );
    let stats = s.stats().await;
    assert_eq!(
        (stats.requests, stats.streams_started, stats.completed),
        (2, 1, 2)
    );
}

#[tokio::test]
async fn bad_requests_get_400() {
    let s = spawn(fast()).await;
    for body in [
        "{not json",
        r#"{"model":"mock"}"#,
        r#"{"model":"mock","messages":"hi"}"#,
    ] {
        let resp = s.post_raw(body.to_owned(), &[]).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json_body().await;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(v["error"]["code"].is_null());
    }
    let stats = s.stats().await;
    assert_eq!((stats.requests, stats.errors, stats.active), (3, 3, 0));
}

#[tokio::test]
async fn fault_500_and_429() {
    let s = spawn(fast()).await;
    for stream in [true, false] {
        let resp = s.post(&chat("mock-500", stream, "hi"), &[]).await;
        assert_eq!(resp.status(), 500);
        let v: Value = resp.json_body().await;
        assert_eq!(
            v,
            json!({"error":{"message":"simulated provider failure","type":"server_error","code":"mock_500"}})
        );

        let resp = s.post(&chat("mock-429", stream, "hi"), &[]).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        let v: Value = resp.json_body().await;
        assert_eq!(
            v,
            json!({"error":{"message":"simulated rate limit","type":"rate_limit_error","code":"rate_limit_exceeded"}})
        );
    }
    let stats = s.stats().await;
    assert_eq!(
        (stats.requests, stats.errors, stats.streams_started),
        (4, 4, 0)
    );
}

#[tokio::test]
async fn fault_529_and_error_midstream() {
    let s = spawn(fast()).await;
    let overload = json!({"error":{"message":"simulated overload","type":"overloaded_error","code":"overloaded"}});
    for (model, stream) in [
        ("mock-529", true),
        ("mock-529", false),
        ("mock-error-midstream", false),
    ] {
        let resp = s.post(&chat(model, stream, "hi"), &[]).await;
        assert_eq!(resp.status(), 529, "{model}");
        assert_eq!(resp.json_body::<Value>().await, overload);
    }

    let text = stream_text(&s, &chat("mock-error-midstream", true, "hi"), &[]).await;
    let evs = events(&text);
    assert_eq!(content_events(&evs), 3);
    // The role, three tokens, the error.
    assert_eq!(evs.len(), 5);
    assert_eq!(evs[4].as_ref().unwrap(), &overload);
    assert!(!text.contains("finish_reason\":\"") && !text.contains("[DONE]"));
    let stats = s.wait_for(|st| st.active == 0).await;
    assert_eq!(
        (
            stats.requests,
            stats.errors,
            stats.completed,
            stats.cancelled
        ),
        (4, 4, 0, 0)
    );
}

#[tokio::test]
async fn fault_stall_sends_three_tokens_then_nothing() {
    let s = spawn(fast()).await;
    let mut resp = s
        .post(&chat("mock-stall", true, "hi"), &[("x-mock-itl-ms", "5")])
        .await;
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    while content_events(&events_prefix(&text)) < 3 {
        let chunk = resp.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let more = tokio::time::timeout(Duration::from_millis(400), resp.chunk()).await;
    assert!(more.is_err(), "stalled stream sent more: {more:?}");
    assert_eq!(content_events(&events(&text)), 3);
    assert!(!text.contains("finish_reason\":\"") && !text.contains("[DONE]"));
    assert_eq!(s.stats().await.active, 1);
    drop(resp);
    s.wait_for(|st| st.cancelled == 1 && st.active == 0).await;
}

/// The complete events at the start of a partial SSE body.
fn events_prefix(text: &str) -> Vec<Option<Value>> {
    match text.rfind("\n\n") {
        Some(end) => events(&text[..end + 2]),
        None => Vec::new(),
    }
}

#[tokio::test]
async fn fault_drop_aborts_the_body() {
    let s = spawn(fast()).await;
    let mut resp = s.post(&chat("mock-drop", true, "hi"), &[]).await;
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => text.push_str(std::str::from_utf8(&chunk).unwrap()),
            Ok(None) => panic!("body ended cleanly: {text}"),
            Err(e) => break e,
        }
    };
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    assert_eq!(content_events(&events(&text)), 3);
    assert!(!text.contains("[DONE]"));

    let resp = s.post(&chat("mock-drop", false, "hi"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err());

    let stats = s.stats().await;
    assert_eq!(
        (
            stats.requests,
            stats.errors,
            stats.cancelled,
            stats.completed
        ),
        (2, 2, 0, 0)
    );
    assert_eq!(stats.active, 0);
}

#[tokio::test]
async fn client_disconnect_counts_cancelled() {
    let s = spawn(fast()).await;
    let mut resp = s
        .post(
            &chat("mock", true, "hi"),
            &[("x-mock-itl-ms", "20"), ("x-mock-tokens", "200")],
        )
        .await;
    resp.chunk().await.unwrap().unwrap();
    resp.chunk().await.unwrap().unwrap();
    assert_eq!(s.stats().await.active, 1);
    drop(resp);
    let stats = s.wait_for(|st| st.cancelled == 1).await;
    assert_eq!((stats.completed, stats.active, stats.errors), (0, 0, 0));
    assert_eq!(stats.streams_started, 1);
}

#[tokio::test]
async fn models_stats_and_health() {
    let s = spawn(fast()).await;
    let v: Value = s
        .client
        .get(format!("{}/v1/models", s.base))
        .send()
        .await
        .unwrap()
        .json_body()
        .await;
    assert_eq!(v["object"], "list");
    let ids: Vec<_> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["object"], "model");
            assert_eq!(m["owned_by"], "sluice");
            m["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        ["mock", "mock-500", "mock-429", "mock-stall", "mock-drop"]
    );

    let health = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let raw: Value = s
        .client
        .get(format!("{}/stats", s.base))
        .send()
        .await
        .unwrap()
        .json_body()
        .await;
    assert_eq!(
        raw,
        json!({"requests":0,"streams_started":0,"completed":0,"cancelled":0,"errors":0,"active":0})
    );
    assert_eq!(raw, serde_json::to_value(s.stats.snapshot()).unwrap());
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_405() {
    let s = spawn(fast()).await;
    let url = |path: &str| format!("{}{path}", s.base);
    for path in [
        "/",
        "/nope",
        "/v1/chat/completion",
        "/v1/models/",
        "/healthz/x",
    ] {
        let resp = s.client.get(url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = s
        .client
        .get(url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    for path in ["/v1/models", "/stats", "/healthz"] {
        let resp = s.client.post(url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 405, "{path}");
        assert_eq!(resp.headers()["allow"], "GET,HEAD", "{path}");
        let resp = s.client.head(url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.bytes().await.unwrap().is_empty(), "{path}");
    }
    // A query string does not change the route.
    let resp = s.client.get(url("/healthz?probe=1")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(s.stats().await.requests, 0);
}

#[tokio::test]
async fn request_body_over_16_mib_gets_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const LIMIT: usize = 16 * 1024 * 1024;
    let s = spawn(fast()).await;
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The head announces more than is sent: the server answers once it has read one byte
    // over the limit, and then nothing unread is left to make it reset the connection.
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-length: {}\r\n\r\n",
        2 * LIMIT
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&vec![b' '; LIMIT + 1]).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("no answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert_eq!(s.stats().await.requests, 0);

    // A body of exactly the limit is read and answered.
    let mut body = chat("mock", false, "hi").to_string().into_bytes();
    body.resize(LIMIT, b' ');
    let resp = s.post_raw(String::from_utf8(body).unwrap(), &[]).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_open_streams_finish() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Stats::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, fast(), stats.clone(), async {
        let _ = stopped.await;
    }));
    let s = Server {
        base: format!("http://{addr}"),
        stats,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let mut resp = s
        .post(
            &chat("mock", true, "hi"),
            &[("x-mock-itl-ms", "20"), ("x-mock-tokens", "10")],
        )
        .await;
    let first = resp.chunk().await.unwrap().unwrap();
    let mut text = String::from_utf8(first.to_vec()).unwrap();
    stop.send(()).unwrap();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(content_events(&events(&text)), 10);
    assert!(text.ends_with("data: [DONE]\n\n"));
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve did not return after its connections ended")
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(s.stats.snapshot().completed, 1);
}

/// The in-process path reads the same bytes as the HTTP server sends (up to `created`).
#[tokio::test]
async fn in_process_matches_http() {
    let s = spawn(fast()).await;
    let mut body = chat("mock", true, "compare me");
    body["stream_options"] = json!({"include_usage": true});
    let over_http = stream_text(&s, &body, &[("x-mock-tokens", "9")]).await;

    let stats = Stats::new();
    let mut headers = http_headers();
    headers.insert("x-mock-tokens", "9".parse().unwrap());
    let mock = respond(&fast(), &stats, &headers, body.to_string().as_bytes());
    assert_eq!(mock.status, 200);
    assert!(mock
        .headers
        .iter()
        .any(|(k, v)| *k == "content-type" && v == "text/event-stream"));
    let chunks: Vec<_> = mock.body.collect().await;
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
    let in_process = String::from_utf8(bytes).unwrap();

    let strip = |text: &str| -> Vec<Option<Value>> {
        events(text)
            .into_iter()
            .map(|e| {
                e.map(|mut v| {
                    v.as_object_mut().unwrap().remove("created");
                    v
                })
            })
            .collect()
    };
    assert_eq!(strip(&over_http), strip(&in_process));
    assert_eq!(over_http.len(), in_process.len());
    let snap = stats.snapshot();
    assert_eq!((snap.requests, snap.completed, snap.active), (1, 1, 0));
}

fn http_headers() -> http::HeaderMap {
    http::HeaderMap::new()
}
