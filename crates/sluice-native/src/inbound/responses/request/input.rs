//! `input` (a string, or a list of items) and `instructions` as chat `messages`.
//!
//! Items: `message` (user, assistant, system, developer; `developer` becomes `system`),
//! `function_call` (a tool call on an assistant message; consecutive calls, and a call right
//! after an assistant message, share one message), `function_call_output` (a `tool`
//! message), `reasoning` (its text, `content` if it has any else `summary`, becomes the
//! `reasoning_content` of the assistant message that follows, and the signature or redacted
//! data the gateway's own stream put in `encrypted_content` its `reasoning_signature` or
//! `reasoning_redacted`; other `encrypted_content` is dropped). Anything else is dropped and
//! named `input.<type>` (`input.other` for a type the API does not publish).

use serde_json::{json, Map, Value};

use crate::inbound::responses::error::{Dropped, InboundError};
use crate::inbound::responses::object::{REDACTED, SIGNATURE};

/// The chat `messages` for `input`, after a system message of `instructions` if any.
pub(crate) fn messages(
    input: Value,
    instructions: Option<String>,
    dropped: &mut Dropped,
) -> Result<Vec<Value>, InboundError> {
    let mut reader = Reader {
        out: Vec::new(),
        reasoning: Pending::default(),
        dropped,
    };
    if let Some(text) = instructions {
        reader.out.push(json!({"role": "system", "content": text}));
    }
    match input {
        Value::String(text) => reader.out.push(json!({"role": "user", "content": text})),
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                reader.item(item, &format!("input[{i}]"))?;
            }
        }
        _ => {
            return Err(InboundError::malformed(
                "input",
                "must be a string or an array of items",
            ))
        }
    }
    if !reader.reasoning.is_empty() {
        // Reasoning with no assistant turn after it has nothing to ride on.
        reader.dropped.add("input.reasoning");
    }
    Ok(reader.out)
}

/// Reasoning read from `reasoning` items, waiting for the assistant message it belongs to.
#[derive(Debug, Default)]
struct Pending {
    text: Option<String>,
    signature: Option<String>,
    redacted: Vec<String>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.text.is_none() && self.signature.is_none() && self.redacted.is_empty()
    }

    /// Puts the reasoning on `message`, after any it carries already.
    fn apply(self, message: &mut Value) {
        if let Some(text) = self.text {
            let joined = match message.get("reasoning_content").and_then(Value::as_str) {
                Some(held) => format!("{held}\n\n{text}"),
                None => text,
            };
            message["reasoning_content"] = joined.into();
        }
        if let Some(signature) = self.signature {
            message["reasoning_signature"] = signature.into();
        }
        if !self.redacted.is_empty() {
            let mut all: Vec<Value> = match message.get_mut("reasoning_redacted") {
                Some(Value::Array(held)) => std::mem::take(held),
                _ => Vec::new(),
            };
            all.extend(self.redacted.into_iter().map(Value::String));
            message["reasoning_redacted"] = Value::Array(all);
        }
    }
}

struct Reader<'d> {
    out: Vec<Value>,
    /// Reasoning waiting for the next assistant message.
    reasoning: Pending,
    dropped: &'d mut Dropped,
}

impl Reader<'_> {
    /// A message that is not the assistant's: reasoning still waiting belonged to a turn that
    /// had no assistant message, and must not ride on a later one.
    fn end_turn(&mut self) {
        if !std::mem::take(&mut self.reasoning).is_empty() {
            self.dropped.add("input.reasoning");
        }
    }

    fn item(&mut self, item: Value, path: &str) -> Result<(), InboundError> {
        let Value::Object(mut map) = item else {
            return Err(InboundError::malformed(path, "must be an object"));
        };
        let kind = match map.remove("type") {
            Some(Value::String(kind)) => kind,
            None | Some(Value::Null) if map.contains_key("role") => "message".to_owned(),
            _ => {
                return Err(InboundError::malformed(
                    format!("{path}.type"),
                    "must be a string",
                ))
            }
        };
        match kind.as_str() {
            "message" => self.message(map, path),
            "function_call" => {
                let call_id = required(&mut map, path, "call_id")?;
                let name = required(&mut map, path, "name")?;
                let arguments = match map.remove("arguments") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s,
                    Some(_) => {
                        let param = format!("{path}.arguments");
                        return Err(InboundError::malformed(param, "must be a string"));
                    }
                };
                let call = json!({"id": call_id, "type": "function",
                                  "function": {"name": name, "arguments": arguments}});
                self.tool_call(call);
                Ok(())
            }
            "function_call_output" => {
                let call_id = required(&mut map, path, "call_id")?;
                let content = match map.remove("output") {
                    Some(Value::String(s)) => s,
                    Some(Value::Array(parts)) => self.output_text(parts, path)?,
                    _ => {
                        let param = format!("{path}.output");
                        return Err(InboundError::malformed(
                            param,
                            "must be a string or an array",
                        ));
                    }
                };
                self.end_turn();
                self.out
                    .push(json!({"role": "tool", "tool_call_id": call_id, "content": content}));
                Ok(())
            }
            "reasoning" => {
                self.reasoning_item(&map);
                Ok(())
            }
            other => {
                self.dropped.kind("input", other);
                Ok(())
            }
        }
    }

    /// A `reasoning` item: its text (`content` if it has any, else `summary`) and the
    /// signature or redacted data the gateway put in its `encrypted_content`, for the next
    /// assistant message. A signature alone (Gemini may sign after the answer's text) goes on
    /// the assistant message just before, when that has none.
    fn reasoning_item(&mut self, map: &Map<String, Value>) {
        let mut text = texts(map.get("content"), "\n\n");
        if text.is_empty() {
            text = texts(map.get("summary"), "\n\n");
        }
        let mut signature = None;
        match map.get("encrypted_content") {
            None | Some(Value::Null) => {}
            Some(Value::String(e)) if e.starts_with(SIGNATURE) => {
                signature = Some(e[SIGNATURE.len()..].to_owned());
            }
            Some(Value::String(e)) if e.starts_with(REDACTED) => {
                self.reasoning.redacted.push(e[REDACTED.len()..].to_owned());
            }
            Some(_) => self.dropped.add("input.reasoning.encrypted_content"),
        }
        if let (true, true, Some(sig)) = (text.is_empty(), self.reasoning.is_empty(), &signature) {
            let last = self.out.last_mut().filter(|m| m["role"] == "assistant");
            if let Some(message) = last.filter(|m| m.get("reasoning_signature").is_none()) {
                message["reasoning_signature"] = sig.as_str().into();
                return;
            }
        }
        if !text.is_empty() {
            self.reasoning.text = Some(match self.reasoning.text.take() {
                Some(held) => format!("{held}\n\n{text}"),
                None => text,
            });
        }
        if signature.is_some() {
            self.reasoning.signature = signature;
        }
    }

    fn message(&mut self, mut map: Map<String, Value>, path: &str) -> Result<(), InboundError> {
        let role = required(&mut map, path, "role")?;
        let content = match map.remove("content") {
            Some(content @ (Value::String(_) | Value::Array(_))) => content,
            _ => {
                let param = format!("{path}.content");
                return Err(InboundError::malformed(
                    param,
                    "must be a string or an array",
                ));
            }
        };
        match role.as_str() {
            "user" => {
                let content = self.user_content(content, path)?;
                self.end_turn();
                self.out.push(json!({"role": "user", "content": content}));
            }
            "system" | "developer" => {
                let content = match content {
                    Value::Array(parts) => Value::String(self.output_text(parts, path)?),
                    text => text,
                };
                self.end_turn();
                self.out.push(json!({"role": "system", "content": content}));
            }
            "assistant" => {
                let (mut text, mut refusal) = (String::new(), String::new());
                match content {
                    Value::String(s) => text = s,
                    Value::Array(parts) => {
                        for (j, part) in parts.into_iter().enumerate() {
                            let part_path = format!("{path}.content[{j}]");
                            match part_type(&part, &part_path)? {
                                "output_text" | "input_text" | "text" => {
                                    text.push_str(&part_text(&part, "text", &part_path)?)
                                }
                                "refusal" => {
                                    refusal.push_str(&part_text(&part, "refusal", &part_path)?)
                                }
                                other => self.dropped.kind("input", other),
                            }
                        }
                    }
                    _ => {}
                }
                let mut message = json!({"role": "assistant", "content": text});
                if !refusal.is_empty() {
                    message["refusal"] = refusal.into();
                }
                std::mem::take(&mut self.reasoning).apply(&mut message);
                self.out.push(message);
            }
            _ => {
                return Err(InboundError::malformed(
                    format!("{path}.role"),
                    "must be user, assistant, system or developer",
                ))
            }
        }
        Ok(())
    }

    /// Adds a tool call to the assistant message just before, or to a new one.
    fn tool_call(&mut self, call: Value) {
        let reasoning = std::mem::take(&mut self.reasoning);
        let last = self.out.last_mut().filter(|m| m["role"] == "assistant");
        let message = match last {
            Some(message) => message,
            None => {
                self.out.push(json!({"role": "assistant", "content": null}));
                let Some(message) = self.out.last_mut() else {
                    return;
                };
                message
            }
        };
        reasoning.apply(message);
        match message.get_mut("tool_calls").and_then(Value::as_array_mut) {
            Some(calls) => calls.push(call),
            None => message["tool_calls"] = json!([call]),
        }
    }

    /// A user message's content: a string as it is (as is a single text part), parts
    /// translated (`input_text`,
    /// `input_image` with a URL, `input_file` with its data); file ids name stored files the
    /// provider cannot read, so they are dropped.
    fn user_content(&mut self, content: Value, path: &str) -> Result<Value, InboundError> {
        let Value::Array(parts) = content else {
            return Ok(content);
        };
        let mut out = Vec::new();
        for (j, part) in parts.into_iter().enumerate() {
            let part_path = format!("{path}.content[{j}]");
            match part_type(&part, &part_path)? {
                "input_text" | "output_text" | "text" => {
                    let text = part_text(&part, "text", &part_path)?;
                    out.push(json!({"type": "text", "text": text}));
                }
                "input_image" => match part.get("image_url").and_then(Value::as_str) {
                    Some(url) => {
                        let mut image = json!({"url": url});
                        if let Some(detail) = part.get("detail").and_then(Value::as_str) {
                            image["detail"] = detail.into();
                        }
                        out.push(json!({"type": "image_url", "image_url": image}));
                    }
                    None => self.dropped.add("input.input_image.file_id"),
                },
                "input_file" => match part.get("file_data").and_then(Value::as_str) {
                    Some(data) => {
                        let mut file = json!({"file_data": data});
                        if let Some(name) = part.get("filename").and_then(Value::as_str) {
                            file["filename"] = name.into();
                        }
                        out.push(json!({"type": "file", "file": file}));
                    }
                    None => self.dropped.add("input.input_file.file_id"),
                },
                other => self.dropped.kind("input", other),
            }
        }
        // One text part is written as a plain string, which every chat provider takes, and
        // no part at all (every one dropped) as an empty one.
        if out.is_empty() {
            return Ok(Value::String(String::new()));
        }
        match <[Value; 1]>::try_from(out) {
            Ok([part]) if part["type"] == "text" => Ok(part["text"].clone()),
            Ok([part]) => Ok(Value::Array(vec![part])),
            Err(out) => Ok(Value::Array(out)),
        }
    }

    /// The text of a list of parts, joined; parts that are not text are dropped.
    fn output_text(&mut self, parts: Vec<Value>, path: &str) -> Result<String, InboundError> {
        let mut text = String::new();
        for (j, part) in parts.into_iter().enumerate() {
            let part_path = format!("{path}.content[{j}]");
            match part_type(&part, &part_path)? {
                "input_text" | "output_text" | "text" => {
                    text.push_str(&part_text(&part, "text", &part_path)?)
                }
                other => self.dropped.kind("input", other),
            }
        }
        Ok(text)
    }
}

fn required(map: &mut Map<String, Value>, path: &str, key: &str) -> Result<String, InboundError> {
    match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Null) | None => Err(InboundError::malformed(
            format!("{path}.{key}"),
            "is required",
        )),
        Some(_) => Err(InboundError::malformed(
            format!("{path}.{key}"),
            "must be a string",
        )),
    }
}

fn part_type<'p>(part: &'p Value, path: &str) -> Result<&'p str, InboundError> {
    part.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| InboundError::malformed(format!("{path}.type"), "must be a string"))
}

fn part_text(part: &Value, key: &str, path: &str) -> Result<String, InboundError> {
    match part.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(InboundError::malformed(
            format!("{path}.{key}"),
            "must be a string",
        )),
    }
}

/// The `text` of every part in a list (reasoning's `summary` or `content`), joined by `sep`.
fn texts(parts: Option<&Value>, sep: &str) -> String {
    let parts = parts.and_then(Value::as_array).into_iter().flatten();
    let texts: Vec<&str> = parts.filter_map(|p| p.get("text")?.as_str()).collect();
    texts.join(sep)
}
