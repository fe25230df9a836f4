//! The Responses API's stream, written from the provider's chat-completion chunks.
//!
//! Events, each `event: <type>` + `data: <json>` whose `sequence_number` counts from 0:
//! `response.created`, `response.in_progress`, then one output item at a time, each closed
//! before the next opens:
//! - reasoning (`delta.reasoning_content`, or `delta.reasoning`): `output_item.added`,
//!   `reasoning_summary_part.added`, `reasoning_summary_text.delta`…, `…text.done`,
//!   `…part.done`, `output_item.done`. The reasoning is the provider's whole thinking, given
//!   as the summary. A `delta.reasoning_signature` seals the block: the item's
//!   `encrypted_content` carries it (`sluice-signature:<signature>`), so the client's next
//!   request gives the provider back the thinking it signed, and later reasoning is a new
//!   item. Each `delta.reasoning_redacted` is an item with no summary whose
//!   `encrypted_content` is `sluice-redacted:<data>`;
//! - a message (`delta.content`, `delta.refusal`): `output_item.added`, then per content part
//!   (`output_text` or `refusal`, a new part whenever the kind changes)
//!   `content_part.added`, `output_text.delta`… (`refusal.delta`…), `output_text.done`
//!   (`refusal.done`), `content_part.done`; then `output_item.done`;
//! - a function call per chat tool-call index: `output_item.added` (with `call_id`, `name`,
//!   `arguments: ""`), `function_call_arguments.delta`…, `function_call_arguments.done`,
//!   `output_item.done` (with the whole name and arguments).
//!
//! The stream ends with `response.completed` (status `completed`, or `incomplete` when the
//! chat finish was `length` or `content_filter`), or, after a failure, `response.failed`:
//! the open item is first closed with status `incomplete`, so every item still has its done
//! event and the failed response's `output` is what the client was sent. Its
//! `error.code` is the provider's code when that is a string, else its error type, else
//! `server_error`.
//!
//! Only choice 0 is carried. Fragments of a tool call whose item was already closed (a
//! provider interleaving two calls, which OpenAI's never do) cannot be sent any more and are
//! left out. A call whose first fragment has no id gets `call_<response>_<index>`.

use bytes::BytesMut;
use serde_json::{json, Map, Value};
use sluice_openai::chunk::ChunkSummary;
use sluice_openai::{ClientEncoder, EncodeError, ErrorBody, Merge, Pricer, Usage};
use sluice_sse::write_event;

use super::object::{
    call_item, end_status, failure_code, first_choice, message_item, reasoning_item,
    reasoning_text, reasoning_tokens, response_json, usage_json, Ending, PartKind, ResponseMeta,
    MAX_OUTPUT_BYTES, REDACTED, SIGNATURE,
};
use crate::MAX_BLOCKS;

mod plain;
mod reasoning;

use crate::inbound::plain::{text_span, Shape};
use plain::is_plain_text;

/// One client stream of Responses events. See the module's documentation for the events.
#[derive(Debug)]
pub struct ResponsesEncoder {
    meta: ResponseMeta,
    pricer: Option<Pricer>,
    /// The next event's `sequence_number`.
    seq: u64,
    started: bool,
    /// `response.completed` or `response.failed` was written; nothing follows it.
    ended: bool,
    /// The items closed so far, as their done events carried them.
    output: Vec<Value>,
    open: Option<Open>,
    /// Chat tool-call indexes whose items are closed.
    closed_calls: Vec<u64>,
    finish: Option<String>,
    usage: Option<Usage>,
    reasoning_tokens: u64,
    /// Bytes of text held in `output` and `open`.
    held: usize,
    /// The shape of the last chunk that was a plain text delta of choice 0: a chunk of the
    /// same shape is written without a parse.
    plain: Option<Shape>,
    /// Chunks written that way.
    plain_written: u64,
    /// The part (output and content index) the last such delta was of, and what its event
    /// has after the sequence number, up to the text.
    plain_head: ((usize, usize), String),
}

/// The item being written, its id and what it holds so far.
#[derive(Debug)]
struct Open {
    id: String,
    item: Item,
}

#[derive(Debug)]
enum Item {
    /// One block of reasoning: its text (with a summary part open when there is any), and,
    /// once the provider signed the block or redacted it, its `encrypted_content`. A sealed
    /// block takes no more text: the next reasoning is a new item.
    Reasoning {
        text: String,
        part: bool,
        encrypted: Option<String>,
    },
    /// The parts so far; the last is open.
    Message(Vec<(PartKind, String)>),
    Call {
        index: u64,
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl ResponsesEncoder {
    pub fn new(meta: ResponseMeta, pricer: Option<Pricer>) -> Self {
        ResponsesEncoder {
            meta,
            pricer,
            seq: 0,
            started: false,
            ended: false,
            output: Vec::new(),
            open: None,
            closed_calls: Vec::new(),
            finish: None,
            usage: None,
            reasoning_tokens: 0,
            held: 0,
            plain: None,
            plain_written: 0,
            plain_head: ((usize::MAX, 0), String::new()),
        }
    }

    /// Plain text deltas written straight from their payload so far.
    #[cfg(test)]
    pub(crate) fn plain_written(&self) -> u64 {
        self.plain_written
    }

    /// Writes one event: `type` and `sequence_number` first, then `fields`' members.
    fn emit(&mut self, out: &mut BytesMut, kind: &str, fields: Value) {
        let mut map = Map::new();
        map.insert("type".into(), kind.into());
        map.insert("sequence_number".into(), self.seq.into());
        if let Value::Object(fields) = fields {
            map.extend(fields);
        }
        write_event(out, Some(kind), Value::Object(map).to_string().as_bytes());
        self.seq += 1;
    }

    /// Writes an event that carries the `response` object.
    fn emit_response(&mut self, out: &mut BytesMut, kind: &str, ending: Ending<'_>) {
        let response = response_json(&self.meta, ending, &self.output);
        let data = format!(
            "{{\"type\":\"{kind}\",\"sequence_number\":{},\"response\":{response}}}",
            self.seq
        );
        write_event(out, Some(kind), data.as_bytes());
        self.seq += 1;
    }

    fn start(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.started = true;
            self.emit_response(out, "response.created", Ending::in_progress());
            self.emit_response(out, "response.in_progress", Ending::in_progress());
        }
    }

    fn hold(&mut self, text: &str) -> Result<(), EncodeError> {
        self.held += text.len();
        if self.held > MAX_OUTPUT_BYTES {
            return Err(too_large(format_args!(
                "the answer exceeds {MAX_OUTPUT_BYTES} bytes"
            )));
        }
        Ok(())
    }

    fn text(&mut self, out: &mut BytesMut, kind: PartKind, text: &str) -> Result<(), EncodeError> {
        self.hold(text)?;
        if !matches!(
            &self.open,
            Some(Open {
                item: Item::Message(_),
                ..
            })
        ) {
            self.close(out, "completed");
            let item = Item::Message(Vec::new());
            self.open_item(out, |id| message_item(id, "in_progress", &[]), item)?;
        }
        let index = self.output.len();
        let Some(Open {
            id,
            item: Item::Message(parts),
        }) = &mut self.open
        else {
            return Ok(());
        };
        let mut events = Vec::with_capacity(4);
        if parts.last().map(|(k, _)| *k) != Some(kind) {
            if parts.len() >= MAX_BLOCKS {
                return Err(too_large(format_args!(
                    "more than {MAX_BLOCKS} content parts"
                )));
            }
            if let Some((k, t)) = parts.last() {
                events.extend(part_done(id, index, parts.len() - 1, *k, t));
            }
            parts.push((kind, String::new()));
            events.push((
                "response.content_part.added",
                json!({"item_id": id, "output_index": index,
                       "content_index": parts.len() - 1, "part": kind.part("")}),
            ));
        }
        let content_index = parts.len() - 1;
        if let Some((_, held)) = parts.last_mut() {
            held.push_str(text);
        }
        let mut fields = json!({"item_id": id, "output_index": index,
                                "content_index": content_index, "delta": text});
        let event = match kind {
            PartKind::Text => {
                fields["logprobs"] = json!([]);
                "response.output_text.delta"
            }
            PartKind::Refusal => "response.refusal.delta",
        };
        events.push((event, fields));
        for (event, fields) in events {
            self.emit(out, event, fields);
        }
        Ok(())
    }

    /// One chat tool-call fragment (an element of `delta.tool_calls`).
    fn call(&mut self, out: &mut BytesMut, fragment: &Value) -> Result<(), EncodeError> {
        let index = fragment.get("index").and_then(Value::as_u64).unwrap_or(0);
        let function = fragment.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let args = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let same = matches!(&self.open, Some(Open { item: Item::Call { index: i, .. }, .. }) if *i == index);
        if !same {
            if self.closed_calls.contains(&index) {
                return Ok(());
            }
            self.close(out, "completed");
            let call_id = match fragment.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => id.to_owned(),
                _ => self.meta.item_id("call", self.output.len()),
            };
            self.hold(&call_id)?;
            let item = Item::Call {
                index,
                call_id: call_id.clone(),
                name: String::new(),
                arguments: String::new(),
            };
            self.open_item(
                out,
                |id| call_item(id, "in_progress", &call_id, name, ""),
                item,
            )?;
        }
        self.hold(name)?;
        self.hold(args)?;
        let index = self.output.len();
        let Some(Open {
            id,
            item: Item::Call {
                name: n, arguments, ..
            },
        }) = &mut self.open
        else {
            return Ok(());
        };
        n.push_str(name);
        arguments.push_str(args);
        if !args.is_empty() {
            let fields = json!({"item_id": id, "output_index": index, "delta": args});
            self.emit(out, "response.function_call_arguments.delta", fields);
        }
        Ok(())
    }

    /// Opens an item: `added` is the item as `output_item.added` shows it. Past
    /// [`MAX_BLOCKS`] items the stream fails, so a provider alternating tiny deltas of
    /// reasoning and text cannot grow the output by an item per byte.
    fn open_item(
        &mut self,
        out: &mut BytesMut,
        added: impl FnOnce(&str) -> Value,
        item: Item,
    ) -> Result<(), EncodeError> {
        if self.output.len() >= MAX_BLOCKS {
            return Err(too_large(format_args!(
                "more than {MAX_BLOCKS} output items"
            )));
        }
        let prefix = match item {
            Item::Reasoning { .. } => "rs",
            Item::Message(_) => "msg",
            Item::Call { .. } => "fc",
        };
        let index = self.output.len();
        let id = self.meta.item_id(prefix, index);
        let fields = json!({"output_index": index, "item": added(&id)});
        self.emit(out, "response.output_item.added", fields);
        self.open = Some(Open { id, item });
        Ok(())
    }

    /// Closes the open item, if any, with its done events.
    fn close(&mut self, out: &mut BytesMut, status: &str) {
        let Some(Open { id, item }) = self.open.take() else {
            return;
        };
        let index = self.output.len();
        let done = match item {
            Item::Reasoning {
                text,
                part,
                encrypted,
            } => {
                if part {
                    self.close_summary(out, &id, &text);
                }
                reasoning_item(&id, &text, encrypted.as_deref())
            }
            Item::Message(parts) => {
                if let Some((k, t)) = parts.last() {
                    for (event, fields) in part_done(&id, index, parts.len() - 1, *k, t) {
                        self.emit(out, event, fields);
                    }
                }
                message_item(&id, status, &parts)
            }
            Item::Call {
                index: chat_index,
                call_id,
                name,
                arguments,
            } => {
                self.closed_calls.push(chat_index);
                self.emit(out, "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}));
                call_item(&id, status, &call_id, &name, &arguments)
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": done.clone()}),
        );
        self.output.push(done);
    }
}

/// The events that close content part `content_index` of a message.
fn part_done(
    id: &str,
    index: usize,
    content_index: usize,
    kind: PartKind,
    text: &str,
) -> [(&'static str, Value); 2] {
    let done = match kind {
        PartKind::Text => (
            "response.output_text.done",
            json!({"item_id": id, "output_index": index, "content_index": content_index, "text": text, "logprobs": []}),
        ),
        PartKind::Refusal => (
            "response.refusal.done",
            json!({"item_id": id, "output_index": index, "content_index": content_index, "refusal": text}),
        ),
    };
    let part = (
        "response.content_part.done",
        json!({"item_id": id, "output_index": index, "content_index": content_index, "part": kind.part(text)}),
    );
    [done, part]
}

pub(super) fn too_large(what: std::fmt::Arguments<'_>) -> EncodeError {
    EncodeError::from(<serde_json::Error as serde::de::Error>::custom(what))
}

impl ClientEncoder for ResponsesEncoder {
    fn chunk(
        &mut self,
        payload: &[u8],
        summary: &ChunkSummary,
        out: &mut BytesMut,
    ) -> Result<Merge, EncodeError> {
        if self.ended {
            return Ok(Merge::No);
        }
        self.start(out);
        if let Some(usage) = summary.usage.or(summary.vendor_usage) {
            self.usage = Some(usage);
        }
        if summary.choices == 0 && !summary.usage_key {
            return Ok(Merge::No);
        }
        if self.plain_text(out, payload, summary)? {
            return Ok(Merge::No);
        }
        let chunk: Value = serde_json::from_slice(payload)?;
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.reasoning_tokens = reasoning_tokens(usage);
        }
        let Some(choice) = first_choice(&chunk) else {
            return Ok(Merge::No);
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = reasoning_text(delta).filter(|t| !t.is_empty()) {
                self.reasoning(out, text)?;
            }
            if let Some(signature) = delta.get("reasoning_signature").and_then(Value::as_str) {
                self.seal(out, format!("{SIGNATURE}{signature}"))?;
            }
            let redacted = match delta.get("reasoning_redacted") {
                Some(Value::String(data)) => vec![data.as_str()],
                Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for data in redacted {
                self.close(out, "completed");
                self.seal(out, format!("{REDACTED}{data}"))?;
            }
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.text(out, PartKind::Text, text)?;
            }
            if let Some(text) = delta
                .get("refusal")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.text(out, PartKind::Refusal, text)?;
            }
            for fragment in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.call(out, fragment)?;
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish.to_owned());
        }
        if text_span(summary).is_some() && is_plain_text(&chunk, choice) {
            self.plain = Some(Shape::of(payload, summary));
        }
        Ok(Merge::No)
    }

    /// Closes the open item and writes `response.completed`, its `usage` from `usage` (the
    /// last the provider reported) with the gateway's cost.
    fn end(&mut self, usage: Option<&Usage>, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        let (status, incomplete_details) = end_status(self.finish.as_deref());
        self.close(
            out,
            if status == "completed" {
                "completed"
            } else {
                "incomplete"
            },
        );
        let usage = usage
            .or(self.usage.as_ref())
            .map(|u| usage_json(u, self.reasoning_tokens, self.pricer.as_deref()));
        let ending = Ending {
            status,
            error: Value::Null,
            incomplete_details,
            usage: usage.as_deref(),
        };
        self.emit_response(out, "response.completed", ending);
        self.ended = true;
    }

    /// Closes the open item (status `incomplete`) and writes `response.failed`.
    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close(out, "incomplete");
        let code = failure_code(err);
        let usage = self
            .usage
            .as_ref()
            .map(|u| usage_json(u, self.reasoning_tokens, self.pricer.as_deref()));
        let ending = Ending {
            status: "failed",
            error: json!({"code": code, "message": err.message}),
            incomplete_details: Value::Null,
            usage: usage.as_deref(),
        };
        self.emit_response(out, "response.failed", ending);
        self.ended = true;
    }
}
