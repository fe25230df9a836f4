//! Writing `chat.completion.chunk` payloads. A stream's envelope (`id`, `object`, `created`,
//! `model`) is written once into a prefix and every chunk starts with the same bytes, so the
//! relay's per-stream inspector reads most deltas by comparing bytes, as it does for OpenAI's.
//! Provider text arrives as JSON string literals and is copied as written, escapes and all:
//! it is never decoded and encoded again.

use std::fmt;

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::usage::{push_fmt, TokenUsage};

/// The chunk payloads one provider event became, in order, kept in one reusable buffer.
/// Translators append to it; the caller reads them ([`Chunks::iter`]) and clears it before
/// the next event. Each payload is one JSON object without `data:` framing.
#[derive(Debug, Default, Clone)]
pub struct Chunks {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Chunks {
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of payloads held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th payload.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.buf[start..end])
    }

    /// The payloads, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).filter_map(|i| self.get(i))
    }

    /// Forgets every payload, keeping the buffer's memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.buf);
        self.ends.push(self.buf.len());
    }
}

/// What a stream's chunks say about themselves when the provider does not: the gateway's
/// request id, the model asked for, and the time of the request (seconds since the epoch; this
/// crate reads no clock). A provider's own message id and model version win when it sends
/// them (Anthropic always does; Gemini sends `responseId` and `modelVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkMeta {
    pub id: String,
    pub model: String,
    pub created: u64,
}

/// A stream's envelope, written once.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[`
    head: Vec<u8>,
}

impl Envelope {
    pub fn new(id: &str, model: &str, created: u64) -> Self {
        let mut head = Vec::with_capacity(96 + id.len() + model.len());
        head.extend_from_slice(b"{\"id\":");
        push_str(&mut head, id);
        push_fmt(
            &mut head,
            format_args!(",\"object\":\"chat.completion.chunk\",\"created\":{created},\"model\":"),
        );
        push_str(&mut head, model);
        head.extend_from_slice(b",\"choices\":[");
        Envelope { head }
    }

    /// The stream's envelope in `slot`, made on first use from the provider's `id` and `model`
    /// (else `meta`'s), when the role chunk is written too.
    pub fn open<'e>(
        slot: &'e mut Option<Envelope>,
        meta: &ChunkMeta,
        id: Option<&str>,
        model: Option<&str>,
        out: &mut Chunks,
    ) -> &'e Envelope {
        slot.get_or_insert_with(|| {
            let env = Envelope::new(
                id.unwrap_or(&meta.id),
                model.unwrap_or(&meta.model),
                meta.created,
            );
            env.delta(out, delta::role);
            env
        })
    }

    /// A delta chunk: `body` writes the members of `delta` (without braces).
    pub fn delta(&self, out: &mut Chunks, body: impl FnOnce(&mut Vec<u8>)) {
        out.push(|buf| {
            buf.extend_from_slice(&self.head);
            buf.extend_from_slice(b"{\"index\":0,\"delta\":{");
            body(buf);
            buf.extend_from_slice(b"},\"finish_reason\":null}]}");
        });
    }

    /// The chunk that ends the choice, with an empty delta.
    pub fn finish(&self, out: &mut Chunks, reason: &str) {
        out.push(|buf| {
            buf.extend_from_slice(&self.head);
            buf.extend_from_slice(b"{\"index\":0,\"delta\":{},\"finish_reason\":");
            push_str(buf, reason);
            buf.extend_from_slice(b"}]}");
        });
    }

    /// The usage chunk that ends the stream, with no choices (as OpenAI's `include_usage`).
    pub fn usage(&self, out: &mut Chunks, usage: &TokenUsage) {
        out.push(|buf| {
            buf.extend_from_slice(&self.head);
            buf.extend_from_slice(b"],\"usage\":");
            usage.write_json(buf);
            buf.push(b'}');
        });
    }
}

/// Delta members, written into a chunk's `delta`.
pub(crate) mod delta {
    use super::{push_fmt, push_str, JsonStr};

    /// The first delta of a stream.
    pub fn role(buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"\"role\":\"assistant\",\"content\":\"\"");
    }

    /// `"key":<text>`, the text as the provider wrote it.
    pub fn text(buf: &mut Vec<u8>, key: &str, text: JsonStr<'_>) {
        text_literal(buf, key, text.raw());
    }

    /// `"key":<literal>`, `literal` a JSON string literal already checked.
    pub fn text_literal(buf: &mut Vec<u8>, key: &str, literal: &str) {
        buf.push(b'"');
        buf.extend_from_slice(key.as_bytes());
        buf.extend_from_slice(b"\":");
        buf.extend_from_slice(literal.as_bytes());
    }

    /// The first delta of a tool call: its id and name, arguments to follow.
    pub fn tool_start(buf: &mut Vec<u8>, index: u32, id: &str, name: JsonStr<'_>) {
        push_fmt(
            buf,
            format_args!("\"tool_calls\":[{{\"index\":{index},\"id\":"),
        );
        push_str(buf, id);
        buf.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
        buf.extend_from_slice(name.raw().as_bytes());
        buf.extend_from_slice(b",\"arguments\":\"\"}}]");
    }

    /// A whole tool call with generated id `call_<index>`; `arguments` is JSON text, written
    /// as a string. A Gemini thought signature goes in `extra_content.google`, where Google's
    /// own OpenAI-compatible API puts it.
    pub fn tool_whole(
        buf: &mut Vec<u8>,
        index: u32,
        name: JsonStr<'_>,
        arguments: &str,
        signature: Option<JsonStr<'_>>,
    ) {
        push_fmt(
            buf,
            format_args!(
                "\"tool_calls\":[{{\"index\":{index},\"id\":\"call_{index}\",\"type\":\"function\",\"function\":{{\"name\":"
            ),
        );
        buf.extend_from_slice(name.raw().as_bytes());
        buf.extend_from_slice(b",\"arguments\":");
        push_str(buf, arguments);
        buf.push(b'}');
        if let Some(sig) = signature {
            buf.extend_from_slice(b",\"extra_content\":{\"google\":{\"thought_signature\":");
            buf.extend_from_slice(sig.raw().as_bytes());
            buf.extend_from_slice(b"}}");
        }
        buf.extend_from_slice(b"}]");
    }

    /// A fragment of a tool call's arguments, as the provider wrote it.
    pub fn tool_arguments(buf: &mut Vec<u8>, index: u32, fragment: &str) {
        push_fmt(
            buf,
            format_args!("\"tool_calls\":[{{\"index\":{index},\"function\":{{\"arguments\":"),
        );
        buf.extend_from_slice(fragment.as_bytes());
        buf.extend_from_slice(b"}}]");
    }
}

/// Writes `s` as a JSON string.
pub(crate) fn push_str(buf: &mut Vec<u8>, s: &str) {
    // Serializing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// A JSON string value exactly as the provider wrote it (quotes and escapes included), read
/// without decoding it.
#[derive(Clone, Copy)]
pub(crate) struct JsonStr<'a>(&'a RawValue);

impl<'a> JsonStr<'a> {
    /// The literal, quotes included.
    pub fn raw(self) -> &'a str {
        self.0.get()
    }

    pub fn is_empty(self) -> bool {
        self.0.get() == "\"\""
    }

    /// The decoded text (a copy only when it has escapes).
    pub fn decode(self) -> Result<std::borrow::Cow<'a, str>, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let raw = <&'a RawValue>::deserialize(de)?;
        if raw.get().starts_with('"') {
            Ok(JsonStr(raw))
        } else {
            Err(D::Error::custom("expected a string"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_openai_chunks_with_one_envelope() {
        let env = Envelope::new("msg_1", "claude-x", 7);
        let mut out = Chunks::new();
        env.delta(&mut out, delta::role);
        let text: JsonStr<'_> = serde_json::from_str(r#""h\u00e9\"llo""#).unwrap();
        env.delta(&mut out, |b| delta::text(b, "content", text));
        env.finish(&mut out, "stop");
        env.usage(&mut out, &TokenUsage::default());
        assert_eq!(out.len(), 4);
        let chunks: Vec<serde_json::Value> = out
            .iter()
            .map(|c| serde_json::from_slice(c).unwrap())
            .collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "hé\"llo");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[3]["choices"], serde_json::json!([]));
        assert_eq!(chunks[3]["usage"]["total_tokens"], 0);
        for c in &chunks {
            assert_eq!(
                (&c["id"], &c["object"], &c["created"], &c["model"]),
                (
                    &"msg_1".into(),
                    &"chat.completion.chunk".into(),
                    &7.into(),
                    &"claude-x".into()
                )
            );
        }
        out.clear();
        assert!(out.is_empty() && out.get(0).is_none());
    }

    #[test]
    fn a_non_string_is_not_a_json_str() {
        assert!(serde_json::from_str::<JsonStr<'_>>("12").is_err());
        assert!(serde_json::from_str::<JsonStr<'_>>("\"\"")
            .unwrap()
            .is_empty());
    }
}
