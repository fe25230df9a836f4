//! Anthropic's Messages stream (`message_start`, content blocks, `message_delta`,
//! `message_stop`, `ping`, `error`) as chat-completion chunks.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::fast;
use super::usage::{error_body, Counts, RawUsage};
use crate::chunk::{delta, push_str, ChunkMeta, Chunks, Envelope, JsonStr};
use crate::error::ProtocolError;
use crate::{NativeStream, Step, TokenUsage, MAX_BLOCKS};

/// The translator of one Messages stream.
///
/// - `message_start` → the role chunk (its id and model make the chunks' envelope);
/// - `text_delta` → `content`; `thinking_delta` → `reasoning_content`; `signature_delta` →
///   `reasoning_signature`; a `redacted_thinking` block → `reasoning_redacted`;
/// - a `tool_use` block → `tool_calls[i]` (`i` counts the tool blocks) with its id and name in
///   the first delta, then each non-empty `input_json_delta` as an arguments fragment; a tool
///   whose input never had a fragment gets `{}` when its block stops;
/// - `message_delta`'s `stop_reason` → the finish chunk; its usage replaces the counts so far;
/// - `message_stop` → the usage chunk and [`Step::Done`]; `ping` → [`Step::Alive`];
///   `error` → [`Step::Error`].
///
/// Blocks of other types (server tools, citations) and unknown events carry nothing an OpenAI
/// client could read and are passed over.
#[derive(Debug)]
pub struct AnthropicStream {
    meta: ChunkMeta,
    env: Option<Envelope>,
    /// Open blocks by their index.
    blocks: Vec<(u64, Block)>,
    /// Blocks started so far (bounded by [`MAX_BLOCKS`]).
    started: usize,
    /// Tool calls so far: the next one's index.
    calls: u32,
    counts: Counts,
    finished: bool,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy)]
enum Block {
    Text,
    Thinking,
    Tool { call: u32, arguments: bool },
    Other,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    content_block: Option<StartBlock<'a>>,
    #[serde(default, borrow)]
    message: Option<Start<'a>>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct Start<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct StartBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    thinking: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    signature: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    data: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    thinking: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    signature: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    partial_json: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

/// A tool's arguments when it had none.
const EMPTY_ARGUMENTS: &str = "\"{}\"";

impl AnthropicStream {
    /// A translator for one stream; `meta` fills the envelope only if the stream has no
    /// `message_start`.
    pub fn new(meta: ChunkMeta) -> Self {
        AnthropicStream {
            meta,
            env: None,
            blocks: Vec::new(),
            started: 0,
            calls: 0,
            counts: Counts::default(),
            finished: false,
            state: State::Open,
        }
    }

    fn block_start(&mut self, ev: Event<'_>, out: &mut Chunks) -> Result<(), ProtocolError> {
        let (Some(index), Some(block)) = (ev.index, ev.content_block) else {
            return Err(ProtocolError(
                "content_block_start without its index or block".into(),
            ));
        };
        self.started += 1;
        if self.started > MAX_BLOCKS {
            return Err(ProtocolError(format!(
                "more than {MAX_BLOCKS} content blocks"
            )));
        }
        let env = Envelope::open(&mut self.env, &self.meta, None, None, out);
        let state = match block.kind.as_ref() {
            "text" => {
                if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                    env.delta(out, |b| delta::text(b, "content", text));
                }
                Block::Text
            }
            "thinking" => {
                if let Some(text) = block.thinking.filter(|t| !t.is_empty()) {
                    env.delta(out, |b| delta::text(b, "reasoning_content", text));
                }
                // Streams sign a block at its end; a block given whole may come signed.
                if let Some(sig) = block.signature.filter(|t| !t.is_empty()) {
                    env.delta(out, |b| delta::text(b, "reasoning_signature", sig));
                }
                Block::Thinking
            }
            "redacted_thinking" => {
                if let Some(data) = block.data {
                    env.delta(out, |b| delta::text(b, "reasoning_redacted", data));
                }
                Block::Other
            }
            "tool_use" => {
                let (Some(id), Some(name)) = (block.id, block.name) else {
                    return Err(ProtocolError("a tool_use block without id or name".into()));
                };
                let call = self.calls;
                self.calls += 1;
                env.delta(out, |b| delta::tool_start(b, call, &id, name));
                // Anthropic starts a tool with `input: {}` and streams the arguments; input
                // given whole at the start is sent as one fragment.
                let input = block.input.map(RawValue::get).filter(|i| {
                    let i = i.trim();
                    i != "{}" && i != "null"
                });
                if let Some(input) = input {
                    let mut fragment = Vec::with_capacity(input.len() + 8);
                    push_str(&mut fragment, input);
                    let fragment = String::from_utf8_lossy(&fragment);
                    env.delta(out, |b| delta::tool_arguments(b, call, &fragment));
                }
                Block::Tool {
                    call,
                    arguments: input.is_some(),
                }
            }
            _ => Block::Other,
        };
        self.blocks.push((index, state));
        Ok(())
    }

    fn block_delta(&mut self, ev: Event<'_>, out: &mut Chunks) -> Result<(), ProtocolError> {
        let Some(d) = ev.delta else {
            return Err(ProtocolError(
                "content_block_delta without its delta".into(),
            ));
        };
        let slot = ev
            .index
            .and_then(|i| self.blocks.iter().rposition(|(index, _)| *index == i));
        let env = Envelope::open(&mut self.env, &self.meta, None, None, out);
        match d.kind.as_deref() {
            Some("text_delta") => {
                if let Some(text) = d.text.filter(|t| !t.is_empty()) {
                    env.delta(out, |b| delta::text(b, "content", text));
                }
            }
            Some("thinking_delta") => {
                if let Some(text) = d.thinking.filter(|t| !t.is_empty()) {
                    env.delta(out, |b| delta::text(b, "reasoning_content", text));
                }
            }
            Some("signature_delta") => {
                if let Some(sig) = d.signature.filter(|t| !t.is_empty()) {
                    env.delta(out, |b| delta::text(b, "reasoning_signature", sig));
                }
            }
            Some("input_json_delta") => {
                let Some((_, Block::Tool { call, arguments })) =
                    slot.and_then(|s| self.blocks.get_mut(s))
                else {
                    return Err(ProtocolError(
                        "input_json_delta outside a tool_use block".into(),
                    ));
                };
                // The first fragment is usually empty: nothing to send.
                if let Some(json) = d.partial_json.filter(|t| !t.is_empty()) {
                    let call = *call;
                    *arguments = true;
                    env.delta(out, |b| delta::tool_arguments(b, call, json.raw()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn block_stop(&mut self, ev: Event<'_>, out: &mut Chunks) {
        let Some(slot) = ev
            .index
            .and_then(|i| self.blocks.iter().rposition(|(index, _)| *index == i))
        else {
            return;
        };
        let (_, block) = self.blocks.swap_remove(slot);
        if let Block::Tool {
            call,
            arguments: false,
        } = block
        {
            let env = Envelope::open(&mut self.env, &self.meta, None, None, out);
            env.delta(out, |b| delta::tool_arguments(b, call, EMPTY_ARGUMENTS));
        }
    }

    /// Writes the usage chunk and ends the stream.
    fn done(&mut self, out: &mut Chunks) {
        if let Some(usage) = self.counts.usage() {
            let env = Envelope::open(&mut self.env, &self.meta, None, None, out);
            env.usage(out, &usage);
        }
        self.state = State::Done;
    }
}

impl NativeStream for AnthropicStream {
    fn event(
        &mut self,
        event: Option<&[u8]>,
        data: &[u8],
        out: &mut Chunks,
    ) -> Result<Step, ProtocolError> {
        if self.state != State::Open {
            return Ok(Step::Continue);
        }
        if event == Some(b"error") {
            self.state = State::Failed;
            return Ok(Step::Error(error_body(data)));
        }
        if let (Some(text), Some(env)) = (fast::text_delta(data), &self.env) {
            if text != "\"\"" {
                env.delta(out, |b| delta::text_literal(b, "content", text));
            }
            return Ok(Step::Continue);
        }
        let ev: Event<'_> =
            serde_json::from_slice(data).map_err(|e| ProtocolError::json("Anthropic event", e))?;
        match ev.kind.as_ref() {
            "content_block_delta" => self.block_delta(ev, out)?,
            "ping" => return Ok(Step::Alive),
            "message_start" => {
                let start = ev
                    .message
                    .ok_or_else(|| ProtocolError("message_start without its message".into()))?;
                Envelope::open(
                    &mut self.env,
                    &self.meta,
                    start.id.as_deref(),
                    start.model.as_deref(),
                    out,
                );
                if let Some(usage) = start.usage {
                    self.counts.take(usage);
                }
            }
            "content_block_start" => self.block_start(ev, out)?,
            "content_block_stop" => self.block_stop(ev, out),
            "message_delta" => {
                if let Some(usage) = ev.usage {
                    self.counts.take(usage);
                }
                let reason = ev.delta.and_then(|d| d.stop_reason);
                if let (Some(reason), false) = (reason, self.finished) {
                    self.finished = true;
                    let env = Envelope::open(&mut self.env, &self.meta, None, None, out);
                    env.finish(out, super::finish_reason(&reason));
                }
            }
            "message_stop" => {
                self.done(out);
                return Ok(Step::Done);
            }
            "error" => {
                self.state = State::Failed;
                return Ok(Step::Error(error_body(data)));
            }
            _ => {}
        }
        Ok(Step::Continue)
    }

    fn finish(&mut self, out: &mut Chunks) -> Result<(), ProtocolError> {
        match self.state {
            State::Done | State::Failed => Ok(()),
            State::Open if self.finished => {
                self.done(out);
                Ok(())
            }
            State::Open => {
                self.state = State::Failed;
                Err(ProtocolError(
                    "the Messages stream ended before its stop reason".into(),
                ))
            }
        }
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.counts.usage()
    }
}
