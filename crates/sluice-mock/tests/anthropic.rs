//! The Anthropic Messages API of the mock over loopback HTTP: event order and shapes, the
//! generator's text, usage, `max_tokens`, the fault models, tools and thinking.

mod common;

use common::{fast, native_seed, read_stalled, read_until_error, spawn, str_at, JsonBody, Server};
use serde_json::{json, Value};
use sluice_mock::{completion_text, THINKING_TOKENS};

const SYSTEM: &str = "You are terse.";

/// A Messages request: the system prompt as text blocks, the user's text as a string.
fn messages(model: &str, stream: bool, text: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "system": [{"type": "text", "text": SYSTEM}],
        "messages": [{"role": "user", "content": text}]
    })
}

/// The seed and prompt tokens of [`messages`]`(_, _, text)`.
fn seed_of(text: &str) -> u64 {
    native_seed(&[&[SYSTEM], &[text]])
}

fn prompt_tokens(text: &str) -> u64 {
    (3 + 4) + (text.split_whitespace().count() as u64 + 4)
}

impl Server {
    async fn messages(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        self.post_to("/v1/messages", body.to_string(), headers)
            .await
    }
}

/// An SSE body as (event name, data) pairs, checking each event's framing and that its data's
/// `type` is its name, as Anthropic sends them.
fn events(body: &str) -> Vec<(String, Value)> {
    assert!(body.ends_with("\n\n"), "unterminated body: {body:?}");
    assert!(!body.contains('\r'));
    body.split_terminator("\n\n")
        .map(|event| {
            let (name, data) = event
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not an event: {event:?}"));
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name, "{event}");
            (name.to_owned(), data)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

/// The concatenated `delta.<field>` of the deltas of block `index` of type `kind`.
fn deltas(events: &[(String, Value)], index: u64, kind: &str, field: &str) -> String {
    events
        .iter()
        .filter(|(_, d)| d["index"] == index && d["delta"]["type"] == kind)
        .map(|(_, d)| str_at(d, &format!("/delta/{field}")))
        .collect()
}

async fn stream(s: &Server, body: &Value, headers: &[(&str, &str)]) -> Vec<(String, Value)> {
    let resp = s.messages(body, headers).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    events(&resp.text().await.unwrap())
}

/// `message_start`, the text block, a `ping`, `n` deltas, then the end of the message.
fn text_order(n: usize) -> Vec<&'static str> {
    let mut order = vec!["message_start", "content_block_start", "ping"];
    order.extend(std::iter::repeat_n("content_block_delta", n));
    order.extend(["content_block_stop", "message_delta", "message_stop"]);
    order
}

#[tokio::test]
async fn stream_events_text_and_usage() {
    let s = spawn(fast()).await;
    let evs = stream(
        &s,
        &messages("claude-x", true, "one two three"),
        &[("x-mock-tokens", "12")],
    )
    .await;
    assert_eq!(names(&evs), text_order(12));
    let seed = seed_of("one two three");
    let id = format!("msg_mock_{seed:016x}");
    assert_eq!(
        evs[0].1,
        json!({"type":"message_start","message":{"id":id,"type":"message","role":"assistant",
            "model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,
            "usage":{"input_tokens":prompt_tokens("one two three"),"output_tokens":1}}})
    );
    assert_eq!(
        evs[1].1,
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})
    );
    assert_eq!(evs[2].1, json!({"type": "ping"}));
    for (_, delta) in &evs[3..15] {
        assert_eq!(delta["index"], 0);
        assert_eq!(delta["delta"].as_object().unwrap().len(), 2);
    }
    assert_eq!(
        deltas(&evs, 0, "text_delta", "text"),
        completion_text(seed, 12)
    );
    assert_eq!(evs[15].1, json!({"type":"content_block_stop","index":0}));
    assert_eq!(
        evs[16].1,
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
            "usage":{"input_tokens":prompt_tokens("one two three"),"cache_creation_input_tokens":0,
                "cache_read_input_tokens":0,"output_tokens":12}})
    );
    assert_eq!(evs[17].1, json!({"type":"message_stop"}));

    let st = s.stats().await;
    assert_eq!((st.requests, st.streams_started, st.completed), (1, 1, 1));
    assert_eq!((st.errors, st.cancelled, st.active), (0, 0, 0));
}

#[tokio::test]
async fn whole_message_matches_the_stream() {
    let s = spawn(fast()).await;
    let resp = s.messages(&messages("claude-x", false, "same"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let seed = seed_of("same");
    let v: Value = resp.json_body().await;
    assert_eq!(
        v,
        json!({"id":format!("msg_mock_{seed:016x}"),"type":"message","role":"assistant",
            "model":"claude-x","content":[{"type":"text","text":completion_text(seed, 16)}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":prompt_tokens("same"),"output_tokens":16}})
    );
    let streamed = stream(&s, &messages("claude-x", true, "same"), &[]).await;
    assert_eq!(
        deltas(&streamed, 0, "text_delta", "text"),
        str_at(&v, "/content/0/text")
    );
    let st = s.stats().await;
    assert_eq!((st.requests, st.streams_started, st.completed), (2, 1, 2));
}

#[tokio::test]
async fn prompt_reads_strings_and_text_blocks_only() {
    let s = spawn(fast()).await;
    let as_blocks = json!({
        "model": "m", "max_tokens": 50, "system": SYSTEM,
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                {"type": "text", "text": "here"}
            ]},
            {"role": "assistant", "content": "ok"}
        ]
    });
    let v: Value = s.messages(&as_blocks, &[]).await.json_body().await;
    let seed = native_seed(&[&[SYSTEM], &["look", "here"], &["ok"]]);
    assert_eq!(str_at(&v, "/content/0/text"), completion_text(seed, 16));
    assert_eq!(v["usage"]["input_tokens"], (3 + 4) + (2 + 4) + (1 + 4));
}

#[tokio::test]
async fn max_tokens_cuts_with_max_tokens() {
    let s = spawn(fast()).await;
    let mut body = messages("m", true, "hi");
    body["max_tokens"] = json!(5);
    let evs = stream(&s, &body, &[]).await;
    assert_eq!(names(&evs), text_order(5));
    assert_eq!(
        deltas(&evs, 0, "text_delta", "text"),
        completion_text(seed_of("hi"), 5)
    );
    assert_eq!(evs[9].1["delta"]["stop_reason"], "max_tokens");
    assert_eq!(evs[9].1["usage"]["output_tokens"], 5);

    body["stream"] = json!(false);
    let v: Value = s.messages(&body, &[]).await.json_body().await;
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["usage"]["output_tokens"], 5);
    // A cap above the tokens asked for does not cut.
    body["max_tokens"] = json!(16);
    let v: Value = s.messages(&body, &[]).await.json_body().await;
    assert_eq!(v["stop_reason"], "end_turn");
}

#[tokio::test]
async fn bad_requests_get_anthropic_400s() {
    let s = spawn(fast()).await;
    let mut no_max = messages("m", true, "hi");
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let mut bad_max = messages("m", false, "hi");
    bad_max["max_tokens"] = json!("lots");
    let mut no_messages = messages("m", false, "hi");
    no_messages.as_object_mut().unwrap().remove("messages");
    for (body, headers, message) in [
        (no_max.to_string(), &[][..], "max_tokens: Field required"),
        (
            bad_max.to_string(),
            &[],
            "max_tokens: Input should be a valid integer",
        ),
        (no_messages.to_string(), &[], "messages: Field required"),
        (
            messages("m", true, "hi").to_string(),
            &[("x-mock-tokens", "many")],
            "header 'x-mock-tokens' must be an integer from 0 to 1000000 (got \"many\")",
        ),
    ] {
        let resp = s.post_to("/v1/messages", body, headers).await;
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json_body().await;
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"invalid_request_error","message":message}})
        );
    }
    let resp = s.post_to("/v1/messages", "{".into(), &[]).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json_body().await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let st = s.stats().await;
    assert_eq!((st.requests, st.errors), (5, 5));
}

#[tokio::test]
async fn fault_models_answer_in_anthropic_errors() {
    let s = spawn(fast()).await;
    for stream in [true, false] {
        for (model, status, kind, message) in [
            ("mock-500", 500, "api_error", "Internal server error"),
            ("mock-429", 429, "rate_limit_error", "simulated rate limit"),
            ("mock-529", 529, "overloaded_error", "Overloaded"),
        ] {
            let resp = s.messages(&messages(model, stream, "hi"), &[]).await;
            assert_eq!(resp.status(), status, "{model}");
            assert_eq!(resp.headers().contains_key("retry-after"), status == 429);
            let v: Value = resp.json_body().await;
            assert_eq!(
                v,
                json!({"type":"error","error":{"type":kind,"message":message}})
            );
        }
    }
    // Not streaming, the mid-stream error is the overload it reports.
    let resp = s
        .messages(&messages("mock-error-midstream", false, "hi"), &[])
        .await;
    assert_eq!(resp.status(), 529);
    let st = s.stats().await;
    assert_eq!((st.requests, st.errors, st.streams_started), (7, 7, 0));
}

#[tokio::test]
async fn error_midstream_ends_with_an_error_event() {
    let s = spawn(fast()).await;
    let evs = stream(&s, &messages("mock-error-midstream", true, "hi"), &[]).await;
    let mut order = text_order(3);
    order.truncate(6);
    order.push("error");
    assert_eq!(names(&evs), order);
    assert_eq!(
        evs[6].1,
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
    );
    assert_eq!(
        deltas(&evs, 0, "text_delta", "text"),
        completion_text(seed_of("hi"), 3)
    );
    let st = s.wait_for(|st| st.active == 0).await;
    assert_eq!((st.errors, st.completed, st.cancelled), (1, 0, 0));
}

#[tokio::test]
async fn drop_and_stall_cut_the_stream_after_three_deltas() {
    let s = spawn(fast()).await;
    let resp = s.messages(&messages("mock-drop", true, "hi"), &[]).await;
    assert_eq!(resp.status(), 200);
    let (text, failed) = read_until_error(resp).await;
    assert!(failed, "the body ended cleanly: {text}");
    let complete = &text[..text.rfind("\n\n").unwrap() + 2];
    assert_eq!(names(&events(complete)), &text_order(3)[..6]);

    let resp = s.messages(&messages("mock-stall", true, "hi"), &[]).await;
    let text = read_stalled(resp, |t| t.matches("content_block_delta\n").count() == 3).await;
    assert_eq!(names(&events(&text)), &text_order(3)[..6]);
    // The stalled body was dropped by its reader.
    let st = s.wait_for(|st| st.cancelled == 1 && st.active == 0).await;
    assert_eq!((st.errors, st.completed), (1, 0));
}

fn with_tools(mut body: Value) -> Value {
    body["tools"] = json!([
        {"name": "get_weather", "description": "Weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "other", "input_schema": {"type": "object"}}
    ]);
    body
}

#[tokio::test]
async fn mock_tool_calls_the_first_tool() {
    let s = spawn(fast()).await;
    let evs = stream(
        &s,
        &with_tools(messages("mock-tool", true, "weather?")),
        &[("x-mock-tokens", "3")],
    )
    .await;
    let seed = seed_of("weather?");
    let id = format!("toolu_mock_{seed:016x}");
    // The empty fragment, one per token, and the closing one.
    assert_eq!(names(&evs), text_order(1 + 3 + 1));
    assert_eq!(
        evs[1].1,
        json!({"type":"content_block_start","index":0,
            "content_block":{"type":"tool_use","id":id,"name":"get_weather","input":{}}})
    );
    let fragments: Vec<&str> = evs[3..8]
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            str_at(d, "/delta/partial_json")
        })
        .collect();
    assert_eq!(fragments[0], "", "the first fragment is empty");
    let input: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(input, json!({"city": completion_text(seed, 3)}));
    assert_eq!(evs[9].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(evs[9].1["usage"]["output_tokens"], 3);

    let v: Value = s
        .messages(
            &with_tools(messages("mock-tool", false, "weather?")),
            &[("x-mock-tokens", "3")],
        )
        .await
        .json_body()
        .await;
    assert_eq!(
        v["content"],
        json!([{"type":"tool_use","id":id,"name":"get_weather","input":input}])
    );
    assert_eq!(v["stop_reason"], "tool_use");

    // No token: the input is still an object, in one fragment after the empty one.
    let evs = stream(
        &s,
        &with_tools(messages("mock-tool", true, "weather?")),
        &[("x-mock-tokens", "0")],
    )
    .await;
    assert_eq!(
        deltas(&evs, 0, "input_json_delta", "partial_json"),
        r#"{"city": ""}"#
    );
    // Without tools, mock-tool answers text.
    let evs = stream(&s, &messages("mock-tool", true, "weather?"), &[]).await;
    assert_eq!(
        deltas(&evs, 0, "text_delta", "text"),
        completion_text(seed, 16)
    );
}

#[tokio::test]
async fn mock_think_thinks_before_the_text() {
    let s = spawn(fast()).await;
    let mut body = messages("mock-think", true, "think");
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let evs = stream(&s, &body, &[("x-mock-tokens", "4")]).await;
    let mut order = vec!["message_start", "content_block_start", "ping"];
    order.extend(std::iter::repeat_n(
        "content_block_delta",
        THINKING_TOKENS + 1,
    ));
    order.extend(["content_block_stop", "content_block_start"]);
    order.extend(std::iter::repeat_n("content_block_delta", 4));
    order.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&evs), order);
    assert_eq!(
        evs[1].1["content_block"],
        json!({"type":"thinking","thinking":"","signature":""})
    );
    let seed = seed_of("think");
    let thinking = deltas(&evs, 0, "thinking_delta", "thinking");
    assert_eq!(thinking.split(' ').count(), THINKING_TOKENS);
    let signature = deltas(&evs, 0, "signature_delta", "signature");
    assert!(!signature.is_empty());
    assert_eq!(
        evs[3 + THINKING_TOKENS].1["delta"]["type"],
        "signature_delta"
    );
    assert_eq!(
        evs[THINKING_TOKENS + 5].1["content_block"],
        json!({"type":"text","text":""})
    );
    assert_eq!(
        deltas(&evs, 1, "text_delta", "text"),
        completion_text(seed, 4)
    );
    let end = &evs[evs.len() - 2].1;
    assert_eq!(end["usage"]["output_tokens"], THINKING_TOKENS + 4);

    body["stream"] = json!(false);
    let v: Value = s
        .messages(&body, &[("x-mock-tokens", "4")])
        .await
        .json_body()
        .await;
    assert_eq!(
        v["content"],
        json!([{"type":"thinking","thinking":thinking,"signature":signature},
               {"type":"text","text":completion_text(seed, 4)}])
    );
    assert_eq!(v["usage"]["output_tokens"], THINKING_TOKENS + 4);

    // Thinking disabled, or not asked for: text only.
    body["thinking"] = json!({"type": "disabled"});
    let v: Value = s.messages(&body, &[]).await.json_body().await;
    assert_eq!(v["content"].as_array().unwrap().len(), 1);
    body.as_object_mut().unwrap().remove("thinking");
    body["stream"] = json!(true);
    assert_eq!(names(&stream(&s, &body, &[]).await), text_order(16));
}

#[tokio::test]
async fn beta_query_and_methods() {
    let s = spawn(fast()).await;
    let resp = s
        .post_to(
            "/v1/messages?beta=true",
            messages("m", true, "hi").to_string(),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(names(&events(&resp.text().await.unwrap())), text_order(16));
    let resp = s.get("/v1/messages").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let resp = s.post_to("/v1/messages/batches", "{}".into(), &[]).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn timing_headers_apply() {
    let s = spawn(fast()).await;
    let started = std::time::Instant::now();
    let headers = [
        ("x-mock-ttft-ms", "100"),
        ("x-mock-itl-ms", "20"),
        ("x-mock-tokens", "4"),
    ];
    let mut resp = s.messages(&messages("m", true, "hi"), &headers).await;
    resp.chunk().await.unwrap().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(100));
    let (rest, failed) = read_until_error(resp).await;
    assert!(
        !failed && rest.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(100 + 3 * 20));
}

#[tokio::test]
async fn count_tokens_counts_the_prompt_as_the_answer_would() {
    let s = spawn(fast()).await;
    let mut body = messages("claude-x", false, "one two three");
    body.as_object_mut().unwrap().remove("max_tokens");
    let counted: Value = s
        .post_to("/v1/messages/count_tokens", body.to_string(), &[])
        .await
        .json_body()
        .await;
    assert_eq!(
        counted,
        json!({"input_tokens": prompt_tokens("one two three")})
    );
    let refused = s
        .post_to("/v1/messages/count_tokens", r#"{"model":"m"}"#.into(), &[])
        .await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json_body().await;
    assert_eq!(error["error"]["type"], "invalid_request_error");
}
