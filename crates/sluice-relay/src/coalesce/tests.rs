use proptest::prelude::*;
use serde_json::{json, Map, Value};

use sluice_openai::inspect;

use super::*;

fn chunk(delta: Value) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]})
}

fn frame(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn read(v: &Value) -> Option<Merged> {
    Merged::read(frame(v))
}

fn payload_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// The holes of a chunk written unchanged after `data: `, from the relay's read of it.
fn in_place(v: &Value) -> Holes {
    Holes::of(&inspect(&payload_of(v)).unwrap(), DATA_PREFIX.len()).expect("mergeable")
}

/// The chunk a merged item writes out.
fn written(m: Merged) -> Value {
    let bytes = m.into_bytes();
    let payload = bytes
        .strip_prefix(b"data: ")
        .unwrap()
        .strip_suffix(b"\n\n")
        .unwrap();
    serde_json::from_slice(payload).unwrap()
}

fn merged(parts: &[Value]) -> Value {
    let mut it = parts.iter();
    let mut acc = read(it.next().unwrap()).unwrap();
    for p in it {
        assert!(acc.try_append(&read(p).unwrap()), "{p}");
    }
    written(acc)
}

#[test]
fn text_deltas_concatenate_in_place() {
    let out = merged(&[
        chunk(json!({"content": "Hel"})),
        chunk(json!({"content": "lo"})),
    ]);
    assert_eq!(out, chunk(json!({"content": "Hello"})));
    // Key order of the envelope is kept.
    let text = serde_json::to_string(&out).unwrap();
    assert!(
        text.starts_with(r#"{"id":"c","object":"chat.completion.chunk""#),
        "{text}"
    );
}

#[test]
fn one_chunk_is_written_as_the_very_same_bytes() {
    let f = frame(&chunk(json!({"content": "a\"b\u{4eba}"})));
    let m = Merged::read(f.clone()).unwrap();
    assert_eq!(m.into_bytes(), f);
}

#[test]
fn escapes_concatenate_without_decoding() {
    // A surrogate pair split across two chunks comes out whole.
    let a = Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\\ud83d\"}}]}\n\n");
    let b =
        Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"\\ude00\\n\"}}]}\n\n");
    let mut m = Merged::read(a).unwrap();
    assert!(m.try_append(&Merged::read(b).unwrap()));
    let v = written(m);
    assert_eq!(v["choices"][0]["delta"]["content"], "x\u{1f600}\n");
}

#[test]
fn reasoning_with_null_content_merges() {
    let a = chunk(json!({"content": null, "reasoning_content": "a"}));
    let b = chunk(json!({"content": null, "reasoning_content": "b"}));
    assert_eq!(
        merged(&[a, b]),
        chunk(json!({"content": null, "reasoning_content": "ab"}))
    );
}

#[test]
fn tool_argument_fragments_concatenate() {
    let frag = |s: &str| chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": s}}]}));
    assert_eq!(
        merged(&[frag("{\"ci"), frag("ty\":"), frag("\"x\"}")]),
        frag("{\"city\":\"x\"}")
    );
}

#[test]
fn different_envelopes_do_not_merge() {
    let mut a = read(&chunk(json!({"role": "assistant", "content": "a"}))).unwrap();
    let b = read(&chunk(json!({"content": "x"}))).unwrap();
    let before = a.clone();
    assert!(!a.try_append(&b));
    assert_eq!(a, before);
    let mut head = read(&chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}))).unwrap();
    let cont = read(&chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}),
    ))
    .unwrap();
    assert!(!head.try_append(&cont));
    // A text where the other has null is a different envelope.
    let mut text = read(&chunk(json!({"content": "a"}))).unwrap();
    let other = read(&chunk(json!({"content": null, "reasoning": "b"}))).unwrap();
    assert!(!text.try_append(&other));
}

#[test]
fn chunks_that_must_stay_in_place_are_not_mergeable() {
    let mut finish = chunk(json!({}));
    finish["choices"][0]["finish_reason"] = json!("stop");
    let mut usage = chunk(json!({"content": "x"}));
    usage["usage"] = json!({"prompt_tokens": 1});
    let mut logprobs = chunk(json!({"content": "x"}));
    logprobs["choices"][0]["logprobs"] = json!({"content": []});
    let two = json!({"choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]});
    for v in [
        finish,
        usage,
        logprobs,
        two,
        json!({"error": {"message": "x"}, "choices": [{"delta": {"content": "a"}}]}),
        json!([1]),
        chunk(json!({"content": ["part"]})),
        chunk(json!({"content": 3})),
    ] {
        assert!(read(&v).is_none(), "{v}");
    }
    assert!(Merged::read(Bytes::from_static(b"data: not json\n\n")).is_none());
    assert!(Merged::read(Bytes::from_static(b"data: {}\n")).is_none());
    let mut usage_null = chunk(json!({"content": "x"}));
    usage_null["usage"] = Value::Null;
    assert!(read(&usage_null).is_some());
}

#[test]
fn a_delta_frame_is_read_once_and_one_that_cannot_merge_is_not_read_again() {
    let mut item = Item::Frame {
        bytes: frame(&chunk(json!({"content": ["part"]}))),
        kind: FrameKind::Delta(None),
    };
    assert!(item.merged().is_none());
    assert!(matches!(
        item,
        Item::Frame {
            kind: FrameKind::Content,
            ..
        }
    ));
    assert!(!item.is_mergeable() && item.has_content());
}

/// One generated delta: the text fields and tool-call fragment a chunk may carry.
fn arb_delta() -> impl Strategy<Value = (Option<String>, Option<String>, Option<String>)> {
    let text = proptest::option::of("[a-z \\\\\"\u{4eba}\u{1f60a}\n]{0,6}");
    (text.clone(), text.clone(), text)
}

fn build(d: &(Option<String>, Option<String>, Option<String>)) -> Value {
    let mut delta = Map::new();
    if let Some(c) = &d.0 {
        delta.insert("content".into(), json!(c));
    }
    if let Some(r) = &d.1 {
        delta.insert("reasoning_content".into(), json!(r));
    }
    if let Some(a) = &d.2 {
        delta.insert(
            "tool_calls".into(),
            json!([{"index": 0, "function": {"arguments": a}}]),
        );
    }
    chunk(Value::Object(delta))
}

/// The concatenated content, reasoning and tool arguments of a sequence of chunks.
fn texts(chunks: &[Value]) -> (String, String, String) {
    let mut out = (String::new(), String::new(), String::new());
    for c in chunks {
        let d = &c["choices"][0]["delta"];
        out.0 += d["content"].as_str().unwrap_or("");
        out.1 += d["reasoning_content"].as_str().unwrap_or("");
        out.2 += d["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap_or("");
    }
    out
}

proptest! {
    /// Whatever the deltas and wherever merges are attempted, the text per field is
    /// unchanged, and merges happen only between chunks of equal envelope.
    #[test]
    fn merging_never_changes_the_text(
        deltas in proptest::collection::vec(arb_delta(), 1..30),
        merge_points in proptest::collection::vec(any::<bool>(), 30),
        known_holes in proptest::collection::vec(any::<bool>(), 30),
    ) {
        // Only deltas with content are relayed as mergeable.
        let chunks: Vec<Value> = deltas
            .iter()
            .map(build)
            .filter(|c| inspect(&payload_of(c)).unwrap().content)
            .collect();
        let mut out: Vec<Merged> = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            // Holes as the relay finds them, or read from the frame.
            let m = if known_holes[i] {
                Merged::new(frame(c), in_place(c))
            } else {
                read(c).expect("plain deltas are mergeable")
            };
            let absorbed = match out.last_mut() {
                Some(last) if merge_points[i] => last.try_append(&m),
                _ => false,
            };
            if !absorbed {
                out.push(m);
            }
        }
        prop_assert_eq!(out.iter().map(|m| m.chunks()).sum::<u32>() as usize, chunks.len());
        let relayed: Vec<Value> = out.into_iter().map(written).collect();
        prop_assert_eq!(texts(&relayed), texts(&chunks));
    }

    /// Reading arbitrary bytes as a delta never panics, and what reads writes itself back.
    #[test]
    fn arbitrary_frames_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut f = b"data: ".to_vec();
        f.extend_from_slice(&body);
        f.extend_from_slice(b"\n\n");
        let f = Bytes::from(f);
        if let Some(m) = Merged::read(f.clone()) {
            prop_assert_eq!(m.into_bytes(), f);
        }
    }
}

#[test]
fn padding_differs_in_every_delta_and_keeps_the_first() {
    let padded = |text: &str, pad: &str| {
        let mut c = chunk(json!({ "content": text }));
        c["obfuscation"] = json!(pad);
        c
    };
    let out = merged(&[padded("Hel", "abc"), padded("lo", "Zq"), padded("!", "")]);
    assert_eq!(out, padded("Hello!", "abc"));
}
