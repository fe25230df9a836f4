//! Properties of translation on arbitrary input: every text byte comes out in order (content,
//! reasoning and tool arguments, whatever the UTF-8 and however the deltas and the SSE bytes
//! are split), and no event, however malformed, makes a translator panic.
//!
//! Run briefly with a fixed seed; `PROPTEST_CASES=N` runs more.

mod common;

use common::{assemble, pieces, run, translator, Kind};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::{json, Value};
use sluice_native::Chunks;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x51CE),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn anthropic_event(data: Value) -> String {
    format!(
        "event: {}\ndata: {data}\n\n",
        data["type"].as_str().unwrap()
    )
}

/// A Messages stream: thinking, then text, then one tool call, each split as given.
fn anthropic_stream(thoughts: &[String], texts: &[String], fragments: &[String]) -> String {
    let mut s = anthropic_event(json!({"type": "message_start", "message": {"id": "msg_1",
        "type": "message", "role": "assistant", "model": "claude", "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 1}}}));
    s += &anthropic_event(json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "thinking", "thinking": ""}}));
    for t in thoughts {
        s += &anthropic_event(json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": t}}));
    }
    s += &anthropic_event(json!({"type": "content_block_stop", "index": 0}));
    s += &anthropic_event(json!({"type": "content_block_start", "index": 1,
        "content_block": {"type": "text", "text": ""}}));
    for t in texts {
        s += &anthropic_event(json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "text_delta", "text": t}}));
    }
    s += &anthropic_event(json!({"type": "content_block_stop", "index": 1}));
    s += &anthropic_event(json!({"type": "content_block_start", "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}));
    for f in fragments {
        s += &anthropic_event(json!({"type": "content_block_delta", "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": f}}));
    }
    s += &anthropic_event(json!({"type": "content_block_stop", "index": 2}));
    s += &anthropic_event(
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
        "usage": {"output_tokens": 9}}),
    );
    s += &anthropic_event(json!({"type": "message_stop"}));
    s
}

/// A Gemini stream of text parts (`true`: a thought), a few per chunk.
fn gemini_stream(parts: &[(String, bool)]) -> String {
    let mut s = String::new();
    let chunks: Vec<&[(String, bool)]> = parts.chunks(3).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let parts: Vec<Value> = chunk
            .iter()
            .map(|(text, thought)| json!({"text": text, "thought": thought}))
            .collect();
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if i + 1 == chunks.len() {
            candidate["finishReason"] = "STOP".into();
        }
        let data = json!({"candidates": [candidate],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": i}});
        s += &format!("data: {data}\r\n\r\n");
    }
    if chunks.is_empty() {
        s += "data: {\"candidates\": [{\"finishReason\": \"STOP\", \"index\": 0}]}\r\n\r\n";
    }
    s
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn anthropic_keeps_every_text_byte_in_order(
        thoughts in vec(any::<String>(), 0..8),
        texts in vec(any::<String>(), 0..16),
        fragments in vec(any::<String>(), 0..8),
        seed in any::<u64>(),
        max in 1usize..96,
    ) {
        let sse = anthropic_stream(&thoughts, &texts, &fragments);
        let r = run(Kind::Anthropic, sse.as_bytes(), pieces(seed, max));
        prop_assert!(r.done);
        let answer = assemble(&r.chunks);
        prop_assert_eq!(answer["reasoning"].as_str().unwrap(), thoughts.concat());
        prop_assert_eq!(answer["content"].as_str().unwrap(), texts.concat());
        let args = fragments.concat();
        let want = if args.is_empty() { "{}".to_owned() } else { args };
        prop_assert_eq!(answer["tool_calls"][0]["arguments"].as_str().unwrap(), want);
    }

    #[test]
    fn gemini_keeps_every_text_byte_in_order(
        parts in vec((any::<String>(), any::<bool>()), 0..24),
        seed in any::<u64>(),
        max in 1usize..96,
    ) {
        let sse = gemini_stream(&parts);
        let r = run(Kind::Gemini, sse.as_bytes(), pieces(seed, max));
        prop_assert!(r.done);
        let answer = assemble(&r.chunks);
        let pick = |thought: bool| -> String {
            parts.iter().filter(|p| p.1 == thought).map(|p| p.0.as_str()).collect()
        };
        prop_assert_eq!(answer["content"].as_str().unwrap(), pick(false));
        prop_assert_eq!(answer["reasoning"].as_str().unwrap(), pick(true));
    }

    /// Arbitrary events, well-formed JSON of the right shape or not, never panic a translator,
    /// and whatever it writes is a chunk the relay can read.
    #[test]
    fn no_event_panics_a_translator(
        events in vec((prop_oneof![Just(None), Just(Some("error")), Just(Some("ping"))],
            prop_oneof![
                vec(any::<u8>(), 0..64),
                event_json().prop_map(|v| v.to_string().into_bytes()),
            ]), 0..24),
    ) {
        for kind in [Kind::Anthropic, Kind::Gemini] {
            let mut tr = translator(kind);
            let mut out = Chunks::new();
            for (name, data) in &events {
                let _ = tr.event(name.map(str::as_bytes), data, &mut out);
            }
            let _ = tr.finish(&mut out);
            for chunk in out.iter() {
                prop_assert!(sluice_openai::inspect(chunk).is_ok());
            }
        }
    }
}

/// JSON shaped like the providers' events, with values of any type in their fields.
fn event_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(json!({})),
        Just(json!([])),
    ];
    let kind = prop_oneof![
        Just("message_start"),
        Just("content_block_start"),
        Just("content_block_delta"),
        Just("content_block_stop"),
        Just("message_delta"),
        Just("message_stop"),
        Just("ping"),
        Just("text_delta"),
        Just("input_json_delta"),
        Just("tool_use"),
        Just("text"),
        Just("thinking"),
        Just("signature_delta"),
        Just("redacted_thinking"),
    ];
    (kind.clone(), kind, leaf.clone(), leaf.clone(), leaf, 0u64..4).prop_map(
        |(k1, k2, a, b, c, index)| {
            json!({
                "type": k1, "index": index,
                "message": {"id": a.clone(), "model": b.clone(), "usage": {"input_tokens": c.clone()}},
                "content_block": {"type": k2, "id": a.clone(), "name": b.clone(), "text": c.clone(), "input": a.clone()},
                "delta": {"type": k2, "text": a.clone(), "partial_json": b.clone(), "stop_reason": c.clone()},
                "usage": {"output_tokens": a.clone()},
                "candidates": [{"content": {"parts": [{"text": a.clone(), "thought": b.clone()},
                    {"functionCall": {"name": c.clone(), "args": a.clone()}}]}, "finishReason": b}],
                "usageMetadata": {"promptTokenCount": c},
                "error": if k1 == "ping" { a } else { Value::Null },
            })
        },
    )
}
