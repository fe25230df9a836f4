//! A whole `GenerateContentResponse` as one `chat.completion`.

use serde_json::{json, Map, Value};
use sluice_openai::ErrorBody;

use super::view::{finish_reason, Response};
use crate::chunk::{ChunkMeta, JsonStr};
use crate::error::{ProtocolError, ResponseError};
use crate::Completion;

/// Translates a `generateContent` answer into a `chat.completion`: the first candidate's text
/// parts joined as `content` (`null` when there is none), thought parts as
/// `reasoning_content`, a text part's `thoughtSignature` as `reasoning_signature`, function
/// calls as `tool_calls` with ids `call_<i>` (and their signatures in
/// `extra_content.google.thought_signature`), the finish reason mapped as in streams, usage as
/// [`TokenUsage`](crate::TokenUsage) says. A body that is Gemini's error object is
/// [`ResponseError::Provider`].
pub fn response(body: &[u8], meta: &ChunkMeta) -> Result<Completion, ResponseError> {
    let mut answer: Response<'_> =
        serde_json::from_slice(body).map_err(|e| ProtocolError::json("Gemini answer", e))?;
    if answer.error.is_some() {
        return Err(ResponseError::Provider(Box::new(
            ErrorBody::from_event_data(body),
        )));
    }
    let usage = answer.usage_metadata.take().and_then(|u| u.usage());
    let blocked = answer.blocked();
    let candidate = answer.candidate();
    let (mut content, mut reasoning, mut signature): (Option<String>, Option<String>, _) =
        (None, None, None);
    let mut calls = Vec::new();
    let mut finish = if blocked { "content_filter" } else { "stop" };
    if let Some(candidate) = candidate {
        for part in candidate.content.into_iter().flat_map(|c| c.parts) {
            if let Some(call) = part.function_call {
                let mut entry = json!({
                    "id": format!("call_{}", calls.len()),
                    "type": "function",
                    "function": {"name": decode(call.name)?, "arguments": call.arguments()},
                });
                if let (Some(sig), Value::Object(map)) = (part.thought_signature, &mut entry) {
                    map.insert(
                        "extra_content".into(),
                        json!({"google": {"thought_signature": decode(sig)?}}),
                    );
                }
                calls.push(entry);
                continue;
            }
            if let Some(text) = part.text {
                let slot = match part.thought {
                    Some(true) => &mut reasoning,
                    _ => &mut content,
                };
                slot.get_or_insert_with(String::new)
                    .push_str(&decode(text)?);
            }
            if let Some(sig) = part.thought_signature {
                signature = Some(decode(sig)?);
            }
        }
        if let Some(reason) = candidate.finish_reason {
            finish = finish_reason(&reason, !calls.is_empty());
        }
    }
    let mut msg = Map::new();
    msg.insert("role".into(), "assistant".into());
    msg.insert("content".into(), content.map_or(Value::Null, Value::from));
    if let Some(r) = reasoning {
        msg.insert("reasoning_content".into(), r.into());
    }
    if let Some(s) = signature {
        msg.insert("reasoning_signature".into(), s.into());
    }
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    msg.insert("refusal".into(), Value::Null);
    let completion = json!({
        "id": answer.response_id.as_deref().unwrap_or(&meta.id),
        "object": "chat.completion",
        "created": meta.created,
        "model": answer.model_version.as_deref().unwrap_or(&meta.model),
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

fn decode(s: JsonStr<'_>) -> Result<String, ProtocolError> {
    s.decode()
        .map(|s| s.into_owned())
        .map_err(|e| ProtocolError::json("Gemini text", e))
}
