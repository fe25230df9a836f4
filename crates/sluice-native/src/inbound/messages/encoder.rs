//! Anthropic's Messages event stream, written from chat-completion chunks.

use bytes::BytesMut;
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_openai::chunk::ChunkSummary;
use sluice_openai::{ClientEncoder, EncodeError, ErrorBody, Merge, Pricer};
use sluice_sse::write_event;
use sluice_types::Usage;

use super::{document, stop_reason, stream_error_type, usage_json};
use crate::chunk::push_str;
use crate::inbound::plain::{text_span, Shape};
use crate::usage::push_fmt;
use crate::MAX_BLOCKS;

/// One client's `/v1/messages` stream: `message_start`, then one content block at a time
/// (`content_block_start`, its deltas, `content_block_stop`, indexes from 0), then at the end
/// `message_delta` (stop reason and usage) and `message_stop`; or, for a stream that fails,
/// an `error` event last. Every frame's `event:` is its data's `type`, which the Anthropic SDKs
/// dispatch on. Frames are never merged ([`Merge::No`]).
///
/// From choice 0 of each chunk (other choices are not Anthropic's to show):
/// `delta.content` and `delta.refusal` → `text` blocks (`text_delta`);
/// `delta.reasoning_content` (else `delta.reasoning`) → `thinking` blocks (`thinking_delta`),
/// `delta.reasoning_signature` → the open thinking block's `signature_delta`;
/// `delta.reasoning_redacted` → a `redacted_thinking` block each; each tool call index →
/// a `tool_use` block with the call's id (`call_<index>` if it has none) and name, its
/// argument fragments as `input_json_delta`s. A block closes when one of another kind (or
/// another tool call) starts, and every block at the chunk's `finish_reason`. Text is copied
/// as the provider wrote the JSON string, escapes and all.
///
/// Tool calls whose deltas interleave cannot be shown as Anthropic blocks, which do not
/// overlap: a fragment for a tool call whose block was closed is not shown.
#[derive(Debug)]
pub struct MessagesEncoder {
    model: String,
    id: Option<String>,
    started: bool,
    /// The index the next block gets.
    next: u32,
    open: Option<Block>,
    /// The tool call indexes given a block.
    tools: Vec<u32>,
    stop: Option<&'static str>,
    /// `end` or `error` was written: nothing more is.
    over: bool,
    buf: Vec<u8>,
    /// Prices the final usage: `message_delta.usage` then carries the gateway's `cost` and
    /// `cost_local`, as the other APIs' final usage does.
    pricer: Option<Pricer>,
    /// The shape of the last chunk that was a plain text delta of choice 0: a chunk of the
    /// same shape is written without a parse (see [`crate::inbound::plain`]).
    plain: Option<Shape>,
    /// Chunks written that way.
    plain_written: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking { signed: bool },
    Tool(u32),
    Redacted,
}

impl MessagesEncoder {
    /// An encoder naming `model` (the model the client asked for) in `message_start`. The
    /// message id is `msg_` and `id` if given, else `msg_` and the first chunk's id.
    pub fn new(model: impl Into<String>, id: Option<String>) -> Self {
        MessagesEncoder {
            model: model.into(),
            id,
            started: false,
            next: 0,
            open: None,
            tools: Vec::new(),
            stop: None,
            over: false,
            buf: Vec::with_capacity(256),
            pricer: None,
            plain: None,
            plain_written: 0,
        }
    }

    /// Plain text deltas written straight from their payload so far.
    #[cfg(test)]
    pub(crate) fn plain_written(&self) -> u64 {
        self.plain_written
    }

    /// Writes a plain text delta of the open text block straight from the payload, if the
    /// chunk is one; `false` when it must be read the slow way.
    fn plain_text(&mut self, payload: &[u8], summary: &ChunkSummary, out: &mut BytesMut) -> bool {
        if self.open != Some(Block::Text) {
            return false;
        }
        let (Some(span), Some(shape)) = (text_span(summary), &self.plain) else {
            return false;
        };
        if !shape.matches(payload, summary) {
            return false;
        }
        let range = span.range();
        // The JSON string as written, quotes included; an empty one is no delta.
        if !range.is_empty() {
            self.delta(
                "text_delta",
                "text",
                &payload[range.start - 1..range.end + 1],
                out,
            );
        }
        self.plain_written += 1;
        true
    }

    /// The same, with the final usage priced by `pricer`.
    pub fn with_pricer(mut self, pricer: Option<Pricer>) -> Self {
        self.pricer = pricer;
        self
    }

    /// Writes the frame in `self.buf` as an event of type `kind`.
    fn emit(&mut self, kind: &str, out: &mut BytesMut) {
        write_event(out, Some(kind), &self.buf);
        self.buf.clear();
    }

    fn start(&mut self, chunk_id: Option<String>, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let id = self.id.clone().or(chunk_id).unwrap_or_default();
        self.buf
            .extend_from_slice(b"{\"type\":\"message_start\",\"message\":{\"id\":");
        let id = if id.starts_with("msg_") {
            id
        } else {
            format!("msg_{id}")
        };
        push_str(&mut self.buf, &id);
        self.buf
            .extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
        push_str(&mut self.buf, &self.model);
        self.buf.extend_from_slice(
            b",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}",
        );
        self.emit("message_start", out);
    }

    /// Opens a block of `block`'s kind, closing the open one; `content` writes its
    /// `content_block` object.
    fn open(&mut self, block: Block, content: impl FnOnce(&mut Vec<u8>), out: &mut BytesMut) {
        self.close(out);
        push_fmt(
            &mut self.buf,
            format_args!(
                "{{\"type\":\"content_block_start\",\"index\":{},\"content_block\":",
                self.next
            ),
        );
        content(&mut self.buf);
        self.buf.push(b'}');
        self.emit("content_block_start", out);
        self.open = Some(block);
        self.next += 1;
    }

    fn close(&mut self, out: &mut BytesMut) {
        if self.open.take().is_some() {
            let index = self.next - 1;
            push_fmt(
                &mut self.buf,
                format_args!("{{\"type\":\"content_block_stop\",\"index\":{index}}}"),
            );
            self.emit("content_block_stop", out);
        }
    }

    /// A delta of the open block: `{"type":kind,key:literal}`.
    fn delta(&mut self, kind: &str, key: &str, literal: &[u8], out: &mut BytesMut) {
        let index = self.next.saturating_sub(1);
        push_fmt(
            &mut self.buf,
            format_args!(
                "{{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"{kind}\",\"{key}\":"
            ),
        );
        self.buf.extend_from_slice(literal);
        self.buf.extend_from_slice(b"}}");
        self.emit("content_block_delta", out);
    }

    fn text(&mut self, literal: &str, out: &mut BytesMut) {
        if self.open != Some(Block::Text) {
            self.open(
                Block::Text,
                |b| b.extend_from_slice(b"{\"type\":\"text\",\"text\":\"\"}"),
                out,
            );
        }
        self.delta("text_delta", "text", literal.as_bytes(), out);
    }

    fn open_thinking(&mut self, out: &mut BytesMut) {
        if self.open != Some(Block::Thinking { signed: false }) {
            let block = b"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}";
            self.open(
                Block::Thinking { signed: false },
                |b| b.extend_from_slice(block),
                out,
            );
        }
    }

    fn tool(&mut self, position: usize, call: &ToolView<'_>, out: &mut BytesMut) {
        let index = call
            .index
            .and_then(|i| i.get().parse::<u32>().ok())
            .unwrap_or(u32::try_from(position).unwrap_or(u32::MAX));
        let arguments = call.function.0.as_ref().and_then(|f| f.arguments.text());
        if self.open != Some(Block::Tool(index)) {
            if self.tools.contains(&index) || self.tools.len() >= MAX_BLOCKS {
                return;
            }
            self.tools.push(index);
            let name = call.function.0.as_ref().and_then(|f| f.name.0);
            let name = name.map_or("\"\"", RawValue::get);
            let id = call.id.text();
            self.open(
                Block::Tool(index),
                |b| {
                    b.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
                    match id {
                        Some(id) => b.extend_from_slice(id.as_bytes()),
                        None => push_fmt(b, format_args!("\"call_{index}\"")),
                    }
                    b.extend_from_slice(b",\"name\":");
                    b.extend_from_slice(name.as_bytes());
                    b.extend_from_slice(b",\"input\":{}}");
                },
                out,
            );
        }
        if let Some(arguments) = arguments {
            self.delta(
                "input_json_delta",
                "partial_json",
                arguments.as_bytes(),
                out,
            );
        }
    }

    fn choice(&mut self, choice: &ChoiceView<'_>, out: &mut BytesMut) {
        if let Some(delta) = &choice.delta.0 {
            let reasoning = delta.reasoning_content.text().or(delta.reasoning.text());
            if let Some(text) = reasoning {
                self.open_thinking(out);
                self.delta("thinking_delta", "thinking", text.as_bytes(), out);
            }
            if let Some(signature) = delta.reasoning_signature.text() {
                self.open_thinking(out);
                self.delta("signature_delta", "signature", signature.as_bytes(), out);
                self.open = Some(Block::Thinking { signed: true });
            }
            if let Some(redacted) = delta.reasoning_redacted {
                let list = match redacted.get().as_bytes().first() {
                    Some(b'[') => serde_json::from_str(redacted.get()).unwrap_or_default(),
                    _ => vec![Lit(Some(redacted).filter(|r| r.get().starts_with('"')))],
                };
                for data in list.iter().filter_map(|d| d.text()) {
                    self.open(
                        Block::Redacted,
                        |b| {
                            b.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
                            b.extend_from_slice(data.as_bytes());
                            b.push(b'}');
                        },
                        out,
                    );
                    self.close(out);
                }
            }
            for text in [delta.content.text(), delta.refusal.text()]
                .into_iter()
                .flatten()
            {
                self.text(text, out);
            }
            for (position, call) in entries(&delta.tool_calls) {
                self.tool(position, call, out);
            }
        }
        if let Some(reason) = choice.finish_reason.text() {
            self.close(out);
            let reason: String = serde_json::from_str(reason).unwrap_or_default();
            self.stop = Some(stop_reason(&reason));
        }
    }
}

impl ClientEncoder for MessagesEncoder {
    fn chunk(
        &mut self,
        payload: &[u8],
        summary: &ChunkSummary,
        out: &mut BytesMut,
    ) -> Result<Merge, EncodeError> {
        if self.over || summary.choices == 0 {
            return Ok(Merge::No);
        }
        if self.plain_text(payload, summary, out) {
            return Ok(Merge::No);
        }
        let chunk: ChunkView<'_> = serde_json::from_slice(payload)?;
        let first = entries(&chunk.choices).find(|(position, c)| match c.index {
            Some(i) => i.get() == "0",
            None => *position == 0,
        });
        let Some((_, choice)) = first else {
            return Ok(Merge::No);
        };
        let chunk_id = chunk.id.text().and_then(|id| serde_json::from_str(id).ok());
        self.start(chunk_id, out);
        self.choice(choice, out);
        let one_choice = entries(&chunk.choices).count() == 1;
        if one_choice && text_span(summary).is_some() && is_plain_text(choice) {
            self.plain = Some(Shape::of(payload, summary));
        }
        Ok(Merge::No)
    }

    fn end(&mut self, usage: Option<&Usage>, out: &mut BytesMut) {
        if self.over {
            return;
        }
        self.start(None, out);
        self.close(out);
        self.over = true;
        self.buf
            .extend_from_slice(b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
        push_str(&mut self.buf, self.stop.unwrap_or("end_turn"));
        self.buf
            .extend_from_slice(b",\"stop_sequence\":null},\"usage\":");
        let mut written = usage_json(usage).to_string();
        if let Some(priced) = usage.and_then(|u| self.pricer.as_ref()?.price(u)) {
            // The usage object's closing brace gives way to the cost, written as exact text.
            written.pop();
            written.push_str(&format!(
                ",\"cost\":{},\"cost_local\":{}}}",
                priced.cost_usd,
                priced.cost_local_json()
            ));
        }
        self.buf.extend_from_slice(written.as_bytes());
        self.buf.push(b'}');
        self.emit("message_delta", out);
        self.buf.extend_from_slice(b"{\"type\":\"message_stop\"}");
        self.emit("message_stop", out);
    }

    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut) {
        if self.over {
            return;
        }
        self.over = true;
        let doc = document(stream_error_type(err), &err.message);
        write_event(out, Some("error"), &doc);
    }
}

/// Whether `choice` is choice 0 with a delta whose only text is a non-empty `content`: what a
/// chunk of the same shape is.
fn is_plain_text(choice: &ChoiceView<'_>) -> bool {
    let Some(delta) = &choice.delta.0 else {
        return false;
    };
    choice.index.is_none_or(|i| i.get() == "0")
        && delta.content.text().is_some()
        && delta.refusal.0.is_none()
        && delta.reasoning_content.0.is_none()
        && delta.reasoning.0.is_none()
        && delta.reasoning_signature.0.is_none()
        && delta.reasoning_redacted.is_none()
        && delta.tool_calls.0.is_none()
}

/// A JSON string exactly as written (quotes and escapes included); any other value reads as
/// absent, so an odd field never fails a chunk.
#[derive(Debug, Default, Clone, Copy)]
struct Lit<'a>(Option<&'a RawValue>);

impl<'a> Lit<'a> {
    /// The literal, if it is a non-empty string.
    fn text(self) -> Option<&'a str> {
        self.0.map(RawValue::get).filter(|s| *s != "\"\"")
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Lit<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let raw = <&'a RawValue>::deserialize(de)?;
        Ok(Lit(raw.get().starts_with('"').then_some(raw)))
    }
}

#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(default, borrow)]
    id: Lit<'a>,
    #[serde(default, borrow)]
    choices: Lenient<Vec<Lenient<ChoiceView<'a>>>>,
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(default, borrow)]
    index: Option<&'a RawValue>,
    #[serde(default, borrow)]
    delta: Lenient<DeltaView<'a>>,
    #[serde(default, borrow)]
    finish_reason: Lit<'a>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(default, borrow)]
    content: Lit<'a>,
    #[serde(default, borrow)]
    refusal: Lit<'a>,
    #[serde(default, borrow)]
    reasoning_content: Lit<'a>,
    #[serde(default, borrow)]
    reasoning: Lit<'a>,
    #[serde(default, borrow)]
    reasoning_signature: Lit<'a>,
    #[serde(default, borrow)]
    reasoning_redacted: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tool_calls: Lenient<Vec<Lenient<ToolView<'a>>>>,
}

#[derive(Deserialize)]
struct ToolView<'a> {
    #[serde(default, borrow)]
    index: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Lit<'a>,
    #[serde(default, borrow)]
    function: Lenient<FunctionView<'a>>,
}

#[derive(Deserialize)]
struct FunctionView<'a> {
    #[serde(default, borrow)]
    name: Lit<'a>,
    #[serde(default, borrow)]
    arguments: Lit<'a>,
}

/// A value read if it has the expected shape, else absent: a chunk the relay could inspect
/// is never refused for a field of an odd shape.
#[derive(Debug)]
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(de)?;
        Ok(Lenient(serde_json::from_str(raw.get()).ok()))
    }
}

/// The entries of a lenient list that have the expected shape.
fn entries<T>(list: &Lenient<Vec<Lenient<T>>>) -> impl Iterator<Item = (usize, &T)> {
    list.0
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| Some((i, e.0.as_ref()?)))
}
