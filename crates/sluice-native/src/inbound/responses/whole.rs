//! A whole `chat.completion` as a Responses `response` object.

use serde_json::Value;
use sluice_openai::{ErrorBody, UsagePricer};

use super::object::{
    call_item, end_status, first_choice, message_item, reasoning_item, reasoning_text,
    reasoning_tokens, response_json, usage_json, Ending, PartKind, ResponseMeta, REDACTED,
    SIGNATURE,
};
use crate::error::{ProtocolError, ResponseError};

/// Translates a whole `chat.completion` (choice 0) to a Responses `response`: a `reasoning`
/// item from `message.reasoning_content` (its `reasoning_signature` in `encrypted_content`,
/// as the stream writes it) and one per `reasoning_redacted` block, a `message` item from `content` (an `output_text`
/// part) and `refusal` (a `refusal` part), a `function_call` item per tool call (its id kept
/// as `call_id`), in that order, as the stream writes them. The status is `completed`, or
/// `incomplete` for a `length` or `content_filter` finish; the usage carries the gateway's
/// cost when `pricer` prices it. A completion that is the provider's error object is
/// [`ResponseError::Provider`].
pub fn response(
    completion: &[u8],
    meta: &ResponseMeta,
    pricer: Option<&dyn UsagePricer>,
) -> Result<Vec<u8>, ResponseError> {
    let value: Value = serde_json::from_slice(completion)
        .map_err(|e| ProtocolError::json("chat completion", e))?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(ResponseError::Provider(Box::new(ErrorBody::from_json(
            &value,
        ))));
    }
    let choice = first_choice(&value)
        .ok_or_else(|| ProtocolError("a chat completion without choice 0".into()))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let (status, incomplete_details) = end_status(finish);
    let mut output = Vec::new();
    if let Some(text) = reasoning_text(message).filter(|t| !t.is_empty()) {
        let signature = message.get("reasoning_signature").and_then(Value::as_str);
        let encrypted = signature.map(|s| format!("{SIGNATURE}{s}"));
        let id = meta.item_id("rs", output.len());
        output.push(reasoning_item(&id, text, encrypted.as_deref()));
    }
    let redacted = match message.get("reasoning_redacted") {
        Some(Value::String(data)) => vec![data.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for data in redacted {
        let id = meta.item_id("rs", output.len());
        output.push(reasoning_item(&id, "", Some(&format!("{REDACTED}{data}"))));
    }
    let mut parts = Vec::new();
    for (key, kind) in [("content", PartKind::Text), ("refusal", PartKind::Refusal)] {
        if let Some(text) = message
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            parts.push((kind, text.to_owned()));
        }
    }
    if !parts.is_empty() {
        output.push(message_item(
            &meta.item_id("msg", output.len()),
            status,
            &parts,
        ));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for call in calls.into_iter().flatten() {
        let function = call.get("function").unwrap_or(&Value::Null);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
        let index = output.len();
        let call_id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => meta.item_id("call", index),
        };
        let (name, args) = (text(function.get("name")), text(function.get("arguments")));
        output.push(call_item(
            &meta.item_id("fc", index),
            status,
            &call_id,
            &name,
            &args,
        ));
    }
    let summary = sluice_openai::inspect(completion)
        .map_err(|e| ProtocolError::json("chat completion", e))?;
    let reasoning = value.get("usage").map_or(0, reasoning_tokens);
    let usage = summary.usage.map(|u| usage_json(&u, reasoning, pricer));
    let ending = Ending {
        status,
        error: Value::Null,
        incomplete_details,
        usage: usage.as_deref(),
    };
    Ok(response_json(meta, ending, &output).into_bytes())
}
