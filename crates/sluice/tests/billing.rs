//! What a request costs, as the client sees it: the usage chunk (streams), the usage object
//! (whole answers) and the `/stream/chat` usage event carry the gateway's exact decimal cost.

mod common;

use common::{chat, config_for, get, post, Proc};
use serde_json::json;

/// A gateway in front of the mock, whose model "mock" costs 0.27 / 0.42 USD per million tokens.
fn priced_gateway(up: &Proc) -> Proc {
    Proc::gateway(&config_for(
        up,
        "[providers.up.prices]\n\"mock\" = { input = 0.27, output = 0.42 }\n",
    ))
}

/// The raw JSON text of the number after `"key":` in `body` (exact, not through f64).
fn raw_number<'a>(body: &'a str, key: &str) -> &'a str {
    let at = body
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} missing: {body}"));
    let rest = &body[at + key.len() + 3..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
        .unwrap();
    &rest[..end]
}

/// (prompt × 0.27 + completion × 0.42) / 1e6 as exact decimal text.
fn expected_cost(prompt: u64, completion: u64) -> String {
    let units = prompt * 27 + completion * 42; // in 1e-8 USD
    let whole = units / 100_000_000;
    let frac = format!("{:08}", units % 100_000_000);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[tokio::test]
async fn usage_carries_the_gateways_exact_cost() {
    let up = Proc::mock_upstream(&["--tokens", "7"]);
    let gw = priced_gateway(&up);

    let mut asked = chat("mock", true);
    asked["stream_options"] = json!({"include_usage": true});
    let streamed = post(&gw.url("/v1/chat/completions"), &asked, &[]).await;
    let usage_chunk = streamed
        .events()
        .iter()
        .map(|e| String::from_utf8(e.data.to_vec()).unwrap())
        .find(|d| d.contains("\"usage\":{"))
        .expect("usage chunk");
    let usage: serde_json::Value = serde_json::from_str(&usage_chunk).unwrap();
    let prompt = usage["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 7);
    let cost = expected_cost(prompt, 7);
    assert_eq!(raw_number(&usage_chunk, "cost"), cost);
    assert_eq!(usage["usage"]["cost_local"]["currency"], "USD");
    assert_eq!(raw_number(&usage_chunk, "amount"), cost);

    let whole = post(&gw.url("/v1/chat/completions"), &chat("mock", false), &[]).await;
    assert_eq!(raw_number(&whole.body, "cost"), cost, "{}", whole.body);

    let seed = get(&gw.url("/stream/chat?message=Tell%20me%20about%20rivers.")).await;
    let event = seed
        .events()
        .into_iter()
        .find(|e| e.event_type() == b"usage")
        .expect("usage event");
    let data = String::from_utf8(event.data.to_vec()).unwrap();
    assert!(data.contains("\"cost\":0.0000"), "{data}");
    assert!(
        data.contains("\"cost_local\":{\"currency\":\"USD\",\"amount\":"),
        "{data}"
    );
}

#[tokio::test]
async fn a_providers_own_cost_is_kept_as_provider_cost() {
    // The mock reports no cost of its own; the gateway's is the only one.
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let gw = priced_gateway(&up);
    let mut asked = chat("mock", true);
    asked["stream_options"] = json!({"include_usage": true});
    let reply = post(&gw.url("/v1/chat/completions"), &asked, &[]).await;
    assert!(!reply.body.contains("provider_cost"));
    assert!(reply.body.contains("\"cost\":"));
}
