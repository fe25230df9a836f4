//! Sluice's own translators (`sluice-native`) read the mock's Anthropic and Gemini answers,
//! streamed over loopback HTTP and whole, to the generator's text: the mock speaks the wire
//! formats the gateway's native providers expect.

mod common;

use common::{fast, native_seed, spawn, str_at, Server};
use serde_json::{json, Value};
use sluice_mock::completion_text;
use sluice_native::anthropic::AnthropicStream;
use sluice_native::gemini::GeminiStream;
use sluice_native::{ChunkMeta, Chunks, NativeStream, Step};
use sluice_sse::{Decoder, Frame};

fn meta() -> ChunkMeta {
    ChunkMeta {
        id: "chatcmpl-gateway".into(),
        model: "asked".into(),
        created: 1_760_000_000,
    }
}

/// What the chat-completion chunks of a translated stream add up to.
#[derive(Debug, Default)]
struct Answer {
    content: String,
    reasoning: String,
    arguments: String,
    tool_name: String,
    finish: Value,
    usage: Value,
    /// The error the stream ended with, in OpenAI's shape.
    error: Option<Value>,
    done: bool,
}

impl Answer {
    fn add(&mut self, chunk: &[u8]) {
        let chunk: Value = serde_json::from_slice(chunk).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        let Some(choice) = chunk["choices"].get(0) else {
            self.usage = chunk["usage"].clone();
            return;
        };
        let delta = &choice["delta"];
        self.content.push_str(str_at(delta, "/content"));
        self.reasoning.push_str(str_at(delta, "/reasoning_content"));
        self.tool_name
            .push_str(str_at(delta, "/tool_calls/0/function/name"));
        self.arguments
            .push_str(str_at(delta, "/tool_calls/0/function/arguments"));
        if !choice["finish_reason"].is_null() {
            self.finish = choice["finish_reason"].clone();
        }
    }
}

/// Streams `body` from `path` and translates it as the gateway would, event by event as the
/// bytes arrive.
async fn translate(
    s: &Server,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
    mut translator: impl NativeStream,
) -> Answer {
    let mut resp = s.post_to(path, body.to_string(), headers).await;
    assert_eq!(resp.status(), 200);
    let (mut decoder, mut out, mut answer) = (Decoder::new(), Chunks::new(), Answer::default());
    let mut step =
        |event: sluice_sse::Event, answer: &mut Answer, out: &mut Chunks| match translator
            .event(event.event.as_deref(), &event.data, out)
            .unwrap()
        {
            Step::Continue | Step::Alive => {}
            Step::Done => answer.done = true,
            Step::Error(error) => answer.error = Some(error.to_json()["error"].clone()),
        };
    while let Some(bytes) = resp.chunk().await.unwrap() {
        decoder.push(&bytes);
        while let Some(frame) = decoder.next_frame().unwrap() {
            if let Frame::Event(event) = frame {
                step(event, &mut answer, &mut out);
            }
        }
    }
    if let Some(event) = decoder.finish() {
        step(event, &mut answer, &mut out);
    }
    if answer.error.is_none() {
        translator.finish(&mut out).unwrap();
        answer.done = true;
    }
    for chunk in out.iter() {
        answer.add(chunk);
    }
    answer
}

fn anthropic(model: &str, stream: bool, text: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": text}]})
}

fn gemini(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// `usage`'s prompt, completion and total tokens (the translators add details beside them).
fn counts(usage: &Value) -> [u64; 3] {
    ["prompt_tokens", "completion_tokens", "total_tokens"].map(|k| usage[k].as_u64().unwrap())
}

#[tokio::test]
async fn anthropic_streams_translate_to_the_generated_text() {
    let s = spawn(fast()).await;
    let seed = native_seed(&[&["hello"]]);
    let path = "/v1/messages";
    let a = translate(
        &s,
        path,
        &anthropic("m", true, "hello"),
        &[("x-mock-tokens", "40")],
        AnthropicStream::new(meta()),
    )
    .await;
    assert_eq!(a.content, completion_text(seed, 40));
    assert_eq!((a.finish.as_str(), a.done), (Some("stop"), true));
    assert_eq!(counts(&a.usage), [5, 40, 45]);

    let mut capped = anthropic("m", true, "hello");
    capped["max_tokens"] = json!(7);
    let a = translate(&s, path, &capped, &[], AnthropicStream::new(meta())).await;
    assert_eq!(a.content, completion_text(seed, 7));
    assert_eq!(a.finish, "length");

    let mut think = anthropic("mock-think", true, "hello");
    think["thinking"] = json!({"type": "adaptive"});
    let a = translate(&s, path, &think, &[], AnthropicStream::new(meta())).await;
    assert_eq!(a.content, completion_text(seed, 16));
    assert_eq!(a.reasoning.split(' ').count(), sluice_mock::THINKING_TOKENS);

    let mut tool = anthropic("mock-tool", true, "hello");
    tool["tools"] = json!([{"name": "lookup", "input_schema": {"properties": {"q": {}}}}]);
    let a = translate(
        &s,
        path,
        &tool,
        &[("x-mock-tokens", "5")],
        AnthropicStream::new(meta()),
    )
    .await;
    assert_eq!(a.tool_name, "lookup");
    let arguments: Value = serde_json::from_str(&a.arguments).unwrap();
    assert_eq!(arguments, json!({"q": completion_text(seed, 5)}));
    assert_eq!(a.finish, "tool_calls");

    let a = translate(
        &s,
        path,
        &anthropic("mock-error-midstream", true, "hello"),
        &[],
        AnthropicStream::new(meta()),
    )
    .await;
    assert_eq!(a.content, completion_text(seed, 3));
    let error = a.error.expect("an error event");
    assert_eq!(error["type"], "overloaded_error");
    assert_eq!(error["message"], "Overloaded");
    assert!(a.finish.is_null() && a.usage.is_null());
}

#[tokio::test]
async fn gemini_streams_translate_to_the_generated_text() {
    let s = spawn(fast()).await;
    let seed = native_seed(&[&["hello"]]);
    let stream = |model: &str| format!("/v1beta/models/{model}:streamGenerateContent?alt=sse");
    let a = translate(
        &s,
        &stream("m"),
        &gemini("hello"),
        &[("x-mock-tokens", "41")],
        GeminiStream::new(meta()),
    )
    .await;
    assert_eq!(a.content, completion_text(seed, 41));
    assert_eq!((a.finish.as_str(), a.done), (Some("stop"), true));
    assert_eq!(counts(&a.usage), [5, 41, 46]);

    let mut capped = gemini("hello");
    capped["generationConfig"] = json!({"maxOutputTokens": 6});
    let a = translate(&s, &stream("m"), &capped, &[], GeminiStream::new(meta())).await;
    assert_eq!(a.content, completion_text(seed, 6));
    assert_eq!(a.finish, "length");

    let mut think = gemini("hello");
    think["generationConfig"] = json!({"thinkingConfig": {"includeThoughts": true}});
    let a = translate(
        &s,
        &stream("mock-think"),
        &think,
        &[],
        GeminiStream::new(meta()),
    )
    .await;
    assert_eq!(a.content, completion_text(seed, 16));
    assert_eq!(a.reasoning.split(' ').count(), sluice_mock::THINKING_TOKENS);
    let thinking = sluice_mock::THINKING_TOKENS as u64;
    assert_eq!(a.usage["completion_tokens"], 16 + thinking);

    let mut tool = gemini("hello");
    tool["tools"] = json!([{"functionDeclarations": [{"name": "lookup"}]}]);
    let a = translate(
        &s,
        &stream("mock-tool"),
        &tool,
        &[("x-mock-tokens", "5")],
        GeminiStream::new(meta()),
    )
    .await;
    assert_eq!(a.tool_name, "lookup");
    let arguments: Value = serde_json::from_str(&a.arguments).unwrap();
    assert_eq!(arguments, json!({"input": completion_text(seed, 5)}));
    assert_eq!(a.finish, "tool_calls");

    let a = translate(
        &s,
        &stream("mock-error-midstream"),
        &gemini("hello"),
        &[],
        GeminiStream::new(meta()),
    )
    .await;
    assert_eq!(a.content, completion_text(seed, 4));
    let error = a.error.expect("an error object");
    assert_eq!(
        (error["code"].as_u64(), error["status"].as_str()),
        (Some(503), Some("UNAVAILABLE"))
    );
    assert!(a.finish.is_null() && a.usage.is_null());
}

#[tokio::test]
async fn whole_answers_translate_to_the_generated_text() {
    let s = spawn(fast()).await;
    let seed = native_seed(&[&["hello"]]);
    let body = s
        .post_to(
            "/v1/messages",
            anthropic("m", false, "hello").to_string(),
            &[],
        )
        .await
        .bytes()
        .await
        .unwrap();
    let completion = sluice_native::anthropic::response(&body, &meta()).unwrap();
    let v: Value = serde_json::from_slice(&completion.body).unwrap();
    assert_eq!(
        str_at(&v, "/choices/0/message/content"),
        completion_text(seed, 16)
    );
    assert_eq!(counts(&v["usage"]), [5, 16, 21]);

    let body = s
        .post_to(
            "/v1beta/models/m:generateContent",
            gemini("hello").to_string(),
            &[],
        )
        .await
        .bytes()
        .await
        .unwrap();
    let completion = sluice_native::gemini::response(&body, &meta()).unwrap();
    let v: Value = serde_json::from_slice(&completion.body).unwrap();
    assert_eq!(
        str_at(&v, "/choices/0/message/content"),
        completion_text(seed, 16)
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(counts(&v["usage"]), [5, 16, 21]);
}
