//! `/v1/messages` streams written by `MessagesEncoder`: every recorded OpenAI stream
//! (`fixtures/sse/`) and every native Anthropic stream (translated by `AnthropicStream` first)
//! replayed through it, whole, cut short and failed; each result read back the way an
//! Anthropic client accumulates it, checking Anthropic's event order on the way.

mod common;

use std::path::Path;

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{json, Value};
use sluice_native::inbound::messages::MessagesEncoder;
use sluice_openai::chunk::inspect;
use sluice_openai::{ClientEncoder, ErrorBody, Merge, Usage};
use sluice_sse::{Decoder, Frame};

/// What an Anthropic client reads from a stream.
#[derive(Debug, Default)]
struct Message {
    id: String,
    model: String,
    text: String,
    thinking: String,
    signature: String,
    redacted: Vec<String>,
    /// (id, name, input JSON text).
    tools: Vec<(String, String, String)>,
    stop_reason: Option<String>,
    usage: Option<Value>,
    error: Option<Value>,
    stopped: bool,
}

/// Reads a Messages event stream, asserting Anthropic's event order: `message_start` first
/// (unless the stream is only an error), blocks one at a time from index 0, each
/// start → deltas of its kind → stop; then `message_delta` and `message_stop` last, or an
/// `error` last with no `message_stop`; every `event:` equal to its data's `type`.
fn read(sse: &[u8]) -> Message {
    let mut dec = Decoder::new();
    dec.push(sse);
    let mut events = Vec::new();
    while let Some(frame) = dec.next_frame().unwrap() {
        if let Frame::Event(ev) = frame {
            let data: Value = serde_json::from_slice(&ev.data).expect("data is JSON");
            let name = String::from_utf8(ev.event_type().to_vec()).unwrap();
            assert_eq!(data["type"], name.as_str(), "event: equals the data's type");
            events.push((name, data));
        }
    }
    assert!(dec.finish().is_none(), "no event left open");
    let mut m = Message::default();
    let mut open: Option<(u64, String)> = None;
    let (mut next, mut started, mut delta_seen) = (0u64, false, false);
    for (n, (name, data)) in events.iter().enumerate() {
        let last = n + 1 == events.len();
        assert!(!m.stopped, "nothing after message_stop");
        if name != "error" {
            assert_eq!(
                started,
                name != "message_start",
                "message_start once, first: {name}"
            );
        }
        match name.as_str() {
            "message_start" => {
                started = true;
                let msg = &data["message"];
                assert_eq!(msg["type"], "message");
                assert_eq!(msg["role"], "assistant");
                assert_eq!(msg["content"], json!([]));
                assert!(msg["usage"]["input_tokens"].is_u64());
                m.id = msg["id"].as_str().unwrap().to_owned();
                m.model = msg["model"].as_str().unwrap().to_owned();
            }
            "content_block_start" => {
                assert!(open.is_none() && !delta_seen, "blocks do not overlap");
                assert_eq!(data["index"], next, "indexes increase from 0");
                let block = &data["content_block"];
                let kind = block["type"].as_str().unwrap().to_owned();
                match kind.as_str() {
                    "text" => assert_eq!(block["text"], ""),
                    "thinking" => assert_eq!(block["thinking"], ""),
                    "redacted_thinking" => m.redacted.push(block["data"].as_str().unwrap().into()),
                    "tool_use" => {
                        assert_eq!(block["input"], json!({}));
                        m.tools.push((
                            block["id"].as_str().unwrap().into(),
                            block["name"].as_str().unwrap().into(),
                            String::new(),
                        ));
                    }
                    other => panic!("block type {other}"),
                }
                open = Some((next, kind));
                next += 1;
            }
            "content_block_delta" => {
                let (index, kind) = open.as_ref().expect("a delta inside a block");
                assert_eq!(data["index"], *index);
                let d = &data["delta"];
                match (kind.as_str(), d["type"].as_str().unwrap()) {
                    ("text", "text_delta") => m.text.push_str(d["text"].as_str().unwrap()),
                    ("thinking", "thinking_delta") => {
                        m.thinking.push_str(d["thinking"].as_str().unwrap())
                    }
                    ("thinking", "signature_delta") => {
                        m.signature.push_str(d["signature"].as_str().unwrap())
                    }
                    ("tool_use", "input_json_delta") => {
                        m.tools.last_mut().unwrap().2 += d["partial_json"].as_str().unwrap()
                    }
                    (block, delta) => panic!("{delta} in a {block} block"),
                }
            }
            "content_block_stop" => {
                let (index, _) = open.take().expect("a stop closes an open block");
                assert_eq!(data["index"], index);
            }
            "message_delta" => {
                assert!(
                    open.is_none() && !delta_seen,
                    "message_delta once, after the blocks"
                );
                delta_seen = true;
                assert!(data["delta"]["stop_sequence"].is_null());
                m.stop_reason = data["delta"]["stop_reason"].as_str().map(str::to_owned);
                m.usage = Some(data["usage"].clone());
            }
            "message_stop" => {
                assert!(delta_seen, "message_stop after message_delta");
                m.stopped = true;
            }
            "error" => {
                assert!(last, "error is the last event");
                assert!(data["error"]["type"].is_string() && data["error"]["message"].is_string());
                m.error = Some(data["error"].clone());
            }
            other => panic!("unknown event {other}"),
        }
    }
    assert!(
        m.stopped != m.error.is_some(),
        "ends with message_stop or error, not both"
    );
    m
}

/// How a relay feeds an encoder: (SSE event type, payload) until `cut`, then its end.
enum End {
    /// The stream completed: `end` with the last usage.
    Complete,
    /// The stream failed after `cut` events.
    Cut(usize),
}

/// Feeds an OpenAI SSE body to a fresh encoder as the relay does: a `[DONE]` is skipped, an
/// `event: error` or a chunk with a top-level `error` ends the stream with `error`.
fn encode(sse: &[u8], end: End) -> Vec<u8> {
    let mut dec = Decoder::new();
    dec.push(sse);
    let mut enc = MessagesEncoder::new("claude-asked", None);
    let mut out = BytesMut::new();
    let mut usage: Option<Usage> = None;
    let mut n = 0;
    let mut events = Vec::new();
    while let Some(frame) = dec.next_frame().unwrap() {
        if let Frame::Event(ev) = frame {
            events.push((ev.event_type().to_vec(), ev.data.to_vec()));
        }
    }
    for (kind, data) in events {
        if data == b"[DONE]" {
            continue;
        }
        if let End::Cut(at) = end {
            if n == at {
                let err = ErrorBody::new(
                    "stream ended early".into(),
                    "upstream_error",
                    "premature_end".into(),
                );
                enc.error(&err, &mut out);
                return out.to_vec();
            }
        }
        n += 1;
        let summary = inspect(&data).expect("fixture payloads are JSON");
        if kind == b"error" || summary.error {
            enc.error(&ErrorBody::from_event_data(&data), &mut out);
            return out.to_vec();
        }
        usage = summary.usage.or(summary.vendor_usage).or(usage);
        assert_eq!(enc.chunk(&data, &summary, &mut out).unwrap(), Merge::No);
    }
    match end {
        End::Complete => enc.end(usage.as_ref(), &mut out),
        End::Cut(_) => enc.error(
            &ErrorBody::new("cut".into(), "upstream_error", Value::Null),
            &mut out,
        ),
    }
    out.to_vec()
}

fn fixtures(dir: &Path) -> Vec<(String, Vec<u8>, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".sse").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let sse = std::fs::read(dir.join(format!("{name}.sse"))).unwrap();
            let expected = std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap();
            (name, sse, serde_json::from_slice(&expected).unwrap())
        })
        .collect()
}

fn openai_fixtures() -> Vec<(String, Vec<u8>, Value)> {
    fixtures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sse"))
}

#[test]
fn every_recorded_openai_stream_reads_back_as_its_expected_answer() {
    let all = openai_fixtures();
    assert!(all.len() >= 20, "{} fixtures", all.len());
    for (name, sse, expected) in all {
        let m = read(&encode(&sse, End::Complete));
        let text = format!(
            "{}{}",
            expected["content"]["0"].as_str().unwrap(),
            expected["refusal"]["0"].as_str().unwrap_or_default()
        );
        assert_eq!(m.text, text, "{name}: text");
        assert_eq!(
            m.thinking,
            expected["reasoning"]["0"].as_str().unwrap(),
            "{name}: thinking"
        );
        let tools: Vec<(String, String, String)> = expected["tool_calls"]["0"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                (s("id"), s("name"), s("arguments"))
            })
            .collect();
        assert_eq!(m.tools, tools, "{name}: tool calls");
        assert_eq!(m.model, "claude-asked");
        assert!(m.id.starts_with("msg_"), "{name}: {}", m.id);
        match &expected["error"] {
            Value::Null => {
                assert!(m.stopped, "{name}");
                let finish = expected["finish_reason"]["0"].as_str().unwrap_or("stop");
                let stop = match finish {
                    "length" => "max_tokens",
                    "tool_calls" => "tool_use",
                    _ => "end_turn",
                };
                assert_eq!(m.stop_reason.as_deref(), Some(stop), "{name}");
                let usage = m.usage.unwrap();
                match &expected["usage"] {
                    Value::Null => assert_eq!(usage["output_tokens"], 0, "{name}"),
                    u => {
                        assert_eq!(usage["output_tokens"], u["completion_tokens"], "{name}");
                        let prompt = usage["input_tokens"].as_u64().unwrap()
                            + usage["cache_read_input_tokens"].as_u64().unwrap()
                            + usage["cache_creation_input_tokens"].as_u64().unwrap();
                        assert_eq!(prompt, u["prompt_tokens"].as_u64().unwrap(), "{name}");
                    }
                }
            }
            err => {
                let got = m.error.unwrap_or_else(|| panic!("{name}: an error event"));
                assert_eq!(got["message"], err["message"], "{name}");
                let kind = match err["type"].as_str() {
                    Some("invalid_request_error") => "invalid_request_error",
                    _ => "api_error",
                };
                assert_eq!(got["type"], kind, "{name}");
            }
        }
    }
}

#[test]
fn every_recorded_stream_cut_anywhere_ends_in_one_error_and_keeps_the_order() {
    for (name, sse, expected) in openai_fixtures() {
        let whole = read(&encode(&sse, End::Complete));
        let payloads = expected["meta"]["json_payloads"].as_u64().unwrap() as usize;
        let step = (payloads / 30).max(1);
        for at in (0..=payloads).step_by(step) {
            let m = read(&encode(&sse, End::Cut(at)));
            assert!(m.error.is_some() && !m.stopped, "{name} cut at {at}");
            assert!(whole.text.starts_with(&m.text), "{name} cut at {at}");
            assert!(
                whole.thinking.starts_with(&m.thinking),
                "{name} cut at {at}"
            );
        }
    }
}

#[test]
fn native_anthropic_streams_round_trip_with_thinking_signatures_and_cache_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/anthropic");
    for (name, sse, expected) in fixtures(&dir) {
        let run = common::run(common::Kind::Anthropic, &sse, || usize::MAX);
        let mut enc = MessagesEncoder::new("claude-asked", None);
        let mut out = BytesMut::new();
        let mut usage = None;
        for chunk in &run.chunks {
            let summary = inspect(chunk).unwrap();
            usage = summary.usage.or(usage);
            enc.chunk(chunk, &summary, &mut out).unwrap();
        }
        match &run.error {
            Some(err) => enc.error(&ErrorBody::from_json(&json!({ "error": err })), &mut out),
            None => enc.end(usage.as_ref(), &mut out),
        }
        let m = read(&out);
        assert_eq!(m.text, expected["content"].as_str().unwrap(), "{name}");
        assert_eq!(
            m.thinking,
            expected["reasoning"].as_str().unwrap(),
            "{name}"
        );
        let signature = expected["reasoning_signature"].as_str().unwrap_or_default();
        assert_eq!(m.signature, signature, "{name}");
        let ids: Vec<&str> = m.tools.iter().map(|t| t.0.as_str()).collect();
        let want: Vec<&str> = expected["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, want, "{name}: the provider's ids");
        if let Some(err) = &run.error {
            assert_eq!(m.error.unwrap()["type"], err["type"], "{name}");
            continue;
        }
        let u = &expected["usage"];
        let details = &u["prompt_tokens_details"];
        let cached = details["cached_tokens"].as_u64().unwrap_or(0);
        let written = details["cache_creation_tokens"].as_u64().unwrap_or(0);
        let usage = m.usage.unwrap();
        assert_eq!(
            usage,
            json!({
                "input_tokens": u["prompt_tokens"].as_u64().unwrap() - cached - written,
                "output_tokens": u["completion_tokens"],
                "cache_read_input_tokens": cached,
                "cache_creation_input_tokens": written,
            }),
            "{name}"
        );
    }
}

fn chunk(delta: Value, finish: Value) -> Vec<u8> {
    json!({"id": "c1", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}]})
    .to_string()
    .into_bytes()
}

fn feed(chunks: &[Vec<u8>], usage: Option<Usage>) -> Vec<u8> {
    let mut enc = MessagesEncoder::new("m", Some("req-7".into()));
    let mut out = BytesMut::new();
    for c in chunks {
        enc.chunk(c, &inspect(c).unwrap(), &mut out).unwrap();
    }
    enc.end(usage.as_ref(), &mut out);
    out.to_vec()
}

#[test]
fn thinking_signature_redacted_text_and_tools_become_blocks_in_order() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"reasoning_content": "Let me "}), Value::Null),
        chunk(json!({"reasoning_content": "think."}), Value::Null),
        chunk(json!({"reasoning_signature": "sig=="}), Value::Null),
        chunk(json!({"reasoning_redacted": ["r1", "r2"]}), Value::Null),
        chunk(json!({"content": "Hi \"there\"\n"}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "id": "toolu_A", "type": "function",
            "function": {"name": "read", "arguments": ""}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"p\":"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 1, "function": {"name": "ls", "arguments": "{}"}}]}), Value::Null),
        chunk(json!({}), json!("tool_calls")),
        b"{\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}".to_vec(),
    ];
    let usage = Usage {
        cached_tokens: 4,
        cache_write_tokens: 2,
        ..Usage::counted(10, 5)
    };
    let out = feed(&chunks, Some(usage));
    let m = read(&out);
    assert_eq!(m.id, "msg_req-7");
    assert_eq!(
        (m.thinking.as_str(), m.signature.as_str()),
        ("Let me think.", "sig==")
    );
    assert_eq!(m.redacted, ["r1", "r2"]);
    assert_eq!(m.text, "Hi \"there\"\n");
    assert_eq!(
        m.tools,
        [
            ("toolu_A".into(), "read".into(), "{\"p\":1}".into()),
            ("call_1".into(), "ls".into(), "{}".into())
        ]
    );
    assert_eq!(m.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        m.usage.unwrap(),
        json!({"input_tokens": 4, "output_tokens": 5, "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 2})
    );
    let text = String::from_utf8(out).unwrap();
    let types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_stop",
            "content_block_start",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
}

#[test]
fn odd_chunks_neither_panic_nor_break_the_order() {
    let odd: Vec<Vec<u8>> = [
        r#"{"choices":null}"#,
        r#"{"choices":[{"index":1,"delta":{"content":"other choice"}}]}"#,
        r#"{"choices":[{"index":0}]}"#,
        r#"{"choices":[{"index":0,"delta":null,"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":7,"reasoning":{"x":1},"tool_calls":[{"index":"x"}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"","function":{"arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"content":"no index"}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":5}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[5,{"index":0,"function":"f"}]}}]}"#,
        r#"{"id":5,"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":3}]}"#,
        r#"{"choices":[{"index":0,"delta":{"reasoning_redacted":5}}]}"#,
        r#"{"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"choices":[]}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let m = read(&feed(&odd, None));
    assert_eq!(m.text, "no index!");
    assert_eq!(
        m.tools.len(),
        1,
        "a tool call without index or id still gets a block"
    );
    assert_eq!(m.stop_reason.as_deref(), Some("end_turn"));

    // An encoder given nothing still writes a whole message; after its end, nothing more.
    let mut enc = MessagesEncoder::new("m", None);
    let mut out = BytesMut::new();
    enc.end(None, &mut out);
    let len = out.len();
    enc.error(&ErrorBody::from_message("late".into()), &mut out);
    enc.chunk(&odd[6], &inspect(&odd[6]).unwrap(), &mut out)
        .unwrap();
    assert_eq!(out.len(), len);
    assert!(read(&out).stopped);

    // An error before anything is the stream's only event.
    let mut enc = MessagesEncoder::new("m", None);
    let mut out = BytesMut::new();
    enc.error(
        &ErrorBody::new("slow".into(), "timeout", "idle_timeout".into()),
        &mut out,
    );
    assert_eq!(read(&out).error.unwrap()["type"], "timeout_error");
}

proptest! {
    /// Text and thinking come out whole and in order however their deltas are split.
    #[test]
    fn deltas_come_out_in_order_however_split(
        pieces in proptest::collection::vec(("[a-z \"\\\\\n☕é😊]{0,6}", any::<bool>()), 0..40)
    ) {
        let mut chunks = Vec::new();
        let (mut text, mut thinking) = (String::new(), String::new());
        for (piece, is_text) in &pieces {
            let key = if *is_text { "content" } else { "reasoning_content" };
            chunks.push(chunk(json!({ key: piece }), Value::Null));
            if *is_text { text.push_str(piece) } else { thinking.push_str(piece) }
        }
        chunks.push(chunk(json!({}), json!("stop")));
        let m = read(&feed(&chunks, Some(Usage::counted(3, 4))));
        prop_assert_eq!(m.text, text);
        prop_assert_eq!(m.thinking, thinking);
        prop_assert_eq!(m.stop_reason.as_deref(), Some("end_turn"));
    }
}

/// The JSON payloads of a recorded stream.
fn payloads(name: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/sse/{name}.sse"));
    let mut dec = Decoder::new();
    dec.push(&std::fs::read(path).unwrap());
    let mut out = Vec::new();
    while let Some(frame) = dec.next_frame().unwrap() {
        if let Frame::Event(ev) = frame {
            if ev.data != b"[DONE]"[..] {
                out.push(ev.data.to_vec());
            }
        }
    }
    out
}

const SIGNIFICANT: &[u8] = b"\"{}[]:,0n\\ -";

proptest! {
    /// Chunks with a byte changed: whatever the relay can still inspect, the encoder takes
    /// without failing, and the stream keeps Anthropic's order.
    #[test]
    fn mutated_chunks_never_break_the_encoder(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..8)
    ) {
        let mut chunks = payloads("deepseek-reasoner-reasoning-then-tool-call");
        chunks.extend(payloads("openai-gpt4o-parallel-tool-calls"));
        for (which, at, byte) in &edits {
            let n = which.index(chunks.len());
            let chunk = &mut chunks[n];
            let at = at.index(chunk.len());
            chunk[at] = SIGNIFICANT[byte.index(SIGNIFICANT.len())];
        }
        let mut enc = MessagesEncoder::new("m", None);
        let mut out = BytesMut::new();
        for c in &chunks {
            if let Ok(summary) = inspect(c) {
                prop_assert!(enc.chunk(c, &summary, &mut out).is_ok(), "{}", String::from_utf8_lossy(c));
            }
        }
        enc.end(None, &mut out);
        read(&out);
    }

    /// A Messages request with a byte changed is translated or refused, never a panic.
    #[test]
    fn mutated_requests_are_translated_or_refused(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..6)
    ) {
        let mut body = json!({
            "model": "m", "max_tokens": 10, "system": [{"type": "text", "text": "s"}],
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "t"},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}]},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "tool_use", "id": "i", "name": "t", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "i",
                    "content": [{"type": "text", "text": "r"}], "is_error": false}]}
            ]
        })
        .to_string()
        .into_bytes();
        for (at, byte) in &edits {
            let at = at.index(body.len());
            body[at] = SIGNIFICANT[byte.index(SIGNIFICANT.len())];
        }
        match sluice_native::inbound::messages::request(&body) {
            Ok(inbound) => {
                let chat: Value = serde_json::from_slice(&inbound.body).unwrap();
                prop_assert!(chat["messages"].is_array());
            }
            Err(err) => prop_assert!(!err.message.is_empty()),
        }
    }
}
