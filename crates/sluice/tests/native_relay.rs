//! What the relay does for every provider holds for the native ones, against the simulated
//! provider speaking Anthropic's and Gemini's APIs over loopback HTTP: a slow client's deltas
//! are coalesced with no token lost, a route falls back from a failing Anthropic target to an
//! OpenAI-compatible one before the commit point, a client that leaves cancels the provider's
//! stream, the seed's `/stream/chat` works, and a stream that breaks is recorded as such.

mod common;
#[path = "common/slow.rs"]
mod slow;

use serde_json::{json, Value};

use common::{eventually, get, post, Proc};
use slow::{content_of, read_slowly, slow_client};

/// The simulated provider's base URL for each kind.
fn config(up: &Proc, extra: &str) -> String {
    format!(
        r#"
[providers.claude]
kind = "anthropic"
base_url = "http://{a}/v1"
api_key = "k"
[providers.google]
kind = "gemini"
base_url = "http://{a}/v1beta"
api_key = "k"
[providers.local]
kind = "openai"
base_url = "http://{a}/v1"
[retry]
attempts = 1
backoff = "10ms"
[routes]
"claude" = [{{ provider = "claude", model = "claude-sonnet-4-5" }}]
"gemini" = [{{ provider = "google", model = "gemini-2.5-flash" }}]
"claude-cut" = [{{ provider = "claude", model = "mock-error-midstream" }}]
"overloaded-then-local" = [{{ provider = "claude", model = "mock-529" }}, {{ provider = "local", model = "mock" }}]
{extra}"#,
        a = up.addr
    )
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "a long answer please"}],
        "stream": true, "max_tokens": 100000})
}

/// The provider's own whole answer to `chat(route)`, through the gateway without streaming.
async fn whole_text(gw: &Proc, route: &str) -> String {
    let mut body = chat(route);
    body["stream"] = json!(false);
    let reply = post(&gw.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_slow_client_gets_every_token_coalesced() {
    let up = Proc::mock_upstream(&["--tokens", "20000"]);
    let gw = Proc::gateway(&config(
        &up,
        "[stream]\nbuffer_events = 8\nslow_client = \"coalesce\"\n",
    ));
    for route in ["claude", "gemini"] {
        let expected = whole_text(&gw, route).await;
        let before = up.stats().await["completed"].as_u64().unwrap();
        let mut sock = slow_client(&gw, &chat(route), "").await;
        // While the client reads nothing, the provider still finishes its stream.
        eventually(
            "the provider finishes while the client reads nothing",
            || async { up.stats().await["completed"].as_u64().unwrap() > before },
        )
        .await;
        let raw = read_slowly(&mut sock).await;
        let (text, done) = content_of(&raw);
        assert_eq!(text.len(), expected.len(), "{route}");
        assert!(text == expected, "{route}: the text differs");
        assert!(done, "{route}");
    }
    eventually("both streams are logged", || async {
        gw.logs().matches("request finished").count() >= 4
    })
    .await;
    let logs = gw.logs();
    let coalesced: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("request finished") && l.contains("stream=true"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("coalesced=")))
        .collect();
    assert_eq!(coalesced.len(), 2, "{logs}");
    assert!(
        coalesced.iter().all(|c| *c != "coalesced=0"),
        "{coalesced:?}"
    );
}

#[tokio::test]
async fn an_overloaded_anthropic_target_falls_back_to_an_openai_one() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, ""));
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("overloaded-then-local"),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("local"));
    // Two tries at Anthropic (each a 529), then the fallback.
    assert_eq!(reply.header("x-sluice-attempts"), Some("3"));
    assert!(!reply.content().is_empty());
    assert!(reply.ends_with_done());
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_native_stream() {
    let up = Proc::mock_upstream(&["--tokens", "100000", "--itl", "2ms"]);
    let gw = Proc::gateway(&config(&up, ""));
    for route in ["claude", "gemini"] {
        let before = up.stats().await["cancelled"].as_u64().unwrap();
        let res = common::client()
            .post(gw.url("/v1/chat/completions"))
            .json(&chat(route))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mut res = res;
        let first = res.chunk().await.unwrap().unwrap();
        assert!(!first.is_empty());
        drop(res);
        eventually("the provider's stream is cancelled", || async {
            up.stats().await["cancelled"].as_u64().unwrap() > before
        })
        .await;
    }
    eventually("the requests are logged as client_closed", || async {
        gw.logs().matches("status=\"client_closed\"").count() == 2
    })
    .await;
}

#[tokio::test]
async fn the_seeds_endpoint_streams_from_a_native_provider() {
    let up = Proc::mock_upstream(&["--tokens", "12"]);
    let gw = Proc::gateway(&config(&up, ""));
    let reply = get(&gw.url("/stream/chat?message=Hello&model=claude")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let events = reply.events();
    let usage = events
        .iter()
        .find(|e| e.event.as_deref() == Some(&b"usage"[..]))
        .expect("a usage event");
    let usage: Value = serde_json::from_slice(&usage.data).unwrap();
    assert_eq!(usage["completion_tokens"], 12, "{usage}");
    assert!(reply.ends_with_done());
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(&e.data).ok())
        .filter_map(|v| v["content"].as_str().map(str::to_owned))
        .collect();
    assert!(!text.is_empty());
}

#[tokio::test]
async fn a_stream_broken_by_the_provider_ends_in_its_error_and_is_recorded() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up, ""));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("claude-cut"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(!reply.content().is_empty(), "the text before the error");
    assert!(!reply.ends_with_done());
    let last = reply.payloads().pop().unwrap();
    assert_eq!(last["error"]["type"], "overloaded_error", "{last}");
    eventually("the request is logged as failed", || async {
        gw.logs().contains("status=\"provider_error_event\"")
    })
    .await;
    let line = gw
        .logs()
        .lines()
        .find(|l| l.contains("request finished"))
        .unwrap()
        .to_owned();
    assert!(line.contains("model=claude-cut"), "{line}");
    // The ledger: the tokens relayed before the error are counted by the tokenizer and the
    // row marked estimated, never billed as none.
    let url = gw.url("/v1/usage?by=model");
    eventually("the row in the ledger", || async {
        get(&url).await.json()["total"]["requests"] == 1
    })
    .await;
    let row = get(&url).await.json()["rows"][0].clone();
    assert_eq!(row["group"], "claude-cut", "{row}");
    assert_eq!(row["estimated_requests"], 1, "{row}");
    assert!(row["completion_tokens"].as_u64().unwrap() > 0, "{row}");
    assert!(row["prompt_tokens"].as_u64().unwrap() > 0, "{row}");
}

/// A request the Anthropic target cannot take, arriving when its circuit is ready for a probe,
/// gives the probe back: the next request that it can take goes to Anthropic again, not to the
/// fallback forever.
#[tokio::test]
async fn an_untranslatable_request_gives_back_a_half_open_probe() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(
        &up,
        r#""broken" = [{ provider = "claude", model = "mock-500" }]
"claude-or-local" = [{ provider = "claude", model = "claude-sonnet-4-5" }, { provider = "local", model = "mock" }]
[circuit_breaker]
failures = 1
cooldown = "300ms"
"#,
    ));
    let url = gw.url("/v1/chat/completions");
    // One failure opens Anthropic's circuit.
    assert_eq!(post(&url, &chat("broken"), &[]).await.status, 502);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // Cooled down: this request is admitted as the probe, and cannot be translated.
    let mut odd = chat("claude-or-local");
    odd["logit_bias"] = json!({"1": 5});
    let reply = post(&url, &odd, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("local"));
    // The probe was given back: Anthropic is tried again, and closes its circuit.
    let reply = post(&url, &chat("claude-or-local"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("claude"));
}
