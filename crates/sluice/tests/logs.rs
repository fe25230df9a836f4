//! The request log: one line per request when it ends, structured, and never a secret or a
//! prompt.

mod common;

use common::{chat, config_for, eventually, post, Proc};
use futures_util::StreamExt;

const PROVIDER_KEY: &str = "sk-test-upstream-key";
const CLIENT_KEY: &str = "client-secret-xyz";
const PROMPT: &str = "Tell me about rivers.";

#[tokio::test]
async fn logs_hold_no_key_and_no_prompt_whatever_the_ending() {
    let up = Proc::mock_upstream(&["--tokens", "5", "--itl", "20ms"]);
    let gw = Proc::gateway(&config_for(&up, ""));
    let auth = [("authorization", "Bearer client-secret-xyz")];
    let url = gw.url("/v1/chat/completions");
    post(&url, &chat("mock", true), &auth).await;
    post(&url, &chat("mock", false), &auth).await;
    post(&url, &chat("mock-500", true), &auth).await;
    post(&url, &chat("mock-429", false), &auth).await;
    let res = common::client()
        .post(&url)
        .header("authorization", "Bearer client-secret-xyz")
        .json(&chat("mock", true))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    body.next().await;
    drop(body);
    eventually("five request lines", || async {
        gw.logs().matches("request finished").count() == 5
    })
    .await;
    let logs = gw.logs();
    for secret in [PROVIDER_KEY, CLIENT_KEY, PROMPT] {
        assert!(!logs.contains(secret), "{secret:?} in logs:\n{logs}");
    }
    for status in [
        "status=\"ok\"",
        "status=\"provider_5xx\"",
        "status=\"rate_limited\"",
        "status=\"client_closed\"",
    ] {
        assert!(logs.contains(status), "{status} missing:\n{logs}");
    }
}

#[tokio::test]
async fn json_logs_carry_one_structured_line_per_request() {
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let gw = Proc::gateway_with_flags(&config_for(&up, ""), &["--log-format", "json"]);
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("fast", true),
        &[("x-request-id", "req-json-1")],
    )
    .await;
    assert_eq!(reply.status, 200);
    eventually("the request line", || async {
        gw.logs().contains("req-json-1")
    })
    .await;
    let logs = gw.logs();
    let mut lines = logs.lines().map(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
    });
    let request = lines
        .find(|v| v["fields"]["client_request_id"] == "req-json-1")
        .expect("request line");
    let fields = &request["fields"];
    assert_eq!(fields["model"], "fast");
    assert_eq!(fields["provider"], "up");
    assert_eq!(fields["provider_model"], "mock");
    assert_eq!(fields["status"], "ok");
    assert_eq!(fields["completion_tokens"], 3);
    assert_eq!(fields["attempts"], 1);
    assert!(fields["ttft_ms"].as_f64().is_some_and(|t| t > 0.0));
    assert!(fields["duration_ms"].as_f64().is_some_and(|t| t > 0.0));
    assert!(!logs.contains(PROVIDER_KEY));
}
