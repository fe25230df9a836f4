//! The streaming APIs a benchmark can drive: OpenAI's chat completions (the default), OpenAI's
//! Responses API and Anthropic's Messages API, the three a gateway like Sluice serves (and the
//! last two what Codex and Claude Code speak). Each has its path, its request body, its
//! authentication header and its own events: [`Api::read`] says, of one event of the last two,
//! what timing cares about (chat chunks are read by `stream_state::inspect_chunk`).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// A streaming API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Api {
    /// `POST {base}/chat/completions`, ending with `data: [DONE]`.
    #[default]
    Chat,
    /// `POST {base}/responses`, ending with `response.completed` (or `response.incomplete`).
    Responses,
    /// `POST {base}/messages`, ending with `message_stop`.
    Messages,
}

/// What one event of a Responses or Messages stream says, as far as timing cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reading {
    /// It carries answer text, reasoning or tool input.
    pub content: bool,
    /// The answer's output tokens, from the final usage.
    pub completion_tokens: Option<u64>,
    /// The stream's last event.
    pub done: bool,
    /// It reports a failure: its message.
    pub error: Option<String>,
}

impl Api {
    /// Its path under the base URL.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Api::Chat => "/chat/completions",
            Api::Responses => "/responses",
            Api::Messages => "/messages",
        }
    }

    /// The event that ends a complete stream, for the error when it never came.
    pub(crate) fn end(self) -> &'static str {
        match self {
            Api::Chat => "[DONE]",
            Api::Responses => "response.completed",
            Api::Messages => "message_stop",
        }
    }

    /// The streamed request of one user message.
    pub(crate) fn body(self, model: &str, prompt: &str, max_tokens: Option<u32>) -> Value {
        let mut body = match self {
            Api::Chat => json!({
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "stream": true,
                "stream_options": {"include_usage": true},
            }),
            Api::Responses => json!({"model": model, "input": prompt, "stream": true}),
            Api::Messages => json!({
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "stream": true,
                // The Messages API requires a limit.
                "max_tokens": max_tokens.unwrap_or(4096),
            }),
        };
        if let Some(max) = max_tokens {
            let key = match self {
                Api::Chat => "max_tokens",
                Api::Responses => "max_output_tokens",
                Api::Messages => "max_tokens",
            };
            body[key] = max.into();
        }
        body
    }

    /// Reads one event's data (a Responses or Messages event, by its `type`).
    pub(crate) fn read(self, data: &[u8]) -> Result<Reading, serde_json::Error> {
        let event: EventView<'_> = serde_json::from_slice(data)?;
        let text = |raw: Option<&RawValue>| {
            raw.is_some_and(|r| r.get().len() > 2 && r.get().starts_with('"'))
        };
        let mut reading = Reading::default();
        match (self, event.kind.as_str()) {
            (Api::Responses, "response.completed" | "response.incomplete") => {
                reading.done = true;
                reading.completion_tokens = event.response.and_then(|r| r.usage?.output_tokens);
            }
            (Api::Responses, "response.failed") => {
                let error = event.response.and_then(|r| r.error);
                reading.error = Some(message(error.as_ref(), "response.failed"));
            }
            (Api::Responses, "error") => {
                let message = event.message.as_ref().and_then(Value::as_str);
                reading.error = Some(message.unwrap_or("error event").to_owned());
            }
            (Api::Responses, kind) if kind.ends_with(".delta") => {
                reading.content = text(event.delta.and_then(|d| d.0));
            }
            (Api::Messages, "content_block_delta") => {
                let delta = event.delta.and_then(|d| d.0);
                let fields: Option<DeltaView<'_>> =
                    delta.and_then(|d| serde_json::from_str(d.get()).ok());
                reading.content = fields
                    .is_some_and(|d| text(d.text) || text(d.thinking) || text(d.partial_json));
            }
            (Api::Messages, "message_delta") => {
                reading.completion_tokens = event.usage.and_then(|u| u.output_tokens);
            }
            (Api::Messages, "message_stop") => reading.done = true,
            (Api::Messages, "error") => {
                reading.error = Some(message(event.error.as_ref(), "error event"));
            }
            _ => {}
        }
        Ok(reading)
    }
}

/// The `message` of an error object, else `otherwise`.
fn message(error: Option<&Value>, otherwise: &str) -> String {
    error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or(otherwise)
        .to_owned()
}

#[derive(Deserialize)]
struct EventView<'a> {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default, borrow)]
    delta: Option<Raw<'a>>,
    #[serde(default)]
    response: Option<ResponseView>,
    #[serde(default)]
    usage: Option<UsageView>,
    #[serde(default)]
    error: Option<Value>,
    /// An `error` event's message (Responses); a `message` object (Messages) is not read.
    #[serde(default)]
    message: Option<Value>,
}

/// Any JSON value, kept as written.
#[derive(Deserialize)]
struct Raw<'a>(#[serde(borrow)] Option<&'a RawValue>);

#[derive(Deserialize)]
struct ResponseView {
    #[serde(default)]
    usage: Option<UsageView>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct UsageView {
    #[serde(default)]
    output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(default, borrow)]
    text: Option<&'a RawValue>,
    #[serde(default, borrow)]
    thinking: Option<&'a RawValue>,
    #[serde(default, borrow)]
    partial_json: Option<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(api: Api, data: &str) -> Reading {
        api.read(data.as_bytes()).unwrap()
    }

    #[test]
    fn responses_events() {
        let r = Api::Responses;
        assert!(read(r, r#"{"type":"response.output_text.delta","delta":"Hi"}"#).content);
        assert!(
            read(
                r,
                r#"{"type":"response.reasoning_summary_text.delta","delta":"x"}"#
            )
            .content
        );
        assert!(!read(r, r#"{"type":"response.output_text.delta","delta":""}"#).content);
        assert!(
            !read(
                r,
                r#"{"type":"response.created","response":{"usage":null}}"#
            )
            .content
        );
        let done = read(
            r,
            r#"{"type":"response.completed","response":{"usage":{"input_tokens":3,"output_tokens":9}}}"#,
        );
        assert_eq!((done.done, done.completion_tokens), (true, Some(9)));
        let failed = read(
            r,
            r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}"#,
        );
        assert_eq!(failed.error.as_deref(), Some("boom"));
        let error = read(r, r#"{"type":"error","code":"x","message":"bad"}"#);
        assert_eq!(error.error.as_deref(), Some("bad"));
    }

    #[test]
    fn messages_events() {
        let m = Api::Messages;
        let delta = |d: &str| format!(r#"{{"type":"content_block_delta","index":0,"delta":{d}}}"#);
        assert!(read(m, &delta(r#"{"type":"text_delta","text":"Hi"}"#)).content);
        assert!(read(m, &delta(r#"{"type":"thinking_delta","thinking":"hm"}"#)).content);
        assert!(
            read(
                m,
                &delta(r#"{"type":"input_json_delta","partial_json":"{\""}"#)
            )
            .content
        );
        assert!(
            !read(
                m,
                &delta(r#"{"type":"input_json_delta","partial_json":""}"#)
            )
            .content
        );
        assert!(!read(m, &delta(r#"{"type":"signature_delta","signature":"s"}"#)).content);
        let usage = read(
            m,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}"#,
        );
        assert_eq!(usage.completion_tokens, Some(12));
        assert!(read(m, r#"{"type":"message_stop"}"#).done);
        let error = read(
            m,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(error.error.as_deref(), Some("Overloaded"));
        assert!(m.read(b"[1,2]").is_err());
        let start = read(
            m,
            r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3}}}"#,
        );
        assert_eq!(start, Reading::default());
    }

    #[test]
    fn bodies_name_each_apis_limit() {
        assert_eq!(
            Api::Responses.body("m", "p", Some(5))["max_output_tokens"],
            5
        );
        assert_eq!(Api::Messages.body("m", "p", None)["max_tokens"], 4096);
        assert_eq!(Api::Chat.body("m", "p", Some(7))["max_tokens"], 7);
        assert_eq!(
            Api::Messages.body("m", "p", None)["messages"][0]["content"],
            "p"
        );
    }
}
