//! The Gemini API of the mock over loopback HTTP: events and their grouping, the generator's
//! text, cumulative usage, `maxOutputTokens`, the fault models, function calls and thoughts.

mod common;

use common::{fast, native_seed, read_stalled, read_until_error, spawn, str_at, JsonBody, Server};
use serde_json::{json, Value};
use sluice_mock::gemini::TOKENS_PER_EVENT;
use sluice_mock::{completion_text, THINKING_TOKENS};

const SYSTEM: &str = "You are terse.";

fn request(text: &str) -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "contents": [{"role": "user", "parts": [{"text": text}]}]
    })
}

fn seed_of(text: &str) -> u64 {
    native_seed(&[&[SYSTEM], &[text]])
}

fn prompt_tokens(text: &str) -> u64 {
    (3 + 4) + (text.split_whitespace().count() as u64 + 4)
}

impl Server {
    async fn stream(
        &self,
        model: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let path = format!("/v1beta/models/{model}:streamGenerateContent?alt=sse");
        self.post_to(&path, body.to_string(), headers).await
    }

    async fn generate(
        &self,
        model: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let path = format!("/v1beta/models/{model}:generateContent");
        self.post_to(&path, body.to_string(), headers).await
    }
}

/// The `data:` payloads of a Gemini SSE body, checking its CRLF framing.
fn events(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "unterminated body: {body:?}");
    body.split_terminator("\r\n\r\n")
        .map(|event| {
            let data = event.strip_prefix("data: ").expect("a data line");
            assert!(!data.contains(['\r', '\n']));
            assert!(data.contains(r#"{"candidates": [{"#) || data.starts_with(r#"{"error": "#));
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

/// The events of a whole stream.
async fn read(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    events(&resp.text().await.unwrap())
}

/// The text of the events' non-thought parts, and of their thought parts.
fn texts(events: &[Value]) -> (String, String) {
    let (mut text, mut thoughts) = (String::new(), String::new());
    for part in events
        .iter()
        .flat_map(|e| e["candidates"][0]["content"]["parts"].as_array().unwrap())
    {
        let to = if part["thought"] == true {
            &mut thoughts
        } else {
            &mut text
        };
        to.push_str(str_at(part, "/text"));
    }
    (text, thoughts)
}

#[tokio::test]
async fn stream_groups_tokens_with_cumulative_usage() {
    let s = spawn(fast()).await;
    let resp = s
        .stream("gemini-x", &request("one two"), &[("x-mock-tokens", "10")])
        .await;
    let evs = read(resp).await;
    assert_eq!(evs.len(), 10usize.div_ceil(TOKENS_PER_EVENT));
    let seed = seed_of("one two");
    let prompt = prompt_tokens("one two");
    let mut sent = 0;
    for (n, event) in evs.iter().enumerate() {
        let last = n + 1 == evs.len();
        let text = str_at(event, "/candidates/0/content/parts/0/text");
        sent += text.split(' ').filter(|w| !w.is_empty()).count();
        let mut candidate = json!({"content":{"parts":[{"text":text}],"role":"model"},"index":0});
        if last {
            candidate["finishReason"] = "STOP".into();
        }
        assert_eq!(
            *event,
            json!({"candidates":[candidate],
                "usageMetadata":{"promptTokenCount":prompt,"candidatesTokenCount":sent,
                    "totalTokenCount":prompt + sent as u64},
                "modelVersion":"gemini-x","responseId":format!("mock{seed:016x}")})
        );
    }
    assert_eq!(sent, 10);
    assert_eq!(texts(&evs).0, completion_text(seed, 10));
    let st = s.stats().await;
    assert_eq!(
        (st.requests, st.streams_started, st.completed, st.active),
        (1, 1, 1, 0)
    );
}

#[tokio::test]
async fn whole_answer_matches_the_stream() {
    let s = spawn(fast()).await;
    let resp = s.generate("gemini-x", &request("same"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let raw = resp.text().await.unwrap();
    assert!(
        raw.starts_with("{\n  \"candidates\": ["),
        "pretty-printed as Google does: {raw}"
    );
    let v: Value = serde_json::from_str(&raw).unwrap();
    let seed = seed_of("same");
    let prompt = prompt_tokens("same");
    assert_eq!(
        v,
        json!({"candidates":[{"content":{"parts":[{"text":completion_text(seed, 16)}],"role":"model"},
                "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":prompt,"candidatesTokenCount":16,
                "totalTokenCount":prompt + 16},
            "modelVersion":"gemini-x","responseId":format!("mock{seed:016x}")})
    );
    let streamed = read(s.stream("gemini-x", &request("same"), &[]).await).await;
    assert_eq!(
        texts(&streamed).0,
        str_at(&v, "/candidates/0/content/parts/0/text")
    );
}

#[tokio::test]
async fn same_prompt_same_text_as_anthropic() {
    let s = spawn(fast()).await;
    let gemini: Value = s
        .generate("m", &request("hello there"), &[])
        .await
        .json_body()
        .await;
    let anthropic = json!({"model": "m", "max_tokens": 100, "system": SYSTEM,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]});
    let anthropic: Value = s
        .post_to("/v1/messages", anthropic.to_string(), &[])
        .await
        .json_body()
        .await;
    assert_eq!(
        str_at(&gemini, "/candidates/0/content/parts/0/text"),
        str_at(&anthropic, "/content/0/text")
    );
    assert_eq!(
        gemini["usageMetadata"]["promptTokenCount"],
        anthropic["usage"]["input_tokens"]
    );
}

#[tokio::test]
async fn max_output_tokens_cuts_with_max_tokens() {
    let s = spawn(fast()).await;
    let mut body = request("hi");
    body["generationConfig"] = json!({"maxOutputTokens": 5, "temperature": 0.2});
    let evs = read(s.stream("m", &body, &[]).await).await;
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1]["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(evs[1]["usageMetadata"]["candidatesTokenCount"], 5);
    assert_eq!(texts(&evs).0, completion_text(seed_of("hi"), 5));

    // snake_case, as Google also takes it.
    let body = json!({"system_instruction": {"parts": [{"text": SYSTEM}]},
        "contents": [{"parts": [{"text": "hi"}]}],
        "generation_config": {"max_output_tokens": 3}});
    let v: Value = s.generate("m", &body, &[]).await.json_body().await;
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(
        str_at(&v, "/candidates/0/content/parts/0/text"),
        completion_text(seed_of("hi"), 3)
    );
}

#[tokio::test]
async fn bad_requests_get_google_400s() {
    let s = spawn(fast()).await;
    let no_sse = s
        .post_to(
            "/v1beta/models/m:streamGenerateContent",
            request("hi").to_string(),
            &[],
        )
        .await;
    let no_contents = s.generate("m", &json!({"generationConfig": {}}), &[]).await;
    let bad_header = s
        .stream("m", &request("hi"), &[("x-mock-ttft-ms", "-1")])
        .await;
    let not_json = s
        .post_to("/v1beta/models/m:generateContent", "{".into(), &[])
        .await;
    for resp in [no_sse, no_contents, bad_header, not_json] {
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json_body().await;
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        assert!(!str_at(&v, "/error/message").is_empty());
        assert_eq!(v["error"].as_object().unwrap().len(), 3);
    }
    let st = s.stats().await;
    assert_eq!((st.requests, st.errors), (4, 4));
}

#[tokio::test]
async fn fault_models_answer_in_google_errors() {
    let s = spawn(fast()).await;
    for stream in [true, false] {
        for (model, status, google) in [
            ("mock-500", 500, "INTERNAL"),
            ("mock-429", 429, "RESOURCE_EXHAUSTED"),
            ("mock-529", 503, "UNAVAILABLE"),
        ] {
            let resp = if stream {
                s.stream(model, &request("hi"), &[]).await
            } else {
                s.generate(model, &request("hi"), &[]).await
            };
            assert_eq!(resp.status(), status, "{model}");
            let v: Value = resp.json_body().await;
            assert_eq!(v["error"]["code"], status);
            assert_eq!(v["error"]["status"], google);
        }
    }
    let resp = s
        .generate("mock-error-midstream", &request("hi"), &[])
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(s.stats().await.errors, 7);
}

#[tokio::test]
async fn error_midstream_drop_and_stall() {
    let s = spawn(fast()).await;
    let evs = read(s.stream("mock-error-midstream", &request("hi"), &[]).await).await;
    assert_eq!(evs.len(), 2);
    assert!(evs[0]["candidates"][0].get("finishReason").is_none());
    assert_eq!(
        evs[1],
        json!({"error":{"code":503,"message":"The model is overloaded. Please try again later.",
            "status":"UNAVAILABLE"}})
    );

    let (text, failed) = read_until_error(s.stream("mock-drop", &request("hi"), &[]).await).await;
    assert!(failed, "the body ended cleanly: {text}");
    assert!(!text.contains("finishReason"));
    assert_eq!(
        texts(&events(&text)).0,
        completion_text(seed_of("hi"), TOKENS_PER_EVENT)
    );

    // Fewer tokens than one event: all of them, but never the finish.
    let resp = s
        .stream("mock-stall", &request("hi"), &[("x-mock-tokens", "2")])
        .await;
    let text = read_stalled(resp, |t| t.ends_with("\r\n\r\n")).await;
    assert!(!text.contains("finishReason"));
    assert_eq!(texts(&events(&text)).0, completion_text(seed_of("hi"), 2));
    let st = s.wait_for(|st| st.active == 0).await;
    assert_eq!((st.errors, st.cancelled, st.completed), (2, 1, 0));
}

fn with_tools(mut body: Value) -> Value {
    body["tools"] = json!([{"functionDeclarations": [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}}}},
        {"name": "other"}
    ]}]);
    body
}

#[tokio::test]
async fn mock_tool_makes_a_function_call() {
    let s = spawn(fast()).await;
    let body = with_tools(request("weather?"));
    let evs = read(
        s.stream("mock-tool", &body, &[("x-mock-tokens", "6")])
            .await,
    )
    .await;
    let args = json!({"city": completion_text(seed_of("weather?"), 6)});
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0]["candidates"][0],
        json!({"content":{"parts":[{"functionCall":{"name":"get_weather","args":args}}],
            "role":"model"},"finishReason":"STOP","index":0})
    );
    assert_eq!(evs[0]["usageMetadata"]["candidatesTokenCount"], 6);

    let v: Value = s
        .generate("mock-tool", &body, &[("x-mock-tokens", "6")])
        .await
        .json_body()
        .await;
    assert_eq!(v["candidates"][0], evs[0]["candidates"][0]);
    // No argument words: still one call.
    let evs = read(
        s.stream("mock-tool", &body, &[("x-mock-tokens", "0")])
            .await,
    )
    .await;
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
        json!({"city": ""})
    );
    // No tools: text.
    let evs = read(s.stream("mock-tool", &request("weather?"), &[]).await).await;
    assert_eq!(texts(&evs).0, completion_text(seed_of("weather?"), 16));
}

#[tokio::test]
async fn mock_think_sends_thoughts_first() {
    let s = spawn(fast()).await;
    let mut body = request("think");
    body["generationConfig"] = json!({"thinkingConfig": {"includeThoughts": true}});
    let evs = read(
        s.stream("mock-think", &body, &[("x-mock-tokens", "4")])
            .await,
    )
    .await;
    let thought_events = THINKING_TOKENS.div_ceil(TOKENS_PER_EVENT);
    assert_eq!(evs.len(), thought_events + 1);
    for event in &evs[..thought_events] {
        assert_eq!(
            event["candidates"][0]["content"]["parts"][0]["thought"],
            true
        );
        assert_eq!(event["usageMetadata"]["candidatesTokenCount"], 0);
    }
    let (text, thoughts) = texts(&evs);
    assert_eq!(text, completion_text(seed_of("think"), 4));
    assert_eq!(thoughts.split(' ').count(), THINKING_TOKENS);
    let prompt = prompt_tokens("think");
    let thinking = THINKING_TOKENS as u64;
    assert_eq!(
        evs[thought_events]["usageMetadata"],
        json!({"promptTokenCount":prompt,"candidatesTokenCount":4,
            "totalTokenCount":prompt + thinking + 4,"thoughtsTokenCount":thinking})
    );

    let v: Value = s
        .generate("mock-think", &body, &[("x-mock-tokens", "4")])
        .await
        .json_body()
        .await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"],
        json!([{"text": thoughts, "thought": true}, {"text": text}])
    );
    assert_eq!(v["usageMetadata"], evs[thought_events]["usageMetadata"]);
    // Without includeThoughts: text only.
    let evs = read(s.stream("mock-think", &request("think"), &[]).await).await;
    assert_eq!(texts(&evs).1, "");
}

#[tokio::test]
async fn routes() {
    let s = spawn(fast()).await;
    for path in [
        "/v1beta/models/m:countTokens",
        "/v1beta/models/:generateContent",
        "/v1beta/models/a/b:generateContent",
        "/v1/models/m:generateContent",
        "/v1beta/models/m",
    ] {
        let resp = s.post_to(path, request("hi").to_string(), &[]).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = s.get("/v1beta/models/m:generateContent").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    // Other query parameters beside alt=sse are fine.
    let resp = s
        .post_to(
            "/v1beta/models/m:streamGenerateContent?key=k&alt=sse",
            request("hi").to_string(),
            &[],
        )
        .await;
    assert_eq!(read(resp).await.len(), 4);
    assert_eq!(s.stats().await.requests, 1);
}

#[tokio::test]
async fn events_are_spaced_by_itl_per_token() {
    let s = spawn(fast()).await;
    let started = std::time::Instant::now();
    let headers = [
        ("x-mock-ttft-ms", "100"),
        ("x-mock-itl-ms", "20"),
        ("x-mock-tokens", "9"),
    ];
    let mut resp = s.stream("m", &request("hi"), &headers).await;
    resp.chunk().await.unwrap().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(100));
    let (_, failed) = read_until_error(resp).await;
    assert!(!failed);
    // The ninth token's event is due 8 itl after the first.
    assert!(started.elapsed() >= std::time::Duration::from_millis(100 + 8 * 20));
}
