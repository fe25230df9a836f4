//! Messages, content blocks and tools, as chat messages and function tools.

use serde_json::{json, Map, Value};

use super::Dropped;
use crate::inbound::messages::InboundError;

/// `system` (a string or text blocks) as one text, `None` when empty.
pub(super) fn system(
    value: Value,
    path: &str,
    dropped: &mut Dropped,
) -> Result<Option<String>, InboundError> {
    let texts = match value {
        Value::String(s) => vec![s],
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.into_iter().enumerate() {
                let path = format!("{path}[{i}]");
                let (kind, mut map) = typed(block, &path)?;
                if kind != "text" {
                    dropped.push(format!("block:{kind}"));
                    continue;
                }
                texts.push(text(&mut map, &path)?);
                dropped.rest(map, "text");
            }
            texts
        }
        _ => return Err(InboundError::new(path, "must be a string or an array")),
    };
    let texts: Vec<String> = texts.into_iter().filter(|t| !t.is_empty()).collect();
    Ok((!texts.is_empty()).then(|| texts.join("\n\n")))
}

/// The turns of `messages`, appended to `out` as chat messages.
pub(super) fn messages(
    list: Vec<Value>,
    out: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<(), InboundError> {
    for (i, message) in list.into_iter().enumerate() {
        let path = format!("messages[{i}]");
        let Value::Object(mut map) = message else {
            return Err(InboundError::new(&path, "must be an object"));
        };
        let role = match map.remove("role") {
            Some(Value::String(role)) => role,
            _ => {
                return Err(InboundError::new(
                    format!("{path}.role"),
                    "must be a string",
                ))
            }
        };
        let Some(content) = map.remove("content") else {
            return Err(InboundError::new(format!("{path}.content"), "is required"));
        };
        let path = format!("{path}.content");
        match role.as_str() {
            "system" => {
                if let Some(text) = system(content, &path, dropped)? {
                    out.push(json!({"role": "system", "content": text}));
                }
            }
            "user" => user(content, &path, out, dropped)?,
            "assistant" => assistant(content, &path, out, dropped)?,
            _ => {
                return Err(InboundError::new(
                    format!("messages[{i}].role"),
                    "must be user, assistant or system",
                ))
            }
        }
        dropped.rest(map, "message");
    }
    Ok(())
}

fn user(
    content: Value,
    path: &str,
    out: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<(), InboundError> {
    let blocks = match content {
        Value::String(text) => {
            out.push(json!({"role": "user", "content": text}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => return Err(InboundError::new(path, "must be a string or an array")),
    };
    let mut parts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let path = format!("{path}[{j}]");
        let (kind, mut map) = typed(block, &path)?;
        match kind.as_str() {
            "tool_result" => out.push(tool_result(map, &path, &mut parts, dropped)?),
            _ => {
                if let Some(part) = part(&kind, &mut map, &path, dropped)? {
                    parts.push(part);
                }
                dropped.rest(map, &kind);
            }
        }
    }
    match parts.as_slice() {
        [] => {}
        [one] if one["type"] == "text" => {
            out.push(json!({"role": "user", "content": one["text"]}));
        }
        _ => out.push(json!({"role": "user", "content": parts})),
    }
    Ok(())
}

/// A user block as a chat content part: text, image or document; `None` for an empty text or
/// a block that cannot be carried (named in `dropped`). Consumes the keys it reads.
fn part(
    kind: &str,
    map: &mut Map<String, Value>,
    path: &str,
    dropped: &mut Dropped,
) -> Result<Option<Value>, InboundError> {
    match kind {
        "text" => {
            let text = text(map, path)?;
            Ok((!text.is_empty()).then(|| json!({"type": "text", "text": text})))
        }
        "image" => {
            let mut source = source(map, path)?;
            let url = match str_of(&source, "type") {
                Some("base64") => data_url(&mut source, path)?,
                Some("url") => take_string(&mut source, "url", &format!("{path}.source"))?,
                other => {
                    dropped.push(format!("image.source.{}", other.unwrap_or("?")));
                    return Ok(None);
                }
            };
            Ok(Some(
                json!({"type": "image_url", "image_url": {"url": url}}),
            ))
        }
        "document" => {
            let mut source = source(map, path)?;
            let title = map.remove("title");
            match str_of(&source, "type") {
                Some("base64") => {
                    let file_data = data_url(&mut source, path)?;
                    let filename = match title {
                        Some(Value::String(t)) => t,
                        _ => "document.pdf".to_owned(),
                    };
                    let file = json!({"filename": filename, "file_data": file_data});
                    Ok(Some(json!({"type": "file", "file": file})))
                }
                Some("text") => {
                    let text = take_string(&mut source, "data", &format!("{path}.source"))?;
                    Ok(Some(json!({"type": "text", "text": text})))
                }
                other => {
                    dropped.push(format!("document.source.{}", other.unwrap_or("?")));
                    Ok(None)
                }
            }
        }
        _ => {
            dropped.push(format!("block:{kind}"));
            map.clear();
            Ok(None)
        }
    }
}

/// A `tool_result` block as a `tool` message; its images go to `images`, for the user
/// message that follows.
fn tool_result(
    mut map: Map<String, Value>,
    path: &str,
    images: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<Value, InboundError> {
    let id = take_string(&mut map, "tool_use_id", path)?;
    let is_error = match map.remove("is_error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(InboundError::new(
                format!("{path}.is_error"),
                "must be a boolean",
            ))
        }
    };
    let mut texts = Vec::new();
    match map.remove("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => texts.push(s),
        Some(Value::Array(blocks)) => {
            for (k, block) in blocks.into_iter().enumerate() {
                let path = format!("{path}.content[{k}]");
                let (kind, mut inner) = typed(block, &path)?;
                match part(&kind, &mut inner, &path, dropped)? {
                    Some(p) if p["type"] == "text" => {
                        texts.push(p["text"].as_str().unwrap_or_default().to_owned())
                    }
                    Some(p) => images.push(p),
                    None => {}
                }
                dropped.rest(inner, &kind);
            }
        }
        Some(_) => {
            return Err(InboundError::new(
                format!("{path}.content"),
                "must be a string or an array",
            ))
        }
    }
    dropped.rest(map, "tool_result");
    let mut content = texts.join("\n");
    if is_error {
        content.insert_str(0, "Error: ");
    }
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

fn assistant(
    content: Value,
    path: &str,
    out: &mut Vec<Value>,
    dropped: &mut Dropped,
) -> Result<(), InboundError> {
    let blocks = match content {
        Value::String(text) => {
            out.push(json!({"role": "assistant", "content": text}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => return Err(InboundError::new(path, "must be a string or an array")),
    };
    let (mut text, mut reasoning, mut signature) = (None::<String>, None::<String>, None);
    let (mut redacted, mut calls) = (Vec::new(), Vec::new());
    for (j, block) in blocks.into_iter().enumerate() {
        let path = format!("{path}[{j}]");
        let (kind, mut map) = typed(block, &path)?;
        match kind.as_str() {
            "text" => text
                .get_or_insert_with(String::new)
                .push_str(&self::text(&mut map, &path)?),
            "thinking" => {
                let t = take_string(&mut map, "thinking", &path)?;
                reasoning.get_or_insert_with(String::new).push_str(&t);
                // Thinking streamed from a provider that signs nothing comes back with an
                // empty signature, which no provider can check: it is not sent.
                match map.remove("signature") {
                    Some(Value::String(s)) if !s.is_empty() => signature = Some(s),
                    _ => {}
                }
            }
            "redacted_thinking" => redacted.push(take_string(&mut map, "data", &path)?),
            "tool_use" => {
                let id = take_string(&mut map, "id", &path)?;
                let name = take_string(&mut map, "name", &path)?;
                let input = match map.remove("input") {
                    None | Some(Value::Null) => "{}".to_owned(),
                    Some(input) => input.to_string(),
                };
                let function = json!({"name": name, "arguments": input});
                calls.push(json!({"id": id, "type": "function", "function": function}));
            }
            _ => {
                dropped.push(format!("block:{kind}"));
                continue;
            }
        }
        dropped.rest(map, &kind);
    }
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = match text {
        Some(t) => Value::String(t),
        None if calls.is_empty() => Value::String(String::new()),
        None => Value::Null,
    };
    message.insert("content".into(), content);
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(r) = reasoning {
        message.insert("reasoning_content".into(), r.into());
    }
    if let Some(s) = signature {
        message.insert("reasoning_signature".into(), s.into());
    }
    match redacted.len() {
        0 => {}
        1 => {
            message.insert("reasoning_redacted".into(), redacted.remove(0).into());
        }
        _ => {
            message.insert("reasoning_redacted".into(), redacted.into());
        }
    }
    out.push(Value::Object(message));
    Ok(())
}

/// `tools` as function tools in `out`; returns their names.
pub(super) fn tools(
    value: Value,
    out: &mut Map<String, Value>,
    dropped: &mut Dropped,
) -> Result<Vec<String>, InboundError> {
    let Value::Array(list) = value else {
        return Err(InboundError::new("tools", "must be an array"));
    };
    let (mut tools, mut names) = (Vec::with_capacity(list.len()), Vec::new());
    for (i, tool) in list.into_iter().enumerate() {
        let path = format!("tools[{i}]");
        let Value::Object(mut map) = tool else {
            return Err(InboundError::new(path, "must be an object"));
        };
        match map.remove("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if t == "custom" => {}
            Some(Value::String(t)) => {
                dropped.push(format!("tool:{t}"));
                continue;
            }
            Some(_) => {
                return Err(InboundError::new(
                    format!("{path}.type"),
                    "must be a string",
                ))
            }
        }
        let name = take_string(&mut map, "name", &path)?;
        let mut function = Map::new();
        function.insert("name".into(), name.clone().into());
        if let Some(d) = map.remove("description").filter(|v| !v.is_null()) {
            function.insert("description".into(), d);
        }
        let schema = match map.remove("input_schema") {
            Some(Value::Object(schema)) => Value::Object(schema),
            _ => json!({"type": "object", "properties": {}}),
        };
        function.insert("parameters".into(), schema);
        if let Some(Value::Bool(strict)) = map.remove("strict") {
            function.insert("strict".into(), strict.into());
        }
        dropped.rest(map, "tool");
        tools.push(json!({"type": "function", "function": function}));
        names.push(name);
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    Ok(names)
}

/// `tool_choice` for the function tools `names`, in `out` (nothing when there are none).
pub(super) fn tool_choice(
    value: Value,
    names: &[String],
    out: &mut Map<String, Value>,
    dropped: &mut Dropped,
) -> Result<(), InboundError> {
    let Value::Object(mut map) = value else {
        return Err(InboundError::new("tool_choice", "must be an object"));
    };
    let serial = map.remove("disable_parallel_tool_use") == Some(Value::Bool(true));
    let kind = map.remove("type");
    let choice = match kind.as_ref().and_then(Value::as_str) {
        _ if names.is_empty() => None,
        Some("auto") => Some(json!("auto")),
        Some("any") => Some(json!("required")),
        Some("none") => Some(json!("none")),
        Some("tool") => match map.remove("name") {
            Some(Value::String(name)) if names.contains(&name) => {
                Some(json!({"type": "function", "function": {"name": name}}))
            }
            _ => {
                dropped.push("tool_choice");
                None
            }
        },
        _ => {
            dropped.push("tool_choice");
            None
        }
    };
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), choice);
    }
    if serial && !names.is_empty() {
        out.insert("parallel_tool_calls".into(), false.into());
    }
    dropped.rest(map, "tool_choice");
    Ok(())
}

/// A block's `type` and the rest of it.
fn typed(block: Value, path: &str) -> Result<(String, Map<String, Value>), InboundError> {
    let Value::Object(mut map) = block else {
        return Err(InboundError::new(path, "must be an object"));
    };
    match map.remove("type") {
        Some(Value::String(kind)) => Ok((kind, map)),
        _ => Err(InboundError::new(
            format!("{path}.type"),
            "must be a string",
        )),
    }
}

fn text(map: &mut Map<String, Value>, path: &str) -> Result<String, InboundError> {
    take_string(map, "text", path)
}

fn take_string(
    map: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<String, InboundError> {
    match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(InboundError::new(
            format!("{path}.{key}"),
            "must be a string",
        )),
        None => Err(InboundError::new(format!("{path}.{key}"), "is required")),
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// A block's `source` object.
fn source(map: &mut Map<String, Value>, path: &str) -> Result<Map<String, Value>, InboundError> {
    match map.remove("source") {
        Some(Value::Object(source)) => Ok(source),
        _ => Err(InboundError::new(
            format!("{path}.source"),
            "must be an object",
        )),
    }
}

/// A base64 source as a data URL.
fn data_url(source: &mut Map<String, Value>, path: &str) -> Result<String, InboundError> {
    let path = format!("{path}.source");
    let mime = take_string(source, "media_type", &path)?;
    let data = take_string(source, "data", &path)?;
    Ok(format!("data:{mime};base64,{data}"))
}
