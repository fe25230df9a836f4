//! Pass-through: a `/v1/responses` client on a provider that serves the Responses API
//! (`responses = true`) and a `/v1/messages` client on an Anthropic provider get the
//! provider's own answer, untranslated (stored state, blocks and items the chat format cannot
//! carry, the provider's ids), with the gateway's cost on the final usage; and everything the
//! gateway does for a request still holds: retries and fallback before the commit (to a
//! translating provider, too), the failure event after it, one ledger row with exact usage.

mod common;
#[path = "common/replay.rs"]
mod replay;
#[path = "common/slow.rs"]
mod slow;

use std::collections::HashMap;

use serde_json::{json, Value};

use common::{eventually, get, post, raw_json_at, report_row, Proc, Reply};
use replay::ReplayProvider;
use slow::{body_of, read_slowly, slow_client_at};

/// Providers on one simulated provider: `native` serves Responses, `chat` only chat
/// completions, `claude` is Anthropic. Prices make every cost checkable: 2 and 8 USD per
/// million input and output tokens.
fn config(up: &Proc) -> String {
    format!(
        r#"
[providers.native]
kind = "openai"
base_url = "http://{a}/v1"
responses = true
[providers.native.prices]
"gpt-x" = {{ input = 2.00, output = 8.00 }}
[providers.chat]
kind = "openai"
base_url = "http://{a}/v1"
[providers.chat.prices]
"gpt-x" = {{ input = 2.00, output = 8.00 }}
[providers.claude]
kind = "anthropic"
base_url = "http://{a}/v1"
api_key = "k"
[providers.claude.prices]
"claude-x" = {{ input = 2.00, output = 8.00 }}
[retry]
attempts = 0
[routes]
"native" = [{{ provider = "native", model = "gpt-x" }}]
"chat-only" = [{{ provider = "chat", model = "gpt-x" }}]
"chat-then-native" = [{{ provider = "chat", model = "gpt-x" }}, {{ provider = "native", model = "gpt-x" }}]
"overloaded-then-chat" = [{{ provider = "native", model = "mock-529" }}, {{ provider = "chat", model = "gpt-x" }}]
"native-failing" = [{{ provider = "native", model = "mock-error-midstream" }}]
"claude" = [{{ provider = "claude", model = "claude-x" }}]
"#,
        a = up.addr
    )
}

/// The cost at 2 / 8 USD per million tokens, as the gateway writes it.
fn cost(input: u64, output: u64) -> String {
    let micro = input * 2 + output * 8;
    let text = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn responses(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "store": true,
        "input": [{"role": "user", "content": "Tell me about rivers."}],
        "tools": [{"type": "web_search"}]})
}

/// (event name, data) of every event.
fn named(reply: &Reply) -> Vec<(String, Value)> {
    reply
        .events()
        .iter()
        .map(|e| {
            let name = String::from_utf8_lossy(e.event.as_deref().unwrap_or(b"")).into_owned();
            (name, serde_json::from_slice(&e.data).unwrap())
        })
        .collect()
}

/// The ledger's row for `model` once `n` requests are in it.
async fn ledger_row(gw: &Proc, model: &str, n: u64) -> (Value, String) {
    let url = gw.url("/v1/usage?by=model");
    eventually("the requests in the ledger", || async {
        get(&url).await.json()["total"]["requests"] == n
    })
    .await;
    let row = report_row(&get(&url).await.body, model).expect("the model's row");
    (serde_json::from_str(&row).unwrap(), row)
}

#[tokio::test]
async fn a_responses_stream_is_the_providers_own_with_the_gateways_cost() {
    let up = Proc::mock_upstream(&["--tokens", "12"]);
    let gw = Proc::gateway(&config(&up));
    let mut body = responses("native", true);
    body["previous_response_id"] = json!("resp_earlier");
    let reply = post(&gw.url("/v1/responses"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("native"));

    // The provider's events: its ids, its sequence numbers, the stored state it echoes, and
    // nothing translated away (a translation would have dropped `store` and `web_search`).
    let events = named(&reply);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i);
    }
    let created = &events[0].1["response"];
    assert!(
        created["id"].as_str().unwrap().starts_with("resp_mock_"),
        "{created}"
    );
    assert_eq!(created["previous_response_id"], "resp_earlier");
    assert_eq!(created["store"], true);
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text.split_whitespace().count(), 12, "{text}");

    // The last event: the provider's usage, and the gateway's cost beside it.
    let (name, done) = events.last().unwrap();
    assert_eq!(name, "response.completed");
    let usage = &done["response"]["usage"];
    let (input, output) = (
        usage["input_tokens"].as_u64().unwrap(),
        usage["output_tokens"].as_u64().unwrap(),
    );
    assert_eq!(output, 12);
    let completed = reply.events().pop().unwrap().data;
    let completed = std::str::from_utf8(&completed).unwrap();
    assert_eq!(
        raw_json_at(completed, &["response", "usage", "cost"]),
        Some(cost(input, output))
    );
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], text);

    // One ledger row, with the usage and cost the client was told.
    let (row, raw) = ledger_row(&gw, "native", 1).await;
    assert_eq!(
        (
            row["prompt_tokens"].as_u64(),
            row["completion_tokens"].as_u64()
        ),
        (Some(input), Some(output))
    );
    assert_eq!(raw_json_at(&raw, &["cost_usd"]), Some(cost(input, output)));
}

#[tokio::test]
async fn a_whole_response_is_passed_through_priced() {
    let up = Proc::mock_upstream(&["--tokens", "7"]);
    let gw = Proc::gateway(&config(&up));
    let reply = post(&gw.url("/v1/responses"), &responses("native", false), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v = reply.json();
    assert!(v["id"].as_str().unwrap().starts_with("resp_mock_"), "{v}");
    assert_eq!(v["store"], true);
    let input = v["usage"]["input_tokens"].as_u64().unwrap();
    assert_eq!(v["usage"]["output_tokens"], 7);
    assert_eq!(
        raw_json_at(&reply.body, &["usage", "cost"]),
        Some(cost(input, 7))
    );
    let (row, _) = ledger_row(&gw, "native", 1).await;
    assert_eq!(row["completion_tokens"], 7);
}

#[tokio::test]
async fn stored_state_goes_to_a_provider_that_keeps_it_or_is_a_clear_400() {
    let up = Proc::mock_upstream(&["--tokens", "5"]);
    let gw = Proc::gateway(&config(&up));
    let url = gw.url("/v1/responses");
    let mut body = responses("chat-only", true);
    body["previous_response_id"] = json!("resp_earlier");

    // No provider of the route keeps responses: OpenAI's 400 naming the field, no provider
    // asked.
    let reply = post(&url, &body, &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["error"]["param"], "previous_response_id");
    assert_eq!(up.stats().await["requests"], 0);

    // The route's first provider cannot take it; its second, which serves Responses, does.
    body["model"] = json!("chat-then-native");
    let reply = post(&url, &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("native"));
    assert_eq!(
        named(&reply)[0].1["response"]["previous_response_id"],
        "resp_earlier"
    );

    // Without stored state the same route translates for its first provider.
    body.as_object_mut().unwrap().remove("previous_response_id");
    let reply = post(&url, &body, &[]).await;
    assert_eq!(reply.header("x-sluice-provider"), Some("chat"));
    let first = &named(&reply)[0].1["response"];
    assert!(first["id"].as_str().unwrap().starts_with("resp_"));
    assert!(!first["id"].as_str().unwrap().starts_with("resp_mock_"));
}

#[tokio::test]
async fn before_the_commit_a_failure_falls_back_after_it_the_providers_failure_ends_the_stream() {
    let up = Proc::mock_upstream(&["--tokens", "6"]);
    let gw = Proc::gateway(&config(&up));
    let url = gw.url("/v1/responses");

    // 529 from the Responses provider: the route's chat provider serves it, translated.
    let reply = post(&url, &responses("overloaded-then-chat", true), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("chat"));
    assert_eq!(reply.header("x-sluice-attempts"), Some("2"));
    let events = named(&reply);
    assert_eq!(events.last().unwrap().0, "response.completed");

    // A failure after the commit: the provider's own response.failed is the last event.
    let reply = post(&url, &responses("native-failing", true), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let events = named(&reply);
    let (name, failed) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(failed["response"]["error"]["code"], "server_error");
    assert_eq!(failed["sequence_number"], events.len() - 1);
    let (row, _) = ledger_row(&gw, "native-failing", 2).await;
    assert_eq!(row["errors"], 1);
}

#[tokio::test]
async fn a_messages_stream_from_anthropic_is_relayed_byte_for_byte_but_for_the_cost() {
    let up = Proc::mock_upstream(&["--tokens", "9"]);
    let gw = Proc::gateway(&config(&up));
    let body = json!({"model": "claude", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "Tell me about rivers."}]});
    let reply = post(
        &gw.url("/v1/messages"),
        &body,
        &[("anthropic-beta", "fine-grained-tool-streaming-2025-05-14")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // The provider's own stream for the same request.
    let mut direct = body.clone();
    direct["model"] = json!("claude-x");
    let direct = post(&up.url("/v1/messages"), &direct, &[]).await;
    assert_eq!(direct.status, 200);
    let delta_at = |body: &str| body.find("event: message_delta").unwrap();
    let (gw_at, up_at) = (delta_at(&reply.body), delta_at(&direct.body));
    assert_eq!(
        reply.body[..gw_at],
        direct.body[..up_at],
        "every event before the usage"
    );
    let tail = |body: &str, at: usize| body[at..].split_once("\n\n").unwrap().1.to_owned();
    assert_eq!(
        tail(&reply.body, gw_at),
        tail(&direct.body, up_at),
        "message_stop"
    );

    let delta = reply
        .events()
        .into_iter()
        .find(|e| e.event.as_deref() == Some(&b"message_delta"[..]))
        .unwrap();
    let delta = std::str::from_utf8(&delta.data).unwrap().to_owned();
    let usage: Value = serde_json::from_str::<Value>(&delta).unwrap()["usage"].clone();
    let input = usage["input_tokens"].as_u64().unwrap();
    assert_eq!(usage["output_tokens"], 9);
    assert_eq!(
        raw_json_at(&delta, &["usage", "cost"]),
        Some(cost(input, 9))
    );
    let (row, _) = ledger_row(&gw, "claude", 1).await;
    assert_eq!(
        (
            row["prompt_tokens"].as_u64(),
            row["completion_tokens"].as_u64()
        ),
        (Some(input), Some(9))
    );
}

/// A web search answer in the shapes Anthropic documents: a server tool call, its result block,
/// and text with a citation. Chat completions have no place for any of them.
const WEB_SEARCH: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01WebSearch","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2679,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","name":"web_search","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"weather NYC today\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","content":[{"type":"web_search_result","title":"Weather in New York City","url":"https://weather.example/nyc","encrypted_content":"Ev0DCioIAhgCIiQ3NmU4ZmI4OC1k","page_age":null}]}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"text","text":"","citations":[]}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"Sunny, high of 68°F","url":"https://weather.example/nyc","title":"Weather in New York City","encrypted_index":"Eo8BCioIAhgBIiQyYjQ0OWJmZi1l"}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"It is sunny in New York today."}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":2679,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":510,"server_tool_use":{"web_search_requests":1}}}

event: message_stop
data: {"type":"message_stop"}

"#;

/// (event name, data) of an SSE body, with the gateway's `cost` and `cost_local` taken off
/// any usage (the only bytes a pass-through may add).
fn without_cost(sse: &[u8]) -> Vec<(String, Value)> {
    let mut decoder = sluice_sse::Decoder::new();
    decoder.push(sse);
    let mut out = Vec::new();
    let mut push = |e: sluice_sse::Event| {
        let name = String::from_utf8_lossy(e.event.as_deref().unwrap_or(b"")).into_owned();
        let mut data: Value = serde_json::from_slice(&e.data).unwrap();
        if let Some(usage) = data.get_mut("usage").and_then(Value::as_object_mut) {
            usage.remove("cost");
            usage.remove("cost_local");
        }
        out.push((name, data));
    };
    while let Ok(Some(frame)) = decoder.next_frame() {
        if let sluice_sse::Frame::Event(e) = frame {
            push(e);
        }
    }
    if let Some(e) = decoder.finish() {
        push(e);
    }
    out
}

#[tokio::test]
async fn every_recorded_anthropic_stream_reaches_a_messages_client_as_it_was_sent() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sluice-native/fixtures/anthropic");
    let mut fixtures: HashMap<String, Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.strip_suffix(".sse")?.to_owned();
            Some((name, std::fs::read(&path).unwrap()))
        })
        .collect();
    assert_eq!(fixtures.len(), 8, "fixtures missing");
    fixtures.insert("web-search".into(), WEB_SEARCH.as_bytes().to_vec());
    let replay = ReplayProvider::start(fixtures.clone()).await;
    let routes: String = fixtures
        .keys()
        .map(|name| format!("{name:?} = [{{ provider = \"claude\", model = {name:?} }}]\n"))
        .collect();
    let gw = Proc::gateway(&format!(
        "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"http://{}/v1\"\n\
         api_key = \"k\"\n[providers.claude.prices]\n\"web-search\" = {{ input = 3, output = 15 }}\n\
         [retry]\nattempts = 0\n[routes]\n{routes}",
        replay.addr
    ));
    let mut problems = Vec::new();
    for (name, sse) in &fixtures {
        let body = json!({"model": name, "max_tokens": 1000, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]});
        let reply = post(&gw.url("/v1/messages"), &body, &[]).await;
        if reply.status != 200 {
            problems.push(format!("{name}: HTTP {} {}", reply.status, reply.body));
            continue;
        }
        let (got, want) = (without_cost(reply.body.as_bytes()), without_cost(sse));
        if got != want {
            problems.push(format!("{name}: got\n{got:?}\nwant\n{want:?}"));
        }
        // Every event the provider sent as it sent it, but for the usage the cost went on.
        let sent = reply
            .body
            .split("\n\n")
            .filter(|e| !e.contains("\"usage\""));
        for event in sent.filter(|e| !e.is_empty() && !e.starts_with("event: error")) {
            if !String::from_utf8_lossy(sse).contains(event) {
                problems.push(format!("{name}: {event:?} is not the provider's bytes"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    // The server tool's answer is billed from its own usage, and its cost is on it.
    let body = json!({"model": "web-search", "max_tokens": 1000, "stream": true,
        "messages": [{"role": "user", "content": "weather?"}]});
    let reply = post(&gw.url("/v1/messages"), &body, &[]).await;
    let delta = reply
        .events()
        .into_iter()
        .find(|e| e.event.as_deref() == Some(&b"message_delta"[..]))
        .unwrap();
    let delta = String::from_utf8(delta.data.to_vec()).unwrap();
    // 2,679 × 3 + 510 × 15 per million.
    assert_eq!(
        raw_json_at(&delta, &["usage", "cost"]).as_deref(),
        Some("0.015687")
    );
}

#[tokio::test]
async fn only_a_translated_request_counts_the_fields_it_dropped() {
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let gw = Proc::gateway(&config(&up));
    let line = r#"sluice_inbound_dropped_fields_total{api="responses",field="tools.web_search"}"#;
    let reply = post(&gw.url("/v1/responses"), &responses("native", false), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let metrics = get(&gw.url("/metrics")).await.body;
    assert!(
        !metrics.contains(line),
        "passed through, nothing dropped:\n{metrics}"
    );
    let reply = post(
        &gw.url("/v1/responses"),
        &responses("chat-only", false),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let metrics = get(&gw.url("/metrics")).await.body;
    assert!(
        metrics.lines().any(|l| l == format!("{line} 1")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_passed_through_stream() {
    let up = Proc::mock_upstream(&["--tokens", "100000", "--itl", "2ms"]);
    let gw = Proc::gateway(&config(&up));
    let messages = json!({"model": "claude", "max_tokens": 100000, "stream": true,
        "messages": [{"role": "user", "content": "Tell me everything."}]});
    for (path, body) in [
        ("/v1/responses", responses("native", true)),
        ("/v1/messages", messages),
    ] {
        let before = up.stats().await["cancelled"].as_u64().unwrap();
        let mut res = common::client()
            .post(gw.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(!res.chunk().await.unwrap().unwrap().is_empty());
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
async fn a_slow_client_slows_the_provider_and_loses_nothing_a_stalled_one_is_cut_off() {
    let up = Proc::mock_upstream(&["--tokens", "3000"]);
    let stream =
        "[stream]\nbuffer_events = 8\nslow_client_timeout = \"2s\"\nsend_buffer = \"16KiB\"\n";
    let gw = Proc::gateway(&format!("{}{stream}", config(&up)));
    let body = responses("native", true);

    // Read slowly: every one of the provider's events arrives, none merged (coalescing is for
    // chat deltas), the last with its usage.
    let mut sock = slow_client_at(&gw, "/v1/responses", &body, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let raw = read_slowly(&mut sock).await;
    let reply = Reply {
        status: 200,
        headers: Default::default(),
        body: body_of(&raw),
    };
    let events = named(&reply);
    let deltas = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .count();
    assert_eq!(deltas, 3000);
    for (i, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], i);
    }
    assert_eq!(events.last().unwrap().0, "response.completed");

    // Read nothing: cut off at the slow-client limit, the provider's stream cancelled.
    let long = {
        let mut b = body.clone();
        b["max_output_tokens"] = json!(100000);
        b
    };
    let _stalled = slow_client_at(&gw, "/v1/responses", &long, "x-mock-tokens: 100000\r\n").await;
    eventually("the provider sees the stream cancelled", || async {
        up.stats().await["cancelled"] == 1
    })
    .await;
    eventually("the gateway logs a slow-client end", || async {
        gw.logs().contains("status=\"slow_client\"")
    })
    .await;
}

#[tokio::test]
async fn count_tokens_asks_anthropic_for_the_exact_count_and_estimates_elsewhere() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config(&up));
    let url = gw.url("/v1/messages/count_tokens");
    let body = |model: &str| {
        json!({"model": model, "system": "Be brief.",
            "messages": [{"role": "user", "content": "one two three four five"}]})
    };
    // The simulated Anthropic counts each message's words plus 4: (2 + 4) + (5 + 4).
    let reply = post(&url, &body("claude"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json(), json!({"input_tokens": 15}));
    assert_eq!(up.stats().await["requests"], 1);

    // No provider of the route counts tokens: the gateway's tokenizer does, asking no one.
    let reply = post(&url, &body("chat-only"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.json()["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(up.stats().await["requests"], 1);
}
