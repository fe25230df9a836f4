//! The Responses API's objects, shared by the stream and the whole answer: output items, the
//! usage with the gateway's cost, and the `response` object.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};
use sluice_openai::{Usage, UsagePricer};

/// The most text (bytes of reasoning, message text and tool-call names and arguments) one
/// answer may hold. The Responses API repeats every item whole in its `done` event and the
/// whole output in `response.completed`, so a stream must keep what it wrote; past this
/// bound the stream fails (`response.failed`) rather than let a provider grow the gateway's
/// memory without end. Real answers are far smaller; the headroom is for a tool call that
/// writes a large file. Half of `sluice_sse`'s bound on one event, so the last event of an
/// answer at the bound can still be read by a gateway in front of this one.
pub const MAX_OUTPUT_BYTES: usize = sluice_sse::DEFAULT_MAX_EVENT_BYTES / 2;

/// What a response says of itself that the provider's chunks do not: its id (`resp_…`), the
/// model the client asked for, and when it was made (seconds since the epoch; this crate reads
/// no clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMeta {
    pub id: String,
    pub model: String,
    pub created_at: u64,
}

impl ResponseMeta {
    /// The id of output item `index` of kind `prefix` (`msg`, `rs`, `fc`): unique within the
    /// response and across responses, as the response id is.
    pub(crate) fn item_id(&self, prefix: &str, index: usize) -> String {
        let base = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{base}_{index}")
    }
}

/// A message's content part: answer text or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartKind {
    Text,
    Refusal,
}

impl PartKind {
    /// The part with `text`, as the API writes it.
    pub fn part(self, text: &str) -> Value {
        match self {
            PartKind::Text => json!({"type": "output_text", "text": text, "annotations": []}),
            PartKind::Refusal => json!({"type": "refusal", "refusal": text}),
        }
    }
}

/// How `encrypted_content` carries a provider's signature of a reasoning block
/// (`delta.reasoning_signature`: Anthropic's thinking signature, Gemini's thought signature),
/// so that the client's next request gives it back and the provider gets the reasoning it
/// signed; any other `encrypted_content` (OpenAI's own) means nothing to a chat provider.
pub(crate) const SIGNATURE: &str = "sluice-signature:";
/// The same for a redacted reasoning block's opaque data (`delta.reasoning_redacted`).
pub(crate) const REDACTED: &str = "sluice-redacted:";

pub(crate) fn reasoning_item(id: &str, text: &str, encrypted: Option<&str>) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(encrypted) = encrypted {
        item["encrypted_content"] = encrypted.into();
    }
    item
}

pub(crate) fn message_item(id: &str, status: &str, parts: &[(PartKind, String)]) -> Value {
    let content: Vec<Value> = parts.iter().map(|(k, t)| k.part(t)).collect();
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

pub(crate) fn call_item(id: &str, status: &str, call_id: &str, name: &str, args: &str) -> Value {
    json!({
        "id": id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": args,
    })
}

/// The status of an answer that ended with chat's `finish`, and its `incomplete_details`.
pub(crate) fn end_status(finish: Option<&str>) -> (&'static str, Value) {
    match finish {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// The Responses usage object as JSON text, with the gateway's `cost` and `cost_local` (exact
/// decimals, so written by hand) when `pricer` prices it.
pub(crate) fn usage_json(
    usage: &Usage,
    reasoning_tokens: u64,
    pricer: Option<&dyn UsagePricer>,
) -> String {
    let mut out = format!(
        "{{\"input_tokens\":{},\"input_tokens_details\":{{\"cached_tokens\":{}}},\
         \"output_tokens\":{},\"output_tokens_details\":{{\"reasoning_tokens\":{}}},\
         \"total_tokens\":{}",
        usage.prompt_tokens,
        usage.cached_tokens,
        usage.completion_tokens,
        reasoning_tokens,
        usage.total_tokens,
    );
    if let Some(priced) = pricer.and_then(|p| p.price(usage)) {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            ",\"cost\":{},\"cost_local\":{}",
            priced.cost_usd,
            priced.cost_local_json()
        );
    }
    out.push('}');
    out
}

/// `usage.completion_tokens_details.reasoning_tokens` of a chat usage object, 0 when absent.
pub(crate) fn reasoning_tokens(usage: &Value) -> u64 {
    usage
        .pointer("/completion_tokens_details/reasoning_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The `error.code` of a `response.failed`: the error's code when it is a string, else its
/// type, else `server_error`.
pub fn failure_code(err: &sluice_openai::ErrorBody) -> String {
    match (&err.code, &err.error_type) {
        (Value::String(code), _) => code.clone(),
        (_, Some(kind)) => kind.clone(),
        _ => "server_error".to_owned(),
    }
}

/// How a response ended, beside its output.
pub(crate) struct Ending<'a> {
    pub status: &'a str,
    pub error: Value,
    pub incomplete_details: Value,
    /// The usage as JSON text ([`usage_json`]); `None` is written `null`.
    pub usage: Option<&'a str>,
}

impl Ending<'_> {
    pub fn in_progress() -> Ending<'static> {
        Ending {
            status: "in_progress",
            error: Value::Null,
            incomplete_details: Value::Null,
            usage: None,
        }
    }
}

/// The `response` object as JSON text. Fields that echo the request (`tools`, `temperature`,
/// …) are not written: the translated answer does not know them, and clients read the
/// output, status and usage.
pub(crate) fn response_json(meta: &ResponseMeta, ending: Ending<'_>, output: &[Value]) -> String {
    let mut map = Map::new();
    map.insert("id".into(), meta.id.clone().into());
    map.insert("object".into(), "response".into());
    map.insert("created_at".into(), meta.created_at.into());
    map.insert("status".into(), ending.status.into());
    map.insert("error".into(), ending.error);
    map.insert("incomplete_details".into(), ending.incomplete_details);
    map.insert("model".into(), meta.model.clone().into());
    map.insert("output".into(), Value::Array(output.to_vec()));
    let mut text = Value::Object(map).to_string();
    // The usage is text already; it goes in before the closing brace.
    text.pop();
    text.push_str(",\"usage\":");
    text.push_str(ending.usage.unwrap_or("null"));
    text.push('}');
    text
}

/// Choice 0 of a chunk or completion (the choice with `index` 0, or the first without an
/// index); the Responses API has one answer, so other choices (`n` > 1) are not carried.
pub(crate) fn first_choice(value: &Value) -> Option<&Value> {
    value
        .get("choices")?
        .as_array()?
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

/// The reasoning text of a delta or message: `reasoning_content`, else `reasoning` (the name
/// some providers use) when that is a string.
pub(crate) fn reasoning_text(delta: &Value) -> Option<&str> {
    delta
        .get("reasoning_content")
        .and_then(Value::as_str)
        .or_else(|| delta.get("reasoning").and_then(Value::as_str))
}
