//! Slow clients on real sockets: a raw TCP client with a tiny receive buffer that stops
//! reading, then reads a few hundred bytes at a time, against a long, fast simulated stream.

mod common;
#[path = "common/slow.rs"]
mod slow;

use std::time::Duration;

use common::{config_for, eventually, post, Proc};
use serde_json::json;
use slow::{content_of, read_slowly};

/// Long enough that the provider outruns any kernel buffering between it and the client.
const TOKENS: &str = "20000";
const MANY_TOKENS: &str = "40000";

fn body() -> serde_json::Value {
    json!({"model": "mock", "messages": [{"role": "user", "content": "a long answer please"}], "stream": true})
}

/// The `key=value` figure from the gateway's request log line.
fn logged(gw: &Proc, key: &str) -> u64 {
    let logs = gw.logs();
    let line = logs
        .lines()
        .rev()
        .find(|l| l.contains("request finished"))
        .unwrap_or_else(|| panic!("no request line in:\n{logs}"));
    let value = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing in {line}"));
    value.trim_matches('"').parse::<f64>().unwrap() as u64
}

async fn expected_text(up: &Proc) -> String {
    let mut whole = body();
    whole["stream"] = json!(false);
    let reply = post(&up.url("/v1/chat/completions"), &whole, &[]).await;
    reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn coalesce_keeps_reading_the_provider_and_loses_no_token() {
    let up = Proc::mock_upstream(&["--tokens", TOKENS]);
    let gw = Proc::gateway(&config_for(
        &up,
        "[stream]\nbuffer_events = 8\nslow_client = \"coalesce\"\n",
    ));
    let expected = expected_text(&up).await;

    let mut sock = slow::slow_client(&gw, &body(), "").await;
    // While the client reads nothing, the provider still finishes its stream.
    eventually(
        "the provider finishes while the client reads nothing",
        || async { up.stats().await["completed"] == 2 },
    )
    .await;
    let raw = read_slowly(&mut sock).await;
    let (text, done) = content_of(&raw);
    assert_eq!(text.len(), expected.len());
    assert!(text == expected, "text differs");
    assert!(done);
    eventually("the request is logged", || async {
        gw.logs().contains("request finished")
    })
    .await;
    assert!(logged(&gw, "queue_high_water") <= 8);
    assert!(logged(&gw, "coalesced") > 0, "{}", gw.logs());
}

#[tokio::test]
async fn block_stops_reading_the_provider_and_loses_no_token() {
    let up = Proc::mock_upstream(&["--tokens", MANY_TOKENS]);
    let gw = Proc::gateway(&config_for(
        &up,
        "[stream]\nbuffer_events = 8\nslow_client = \"block\"\nsend_buffer = \"16KiB\"\n",
    ));
    let expected = expected_text(&up).await;

    let mut sock = slow::slow_client(&gw, &body(), "").await;
    eventually("the provider stream starts", || async {
        up.stats().await["streams_started"] == 1
    })
    .await;
    // The client reads nothing: the gateway stops reading, and the provider's writes stall.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stats = up.stats().await;
    assert_eq!(
        stats["completed"], 1,
        "only the expected-text request completed: {stats}"
    );
    assert_eq!(stats["active"], 1, "{stats}");
    let raw = read_slowly(&mut sock).await;
    let (text, done) = content_of(&raw);
    assert!(
        text == expected,
        "text differs ({} vs {} bytes)",
        text.len(),
        expected.len()
    );
    assert!(done);
    eventually("the request is logged", || async {
        gw.logs().contains("request finished")
    })
    .await;
    assert!(logged(&gw, "queue_high_water") <= 8);
    assert_eq!(logged(&gw, "coalesced"), 0);
    assert!(logged(&gw, "blocked_ms") > 0);
}

#[tokio::test]
async fn a_client_that_never_reads_is_cut_off_and_the_provider_cancelled() {
    for policy in ["coalesce", "block"] {
        let up = Proc::mock_upstream(&["--tokens", "100000", "--itl", "1ms"]);
        let gw = Proc::gateway(&config_for(
            &up,
            &format!("[stream]\nbuffer_events = 8\nslow_client = \"{policy}\"\nslow_client_timeout = \"500ms\"\nsend_buffer = \"16KiB\"\n"),
        ));
        let mut sock = slow::slow_client(&gw, &body(), "").await;
        eventually("the provider sees the stream cancelled", || async {
            up.stats().await["cancelled"] == 1
        })
        .await;
        assert_eq!(up.stats().await["completed"], 0);
        eventually("the gateway logs a slow-client end", || async {
            gw.logs().contains("status=\"slow_client\"")
        })
        .await;
        // The connection was closed, not ended as if the answer were complete.
        let raw = read_slowly(&mut sock).await;
        assert!(
            !String::from_utf8_lossy(&raw).contains("[DONE]"),
            "{policy}"
        );
    }
}
