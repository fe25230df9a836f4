//! Reading a Responses stream back as a client does, checking on the way the event-order
//! invariants of SPEC §3 that every stream the encoder writes must hold.

#![allow(dead_code)]

use std::sync::Arc;

use bytes::BytesMut;
use serde_json::{json, Value};
use sluice_native::inbound::responses::{ResponseMeta, ResponsesEncoder};
use sluice_openai::{chunk, ClientEncoder, ErrorBody, PricedUsage, Pricer, Usage, UsagePricer};
use sluice_sse::{Decoder, Frame};

#[derive(Debug)]
pub struct FixedPrice;

impl UsagePricer for FixedPrice {
    fn price(&self, _: &Usage) -> Option<PricedUsage> {
        Some(PricedUsage {
            cost_usd: "0.00017151".into(),
            currency: "JPY".into(),
            cost_local: "0.0257265".into(),
        })
    }
}

pub fn meta() -> ResponseMeta {
    ResponseMeta {
        id: "resp_gw1".into(),
        model: "asked-model".into(),
        created_at: 1_760_000_000,
    }
}

pub fn encoder() -> ResponsesEncoder {
    ResponsesEncoder::new(meta(), Some(Arc::new(FixedPrice) as Pricer))
}

/// Decodes a Responses stream: each event's name and data. The name must equal the data's
/// `type`, and nothing may be left undecoded.
pub fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut dec = Decoder::with_max_event_bytes(bytes.len().max(1));
    dec.push(bytes);
    let mut out = Vec::new();
    while let Some(frame) = dec.next_frame().unwrap() {
        let Frame::Event(ev) = frame else {
            panic!("a comment in a Responses stream");
        };
        let name = String::from_utf8(ev.event.expect("an event name").to_vec()).unwrap();
        let data: Value = serde_json::from_slice(&ev.data).unwrap();
        assert_eq!(data["type"], name.as_str(), "{data}");
        out.push((name, data));
    }
    assert_eq!(dec.buffered_len(), 0, "a partial event at the end");
    assert!(dec.finish().is_none());
    out
}

/// Checks the stream's invariants and returns its last event's `response`:
/// sequence numbers 0, 1, 2…; `response.created` then `response.in_progress` first, both
/// in progress with no output; each item's events between its `output_item.added` and
/// `output_item.done`, items one at a time with output indexes 0, 1, 2…; every delta adds up
/// to its done event's text and the done item holds it; `response.completed` or
/// `response.failed` last and only once, its `output` the items' done events.
pub fn check(events: &[(String, Value)]) -> Value {
    assert!(events.len() >= 3, "{events:?}");
    for (i, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], json!(i), "{data}");
    }
    for (i, kind) in ["response.created", "response.in_progress"]
        .iter()
        .enumerate()
    {
        let response = &events[i].1["response"];
        assert_eq!(events[i].0, *kind);
        assert_eq!(response["status"], "in_progress");
        assert_eq!(response["output"], json!([]));
        assert_eq!(response["object"], "response");
    }
    let terminal = |n: &str| n == "response.completed" || n == "response.failed";
    let ends = events.iter().filter(|(n, _)| terminal(n)).count();
    assert_eq!(ends, 1, "one end");
    let (last_name, last) = events.last().unwrap();
    assert!(terminal(last_name), "{last_name} last");

    let mut done_items = Vec::new();
    // The open item: its index, id, and the text its deltas added up to (per part).
    let mut open: Option<(usize, String, Vec<String>)> = None;
    for (name, data) in &events[2..events.len() - 1] {
        match name.as_str() {
            "response.output_item.added" => {
                assert!(open.is_none(), "{name} while an item is open");
                assert_eq!(data["output_index"], json!(done_items.len()));
                let id = data["item"]["id"].as_str().unwrap().to_owned();
                open = Some((done_items.len(), id, Vec::new()));
            }
            "response.output_item.done" => {
                let (index, id, texts) = open.take().expect("done without added");
                assert_eq!(data["output_index"], json!(index));
                let item = &data["item"];
                assert_eq!(item["id"], id.as_str());
                assert_eq!(item_texts(item), texts, "{item}");
                done_items.push(item.clone());
            }
            _ => {
                let (index, id, texts) = open.as_mut().expect("an item event outside an item");
                assert_eq!(data["output_index"], json!(*index), "{data}");
                assert_eq!(data["item_id"], id.as_str(), "{data}");
                let part = data["content_index"]
                    .as_u64()
                    .or(data["summary_index"].as_u64())
                    .unwrap_or(0) as usize;
                if name.ends_with("part.added") {
                    assert_eq!(part, texts.len(), "{data}");
                    texts.push(String::new());
                } else if name.ends_with(".delta") {
                    if name == "response.function_call_arguments.delta" && texts.is_empty() {
                        texts.push(String::new());
                    }
                    texts[part].push_str(data["delta"].as_str().unwrap());
                } else if name.ends_with("text.done") || name == "response.refusal.done" {
                    let text = data["text"].as_str().or(data["refusal"].as_str()).unwrap();
                    assert_eq!(texts[part], text, "{data}");
                } else if name == "response.function_call_arguments.done" {
                    let args = data["arguments"].as_str().unwrap();
                    assert_eq!(texts.first().map_or("", String::as_str), args);
                    if texts.is_empty() {
                        texts.push(String::new());
                    }
                } else if name.ends_with("part.done") {
                    let part_text = data["part"]["text"]
                        .as_str()
                        .or(data["part"]["refusal"].as_str());
                    assert_eq!(Some(texts[part].as_str()), part_text, "{data}");
                } else {
                    panic!("unexpected event {name}");
                }
            }
        }
    }
    assert!(open.is_none(), "an item still open at the end");
    let response = &last["response"];
    assert_eq!(
        response["output"],
        Value::Array(done_items),
        "output = done items"
    );
    assert_eq!(response["id"], "resp_gw1");
    assert_eq!(response["model"], "asked-model");
    response.clone()
}

/// The texts of a done item, per part, as its deltas should have added up.
fn item_texts(item: &Value) -> Vec<String> {
    let text = |v: &Value| {
        v["text"]
            .as_str()
            .or(v["refusal"].as_str())
            .unwrap()
            .to_owned()
    };
    match item["type"].as_str().unwrap() {
        "reasoning" => item["summary"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect(),
        "message" => item["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect(),
        "function_call" => vec![item["arguments"].as_str().unwrap().to_owned()],
        other => panic!("item type {other}"),
    }
}

/// What an answer says: text, reasoning, refusal, and the calls as `[call_id, name, args]`.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub text: String,
    pub reasoning: String,
    pub refusal: String,
    pub calls: Vec<[String; 3]>,
}

pub fn answer(output: &Value) -> Answer {
    let mut a = Answer::default();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for item in output.as_array().unwrap() {
        match item["type"].as_str().unwrap() {
            "reasoning" => {
                for part in item["summary"].as_array().unwrap() {
                    a.reasoning.push_str(part["text"].as_str().unwrap());
                }
            }
            "message" => {
                for part in item["content"].as_array().unwrap() {
                    match part["type"].as_str().unwrap() {
                        "output_text" => a.text.push_str(part["text"].as_str().unwrap()),
                        _ => a.refusal.push_str(part["refusal"].as_str().unwrap()),
                    }
                }
            }
            _ => a
                .calls
                .push([s(&item["call_id"]), s(&item["name"]), s(&item["arguments"])]),
        }
    }
    a
}

/// How a replay ended.
pub enum End {
    Completed,
    Failed,
}

/// Feeds chat-chunk SSE to a fresh encoder as the relay does: `[DONE]` (or the end of input
/// after a finish) ends it with the last usage; an `event: error`, an error chunk, or the
/// end of input before a finish fails it. Returns the client's bytes.
pub fn replay(sse: &[u8]) -> (Vec<u8>, End) {
    let mut enc = encoder();
    let mut dec = Decoder::new();
    dec.push(sse);
    let mut evs = Vec::new();
    while let Some(frame) = dec.next_frame().unwrap() {
        if let Frame::Event(ev) = frame {
            evs.push(ev);
        }
    }
    evs.extend(dec.finish());
    let mut out = BytesMut::new();
    let (mut usage, mut finished) = (None, false);
    for ev in evs {
        if ev.event_type() == b"error" {
            enc.error(&ErrorBody::from_event_data(&ev.data), &mut out);
            return (out.to_vec(), End::Failed);
        }
        if &ev.data[..] == b"[DONE]" {
            enc.end(usage.as_ref(), &mut out);
            return (out.to_vec(), End::Completed);
        }
        let summary = chunk::inspect(&ev.data).unwrap();
        if let Some(u) = summary.usage.or(summary.vendor_usage) {
            usage = Some(u);
        }
        if summary.error {
            enc.error(&ErrorBody::from_event_data(&ev.data), &mut out);
            return (out.to_vec(), End::Failed);
        }
        finished |= summary.finish;
        enc.chunk(&ev.data, &summary, &mut out).unwrap();
    }
    if finished {
        enc.end(usage.as_ref(), &mut out);
        (out.to_vec(), End::Completed)
    } else {
        let err = ErrorBody::new("the stream was cut".into(), "server_error", Value::Null);
        enc.error(&err, &mut out);
        (out.to_vec(), End::Failed)
    }
}

/// A chat chunk with choice 0's `delta` (and a finish reason).
pub fn delta(delta: Value, finish: Option<&str>) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    .to_string()
}

/// A usage-only chunk.
pub fn usage_chunk(prompt: u64, completion: u64, reasoning: u64) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion,
           "prompt_tokens_details": {"cached_tokens": 2},
           "completion_tokens_details": {"reasoning_tokens": reasoning}}})
    .to_string()
}

/// SSE of chat chunks, ending with `[DONE]`.
pub fn sse(chunks: &[String], done: bool) -> Vec<u8> {
    let mut out = String::new();
    for c in chunks {
        out.push_str(&format!("data: {c}\n\n"));
    }
    if done {
        out.push_str("data: [DONE]\n\n");
    }
    out.into_bytes()
}
