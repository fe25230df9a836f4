//! A whole `chat.completion` as a Messages `message`.

use serde_json::{json, Map, Value};
use sluice_openai::{chunk, ErrorBody};

use super::{stop_reason, usage_json};
use crate::error::{ProtocolError, ResponseError};

/// Translates a `chat.completion` into a Messages `message` naming `model` (the model the
/// client asked for): from choice 0, `reasoning_content` (else `reasoning`) with its
/// `reasoning_signature` → a `thinking` block, `reasoning_redacted` → `redacted_thinking`
/// blocks, `content` (a string or text parts) and `refusal` → a `text` block, `tool_calls`
/// → `tool_use` blocks with the same ids and the arguments parsed (arguments that are not a
/// JSON object become `{}`: the answer is still given). The stop reason and usage are
/// mapped as for streams. A body that is an error object is [`ResponseError::Provider`].
pub fn response(completion: &[u8], model: &str) -> Result<Vec<u8>, ResponseError> {
    let value: Value =
        serde_json::from_slice(completion).map_err(|e| ProtocolError::json("completion", e))?;
    let Value::Object(mut body) = value else {
        return Err(ProtocolError("the completion is not a JSON object".into()).into());
    };
    if body.get("error").is_some_and(|e| !e.is_null()) {
        return Err(ResponseError::Provider(Box::new(ErrorBody::from_json(
            &Value::Object(body),
        ))));
    }
    let choices = match body.remove("choices") {
        Some(Value::Array(choices)) => choices,
        _ => return Err(ProtocolError("the completion has no choices".into()).into()),
    };
    let choice = choices
        .into_iter()
        .enumerate()
        .find(|(i, c)| c.get("index").and_then(Value::as_u64).unwrap_or(*i as u64) == 0)
        .map(|(_, c)| c)
        .ok_or_else(|| ProtocolError("the completion has no choice 0".into()))?;
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut content = Vec::new();
    let reasoning = [&message["reasoning_content"], &message["reasoning"]]
        .into_iter()
        .find_map(Value::as_str);
    let signature = message["reasoning_signature"].as_str();
    if reasoning.is_some() || signature.is_some() {
        content.push(json!({
            "type": "thinking",
            "thinking": reasoning.unwrap_or_default(),
            "signature": signature.unwrap_or_default(),
        }));
    }
    let redacted = match &message["reasoning_redacted"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for data in redacted {
        content.push(json!({"type": "redacted_thinking", "data": data}));
    }
    let mut text = String::new();
    match &message["content"] {
        Value::String(s) => text.push_str(s),
        Value::Array(parts) => {
            for part in parts {
                text.push_str(part["text"].as_str().unwrap_or_default());
            }
        }
        _ => {}
    }
    text.push_str(message["refusal"].as_str().unwrap_or_default());
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for (i, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let function = &call["function"];
        let input = match &function["arguments"] {
            Value::String(s) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(Map::new())),
            Value::Object(o) => Value::Object(o.clone()),
            _ => Value::Object(Map::new()),
        };
        let id = match call["id"].as_str() {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("call_{i}"),
        };
        content.push(json!({
            "type": "tool_use",
            "id": id,
            "name": function["name"].as_str().unwrap_or_default(),
            "input": input,
        }));
    }
    let stop = choice["finish_reason"]
        .as_str()
        .map_or("end_turn", stop_reason);
    let usage = chunk::inspect(completion).ok().and_then(|s| s.usage);
    let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
    let id = if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{id}")
    };
    let message = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage_json(usage.as_ref()),
    });
    Ok(message.to_string().into_bytes())
}
