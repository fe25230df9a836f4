//! Merging queued content deltas, for clients that read slower than the provider writes.
//!
//! A chunk can merge with the next one when the two differ only in the text they append: the
//! delta's `content`, `reasoning_content`, `reasoning` and `refusal` strings and each tool
//! call's `function.arguments` fragment. Everything else (ids, model, the choice index, tool-call
//! ids and names, `usage: null`, vendor fields) must be equal, so merging loses nothing but
//! chunk boundaries. Chunks with a finish reason, a usage, an error, several choices or
//! per-chunk data such as logprobs never merge, so they stay in place and in order.
//!
//! This is the one place in the relay that builds a `serde_json::Value` per chunk, and only
//! while a client is behind (a full queue). The queue holds [`Item`]s and asks
//! [`make_room`] when it is full; it knows nothing of what merges.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value};

/// What a queued frame carries, as far as the queue and merging care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Anything without content: role chunks, finish and usage chunks, comments, errors.
    Other,
    /// A chunk with content that must stay as it is.
    Content,
    /// A plain content delta on one line (`data: {..}\n\n`) that may merge with its
    /// neighbours.
    Delta,
}

/// One queued frame: bytes ready for the socket, or deltas merged while the client was behind.
#[derive(Debug)]
pub(crate) enum Item {
    Frame {
        bytes: Bytes,
        kind: FrameKind,
    },
    /// Written out only when the client takes it.
    Merged(Box<Mergeable>),
}

impl Item {
    pub fn is_mergeable(&self) -> bool {
        matches!(
            self,
            Item::Frame {
                kind: FrameKind::Delta,
                ..
            } | Item::Merged(_)
        )
    }

    pub fn has_content(&self) -> bool {
        !matches!(
            self,
            Item::Frame {
                kind: FrameKind::Other,
                ..
            }
        )
    }

    /// About how many bytes it takes on the wire.
    pub fn len_hint(&self) -> usize {
        match self {
            Item::Frame { bytes, .. } => bytes.len(),
            Item::Merged(_) => 256,
        }
    }

    /// Its bytes for the socket.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Item::Frame { bytes, .. } => bytes,
            merged => {
                let mut out = BytesMut::new();
                merged.write_to(&mut out);
                out.freeze()
            }
        }
    }

    /// Appends its bytes for the socket to `out`.
    pub fn write_to(self, out: &mut BytesMut) {
        match self {
            Item::Frame { bytes, .. } => out.extend_from_slice(&bytes),
            Item::Merged(m) => sluice_sse::write_data(out, &m.to_payload()),
        }
    }
}

/// The delta fields whose string values are appended when chunks merge.
const TEXT_KEYS: [&str; 4] = ["content", "reasoning_content", "reasoning", "refusal"];

/// A content-delta chunk split into its envelope (everything but the appendable text, with a
/// `null` where each text stood) and the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Mergeable {
    envelope: Value,
    texts: [Option<String>; 4],
    /// Per entry of `delta.tool_calls`, its `function.arguments` fragment.
    tool_args: Vec<Option<String>>,
    /// How many provider chunks this holds.
    chunks: u32,
}

impl Mergeable {
    /// Reads a chunk payload; `None` when the chunk must not merge.
    pub fn parse(payload: &[u8]) -> Option<Mergeable> {
        let mut envelope: Value = serde_json::from_slice(payload).ok()?;
        let root = envelope.as_object_mut()?;
        if !is_null(root.get("error")) || !is_null(root.get("usage")) {
            return None;
        }
        let [choice] = root.get_mut("choices")?.as_array_mut()?.as_mut_slice() else {
            return None;
        };
        let choice = choice.as_object_mut()?;
        if !is_null(choice.get("finish_reason")) || !is_null(choice.get("logprobs")) {
            return None;
        }
        let delta = choice.get_mut("delta")?.as_object_mut()?;
        let mut texts: [Option<String>; 4] = Default::default();
        for (slot, key) in texts.iter_mut().zip(TEXT_KEYS) {
            *slot = take_string(delta, key)?;
        }
        let mut tool_args = Vec::new();
        if let Some(calls) = delta.get_mut("tool_calls") {
            for call in calls.as_array_mut()? {
                let function = call.as_object_mut()?.get_mut("function");
                tool_args.push(match function {
                    Some(f) => take_string(f.as_object_mut()?, "arguments")?,
                    None => None,
                });
            }
        }
        Some(Mergeable {
            envelope,
            texts,
            tool_args,
            chunks: 1,
        })
    }

    /// Appends `next` when it differs from `self` only in text; hands it back otherwise.
    pub fn try_append(&mut self, next: Mergeable) -> Result<(), Box<Mergeable>> {
        if self.envelope != next.envelope {
            return Err(Box::new(next));
        }
        for (mine, theirs) in self.texts.iter_mut().zip(next.texts) {
            append(mine, theirs);
        }
        for (mine, theirs) in self.tool_args.iter_mut().zip(next.tool_args) {
            append(mine, theirs);
        }
        self.chunks += next.chunks;
        Ok(())
    }

    /// How many provider chunks this holds.
    pub fn chunks(&self) -> u32 {
        self.chunks
    }

    /// The merged chunk.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = self.envelope.clone();
        if let Some(delta) = out
            .get_mut("choices")
            .and_then(|c| c.get_mut(0))
            .and_then(|c| c.get_mut("delta"))
            .and_then(Value::as_object_mut)
        {
            for (text, key) in self.texts.iter().zip(TEXT_KEYS) {
                if let Some(text) = text {
                    delta.insert(key.to_owned(), Value::String(text.clone()));
                }
            }
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for (call, args) in calls.iter_mut().zip(&self.tool_args) {
                    if let (Some(f), Some(args)) = (call.get_mut("function"), args) {
                        f["arguments"] = Value::String(args.clone());
                    }
                }
            }
        }
        serde_json::to_vec(&out).unwrap_or_default()
    }
}

/// How a full queue made room for a frame.
#[derive(Debug)]
pub(crate) enum Room {
    /// The frame was merged into the last queued delta.
    Absorbed,
    /// Two neighbouring queued deltas (`merged` provider chunks in the second) became one,
    /// freeing a place for the frame, which the caller queues.
    Freed { merged: u64, frame: Bytes },
}

/// Makes room in a full queue: merges `frame` into the last queued delta, or else the latest
/// pair of neighbouring queued deltas that can merge. Hands the frame back if neither works.
pub(crate) fn make_room(
    items: &mut VecDeque<Item>,
    frame: Bytes,
    kind: FrameKind,
) -> Result<Room, Bytes> {
    if kind == FrameKind::Delta {
        if let Some(next) = Mergeable::parse(payload_of(&frame)) {
            if let Some(mut last) = items.back().and_then(to_mergeable) {
                if last.try_append(next).is_ok() {
                    if let Some(slot) = items.back_mut() {
                        *slot = Item::Merged(Box::new(last));
                    }
                    return Ok(Room::Absorbed);
                }
            }
        }
    }
    for i in (1..items.len()).rev() {
        if !(items[i - 1].is_mergeable() && items[i].is_mergeable()) {
            continue;
        }
        let (Some(mut first), Some(second)) =
            (to_mergeable(&items[i - 1]), to_mergeable(&items[i]))
        else {
            continue;
        };
        let merged = u64::from(second.chunks());
        if first.try_append(second).is_ok() {
            items[i - 1] = Item::Merged(Box::new(first));
            items.remove(i);
            return Ok(Room::Freed { merged, frame });
        }
    }
    Err(frame)
}

/// The merge view of a queued item, if it is mergeable.
fn to_mergeable(item: &Item) -> Option<Mergeable> {
    match item {
        Item::Frame {
            bytes,
            kind: FrameKind::Delta,
        } => Mergeable::parse(payload_of(bytes)),
        Item::Merged(m) => Some((**m).clone()),
        Item::Frame { .. } => None,
    }
}

/// The JSON of a frame written by `sluice_sse::write_data` on one line.
fn payload_of(frame: &[u8]) -> &[u8] {
    let frame = frame.strip_prefix(b"data: ").unwrap_or(frame);
    frame.strip_suffix(b"\n\n").unwrap_or(frame)
}

fn is_null(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Takes a string field out, leaving `null` in its place. `Some(None)` when the field is
/// absent or null; `None` (cannot merge) when it holds anything but a string.
fn take_string(obj: &mut Map<String, Value>, key: &str) -> Option<Option<String>> {
    match obj.get_mut(key) {
        None | Some(Value::Null) => Some(None),
        Some(v @ Value::String(_)) => match v.take() {
            Value::String(s) => Some(Some(s)),
            _ => None,
        },
        Some(_) => None,
    }
}

fn append(mine: &mut Option<String>, theirs: Option<String>) {
    match (mine.as_mut(), theirs) {
        (_, None) => {}
        (Some(m), Some(t)) => m.push_str(&t),
        (None, Some(t)) => *mine = Some(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn chunk(delta: Value) -> Value {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]})
    }

    fn parse(v: &Value) -> Option<Mergeable> {
        Mergeable::parse(v.to_string().as_bytes())
    }

    fn merged(parts: &[Value]) -> Value {
        let mut it = parts.iter();
        let mut acc = parse(it.next().unwrap()).unwrap();
        for p in it {
            acc.try_append(parse(p).unwrap()).unwrap();
        }
        serde_json::from_slice(&acc.to_payload()).unwrap()
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
        let frag =
            |s: &str| chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": s}}]}));
        assert_eq!(
            merged(&[frag("{\"ci"), frag("ty\":"), frag("\"x\"}")]),
            frag("{\"city\":\"x\"}")
        );
    }

    #[test]
    fn different_envelopes_do_not_merge() {
        let mut a = parse(&chunk(json!({"role": "assistant", "content": ""}))).unwrap();
        let b = parse(&chunk(json!({"content": "x"}))).unwrap();
        assert!(a.try_append(b).is_err());
        let mut head = parse(&chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}))).unwrap();
        let cont = parse(&chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}),
        ))
        .unwrap();
        assert!(head.try_append(cont).is_err());
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
            json!({"error": {"message": "x"}}),
            json!([1]),
            chunk(json!({"content": ["part"]})),
        ] {
            assert!(parse(&v).is_none(), "{v}");
        }
        assert!(Mergeable::parse(b"not json").is_none());
        let mut usage_null = chunk(json!({"content": "x"}));
        usage_null["usage"] = Value::Null;
        assert!(parse(&usage_null).is_some());
    }

    /// One generated delta: the text fields and tool-call fragment a chunk may carry.
    fn arb_delta() -> impl Strategy<Value = (Option<String>, Option<String>, Option<String>)> {
        let text = proptest::option::of("[a-z \\\\\"\u{4eba}\u{1f60a}]{0,6}");
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
        ) {
            let chunks: Vec<Value> = deltas.iter().map(build).collect();
            let mut out: Vec<Mergeable> = Vec::new();
            for (i, c) in chunks.iter().enumerate() {
                let m = parse(c).expect("plain deltas are mergeable");
                let merged = match out.last_mut() {
                    Some(last) if merge_points[i] => last.try_append(m),
                    _ => Err(Box::new(m)),
                };
                if let Err(m) = merged {
                    out.push(*m);
                }
            }
            let relayed: Vec<Value> = out.iter().map(|m| serde_json::from_slice(&m.to_payload()).unwrap()).collect();
            prop_assert_eq!(texts(&relayed), texts(&chunks));
            prop_assert_eq!(out.iter().map(|m| m.chunks()).sum::<u32>() as usize, chunks.len());
        }
    }
}
