//! A whole Messages answer as one `chat.completion`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::usage::{error_body, Counts, RawUsage};
use crate::chunk::ChunkMeta;
use crate::error::{ProtocolError, ResponseError};
use crate::Completion;

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

/// Translates a Messages answer into a `chat.completion`: text blocks joined as `content`
/// (`null` when there is none), thinking as `reasoning_content` with `reasoning_signature`,
/// redacted thinking as `reasoning_redacted`, `tool_use` blocks as `tool_calls` (arguments
/// written as JSON text), the stop reason mapped as in streams, usage as
/// [`TokenUsage`](crate::TokenUsage) says. `meta` fills what the answer lacks. A body that is
/// Anthropic's error object is [`ResponseError::Provider`].
pub fn response(body: &[u8], meta: &ChunkMeta) -> Result<Completion, ResponseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ProtocolError::json("Anthropic answer", e))?;
    if value.get("type").and_then(Value::as_str) == Some("error") {
        return Err(ResponseError::Provider(Box::new(error_body(body))));
    }
    let message: Message =
        serde_json::from_value(value).map_err(|e| ProtocolError::json("Anthropic answer", e))?;
    let mut content: Option<String> = None;
    let (mut reasoning, mut signature, mut redacted): (Option<String>, _, Option<String>) =
        (None, None, None);
    let mut calls = Vec::new();
    for block in message.content {
        match block.kind.as_str() {
            "text" => content
                .get_or_insert_with(String::new)
                .push_str(block.text.as_deref().unwrap_or_default()),
            "thinking" => {
                reasoning
                    .get_or_insert_with(String::new)
                    .push_str(block.thinking.as_deref().unwrap_or_default());
                signature = block.signature.or(signature);
            }
            "redacted_thinking" => redacted
                .get_or_insert_with(String::new)
                .push_str(block.data.as_deref().unwrap_or_default()),
            "tool_use" => {
                let input = block.input.unwrap_or_else(|| json!({}));
                calls.push(json!({
                    "id": block.id.unwrap_or_default(),
                    "type": "function",
                    "function": {
                        "name": block.name.unwrap_or_default(),
                        "arguments": input.to_string(),
                    },
                }));
            }
            _ => {}
        }
    }
    let mut msg = Map::new();
    msg.insert("role".into(), "assistant".into());
    msg.insert("content".into(), content.map_or(Value::Null, Value::from));
    for (key, value) in [
        ("reasoning_content", reasoning),
        ("reasoning_signature", signature),
        ("reasoning_redacted", redacted),
    ] {
        if let Some(value) = value {
            msg.insert(key.into(), value.into());
        }
    }
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    msg.insert("refusal".into(), Value::Null);
    let finish = message
        .stop_reason
        .as_deref()
        .map_or("stop", super::finish_reason);
    let mut counts = Counts::default();
    if let Some(usage) = message.usage {
        counts.take(usage);
    }
    let usage = counts.usage();
    let completion = json!({
        "id": message.id.unwrap_or_else(|| meta.id.clone()),
        "object": "chat.completion",
        "created": meta.created,
        "model": message.model.unwrap_or_else(|| meta.model.clone()),
        "choices": [{
            "index": 0,
            "message": Value::Object(msg),
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": usage.map_or(Value::Null, |u| u.to_value()),
    });
    let body = serde_json::to_vec(&completion)
        .map_err(|e| ProtocolError(format!("writing the completion: {e}")))?;
    Ok(Completion { body, usage })
}
