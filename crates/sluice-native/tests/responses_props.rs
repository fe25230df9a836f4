//! Properties over generated input: `request` never panics on hostile bodies and, when it
//! translates, writes a chat request; `ResponsesEncoder` keeps the event-order invariants for
//! any mix of chat deltas, however the stream ends.

mod responses_common;

use bytes::BytesMut;
use proptest::prelude::*;
use responses_common::{check, delta, encoder, events, usage_chunk};
use serde_json::{json, Map, Value};
use sluice_native::inbound::responses::request;
use sluice_openai::{chunk, ClientEncoder, ErrorBody};

/// Keys and strings a Responses request is made of, so generated bodies reach deep paths.
const WORDS: &[&str] = &[
    "model",
    "input",
    "type",
    "role",
    "content",
    "text",
    "message",
    "user",
    "assistant",
    "developer",
    "system",
    "function_call",
    "function_call_output",
    "call_id",
    "name",
    "arguments",
    "output",
    "reasoning",
    "summary",
    "encrypted_content",
    "input_text",
    "output_text",
    "input_image",
    "image_url",
    "input_file",
    "file_data",
    "refusal",
    "tools",
    "function",
    "parameters",
    "tool_choice",
    "auto",
    "required",
    "text",
    "format",
    "json_schema",
    "schema",
    "effort",
    "stream",
    "store",
    "instructions",
    "include",
    "sluice-signature:x",
    "sluice-redacted:y",
    "max_output_tokens",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        word().prop_map(Value::String),
        ".{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One chat delta of choice 0.
fn chat_delta() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,4}".prop_map(|t| json!({"content": t})),
        ".{1,4}".prop_map(|t| json!({"reasoning_content": t})),
        ".{1,4}".prop_map(|t| json!({"reasoning": t})),
        ".{1,4}".prop_map(|t| json!({"refusal": t})),
        "[a-z]{1,4}".prop_map(|s| json!({"reasoning_signature": s})),
        "[a-z]{1,4}".prop_map(|s| json!({"reasoning_redacted": [s]})),
        (0u64..3, prop::option::of("[a-z]{1,3}"), ".{0,3}", ".{0,4}").prop_map(
            |(index, id, name, args)| {
                let mut call =
                    json!({"index": index, "function": {"name": name, "arguments": args}});
                if let Some(id) = id {
                    call["id"] = id.into();
                }
                json!({"tool_calls": [call]})
            }
        ),
        Just(json!({})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = request(&body);
    }

    #[test]
    fn request_translates_or_refuses_any_json(extra in value(), input in value()) {
        let mut body = match extra {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        body.insert("model".into(), "m".into());
        body.insert("input".into(), input);
        match request(Value::Object(body).to_string().as_bytes()) {
            Ok(inbound) => {
                let chat: Value = serde_json::from_slice(&inbound.body).unwrap();
                prop_assert_eq!(&chat["model"], "m");
                prop_assert!(chat["messages"].is_array());
                prop_assert_eq!(chat["stream"] == true, inbound.stream);
                let mut names = inbound.dropped.clone();
                names.dedup();
                prop_assert_eq!(names.len(), inbound.dropped.len());
            }
            Err(err) => {
                prop_assert!(!err.message.is_empty());
                let body = err.to_error_body().to_json();
                prop_assert_eq!(&body["error"]["type"], "invalid_request_error");
            }
        }
    }

    /// Any mix of deltas, a finish or none, usage or none, and an end, a failure, or a
    /// failure right after a finish: the stream keeps every invariant.
    #[test]
    fn any_chat_stream_keeps_the_event_order(
        deltas in prop::collection::vec(chat_delta(), 0..24),
        finish in prop::option::of(prop::sample::select(&["stop", "length", "tool_calls", "content_filter"][..])),
        usage in any::<bool>(),
        fail in any::<bool>(),
    ) {
        let mut chunks: Vec<String> = deltas.into_iter().map(|d| delta(d, None)).collect();
        if let Some(finish) = finish {
            chunks.push(delta(json!({}), Some(finish)));
        }
        if usage {
            chunks.push(usage_chunk(3, 4, 1));
        }
        let mut enc = encoder();
        let mut out = BytesMut::new();
        let mut last_usage = None;
        for c in &chunks {
            let summary = chunk::inspect(c.as_bytes()).unwrap();
            last_usage = summary.usage.or(last_usage);
            enc.chunk(c.as_bytes(), &summary, &mut out).unwrap();
        }
        if fail {
            enc.error(&ErrorBody::from_message("boom".into()), &mut out);
        } else {
            enc.end(last_usage.as_ref(), &mut out);
        }
        let response = check(&events(&out));
        let status = response["status"].as_str().unwrap().to_owned();
        let want = match (fail, finish) {
            (true, _) => "failed",
            (false, Some("length" | "content_filter")) => "incomplete",
            _ => "completed",
        };
        prop_assert_eq!(status.as_str(), want);
        prop_assert_eq!(response["usage"].is_null(), !usage);
    }
}
