//! Anthropic's Messages API, `POST /v1/messages` (also as `/v1/messages?beta=true`), in the
//! shapes Anthropic publishes: the stream `message_start` → `content_block_start` → `ping` →
//! a `content_block_delta` per token → `content_block_stop` → `message_delta` (whose usage
//! repeats the input counts beside the output's, as Anthropic's does) → `message_stop`; a whole answer is the `message` object; errors are
//! `{"type":"error","error":{"type","message"}}`.
//!
//! The request must have `model`, `messages` and `max_tokens` (a 400 `invalid_request_error`
//! otherwise, as the real API answers). The prompt is the text of `system` (a string or text
//! blocks) and of each message's `content` (a string or blocks of type `text`), seeded as the
//! [crate docs](crate#seeds) say. `max_tokens` caps the answer's tokens (`stop_reason: max_tokens`).
//!
//! Beside the fault models of every API (`mock-529` is Anthropic's own 529
//! `overloaded_error`; `mock-error-midstream` sends `event: error` with an `overloaded_error`):
//! - `mock-tool`, when the request has `tools`: a `tool_use` block calling the first tool, its
//!   input streamed as `input_json_delta` fragments (the first one empty, as Anthropic sends
//!   it), `stop_reason: tool_use`;
//! - `mock-think`, when the request has `thinking` (not `disabled`): a `thinking` block
//!   (`thinking_delta`s, then a `signature_delta`) before the text block.

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::encode::json_string;
use crate::generator::{generate, Prompt, Tokens};
use crate::native::{texts, Shape, ToolCall};
use crate::respond::{answer, overloaded, Dialect, Refusal};
use crate::scenario::{Asked, Finish, Scenario};
use crate::stream::Script;
use crate::{MockResponse, MockSettings, Stats};

/// Answers one `POST /v1/messages`, as [`respond`](fn@crate::respond) answers a chat
/// completion: final status and headers, a lazy timed body.
pub fn respond(
    settings: &MockSettings,
    stats: &Stats,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    answer(&Anthropic, settings, stats, headers, body)
}

struct Anthropic;

impl Dialect for Anthropic {
    type Extra = Shape;
    type Script = MessageScript;

    fn read(
        &self,
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Scenario, Shape), String> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| format!("request body is not valid JSON: {e}"))?;
        let model = required(&json, "model", Value::as_str, "string")?;
        let messages = required(&json, "messages", Value::as_array, "list")?;
        let max_tokens = required(&json, "max_tokens", Value::as_u64, "integer")?;
        let prompt = prompt_of(&json, messages);
        let shape = Shape::for_model(
            model,
            || {
                let tool = json.get("tools")?.as_array()?.first()?;
                let name = tool.get("name")?.as_str()?;
                Some(ToolCall::new(name, tool.get("input_schema")))
            },
            || {
                json.get("thinking").is_some_and(|t| {
                    !t.is_null() && t.get("type").and_then(Value::as_str) != Some("disabled")
                })
            },
        );
        let asked = Asked {
            model: model.to_owned(),
            stream: json.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: true,
            seed: prompt.seed(),
            prompt_tokens: prompt.tokens(),
            max_tokens: Some(max_tokens),
        };
        Ok((Scenario::build(settings, headers, asked)?, shape))
    }

    fn refusal(&self, refusal: Refusal<'_>) -> (StatusCode, Bytes) {
        let (status, kind, message) = match refusal {
            Refusal::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", message)
            }
            Refusal::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "Internal server error",
            ),
            Refusal::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "simulated rate limit",
            ),
            Refusal::Overloaded => (overloaded(), "overloaded_error", "Overloaded"),
        };
        (status, error_body(kind, message).into())
    }

    fn script(&self, scenario: &Scenario, shape: &Shape) -> MessageScript {
        let blocks = blocks(scenario, shape);
        let total = blocks.iter().map(|b| b.tokens.len()).sum();
        MessageScript {
            id: message_id(scenario),
            model: json_string(&scenario.model),
            input_tokens: scenario.prompt_tokens,
            blocks,
            current: 0,
            sent: 0,
            total,
            stop_reason: stop_reason(scenario, shape),
        }
    }

    fn whole(&self, scenario: &Scenario, shape: &Shape) -> Bytes {
        let blocks = blocks(scenario, shape);
        let output_tokens: usize = blocks.iter().map(|b| b.tokens.len()).sum();
        let content: Vec<Value> = blocks
            .into_iter()
            .map(|block| {
                let text: String = block.tokens.collect();
                match block.kind {
                    Kind::Thinking { signature } => {
                        json!({"type": "thinking", "thinking": text, "signature": signature})
                    }
                    Kind::Text => json!({"type": "text", "text": text}),
                    Kind::Tool { id, call, .. } => json!({
                        "type": "tool_use", "id": id, "name": call.name,
                        "input": call.arguments(text)
                    }),
                }
            })
            .collect();
        let message = json!({
            "id": message_id(scenario),
            "type": "message",
            "role": "assistant",
            "model": scenario.model,
            "content": content,
            "stop_reason": stop_reason(scenario, shape),
            "stop_sequence": null,
            "usage": {"input_tokens": scenario.prompt_tokens, "output_tokens": output_tokens},
        });
        Bytes::from(message.to_string())
    }
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the prompt tokens a
/// `/v1/messages` request with the same `system` and `messages` is answered with; a body
/// without `model` or `messages` is Anthropic's 400.
pub fn count_tokens(stats: &Stats, body: &[u8]) -> MockResponse {
    stats.request();
    let counted = serde_json::from_slice::<Value>(body)
        .map_err(|e| format!("request body is not valid JSON: {e}"))
        .and_then(|json| {
            required(&json, "model", Value::as_str, "string")?;
            let messages = required(&json, "messages", Value::as_array, "list")?;
            Ok(prompt_of(&json, messages).tokens())
        });
    let (status, body) = match counted {
        Ok(n) => (StatusCode::OK, format!(r#"{{"input_tokens":{n}}}"#)),
        Err(message) => {
            stats.error();
            (
                StatusCode::BAD_REQUEST,
                error_body("invalid_request_error", &message),
            )
        }
    };
    MockResponse {
        status,
        headers: vec![("content-type", crate::respond::JSON.to_owned())],
        body: Box::pin(futures_util::stream::iter([Ok(Bytes::from(body))])),
    }
}

/// The prompt of a Messages body: its `system` (a string or text blocks), then each message's
/// `content` (a string or blocks of type `text`).
fn prompt_of(json: &Value, messages: &[Value]) -> Prompt {
    let mut prompt = Prompt::new();
    match json.get("system") {
        Some(Value::String(text)) => prompt.message([text.as_str()]),
        Some(Value::Array(blocks)) => prompt.message(texts(blocks, Some("text"))),
        _ => {}
    }
    for message in messages {
        match message.get("content") {
            Some(Value::String(text)) => prompt.message([text.as_str()]),
            Some(Value::Array(blocks)) => prompt.message(texts(blocks, Some("text"))),
            _ => prompt.message([]),
        }
    }
    prompt
}

/// `field` of the body, or the message Anthropic answers its absence (or wrong type) with.
fn required<'a, T>(
    json: &'a Value,
    field: &str,
    read: impl FnOnce(&'a Value) -> Option<T>,
    what: &str,
) -> Result<T, String> {
    match json.get(field) {
        None | Some(Value::Null) => Err(format!("{field}: Field required")),
        Some(value) => {
            read(value).ok_or_else(|| format!("{field}: Input should be a valid {what}"))
        }
    }
}

fn error_body(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

fn message_id(scenario: &Scenario) -> String {
    format!("msg_mock_{:016x}", scenario.seed)
}

fn stop_reason(scenario: &Scenario, shape: &Shape) -> &'static str {
    match (scenario.finish, shape) {
        (Finish::Length, _) => "max_tokens",
        (Finish::Stop, Shape::Tool(_)) => "tool_use",
        (Finish::Stop, _) => "end_turn",
    }
}

/// One content block of the answer and the tokens it holds.
#[derive(Debug)]
struct Block {
    kind: Kind,
    tokens: Tokens,
}

#[derive(Debug)]
enum Kind {
    Thinking {
        signature: String,
    },
    Text,
    Tool {
        id: String,
        call: ToolCall,
        /// Whether the input's opening fragment was sent.
        opened: bool,
    },
}

/// The answer's blocks: thinking (for `mock-think`), then the text or the tool call.
fn blocks(scenario: &Scenario, shape: &Shape) -> Vec<Block> {
    let mut blocks = Vec::with_capacity(2);
    let thinking = shape.thinking(scenario.seed);
    if thinking.len() > 0 {
        blocks.push(Block {
            kind: Kind::Thinking {
                signature: format!("mocksig{:016x}", scenario.seed),
            },
            tokens: thinking,
        });
    }
    let kind = match shape {
        Shape::Tool(call) => Kind::Tool {
            id: format!("toolu_mock_{:016x}", scenario.seed),
            call: call.clone(),
            opened: false,
        },
        Shape::Text | Shape::Think => Kind::Text,
    };
    blocks.push(Block {
        kind,
        tokens: generate(scenario.seed, scenario.tokens),
    });
    blocks
}

/// A Messages stream. Every token is one `content_block_delta`; a block starts when its first
/// token is due (the first with `message_start` and a `ping` after its start) and stops when
/// the next starts or the message ends.
#[derive(Debug)]
pub(crate) struct MessageScript {
    id: String,
    /// The model as a JSON string.
    model: String,
    input_tokens: u64,
    blocks: Vec<Block>,
    /// The open block.
    current: usize,
    sent: usize,
    total: usize,
    stop_reason: &'static str,
}

/// Writes one SSE event of type `name`.
fn event(buf: &mut BytesMut, name: &str, data: std::fmt::Arguments<'_>) {
    let _ = write!(buf, "event: {name}\ndata: {data}\n\n");
}

/// The input's closing fragment, `"}`, inside a JSON string.
const CLOSE_INPUT: &str = r#"\"}"#;

impl MessageScript {
    fn start_block(&self, buf: &mut BytesMut, index: usize) {
        let block = match &self.blocks[index].kind {
            Kind::Thinking { .. } => r#"{"type":"thinking","thinking":"","signature":""}"#.into(),
            Kind::Text => r#"{"type":"text","text":""}"#.into(),
            Kind::Tool { id, call, .. } => format!(
                r#"{{"type":"tool_use","id":"{id}","name":{},"input":{{}}}}"#,
                json_string(&call.name)
            ),
        };
        event(
            buf,
            "content_block_start",
            format_args!(
                r#"{{"type":"content_block_start","index":{index},"content_block":{block}}}"#
            ),
        );
    }

    /// A tool's input begins with an empty fragment, as Anthropic sends it.
    fn begin_input(&self, buf: &mut BytesMut, index: usize) {
        if matches!(self.blocks[index].kind, Kind::Tool { .. }) {
            delta(buf, index, "input_json_delta", "partial_json", "");
        }
    }

    fn stop_block(&mut self, buf: &mut BytesMut, index: usize) {
        match &mut self.blocks[index].kind {
            Kind::Thinking { signature } => {
                delta(buf, index, "signature_delta", "signature", signature);
            }
            Kind::Tool { call, opened, .. } => {
                let fragment = input_fragment(call, opened, CLOSE_INPUT);
                delta(buf, index, "input_json_delta", "partial_json", &fragment);
            }
            Kind::Text => {}
        }
        event(
            buf,
            "content_block_stop",
            format_args!(r#"{{"type":"content_block_stop","index":{index}}}"#),
        );
    }
}

/// A `content_block_delta` whose delta is `{"type":kind,field:"text"}`; `text` is written
/// as is (tokens and pre-escaped fragments need no escaping).
fn delta(buf: &mut BytesMut, index: usize, kind: &str, field: &str, text: &str) {
    event(
        buf,
        "content_block_delta",
        format_args!(
            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"{kind}","{field}":"{text}"}}}}"#
        ),
    );
}

/// An input fragment (inside a JSON string): `rest`, after the opening `{"<key>": "` when
/// that was not sent yet (`opened`).
fn input_fragment(call: &ToolCall, opened: &mut bool, rest: &str) -> String {
    let mut fragment = if std::mem::replace(opened, true) {
        String::new()
    } else {
        let quoted = json_string(&format!("{{{}: \"", json_string(&call.key)));
        quoted[1..quoted.len() - 1].to_owned()
    };
    fragment.push_str(rest);
    fragment
}

impl Script for MessageScript {
    fn open(&mut self, buf: &mut BytesMut) {
        event(
            buf,
            "message_start",
            format_args!(
                r#"{{"type":"message_start","message":{{"id":"{}","type":"message","role":"assistant","model":{},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{},"output_tokens":1}}}}}}"#,
                self.id, self.model, self.input_tokens
            ),
        );
        self.start_block(buf, 0);
        event(buf, "ping", format_args!(r#"{{"type": "ping"}}"#));
        self.begin_input(buf, 0);
    }

    fn piece(&mut self, buf: &mut BytesMut) {
        loop {
            let index = self.current;
            let block = &mut self.blocks[index];
            if let Some(token) = block.tokens.next() {
                self.sent += 1;
                match &mut block.kind {
                    Kind::Thinking { .. } => {
                        delta(buf, index, "thinking_delta", "thinking", token);
                    }
                    Kind::Text => delta(buf, index, "text_delta", "text", token),
                    Kind::Tool { call, opened, .. } => {
                        let fragment = input_fragment(call, opened, token);
                        delta(buf, index, "input_json_delta", "partial_json", &fragment);
                    }
                }
                return;
            }
            if index + 1 == self.blocks.len() {
                return;
            }
            self.stop_block(buf, index);
            self.current += 1;
            self.start_block(buf, index + 1);
            self.begin_input(buf, index + 1);
        }
    }

    fn sent(&self) -> usize {
        self.sent
    }

    fn total(&self) -> usize {
        self.total
    }

    fn tail(&mut self, buf: &mut BytesMut) {
        self.stop_block(buf, self.current);
        for index in self.current + 1..self.blocks.len() {
            self.start_block(buf, index);
            self.begin_input(buf, index);
            self.stop_block(buf, index);
        }
        event(
            buf,
            "message_delta",
            format_args!(
                r#"{{"type":"message_delta","delta":{{"stop_reason":"{}","stop_sequence":null}},"usage":{{"input_tokens":{},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":{}}}}}"#,
                self.stop_reason, self.input_tokens, self.total
            ),
        );
        event(
            buf,
            "message_stop",
            format_args!(r#"{{"type":"message_stop"}}"#),
        );
    }

    fn error(&mut self, buf: &mut BytesMut) {
        let body = error_body("overloaded_error", "Overloaded");
        event(buf, "error", format_args!("{body}"));
    }
}
