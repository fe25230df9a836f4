//! What the gateway's own extra fields become for a provider that cannot read them. A
//! translated request carries the signatures of earlier thinking (`reasoning_signature`,
//! `reasoning_redacted` on assistant messages) so that a native Anthropic or Gemini provider
//! gets back the thinking it signed; an OpenAI-compatible provider has no such fields and may
//! refuse a message that has them, so for it they are taken out. `reasoning_content` stays
//! (DeepSeek's thinking mode wants it back within a tool-call loop; others ignore it).

use serde_json::Value;

const PRIVATE: [&str; 2] = ["reasoning_signature", "reasoning_redacted"];

/// The chat body `chat` without the gateway's signature fields, or `None` when it has none
/// (the common case, decided without a parse). An assistant message left with nothing at all
/// (it held only redacted thinking) is left out.
pub fn strip_signatures(chat: &[u8]) -> Option<Vec<u8>> {
    let mentions =
        |key: &str| memchr::memmem::find(chat, format!("\"{key}\"").as_bytes()).is_some();
    if !PRIVATE.iter().any(|k| mentions(k)) {
        return None;
    }
    let mut body: Value = serde_json::from_slice(chat).ok()?;
    let messages = body.get_mut("messages")?.as_array_mut()?;
    let mut changed = false;
    for message in messages.iter_mut() {
        if let Some(map) = message.as_object_mut() {
            for key in PRIVATE {
                changed |= map.remove(key).is_some();
            }
        }
    }
    messages.retain(|m| {
        let empty = |k: &str| m.get(k).is_none_or(|v| v.is_null() || v == "");
        !(m.get("role").and_then(Value::as_str) == Some("assistant")
            && empty("content")
            && empty("reasoning_content")
            && m.get("tool_calls")
                .is_none_or(|t| t.as_array().is_none_or(Vec::is_empty)))
    });
    changed.then(|| body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::strip_signatures;

    #[test]
    fn signatures_leave_and_everything_else_stays() {
        let chat = json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok", "reasoning_content": "think",
             "reasoning_signature": "EqQB"},
            {"role": "assistant", "content": null, "reasoning_redacted": "abc"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
             "function": {"name": "f", "arguments": "{}"}}], "reasoning_signature": "s"},
            {"role": "user", "content": "go on"}
        ], "stream": true});
        let out: Value =
            serde_json::from_slice(&strip_signatures(chat.to_string().as_bytes()).unwrap())
                .unwrap();
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "ok", "reasoning_content": "think"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c",
                 "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "user", "content": "go on"}
            ])
        );
        assert_eq!(out["stream"], true);
    }

    #[test]
    fn a_body_without_them_is_not_read() {
        let chat = br#"{"model":"m","messages":[{"role":"user","content":"reasoning_signature"}]}"#;
        assert_eq!(strip_signatures(chat), None);
        assert_eq!(strip_signatures(b"not json \"reasoning_signature\""), None);
    }
}
