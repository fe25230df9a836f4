//! Running provider SSE through the decoder and a translator, and reading the chunks back the
//! way an OpenAI client and the relay do, checking on the way what every translated stream
//! must hold.

#![allow(dead_code)]

use serde_json::{json, Value};
use sluice_native::anthropic::AnthropicStream;
use sluice_native::gemini::GeminiStream;
use sluice_native::{ChunkMeta, Chunks, NativeStream, Step};
use sluice_openai::chunk::{self, Inspector};
use sluice_sse::{Decoder, Frame};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Anthropic,
    Gemini,
}

pub fn meta() -> ChunkMeta {
    ChunkMeta {
        id: "chatcmpl-gateway-1".into(),
        model: "asked-model".into(),
        created: 1_760_000_000,
    }
}

pub fn translator(kind: Kind) -> Box<dyn NativeStream> {
    match kind {
        Kind::Anthropic => Box::new(AnthropicStream::new(meta())),
        Kind::Gemini => Box::new(GeminiStream::new(meta())),
    }
}

/// What a stream became.
#[derive(Debug, Default, PartialEq)]
pub struct Run {
    pub chunks: Vec<Vec<u8>>,
    pub alive: u32,
    /// The stream completed: `Step::Done`, or `finish` accepted it.
    pub done: bool,
    /// The final error event's error object.
    pub error: Option<Value>,
    /// `finish` refused the stream (cut before its end).
    pub truncated: bool,
}

/// Feeds `sse` to a decoder in pieces of the sizes `sizes` gives, and each event to a fresh
/// translator, as the relay would.
pub fn run(kind: Kind, sse: &[u8], mut sizes: impl FnMut() -> usize) -> Run {
    let mut tr = translator(kind);
    let mut dec = Decoder::new();
    let mut out = Chunks::new();
    let mut res = Run::default();
    let mut rest = sse;
    let mut handle = |ev: sluice_sse::Event, res: &mut Run, out: &mut Chunks| {
        if res.error.is_some() {
            return;
        }
        let step = tr
            .event(ev.event.as_deref(), &ev.data, out)
            .unwrap_or_else(|e| panic!("protocol error: {e}"));
        res.chunks.extend(out.iter().map(<[u8]>::to_vec));
        out.clear();
        match step {
            Step::Continue => {}
            Step::Alive => res.alive += 1,
            Step::Done => res.done = true,
            Step::Error(body) => res.error = Some(body.to_json()["error"].clone()),
        }
    };
    while !rest.is_empty() {
        let n = sizes().clamp(1, rest.len());
        dec.push(&rest[..n]);
        rest = &rest[n..];
        while let Some(frame) = dec.next_frame().unwrap() {
            if let Frame::Event(ev) = frame {
                handle(ev, &mut res, &mut out);
            }
        }
    }
    if let Some(ev) = dec.finish() {
        handle(ev, &mut res, &mut out);
    }
    match tr.finish(&mut out) {
        Ok(()) => res.done |= res.error.is_none(),
        Err(_) => res.truncated = true,
    }
    res.chunks.extend(out.iter().map(<[u8]>::to_vec));
    res
}

/// A small deterministic generator of piece sizes.
pub fn pieces(seed: u64, max: usize) -> impl FnMut() -> usize {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        1 + (x % max as u64) as usize
    }
}

/// The answer the chunks assemble to, in the shape of the fixtures' `.expected.json`.
pub fn assemble(chunks: &[Vec<u8>]) -> Value {
    let mut inspector = Inspector::new();
    let (mut content, mut reasoning) = (String::new(), String::new());
    let mut signature: Option<String> = None;
    let mut calls: Vec<Value> = Vec::new();
    let (mut finish, mut usage) = (Value::Null, Value::Null);
    let mut envelope = None;
    for (n, raw) in chunks.iter().enumerate() {
        let c: Value = serde_json::from_slice(raw).expect("a chunk is JSON");
        assert_eq!(c["object"], "chat.completion.chunk");
        let env = (c["id"].clone(), c["model"].clone(), c["created"].clone());
        assert!(env.0.is_string() && env.1.is_string() && env.2.is_u64());
        assert_eq!(
            envelope.get_or_insert_with(|| env.clone()),
            &env,
            "one envelope"
        );
        let summary = chunk::inspect(raw).expect("the relay reads every chunk");
        assert_eq!(inspector.inspect(raw).unwrap(), summary);
        assert!(usage.is_null(), "nothing after the usage chunk");
        let choices = c["choices"].as_array().expect("choices");
        if choices.is_empty() {
            usage = c["usage"].clone();
            let u = summary.usage.expect("the relay reads the usage");
            assert_eq!(u.prompt_tokens, usage["prompt_tokens"].as_u64().unwrap());
            assert_eq!(
                u.completion_tokens,
                usage["completion_tokens"].as_u64().unwrap()
            );
            assert_eq!(u.total_tokens, usage["total_tokens"].as_u64().unwrap());
            continue;
        }
        assert_eq!(choices.len(), 1);
        let delta = &choices[0]["delta"];
        assert_eq!(
            delta["role"] == "assistant",
            n == 0,
            "the role comes once, first"
        );
        assert!(finish.is_null(), "nothing but usage after the finish");
        let mut has_content = false;
        if let Some(t) = delta["content"].as_str() {
            has_content |= !t.is_empty();
            content.push_str(t);
        }
        if let Some(t) = delta["reasoning_content"].as_str() {
            assert!(!t.is_empty(), "no empty reasoning deltas");
            has_content = true;
            reasoning.push_str(t);
        }
        if let Some(s) = delta["reasoning_signature"].as_str() {
            signature.get_or_insert_with(String::new).push_str(s);
        }
        if let Some(list) = delta["tool_calls"].as_array() {
            has_content = true;
            for call in list {
                let i = call["index"].as_u64().unwrap() as usize;
                if calls.len() <= i {
                    assert_eq!(calls.len(), i, "tool calls are numbered in order");
                    calls.push(json!({"index": i, "id": "", "name": "", "arguments": "",
                        "thought_signature": null}));
                }
                let acc = &mut calls[i];
                if let Some(id) = call["id"].as_str() {
                    assert_eq!(acc["id"], "", "the id comes once");
                    acc["id"] = id.into();
                }
                for key in ["name", "arguments"] {
                    if let Some(s) = call["function"][key].as_str() {
                        let joined = format!("{}{s}", acc[key].as_str().unwrap());
                        acc[key] = joined.into();
                    }
                }
                let sig = &call["extra_content"]["google"]["thought_signature"];
                if !sig.is_null() {
                    acc["thought_signature"] = sig.clone();
                }
            }
        }
        assert_eq!(summary.content, has_content, "the relay sees content: {c}");
        assert_eq!(summary.finish, !choices[0]["finish_reason"].is_null());
        assert!(summary.usage.is_none());
        finish = choices[0]["finish_reason"].clone();
    }
    json!({
        "content": content,
        "reasoning": reasoning,
        "reasoning_signature": signature,
        "tool_calls": calls,
        "finish_reason": finish,
        "usage": usage,
    })
}
