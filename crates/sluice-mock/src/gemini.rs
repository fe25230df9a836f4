//! Google's Gemini API, `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` and
//! `POST /v1beta/models/{model}:generateContent`, in the shapes Google publishes: a stream is
//! `data: <GenerateContentResponse>` events with CRLF line ends and Google's JSON spacing
//! (`": "` after keys), several tokens per event ([`TOKENS_PER_EVENT`]), the usage cumulative
//! in every event and the finish reason in the last, with no end marker; a whole answer is one
//! `GenerateContentResponse`, pretty-printed as Google writes it; errors are
//! `{"error":{"code","message","status"}}`.
//!
//! The model is the path's. The request must have `contents` (a 400 `INVALID_ARGUMENT`
//! otherwise); the prompt is the text of `systemInstruction.parts[].text` and of each
//! `contents[].parts[].text`, seeded as the [crate docs](crate#seeds) say, so a conversation
//! gets the same answer here as on the Anthropic path. `generationConfig.maxOutputTokens` caps the answer's tokens
//! (`finishReason: MAX_TOKENS`). Fields are read in camelCase or snake_case, as Google takes
//! them. A stream without `alt=sse` (Google's JSON-array stream) is refused with a 400.
//!
//! Beside the fault models of every API (`mock-529` is Google's 503 `UNAVAILABLE`, and
//! `mock-error-midstream` ends the stream with that error object as its last event):
//! - `mock-tool`, when the request has `tools` with a function declaration: a `functionCall`
//!   part calling the first one, then `finishReason: STOP`;
//! - `mock-think`, when `generationConfig.thinkingConfig.includeThoughts` is true: parts with
//!   `"thought": true` before the text, counted in `thoughtsTokenCount`.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::encode::json_string;
use crate::generator::{generate, Prompt, Tokens};
use crate::native::{texts, Shape, ToolCall};
use crate::respond::{answer, Dialect, Refusal};
use crate::scenario::{Asked, Fault, Finish, Scenario};
use crate::stream::Script;
use crate::{MockResponse, MockSettings, Stats};

/// How many tokens a stream event carries at most (Gemini groups tokens per event).
pub const TOKENS_PER_EVENT: usize = 4;

/// Google's message for an overloaded model.
const OVERLOADED: &str = "The model is overloaded. Please try again later.";

/// A Gemini method call, as its URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiCall {
    /// The model of the path.
    pub model: String,
    /// `streamGenerateContent` rather than `generateContent`.
    pub stream: bool,
    /// The query asks for server-sent events (`alt=sse`).
    pub sse: bool,
}

impl GeminiCall {
    /// The call `path` and `query` name: `/v1beta/models/{model}:generateContent` or
    /// `/v1beta/models/{model}:streamGenerateContent`; `None` for any other path.
    pub fn from_uri(path: &str, query: Option<&str>) -> Option<Self> {
        let (model, method) = path.strip_prefix("/v1beta/models/")?.rsplit_once(':')?;
        if model.is_empty() || model.contains('/') {
            return None;
        }
        let stream = match method {
            "generateContent" => false,
            "streamGenerateContent" => true,
            _ => return None,
        };
        let sse = query.is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
        Some(Self {
            model: model.to_owned(),
            stream,
            sse,
        })
    }
}

/// Answers one Gemini call, as [`respond`](fn@crate::respond) answers a chat completion: final
/// status and headers, a lazy timed body.
pub fn respond(
    settings: &MockSettings,
    stats: &Stats,
    call: &GeminiCall,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    answer(call, settings, stats, headers, body)
}

/// `json[camel]`, or `json[snake]` as Google also takes it.
fn field<'a>(json: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    json.get(camel).or_else(|| json.get(snake))
}

/// The texts of a `Content` (`{"parts": [{"text": …}, …]}`).
fn content_texts(content: &Value) -> impl Iterator<Item = &str> {
    let parts = content.get("parts").and_then(Value::as_array);
    texts(parts.map_or(&[], Vec::as_slice), None)
}

/// The call `mock-tool` makes: the first function declared.
fn first_function(json: &Value) -> Option<ToolCall> {
    let function = json.get("tools")?.as_array()?.iter().find_map(|tool| {
        field(tool, "functionDeclarations", "function_declarations")?
            .as_array()?
            .first()
    })?;
    let name = function.get("name")?.as_str()?;
    let schema = function
        .get("parameters")
        .or_else(|| field(function, "parametersJsonSchema", "parameters_json_schema"));
    Some(ToolCall::new(name, schema))
}

impl Dialect for GeminiCall {
    type Extra = Shape;
    type Script = GenerateScript;

    fn read(
        &self,
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Scenario, Shape), String> {
        if self.stream && !self.sse {
            return Err("the mock streams only as server-sent events: add alt=sse".to_owned());
        }
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| format!("Invalid JSON payload received. {e}"))?;
        let contents = json
            .get("contents")
            .and_then(Value::as_array)
            .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
        let mut prompt = Prompt::new();
        if let Some(system) = field(&json, "systemInstruction", "system_instruction") {
            prompt.message(content_texts(system));
        }
        for content in contents {
            prompt.message(content_texts(content));
        }
        let config = field(&json, "generationConfig", "generation_config");
        let config_field = |camel, snake| config.and_then(|c| field(c, camel, snake));
        let shape = Shape::for_model(
            &self.model,
            || first_function(&json),
            || {
                config_field("thinkingConfig", "thinking_config")
                    .and_then(|t| field(t, "includeThoughts", "include_thoughts"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            },
        );
        let asked = Asked {
            model: self.model.clone(),
            stream: self.stream,
            include_usage: true,
            seed: prompt.seed(),
            prompt_tokens: prompt.tokens(),
            max_tokens: config_field("maxOutputTokens", "max_output_tokens")
                .and_then(Value::as_u64),
        };
        Ok((Scenario::build(settings, headers, asked)?, shape))
    }

    fn refusal(&self, refusal: Refusal<'_>) -> (StatusCode, Bytes) {
        let (status, google, message) = match refusal {
            Refusal::BadRequest(message) => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message),
            Refusal::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "An internal error has occurred.",
            ),
            Refusal::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "simulated rate limit",
            ),
            Refusal::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", OVERLOADED),
        };
        let body =
            json!({"error": {"code": status.as_u16(), "message": message, "status": google}});
        (status, pretty(&body))
    }

    fn script(&self, scenario: &Scenario, shape: &Shape) -> GenerateScript {
        let thoughts = shape.thinking(scenario.seed);
        let total = thoughts.len() + scenario.tokens;
        GenerateScript {
            trailer: format!(
                r#","modelVersion": {},"responseId": "{}"}}"#,
                json_string(&scenario.model),
                response_id(scenario)
            ),
            prompt_tokens: scenario.prompt_tokens,
            thoughts,
            text: generate(scenario.seed, scenario.tokens),
            tool: match shape {
                Shape::Tool(call) => Some(call.clone()),
                Shape::Text | Shape::Think => None,
            },
            sent_thoughts: 0,
            sent: 0,
            total,
            // A stream that will fail keeps its finish for an event it never sends.
            hold_finish: matches!(
                scenario.fault,
                Fault::Stall | Fault::Drop | Fault::ErrorMidstream
            ),
            finished: false,
            finish: finish_reason(scenario),
        }
    }

    fn whole(&self, scenario: &Scenario, shape: &Shape) -> Bytes {
        let thoughts: String = shape.thinking(scenario.seed).collect();
        let thought_tokens = shape.thinking(scenario.seed).len();
        let text: String = generate(scenario.seed, scenario.tokens).collect();
        let mut parts = Vec::with_capacity(2);
        if thought_tokens > 0 {
            parts.push(json!({"text": thoughts, "thought": true}));
        }
        parts.push(match shape {
            Shape::Tool(call) => {
                json!({"functionCall": {"name": call.name, "args": call.arguments(text)}})
            }
            Shape::Text | Shape::Think => json!({"text": text}),
        });
        let candidates = scenario.tokens as u64;
        let thoughts = thought_tokens as u64;
        let mut usage = json!({
            "promptTokenCount": scenario.prompt_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": scenario.prompt_tokens + candidates + thoughts,
        });
        if thoughts > 0 {
            usage["thoughtsTokenCount"] = thoughts.into();
        }
        pretty(&json!({
            "candidates": [{
                "content": {"parts": parts, "role": "model"},
                "finishReason": finish_reason(scenario),
                "index": 0,
            }],
            "usageMetadata": usage,
            "modelVersion": scenario.model,
            "responseId": response_id(scenario),
        }))
    }
}

/// `value` indented as Google indents whole answers.
fn pretty(value: &Value) -> Bytes {
    serde_json::to_vec_pretty(value).unwrap_or_default().into()
}

fn response_id(scenario: &Scenario) -> String {
    format!("mock{:016x}", scenario.seed)
}

fn finish_reason(scenario: &Scenario) -> &'static str {
    match scenario.finish {
        Finish::Stop => "STOP",
        Finish::Length => "MAX_TOKENS",
    }
}

/// A `streamGenerateContent` stream: thought parts, then text parts (or the function call),
/// [`TOKENS_PER_EVENT`] tokens an event, the last event with the finish reason.
#[derive(Debug)]
pub(crate) struct GenerateScript {
    /// `,"modelVersion": …,"responseId": …}`
    trailer: String,
    prompt_tokens: u64,
    thoughts: Tokens,
    text: Tokens,
    /// The call to make with the text tokens as its argument, if any.
    tool: Option<ToolCall>,
    sent_thoughts: usize,
    sent: usize,
    total: usize,
    hold_finish: bool,
    finished: bool,
    finish: &'static str,
}

impl GenerateScript {
    /// One event holding `part` (a JSON object) and, when `finish`, the finish reason.
    fn event(&self, buf: &mut BytesMut, part: &str, finish: bool) {
        let candidates = self.sent - self.sent_thoughts;
        let total = self.prompt_tokens + self.sent as u64;
        let _ = write!(
            buf,
            r#"data: {{"candidates": [{{"content": {{"parts": [{part}],"role": "model"}}"#
        );
        if finish {
            let _ = write!(buf, r#","finishReason": "{}""#, self.finish);
        }
        let _ = write!(
            buf,
            r#","index": 0}}],"usageMetadata": {{"promptTokenCount": {},"candidatesTokenCount": {candidates},"totalTokenCount": {total}"#,
            self.prompt_tokens
        );
        if self.sent_thoughts > 0 {
            let _ = write!(buf, r#","thoughtsTokenCount": {}"#, self.sent_thoughts);
        }
        buf.put_slice(b"}");
        buf.put_slice(self.trailer.as_bytes());
        buf.put_slice(b"\r\n\r\n");
    }

    /// The function call part, its argument made of every text token left.
    fn call_part(&mut self) -> Option<String> {
        let call = self.tool.take()?;
        self.sent += self.text.len();
        let text: String = self.text.by_ref().collect();
        Some(format!(
            r#"{{"functionCall": {{"name": {},"args": {{{}: {}}}}}}}"#,
            json_string(&call.name),
            json_string(&call.key),
            json_string(&text)
        ))
    }
}

/// Up to [`TOKENS_PER_EVENT`] tokens of `tokens`, concatenated.
fn group(tokens: &mut Tokens) -> (String, usize) {
    let mut text = String::new();
    let mut n = 0;
    for token in tokens.take(TOKENS_PER_EVENT) {
        text.push_str(token);
        n += 1;
    }
    (text, n)
}

impl Script for GenerateScript {
    fn open(&mut self, _: &mut BytesMut) {}

    fn piece(&mut self, buf: &mut BytesMut) {
        let part = if self.thoughts.len() > 0 {
            let (text, n) = group(&mut self.thoughts);
            self.sent += n;
            self.sent_thoughts += n;
            format!(r#"{{"text": "{text}","thought": true}}"#)
        } else if let Some(part) = self.call_part() {
            part
        } else {
            let (text, n) = group(&mut self.text);
            self.sent += n;
            format!(r#"{{"text": "{text}"}}"#)
        };
        let finish = self.sent == self.total && self.tool.is_none() && !self.hold_finish;
        self.finished = finish;
        self.event(buf, &part, finish);
    }

    fn sent(&self) -> usize {
        self.sent
    }

    fn total(&self) -> usize {
        self.total
    }

    fn tail(&mut self, buf: &mut BytesMut) {
        if !self.finished {
            let part = self
                .call_part()
                .unwrap_or_else(|| r#"{"text": ""}"#.to_owned());
            self.event(buf, &part, true);
        }
    }

    fn error(&mut self, buf: &mut BytesMut) {
        let _ = write!(
            buf,
            r#"data: {{"error": {{"code": 503,"message": "{OVERLOADED}","status": "UNAVAILABLE"}}}}"#
        );
        buf.put_slice(b"\r\n\r\n");
    }
}
