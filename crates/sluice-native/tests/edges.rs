//! The translators at their edges: streams that start late, end early, carry what OpenAI has
//! no field for, or grow past their bounds; and whole answers.

mod common;

use common::{assemble, meta, translator, Kind};
use serde_json::{json, Value};
use sluice_native::anthropic::{self, AnthropicStream};
use sluice_native::gemini::{self, GeminiStream};
use sluice_native::{Chunks, NativeStream, ResponseError, Step, MAX_BLOCKS};

/// Feeds Anthropic events (as JSON) and returns the chunks and the last step.
fn feed(tr: &mut dyn NativeStream, events: &[Value]) -> (Vec<Vec<u8>>, Step) {
    let mut out = Chunks::new();
    let mut step = Step::Continue;
    for ev in events {
        step = tr
            .event(None, ev.to_string().as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    (out.iter().map(<[u8]>::to_vec).collect(), step)
}

fn parse(chunk: &[u8]) -> Value {
    serde_json::from_slice(chunk).unwrap()
}

#[test]
fn deltas_before_message_start_get_the_callers_envelope() {
    let mut tr = AnthropicStream::new(meta());
    let (chunks, _) = feed(
        &mut tr,
        &[json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "hi"}})],
    );
    assert_eq!(chunks.len(), 2);
    let first = parse(&chunks[0]);
    assert_eq!(first["id"], "chatcmpl-gateway-1");
    assert_eq!(first["model"], "asked-model");
    assert_eq!(first["created"], 1_760_000_000);
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(parse(&chunks[1])["choices"][0]["delta"]["content"], "hi");
}

#[test]
fn redacted_thinking_is_carried_opaque() {
    let mut tr = AnthropicStream::new(meta());
    let (chunks, _) = feed(
        &mut tr,
        &[
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block":
                {"type": "thinking", "thinking": "Whole.", "signature": "EqQB"}}),
        ],
    );
    let delta = &parse(&chunks[1])["choices"][0]["delta"];
    assert_eq!(delta, &json!({"reasoning_redacted": "EmwKAhgBEgy3va3pzix"}));
    let answer = assemble(&chunks);
    assert_eq!(
        (&answer["reasoning"], &answer["reasoning_signature"]),
        (&json!("Whole."), &json!("EqQB"))
    );
    assert!(!sluice_openai::inspect(&chunks[1]).unwrap().content);
}

#[test]
fn an_anthropic_stream_cut_short_fails_unless_it_had_its_stop_reason() {
    let start = json!({"type": "message_start", "message": {"id": "msg_1", "model": "c",
        "usage": {"input_tokens": 5, "output_tokens": 1}}});
    let text = json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "text_delta", "text": "par"}});
    let mut tr = AnthropicStream::new(meta());
    feed(&mut tr, &[start.clone(), text.clone()]);
    let mut out = Chunks::new();
    assert!(tr.finish(&mut out).is_err());
    assert!(out.is_empty());
    // What was read still bills the prompt.
    assert_eq!(tr.usage().map(|u| u.prompt_tokens), Some(5));

    let mut tr = AnthropicStream::new(meta());
    let stop = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 2}});
    feed(&mut tr, &[start, text, stop]);
    tr.finish(&mut out).unwrap();
    let usage = parse(out.get(0).unwrap());
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 2);
}

#[test]
fn after_its_end_a_stream_ignores_what_follows() {
    for last in [
        json!({"type": "message_stop"}),
        json!({"type": "error", "error": {"type": "api_error", "message": "boom"}}),
    ] {
        let mut tr = AnthropicStream::new(meta());
        let (_, step) = feed(&mut tr, &[last]);
        assert!(matches!(step, Step::Done | Step::Error(_)), "{step:?}");
        let (chunks, step) = feed(
            &mut tr,
            &[json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "late"}})],
        );
        assert!(chunks.is_empty());
        assert_eq!(step, Step::Continue);
        assert!(tr.finish(&mut Chunks::new()).is_ok());
    }
}

#[test]
fn an_error_event_that_is_not_json_is_still_an_error() {
    let mut tr = AnthropicStream::new(meta());
    let step = tr
        .event(
            Some(b"error"),
            b"upstream connect error",
            &mut Chunks::new(),
        )
        .unwrap();
    let Step::Error(body) = step else {
        panic!("{step:?}")
    };
    assert_eq!(body.message, "upstream connect error");
}

#[test]
fn malformed_events_are_protocol_errors_and_unknown_ones_pass() {
    let mut out = Chunks::new();
    for kind in [Kind::Anthropic, Kind::Gemini] {
        let mut tr = translator(kind);
        assert!(tr.event(None, b"{not json", &mut out).is_err());
    }
    let mut tr = AnthropicStream::new(meta());
    let (chunks, step) = feed(&mut tr, &[json!({"type": "future_event", "x": 1})]);
    assert!(chunks.is_empty() && step == Step::Continue);
    // Arguments for a block that is no tool.
    let bad = json!({"type": "content_block_delta", "index": 7,
        "delta": {"type": "input_json_delta", "partial_json": "{}"}});
    assert!(tr
        .event(None, bad.to_string().as_bytes(), &mut out)
        .is_err());
}

#[test]
fn an_unreadable_usage_is_not_reported() {
    let mut tr = AnthropicStream::new(meta());
    let (chunks, _) = feed(
        &mut tr,
        &[
            json!({"type": "message_start", "message": {"id": "m", "model": "c",
                "usage": {"input_tokens": 5.5, "output_tokens": 1}}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
            json!({"type": "message_stop"}),
        ],
    );
    assert_eq!(tr.usage(), None);
    let answer = assemble(&chunks);
    assert_eq!(answer["usage"], Value::Null);
    assert_eq!(answer["finish_reason"], "stop");
}

#[test]
fn a_stream_cannot_grow_past_its_bound() {
    let mut tr = AnthropicStream::new(meta());
    let mut out = Chunks::new();
    let mut refused = false;
    for i in 0..=MAX_BLOCKS {
        let ev = json!({"type": "content_block_start", "index": i,
            "content_block": {"type": "text", "text": ""}});
        let stop = json!({"type": "content_block_stop", "index": i});
        out.clear();
        refused |= tr.event(None, ev.to_string().as_bytes(), &mut out).is_err();
        tr.event(None, stop.to_string().as_bytes(), &mut out)
            .unwrap();
    }
    assert!(refused);

    let mut tr = GeminiStream::new(meta());
    let calls: Vec<Value> = (0..=MAX_BLOCKS)
        .map(|_| json!({"functionCall": {"name": "f"}}))
        .collect();
    let chunk = json!({"candidates": [{"content": {"parts": calls}, "index": 0}]});
    assert!(tr
        .event(None, chunk.to_string().as_bytes(), &mut out)
        .is_err());
}

#[test]
fn a_gemini_stream_without_a_finish_reason_is_cut_short() {
    let mut tr = GeminiStream::new(meta());
    let chunk = json!({"candidates": [{"content": {"parts": [{"text": "par"}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}});
    let (chunks, _) = feed(&mut tr, &[chunk]);
    assert_eq!(chunks.len(), 2);
    assert!(tr.finish(&mut Chunks::new()).is_err());
    assert_eq!(tr.usage().map(|u| u.prompt_tokens), Some(3));
}

#[test]
fn a_whole_anthropic_answer_is_one_completion() {
    let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Think.", "signature": "EqQB"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 0, "output_tokens": 20}});
    let done = anthropic::response(body.to_string().as_bytes(), &meta()).unwrap();
    let got: Value = serde_json::from_slice(&done.body).unwrap();
    assert_eq!(
        got,
        json!({"id": "msg_1", "object": "chat.completion", "created": 1_760_000_000,
            "model": "claude-x", "choices": [{"index": 0, "message": {
                "role": "assistant", "content": "Let me check.",
                "reasoning_content": "Think.", "reasoning_signature": "EqQB",
                "tool_calls": [
                    {"id": "toolu_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function",
                        "function": {"name": "now", "arguments": "{}"}}],
                "refusal": null},
            "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 15, "completion_tokens": 20, "total_tokens": 35,
                "prompt_tokens_details": {"cached_tokens": 5, "cache_creation_tokens": 0}}})
    );
    let summary = sluice_openai::inspect(&done.body).unwrap();
    assert_eq!(summary.usage.map(|u| u.total_tokens), Some(35));
    assert_eq!(done.usage.map(|u| u.cached_tokens), Some(5));

    let err =
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}});
    match anthropic::response(err.to_string().as_bytes(), &meta()) {
        Err(ResponseError::Provider(body)) => assert_eq!(body.status_hint(), Some(429)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        anthropic::response(b"<html>", &meta()),
        Err(ResponseError::Protocol(_))
    ));
}

#[test]
fn a_whole_gemini_answer_is_one_completion() {
    let body = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Plan.", "thought": true},
            {"text": "It is "},
            {"text": "sunny.", "thoughtSignature": "CiQB"},
            {"functionCall": {"name": "log", "args": {"n": 1}}, "thoughtSignature": "CikB"}]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 9,
            "thoughtsTokenCount": 4, "totalTokenCount": 20},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"});
    let done = gemini::response(body.to_string().as_bytes(), &meta()).unwrap();
    let got: Value = serde_json::from_slice(&done.body).unwrap();
    assert_eq!(
        got["choices"][0],
        json!({"index": 0, "message": {"role": "assistant", "content": "It is sunny.",
            "reasoning_content": "Plan.", "reasoning_signature": "CiQB",
            "tool_calls": [{"id": "call_0", "type": "function",
                "function": {"name": "log", "arguments": "{\"n\":1}"},
                "extra_content": {"google": {"thought_signature": "CikB"}}}],
            "refusal": null},
            "logprobs": null, "finish_reason": "tool_calls"})
    );
    assert_eq!(
        (got["id"].clone(), got["model"].clone()),
        (json!("resp-1"), json!("gemini-2.5-flash"))
    );
    assert_eq!(got["usage"]["completion_tokens"], 13);
    assert_eq!(
        got["usage"]["completion_tokens_details"]["reasoning_tokens"],
        4
    );

    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7}});
    let done = gemini::response(blocked.to_string().as_bytes(), &meta()).unwrap();
    let got: Value = serde_json::from_slice(&done.body).unwrap();
    assert_eq!(got["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(got["choices"][0]["message"]["content"], Value::Null);

    let err = json!({"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}});
    match gemini::response(err.to_string().as_bytes(), &meta()) {
        Err(ResponseError::Provider(body)) => assert_eq!(body.status_hint(), Some(429)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_compact_text_delta_reads_as_a_spaced_one() {
    let start = json!({"type": "message_start", "message": {"id": "msg_1", "model": "c"}});
    let text = r#""caf\u00e9 \"☕\"\n""#;
    let compact = format!(
        r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{text}}}}}"#
    );
    let spaced = format!(
        r#"{{"type": "content_block_delta", "index": 0, "delta": {{"type": "text_delta", "text": {text}}}}}"#
    );
    let mut chunks = Vec::new();
    for data in [compact, spaced] {
        let mut tr = AnthropicStream::new(meta());
        let (_, _) = feed(&mut tr, std::slice::from_ref(&start));
        let mut out = Chunks::new();
        tr.event(None, data.as_bytes(), &mut out).unwrap();
        chunks.push(out.get(0).unwrap().to_vec());
    }
    assert_eq!(chunks[0], chunks[1]);
    assert_eq!(
        parse(&chunks[0])["choices"][0]["delta"]["content"],
        "café \"☕\"\n"
    );
}
