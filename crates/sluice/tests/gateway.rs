//! The gateway as a client sees it: the real `sluice serve` binary in front of the real
//! `sluice mock-upstream` (or a scripted socket), over loopback HTTP.

mod common;

use std::time::Duration;

use common::{chat, config_for, eventually, get, post, Proc};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn builtin_mock_serves_streams_and_completions_with_no_config() {
    let gw = Proc::gateway_builtin();
    assert!(
        gw.logs()
            .contains("serving the built-in simulated model `mock`"),
        "{}",
        gw.logs()
    );

    let models = get(&gw.url("/v1/models")).await;
    assert_eq!(models.status, 200);
    assert_eq!(models.json()["data"][0]["id"], "mock");

    let streamed = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
    assert_eq!(streamed.status, 200, "{}", streamed.body);
    assert_eq!(streamed.header("content-type"), Some("text/event-stream"));
    assert_eq!(streamed.header("cache-control"), Some("no-cache"));
    assert_eq!(streamed.header("x-accel-buffering"), Some("no"));
    assert_eq!(streamed.header("x-sluice-provider"), Some("mock"));
    assert!(streamed.header("x-request-id").is_some());
    assert!(streamed.header("content-encoding").is_none());
    assert!(streamed.ends_with_done());
    let text = streamed.content();
    assert_eq!(text.split(' ').count(), 16, "{text}");

    let whole = post(&gw.url("/v1/chat/completions"), &chat("mock", false), &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.json()["choices"][0]["message"]["content"],
        text.as_str()
    );
}

#[tokio::test]
async fn streams_exactly_what_the_provider_sent() {
    let up = Proc::mock_upstream(&["--tokens", "40"]);
    let gw = Proc::gateway(&config_for(&up, ""));

    let direct = post(&up.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
    let relayed = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
    assert_eq!(relayed.status, 200, "{}", relayed.body);
    assert_eq!(relayed.header("x-sluice-provider"), Some("up"));
    assert_eq!(relayed.header("x-sluice-attempts"), Some("1"));
    assert_eq!(relayed.content(), direct.content());
    assert_eq!(relayed.content().split(' ').count(), 40);
    // Chunk for chunk the same payloads (the mock stamps `created` per request).
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("created");
        v
    };
    let direct_payloads: Vec<_> = direct.payloads().into_iter().map(strip).collect();
    let relayed_payloads: Vec<_> = relayed.payloads().into_iter().map(strip).collect();
    assert_eq!(relayed_payloads, direct_payloads);
    assert!(relayed.ends_with_done());

    let whole = post(&gw.url("/v1/chat/completions"), &chat("mock", false), &[]).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert_eq!(whole.header("x-sluice-provider"), Some("up"));
    assert_eq!(
        whole.json()["choices"][0]["message"]["content"],
        direct.content().as_str()
    );
    assert_eq!(whole.json()["usage"]["completion_tokens"], 40);
}

#[tokio::test]
async fn usage_chunk_reaches_the_client_only_when_asked() {
    let up = Proc::mock_upstream(&["--tokens", "5"]);
    let gw = Proc::gateway(&config_for(&up, ""));

    let without = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
    assert!(
        without.payloads().iter().all(|p| p.get("usage").is_none()),
        "{}",
        without.body
    );
    assert!(without.ends_with_done());

    let mut asked = chat("mock", true);
    asked["stream_options"] = json!({"include_usage": true});
    let with = post(&gw.url("/v1/chat/completions"), &asked, &[]).await;
    let last = with.payloads().pop().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 5);
    assert_eq!(
        last["usage"]["total_tokens"],
        last["usage"]["prompt_tokens"].as_u64().unwrap() + 5
    );
    assert_eq!(with.content(), without.content());
}

#[tokio::test]
async fn aliases_rewrite_the_model_for_the_provider() {
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let gw = Proc::gateway(&config_for(&up, ""));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("fast", true), &[]).await;
    assert_eq!(reply.status, 200);
    // The mock echoes the model it was asked for: the provider's name, not the alias.
    assert!(
        reply.payloads().iter().all(|p| p["model"] == "mock"),
        "{}",
        reply.body
    );
}

/// A provider that records the request it gets and answers with a fixed SSE body.
async fn capture_provider(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    capture_provider_raw(head, answer).await
}

/// A provider that records the request it gets and answers `head` then `answer` verbatim.
async fn capture_provider_raw(
    head: &'static str,
    answer: &'static str,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let len: usize = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= head_end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(answer.as_bytes()).await.unwrap();
        sock.shutdown().await.unwrap();
        String::from_utf8(buf).unwrap()
    });
    (base, task)
}

#[tokio::test]
async fn unknown_fields_pass_through_both_ways_and_client_headers_stay_home() {
    let answer = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"x_vendor\":{\"k\":1.50}}],\"x_top\":[1,2]}\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let (base, recorded) = capture_provider(answer).await;
    let gw = Proc::gateway(&format!(
        "[providers.cap]\nkind = \"openai\"\nbase_url = \"{base}/v1\"\napi_key = \"sk-provider-secret\"\n[routes]\n\"m\" = [{{ provider = \"cap\", model = \"upstream-m\" }}]\n"
    ));
    let body = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": true,
        "temperature": 0.25,
        "x_custom": {"nested": [1, "two", null]},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    });
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &body,
        &[
            ("authorization", "Bearer client-secret"),
            ("x-custom-header", "nope"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Response fields intact, byte for byte.
    assert!(
        reply.body.contains("\"x_vendor\":{\"k\":1.50}"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("\"x_top\":[1,2]"));
    assert!(reply.ends_with_done());

    let request = recorded.await.unwrap();
    let (head, sent) = request.split_once("\r\n\r\n").unwrap();
    let sent: serde_json::Value = serde_json::from_str(sent).unwrap();
    assert_eq!(sent["model"], "upstream-m");
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["x_custom"], body["x_custom"]);
    assert_eq!(sent["tools"], body["tools"]);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("authorization: bearer sk-provider-secret"),
        "{head}"
    );
    assert!(head.contains("accept-encoding: identity"), "{head}");
    assert!(
        !head.contains("client-secret") && !head.contains("x-custom-header"),
        "{head}"
    );
    assert!(!gw.logs().contains("sk-provider-secret"));
}

#[tokio::test]
async fn provider_errors_before_the_stream_become_http_errors() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config_for(&up, ""));

    let r500 = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-500", true),
        &[],
    )
    .await;
    assert_eq!(r500.status, 502, "{}", r500.body);
    assert_eq!(r500.header("x-sluice-provider"), Some("up"));
    assert_eq!(
        r500.json()["error"]["message"],
        "simulated provider failure"
    );
    assert_eq!(r500.json()["error"]["type"], "server_error");

    let r429 = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-429", true),
        &[],
    )
    .await;
    assert_eq!(r429.status, 429, "{}", r429.body);
    assert_eq!(r429.header("retry-after"), Some("1"));
    assert_eq!(r429.json()["error"]["code"], "rate_limit_exceeded");

    let whole = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-500", false),
        &[],
    )
    .await;
    assert_eq!(whole.status, 502);
    assert!(whole.json()["error"]["message"].is_string());
}

#[tokio::test]
async fn failures_after_the_stream_started_end_with_an_error_event_and_no_done() {
    let up = Proc::mock_upstream(&["--itl", "5ms"]);
    let gw = Proc::gateway(&config_for(&up, "").replace("idle = \"5s\"", "idle = \"300ms\""));

    let stall = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-stall", true),
        &[],
    )
    .await;
    assert_eq!(stall.status, 200);
    assert_eq!(stall.content().split(' ').count(), 3, "{}", stall.body);
    let last = stall.payloads().pop().unwrap();
    assert_eq!(last["error"]["code"], "idle_timeout", "{}", stall.body);
    assert_eq!(last["error"]["type"], "timeout");
    assert!(!stall.ends_with_done());

    let drop = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-drop", true),
        &[],
    )
    .await;
    assert_eq!(drop.status, 200);
    let last = drop.payloads().pop().unwrap();
    assert_eq!(last["error"]["code"], "transport", "{}", drop.body);
    assert!(!drop.ends_with_done());
    assert!(drop.body.contains("\"content\""));
}

#[tokio::test]
async fn first_token_and_total_timeouts() {
    let up = Proc::mock_upstream(&[]);
    // One attempt: this test is about the limits themselves, not retrying after them.
    let config = config_for(
        &up,
        "[stream]\nkeepalive = \"10s\"\n[retry]\nattempts = 0\n",
    )
    .replace("first_token = \"5s\"", "first_token = \"300ms\"")
    .replace("total = \"60s\"", "total = \"1s\"");
    let gw = Proc::gateway(&config);

    let slow = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", true),
        &[("x-mock-ttft-ms", "3000")],
    )
    .await;
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert_eq!(slow.json()["error"]["code"], "first_token_timeout");

    let long = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", true),
        &[("x-mock-itl-ms", "50"), ("x-mock-tokens", "100")],
    )
    .await;
    assert_eq!(long.status, 200);
    assert_eq!(
        long.payloads().pop().unwrap()["error"]["code"],
        "total_timeout",
        "{}",
        long.body
    );
    assert!(!long.ends_with_done());
}

#[tokio::test]
async fn unreachable_provider_is_a_502() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = Proc::gateway(&format!(
        "[providers.dead]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n[routes]\n\"m\" = [\"dead\"]\n"
    ));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("m", true), &[]).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "connect");
    assert_eq!(reply.header("x-sluice-provider"), Some("dead"));
}

#[tokio::test]
async fn a_slow_first_token_commits_with_keepalive_comments() {
    let up = Proc::mock_upstream(&["--tokens", "2"]);
    let gw = Proc::gateway(&config_for(&up, "[stream]\nkeepalive = \"100ms\"\n"));
    let res = common::client()
        .post(gw.url("/v1/chat/completions"))
        .header("x-mock-ttft-ms", "450")
        .json(&chat("mock", true))
        .send()
        .await
        .unwrap();
    // The head arrived before the first token: the keep-alive committed the response.
    assert_eq!(res.status(), 200);
    let reply = common::read(res).await;
    let frames = reply.frames();
    assert!(
        matches!(frames.first(), Some(sluice_sse::Frame::Comment(c)) if &c[..] == b" keep-alive"),
        "{}",
        reply.body
    );
    assert_eq!(reply.content().split(' ').count(), 2);
    assert!(reply.ends_with_done());
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_errors_and_the_server_keeps_serving() {
    let gw = Proc::gateway(
        "max_body = \"1KiB\"\n[providers.mock]\nkind = \"mock\"\n[routes]\n\"mock\" = [\"mock\"]\n",
    );
    let url = gw.url("/v1/chat/completions");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (common::client().post(&url).body("{not json"), 400, "invalid_request_error"),
        (common::client().post(&url).json(&json!({"model": "mock"})), 400, "invalid_request_error"),
        (common::client().post(&url).json(&json!({"messages": []})), 400, "invalid_request_error"),
        (common::client().post(&url).json(&chat("no-such-model", true)), 404, "invalid_request_error"),
        (
            common::client().post(&url).json(&json!({"model": "mock", "messages": [{"role": "user", "content": "x".repeat(4096)}]})),
            413,
            "invalid_request_error",
        ),
    ];
    for (req, status, ty) in cases {
        let reply = common::read(req.send().await.unwrap()).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        let err = &reply.json()["error"];
        assert_eq!(err["type"], ty);
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(err.get("code").is_some());
    }
    assert_eq!(get(&gw.url("/no/such/route")).await.status, 404);
    let ok = post(
        &url,
        &chat("mock", true),
        &[("x-mock-ttft-ms", "0"), ("x-mock-itl-ms", "0")],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.ends_with_done());
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_provider_request() {
    let up = Proc::mock_upstream(&["--itl", "20ms", "--tokens", "500"]);
    let gw = Proc::gateway(&config_for(&up, ""));
    let res = common::client()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("mock", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(body);
    eventually("the provider sees the stream cancelled", || async {
        up.stats().await["cancelled"] == 1
    })
    .await;
    assert_eq!(up.stats().await["completed"], 0);
    eventually("the gateway logs the request as client_closed", || async {
        gw.logs().contains("status=\"client_closed\"")
    })
    .await;
}

#[tokio::test]
async fn sigterm_lets_open_streams_finish_then_exits_zero() {
    let up = Proc::mock_upstream(&["--itl", "20ms", "--tokens", "40"]);
    let mut gw = Proc::gateway(&config_for(&up, ""));
    let res = common::client()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("mock", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut received = body.next().await.unwrap().unwrap().to_vec();
    gw.sigterm();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.expect("stream not cut"));
    }
    let reply = common::Reply {
        status: 200,
        headers: Default::default(),
        body: String::from_utf8(received).unwrap(),
    };
    assert!(reply.ends_with_done(), "{}", reply.body);
    assert_eq!(reply.content().split(' ').count(), 40);
    let status = tokio::task::spawn_blocking(move || {
        let status = gw.wait_exit(Duration::from_secs(10));
        (status, gw)
    })
    .await
    .unwrap();
    let (status, gw) = status;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", gw.logs());
    assert!(
        std::net::TcpStream::connect(gw.addr).is_err(),
        "still accepting after exit"
    );
}

#[tokio::test]
async fn stream_chat_is_the_seed_endpoint() {
    let gw = Proc::gateway_builtin();
    let reply = get(&gw.url("/stream/chat?message=hello")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let events = reply.events();
    let usage = events
        .iter()
        .find(|e| e.event_type() == b"usage")
        .expect("usage event");
    let usage: serde_json::Value = serde_json::from_slice(&usage.data).unwrap();
    assert_eq!(usage["completion_tokens"], 16);
    for key in ["prompt_tokens", "total_tokens", "cost", "cost_local"] {
        assert!(usage.get(key).is_some(), "{key} missing: {usage}");
    }
    let deltas: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e.event.is_none() && &e.data[..] != b"[DONE]")
        .map(|e| serde_json::from_slice(&e.data).unwrap())
        .collect();
    let text: String = deltas
        .iter()
        .map(|d| d["content"].as_str().unwrap())
        .collect();
    assert_eq!(text.split(' ').count(), 16);
    assert!(deltas
        .iter()
        .all(|d| d.get("id").is_some() && d.get("finish_reason").is_some()));
    assert_eq!(deltas.last().unwrap()["finish_reason"], "stop");
    assert!(reply.ends_with_done());
    assert_eq!(get(&gw.url("/stream/chat")).await.status, 400);
}

#[tokio::test]
async fn health_cors_and_request_ids() {
    let gw = Proc::gateway_builtin();
    assert_eq!(get(&gw.url("/healthz")).await.status, 200);
    let ready = get(&gw.url("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");

    let preflight = common::read(
        common::client()
            .request(reqwest::Method::OPTIONS, gw.url("/v1/chat/completions"))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(preflight.status < 300, "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));

    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("nope", true),
        &[
            ("origin", "https://app.example"),
            ("x-request-id", "req-123"),
        ],
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("x-request-id"), Some("req-123"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let exposed = reply.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("x-sluice-provider") && exposed.contains("x-request-id"));
}

#[tokio::test]
async fn stream_settings_can_be_overridden_per_route() {
    let up = Proc::mock_upstream(&["--tokens", "2"]);
    let gw = Proc::gateway(&config_for(
        &up,
        "[stream]\nkeepalive = \"10s\"\n[stream.routes.fast]\nkeepalive = \"100ms\"\n",
    ));
    let slow = [("x-mock-ttft-ms", "450")];
    let fast = post(&gw.url("/v1/chat/completions"), &chat("fast", true), &slow).await;
    let plain = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &slow).await;
    let comments = |r: &common::Reply| {
        r.frames()
            .iter()
            .filter(|f| matches!(f, sluice_sse::Frame::Comment(_)))
            .count()
    };
    assert!(comments(&fast) >= 2, "{}", fast.body);
    assert_eq!(comments(&plain), 0, "{}", plain.body);
    assert_eq!(fast.content(), plain.content());
}

#[tokio::test]
async fn a_provider_refusing_the_gateway_key_does_not_leak_it() {
    let (base, _recorded) = capture_provider_raw(
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
        r#"{"error":{"message":"Incorrect API key provided: sk-leak*****abcd","type":"invalid_request_error","code":"invalid_api_key"}}"#,
    )
    .await;
    let gw = Proc::gateway(&format!(
        "[providers.p]\nkind = \"openai\"\nbase_url = \"{base}/v1\"\napi_key = \"sk-leak-secret-abcd\"\n[routes]\n\"m\" = [\"p\"]\n"
    ));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("m", true), &[]).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(!reply.body.contains("sk-leak"), "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "invalid_api_key");
    eventually("the request is logged", || async {
        gw.logs().contains("request finished")
    })
    .await;
    assert!(!gw.logs().contains("sk-leak"), "{}", gw.logs());
}

#[tokio::test]
async fn wrong_methods_get_openai_shaped_errors() {
    let gw = Proc::gateway_builtin();
    let reply = get(&gw.url("/v1/chat/completions")).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.json()["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_provider_answering_html_is_a_clear_502() {
    let (base, _recorded) = capture_provider_raw(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
        "<html><body>Bad gateway at the proxy</body></html>",
    )
    .await;
    let gw = Proc::gateway(&format!(
        "[providers.p]\nkind = \"openai\"\nbase_url = \"{base}/v1\"\n[routes]\n\"m\" = [\"p\"]\n[retry]\nattempts = 0\n"
    ));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("m", true), &[]).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "protocol");
}

#[tokio::test]
async fn a_provider_that_accepts_and_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Accepts connections and keeps them open, silent.
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let gw = Proc::gateway(&format!(
        "[providers.p]\nkind = \"openai\"\nbase_url = \"{base}/v1\"\ntimeouts = {{ first_token = \"300ms\" }}\n[routes]\n\"m\" = [\"p\"]\n[retry]\nattempts = 0\n[stream]\nkeepalive = \"10s\"\n"
    ));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("m", true), &[]).await;
    assert_eq!(reply.status, 504, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "first_token_timeout");
}
