//! OpenAI's Responses API, `POST /v1/responses`, for a gateway provider configured with
//! `responses = true`. Text answers in the documented event order: `response.created`,
//! `response.in_progress`, `response.output_item.added` (a `message`),
//! `response.content_part.added`, a `response.output_text.delta` per token,
//! `response.output_text.done`, `response.content_part.done`, `response.output_item.done`, and
//! `response.completed` (or `response.incomplete` when `max_output_tokens` cut the answer) with
//! the whole `response` and its `usage`; every event has its `event:` name and a
//! `sequence_number` from 0. A whole answer is the `response` object.
//!
//! The request must have `model` and `input` (a string, or items whose `content` is a string
//! or parts with `text`); `instructions` is the first message of the prompt, seeded as the
//! [crate docs](crate#seeds) say. The simulated provider keeps no responses, but it echoes
//! `previous_response_id` in the `response` object, as the real API does, so a test can see
//! that a gateway passed it on. `mock-error-midstream` ends a stream with `response.failed`.

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::encode::{json_string, unix_now};
use crate::generator::{generate, Prompt, Tokens};
use crate::native::texts;
use crate::openai::openai_refusal;
use crate::respond::{answer, Dialect, Refusal};
use crate::scenario::{Asked, Finish, Scenario};
use crate::stream::Script;
use crate::{MockResponse, MockSettings, Stats};

/// Answers one `POST /v1/responses`, as [`respond`](fn@crate::respond) answers a chat
/// completion.
pub fn respond(
    settings: &MockSettings,
    stats: &Stats,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    answer(&Responses, settings, stats, headers, body)
}

struct Responses;

/// What the response object echoes of the request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Echo {
    /// `previous_response_id` as JSON (`null` when absent).
    previous: String,
}

impl Dialect for Responses {
    type Extra = Echo;
    type Script = ResponseScript;

    fn read(
        &self,
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Scenario, Echo), String> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| format!("request body is not valid JSON: {e}"))?;
        let model = json
            .get("model")
            .and_then(Value::as_str)
            .ok_or("Missing required parameter: 'model'.")?;
        let mut prompt = Prompt::new();
        if let Some(instructions) = json.get("instructions").and_then(Value::as_str) {
            prompt.message([instructions]);
        }
        match json.get("input") {
            Some(Value::String(text)) => prompt.message([text.as_str()]),
            Some(Value::Array(items)) => {
                for item in items {
                    match item.get("content") {
                        Some(Value::String(text)) => prompt.message([text.as_str()]),
                        Some(Value::Array(parts)) => prompt.message(texts(parts, None)),
                        _ => prompt.message([]),
                    }
                }
            }
            _ => return Err("Missing required parameter: 'input'.".to_owned()),
        }
        let previous = json
            .get("previous_response_id")
            .filter(|v| v.is_string())
            .map_or_else(|| "null".to_owned(), Value::to_string);
        let asked = Asked {
            model: model.to_owned(),
            stream: json.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: true,
            seed: prompt.seed(),
            prompt_tokens: prompt.tokens(),
            max_tokens: json.get("max_output_tokens").and_then(Value::as_u64),
        };
        Ok((
            Scenario::build(settings, headers, asked)?,
            Echo { previous },
        ))
    }

    fn refusal(&self, refusal: Refusal<'_>) -> (StatusCode, Bytes) {
        openai_refusal(refusal)
    }

    fn script(&self, scenario: &Scenario, echo: &Echo) -> ResponseScript {
        ResponseScript {
            head: Head::new(scenario, echo),
            tokens: generate(scenario.seed, scenario.tokens),
            text: String::new(),
            sent: 0,
            total: scenario.tokens,
            sequence: 0,
        }
    }

    fn whole(&self, scenario: &Scenario, echo: &Echo) -> Bytes {
        let head = Head::new(scenario, echo);
        let text: String = generate(scenario.seed, scenario.tokens).collect();
        let output = head.message("completed", &text);
        Bytes::from(head.response(head.status(), &format!("[{output}]"), &head.usage()))
    }
}

/// What every `response` object of one answer shares.
#[derive(Debug)]
struct Head {
    id: String,
    item_id: String,
    /// The model as a JSON string.
    model: String,
    created_at: u64,
    previous: String,
    input_tokens: u64,
    output_tokens: usize,
    finish: Finish,
}

impl Head {
    fn new(scenario: &Scenario, echo: &Echo) -> Self {
        Head {
            id: format!("resp_mock_{:016x}", scenario.seed),
            item_id: format!("msg_mock_{:016x}", scenario.seed),
            model: json_string(&scenario.model),
            created_at: unix_now(),
            previous: echo.previous.clone(),
            input_tokens: scenario.prompt_tokens,
            output_tokens: scenario.tokens,
            finish: scenario.finish,
        }
    }

    /// `completed`, or `incomplete` when `max_output_tokens` cut the answer.
    fn status(&self) -> &'static str {
        match self.finish {
            Finish::Stop => "completed",
            Finish::Length => "incomplete",
        }
    }

    fn response(&self, status: &str, output: &str, usage: &str) -> String {
        let incomplete = if status == "incomplete" {
            r#"{"reason":"max_output_tokens"}"#
        } else {
            "null"
        };
        format!(
            r#"{{"id":"{}","object":"response","created_at":{},"status":"{status}","error":null,"incomplete_details":{incomplete},"model":{},"output":{output},"previous_response_id":{},"store":true,"usage":{usage}}}"#,
            self.id, self.created_at, self.model, self.previous
        )
    }

    fn message(&self, status: &str, text: &str) -> String {
        let content = if status == "in_progress" {
            "[]".to_owned()
        } else {
            format!(
                r#"[{{"type":"output_text","text":{},"annotations":[]}}]"#,
                json_string(text)
            )
        };
        format!(
            r#"{{"id":"{}","type":"message","status":"{status}","role":"assistant","content":{content}}}"#,
            self.item_id
        )
    }

    fn usage(&self) -> String {
        format!(
            r#"{{"input_tokens":{},"input_tokens_details":{{"cached_tokens":0}},"output_tokens":{},"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":{}}}"#,
            self.input_tokens,
            self.output_tokens,
            self.input_tokens + self.output_tokens as u64
        )
    }
}

/// A Responses stream: one `response.output_text.delta` per token.
#[derive(Debug)]
pub(crate) struct ResponseScript {
    head: Head,
    tokens: Tokens,
    /// The text so far, for the `…done` events and the final output.
    text: String,
    sent: usize,
    total: usize,
    sequence: u64,
}

impl ResponseScript {
    /// Writes one event named `name`; `body` is its JSON after `"type"` and `"sequence_number"`.
    fn event(&mut self, buf: &mut BytesMut, name: &str, body: std::fmt::Arguments<'_>) {
        let _ = write!(
            buf,
            "event: {name}\ndata: {{\"type\":\"{name}\",\"sequence_number\":{},{body}}}\n\n",
            self.sequence
        );
        self.sequence += 1;
    }

    fn part(&self) -> String {
        format!(
            r#"{{"type":"output_text","text":{},"annotations":[]}}"#,
            json_string(&self.text)
        )
    }
}

const AT: &str = r#""item_id":"#;

impl Script for ResponseScript {
    fn open(&mut self, buf: &mut BytesMut) {
        let response = self.head.response("in_progress", "[]", "null");
        self.event(
            buf,
            "response.created",
            format_args!(r#""response":{response}"#),
        );
        self.event(
            buf,
            "response.in_progress",
            format_args!(r#""response":{response}"#),
        );
        let item = self.head.message("in_progress", "");
        self.event(
            buf,
            "response.output_item.added",
            format_args!(r#""output_index":0,"item":{item}"#),
        );
        let id = self.head.item_id.clone();
        self.event(
            buf,
            "response.content_part.added",
            format_args!(
                r#"{AT}"{id}","output_index":0,"content_index":0,"part":{{"type":"output_text","text":"","annotations":[]}}"#
            ),
        );
    }

    fn piece(&mut self, buf: &mut BytesMut) {
        if let Some(token) = self.tokens.next() {
            self.sent += 1;
            self.text.push_str(token);
            let id = self.head.item_id.clone();
            self.event(
                buf,
                "response.output_text.delta",
                format_args!(
                    r#"{AT}"{id}","output_index":0,"content_index":0,"delta":"{token}","logprobs":[]"#
                ),
            );
        }
    }

    fn sent(&self) -> usize {
        self.sent
    }

    fn total(&self) -> usize {
        self.total
    }

    fn tail(&mut self, buf: &mut BytesMut) {
        let id = self.head.item_id.clone();
        let text = json_string(&self.text);
        self.event(
            buf,
            "response.output_text.done",
            format_args!(
                r#"{AT}"{id}","output_index":0,"content_index":0,"text":{text},"logprobs":[]"#
            ),
        );
        let part = self.part();
        self.event(
            buf,
            "response.content_part.done",
            format_args!(r#"{AT}"{id}","output_index":0,"content_index":0,"part":{part}"#),
        );
        let status = self.head.status();
        let item = self.head.message(status, &self.text);
        self.event(
            buf,
            "response.output_item.done",
            format_args!(r#""output_index":0,"item":{item}"#),
        );
        let response = self
            .head
            .response(status, &format!("[{item}]"), &self.head.usage());
        let name = format!("response.{status}");
        self.event(buf, &name, format_args!(r#""response":{response}"#));
    }

    fn error(&mut self, buf: &mut BytesMut) {
        let error = json!({"code": "server_error", "message": "simulated failure mid-stream"});
        let response = self.head.response("failed", "[]", "null");
        let response = response.replacen(r#""error":null"#, &format!(r#""error":{error}"#), 1);
        self.event(
            buf,
            "response.failed",
            format_args!(r#""response":{response}"#),
        );
    }
}
