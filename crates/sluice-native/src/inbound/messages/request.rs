//! A Messages request as a chat-completions request.

mod content;

use serde_json::{json, Map, Number, Value};

use super::InboundError;
use crate::anthropic::thinking_budget;

/// A Messages request translated for a chat-completions provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The chat-completions body.
    pub body: Vec<u8>,
    /// The model the client asked for, to route on.
    pub model: String,
    /// The client asked for a stream (`stream: true`).
    pub stream: bool,
    /// Each field, block type or tool type that could not be carried, once, in the order met:
    /// a top-level field by its name (`top_k`, `output_config`), `cache_control` wherever it
    /// stood, a block type as `block:<type>` (`block:server_tool_use`), a tool type as
    /// `tool:<type>` (`tool:web_search_20250305`), any other field as `<where>.<key>`
    /// (`text.citations`, `tool.input_examples`, `metadata.tag`). For a metric.
    pub dropped: Vec<String>,
}

/// Which endpoint a body was posted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `/v1/messages`: `max_tokens` is required.
    Messages,
    /// `/v1/messages/count_tokens`: no `max_tokens`, never a stream.
    CountTokens,
}

/// Translates a Messages request (`POST /v1/messages`) into a chat-completions request.
///
/// - `model`, `messages` and `max_tokens` are required; a body that is not a JSON object, or
///   a field of the wrong type, is an [`InboundError`]. Every other problem drops the field.
/// - `system` (a string or text blocks, joined by a blank line) → the first `system`
///   message; a `system` entry inside `messages` → a `system` message where it stands.
/// - User turns: `text` → text parts (one text alone stays a string); `image` with a base64
///   source → an `image_url` data URL, with a url source → that URL; a PDF `document` → a
///   `file` part, a plain-text one → text; `tool_result` → a `tool` message with the same
///   `tool_call_id`, its text joined (`is_error` puts `Error: ` before it), its images
///   moved to the user message. A turn's tool messages come first, then a user message with
///   the rest, as chat completions needs results right after the calls.
/// - Assistant turns: text → `content`; `tool_use` → `tool_calls` with the same ids and the
///   `input` as JSON text; `thinking` → `reasoning_content` and `reasoning_signature`,
///   `redacted_thinking` → `reasoning_redacted` (a string, or a list for several): the fields
///   this crate's Anthropic translation sends back, so the signed thinking survives a turn.
///   Several thinking blocks in one turn are joined, with the last signature; an empty
///   signature (thinking from a provider that signs nothing) is not sent.
/// - `tools`: custom tools (`input_schema`, `description`, `strict`) → function tools;
///   server tools (`web_search`, `bash`, `text_editor`, `computer`, …) are dropped.
///   `tool_choice` `auto`/`any`/`tool`/`none` → `auto`/`required`/named/`none`, dropped when
///   no function tool is left or the named one was dropped; `disable_parallel_tool_use` →
///   `parallel_tool_calls: false`.
/// - `max_tokens`, `temperature`, `top_p` as they are; `stop_sequences` → `stop`;
///   `metadata.user_id` → `user`; `stream` (a stream also asks for
///   `stream_options.include_usage`).
/// - `thinking`: `enabled` → the `reasoning_effort` whose [`thinking_budget`] is the largest
///   not above `budget_tokens` (`minimal` below 2,048); `adaptive` (the model decides) and
///   `disabled` → none.
/// - Dropped and named in [`Inbound::dropped`]: `top_k`, `output_config`,
///   `context_management`, `service_tier`, `container`, `mcp_servers`, `cache_control`
///   anywhere, citations, server tool blocks, and any field not named here.
pub fn request(body: &[u8]) -> Result<Inbound, InboundError> {
    translate(body, Endpoint::Messages)
}

/// [`request`] for `POST /v1/messages/count_tokens`: the same translation, with no
/// `max_tokens` required and never a stream. The gateway counts the translated body's tokens.
pub fn count_tokens_body(body: &[u8]) -> Result<Inbound, InboundError> {
    translate(body, Endpoint::CountTokens)
}

/// The names of what could not be carried, each once.
#[derive(Debug, Default)]
pub(super) struct Dropped(Vec<String>);

impl Dropped {
    pub fn push(&mut self, name: impl Into<String>) {
        let name = name.into();
        if !self.0.contains(&name) {
            self.0.push(name);
        }
    }

    /// Names every key left in `map` that is not null: `cache_control` as itself, any other
    /// as `<at>.<key>`.
    pub fn rest(&mut self, map: Map<String, Value>, at: &str) {
        for (key, value) in map {
            match key.as_str() {
                _ if value.is_null() => {}
                "cache_control" => self.push("cache_control"),
                _ => self.push(format!("{at}.{key}")),
            }
        }
    }
}

fn translate(body: &[u8], endpoint: Endpoint) -> Result<Inbound, InboundError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| InboundError::new("", format_args!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(InboundError::new("", "the body is not a JSON object"));
    };
    let mut dropped = Dropped::default();
    let model = match map.remove("model") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(InboundError::new("model", "must be a string")),
        None => return Err(InboundError::new("model", "is required")),
    };
    let list = match map.remove("messages") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(InboundError::new("messages", "must be an array")),
        None => return Err(InboundError::new("messages", "is required")),
    };
    let mut messages = Vec::with_capacity(list.len() + 1);
    if let Some(system) = map.remove("system").filter(|v| !v.is_null()) {
        if let Some(text) = content::system(system, "system", &mut dropped)? {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    content::messages(list, &mut messages, &mut dropped)?;

    let mut out = Map::new();
    out.insert("model".into(), model.clone().into());
    out.insert("messages".into(), Value::Array(messages));
    let mut stream = false;
    let mut max_tokens = None;
    let (mut tools, mut choice) = (None, None);
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "max_tokens" => match value.as_u64().filter(|n| *n > 0) {
                Some(n) => max_tokens = Some(n),
                None => {
                    return Err(InboundError::new(
                        "max_tokens",
                        "must be a positive integer",
                    ))
                }
            },
            "temperature" | "top_p" => {
                out.insert(key.clone(), Value::Number(number(value, &key)?));
            }
            "stop_sequences" => {
                let stop = strings(value, "stop_sequences")?;
                if !stop.is_empty() {
                    out.insert("stop".into(), stop.into());
                }
            }
            "stream" => match value {
                Value::Bool(b) if endpoint == Endpoint::Messages => stream = b,
                Value::Bool(_) => dropped.push("stream"),
                _ => return Err(InboundError::new("stream", "must be a boolean")),
            },
            "thinking" => {
                if let Some(effort) = effort(value, &mut dropped)? {
                    out.insert("reasoning_effort".into(), effort.into());
                }
            }
            "tools" => tools = Some(value),
            "tool_choice" => choice = Some(value),
            "metadata" => {
                let Value::Object(mut meta) = value else {
                    return Err(InboundError::new("metadata", "must be an object"));
                };
                if let Some(user) = meta.remove("user_id").filter(|v| !v.is_null()) {
                    let Value::String(user) = user else {
                        return Err(InboundError::new("metadata.user_id", "must be a string"));
                    };
                    out.insert("user".into(), user.into());
                }
                dropped.rest(meta, "metadata");
            }
            _ => dropped.push(key),
        }
    }
    match (max_tokens, endpoint) {
        (Some(n), _) => {
            out.insert("max_tokens".into(), n.into());
        }
        (None, Endpoint::Messages) => return Err(InboundError::new("max_tokens", "is required")),
        (None, Endpoint::CountTokens) => {}
    }
    let names = match tools {
        Some(tools) => content::tools(tools, &mut out, &mut dropped)?,
        None => Vec::new(),
    };
    if let Some(choice) = choice {
        content::tool_choice(choice, &names, &mut out, &mut dropped)?;
    }
    if stream {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let body = serde_json::to_vec(&Value::Object(out)).map_err(|e| {
        InboundError::new("", format_args!("the request could not be written: {e}"))
    })?;
    Ok(Inbound {
        body,
        model,
        stream,
        dropped: dropped.0,
    })
}

fn number(value: Value, path: &str) -> Result<Number, InboundError> {
    match value {
        Value::Number(n) => Ok(n),
        _ => Err(InboundError::new(path, "must be a number")),
    }
}

fn strings(value: Value, path: &str) -> Result<Vec<String>, InboundError> {
    let Value::Array(list) = value else {
        return Err(InboundError::new(path, "must be an array of strings"));
    };
    list.into_iter()
        .map(|s| match s {
            Value::String(s) => Ok(s),
            _ => Err(InboundError::new(path, "must be an array of strings")),
        })
        .collect()
}

/// `thinking` as a `reasoning_effort`, if any.
fn effort(value: Value, dropped: &mut Dropped) -> Result<Option<&'static str>, InboundError> {
    let Value::Object(mut map) = value else {
        return Err(InboundError::new("thinking", "must be an object"));
    };
    let kind = map.remove("type");
    let effort = match kind.as_ref().and_then(Value::as_str) {
        Some("enabled") => {
            let budget = map.remove("budget_tokens").and_then(|b| b.as_u64());
            let Some(budget) = budget else {
                return Err(InboundError::new(
                    "thinking.budget_tokens",
                    "must be a positive integer",
                ));
            };
            Some(effort_for_budget(budget))
        }
        // The model decides how much to think: the provider's default, which every model
        // takes (a `reasoning_effort` would be refused by a model that does not reason).
        Some("adaptive") => None,
        Some("disabled") => None,
        _ => {
            dropped.push("thinking");
            return Ok(None);
        }
    };
    dropped.rest(map, "thinking");
    Ok(effort)
}

/// The effort whose budget (as the Anthropic translation gives it) is the largest not above
/// `budget`; `minimal` below the least.
pub(super) fn effort_for_budget(budget: u64) -> &'static str {
    ["high", "medium", "low"]
        .into_iter()
        .find(|e| thinking_budget(e).is_some_and(|b| b <= budget))
        .unwrap_or("minimal")
}

#[cfg(test)]
mod tests;
