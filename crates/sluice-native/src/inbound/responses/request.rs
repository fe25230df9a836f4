//! A Responses request as a chat-completions request.

mod input;

use serde_json::{json, Map, Value};

use crate::inbound::responses::error::{Dropped, InboundError};

/// A Responses request translated for a chat-completions provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The chat-completions request body (JSON).
    pub body: Vec<u8>,
    /// The model asked for, to route on.
    pub model: String,
    /// The client asked for a stream.
    pub stream: bool,
    /// What the request had that the chat request cannot carry, each named once (`include`,
    /// `tools.web_search`, `input.reasoning.encrypted_content`, …), for the gateway's metric:
    /// names from a fixed vocabulary, anything the Responses API does not publish being
    /// `other` (`tools.other`), so no client can grow the metric's labels.
    pub dropped: Vec<String>,
    /// The request continues a stored response or conversation (`previous_response_id`,
    /// `conversation`, which `body` leaves out): only a provider that serves the Responses
    /// API can answer it, passed the client's own request. This is the 400 for any other.
    pub stateful: Option<InboundError>,
}

/// Translates a Responses request body to a chat-completions body.
///
/// | Responses | chat completions |
/// |---|---|
/// | `model` | `model` |
/// | `instructions` | a leading `system` message |
/// | `input` as a string | one `user` message |
/// | `message` items, roles user / assistant / system / developer | messages; `developer` → `system`; parts `input_text`/`output_text` → text, `input_image` with `image_url` → `image_url`, `input_file` with `file_data` → `file`, `refusal` → the assistant's `refusal` |
/// | `function_call` items | `tool_calls` of an assistant message (consecutive calls share one), `call_id` kept as the call's `id` |
/// | `function_call_output` items | `tool` messages, `call_id` → `tool_call_id` |
/// | `reasoning` items | `reasoning_content` of the next assistant message; the signature or redacted data the gateway's stream put in `encrypted_content` → `reasoning_signature` / `reasoning_redacted` |
/// | `tools` of type `function` (flat) | nested `function` tools |
/// | `tool_choice` auto / none / required / `{type: function, name}` | the same in chat's shape |
/// | `parallel_tool_calls` | `parallel_tool_calls` (with tools only) |
/// | `reasoning.effort` | `reasoning_effort` |
/// | `max_output_tokens` | `max_completion_tokens` |
/// | `temperature`, `top_p`, `user` | the same |
/// | `text.format` json_schema / json_object | `response_format` |
/// | `stream` | `stream`, with `stream_options: {include_usage: true}` |
///
/// Dropped and named in [`Inbound::dropped`], never a 400 (SPEC §3): other tool types
/// (`tools.web_search`, `tools.namespace`, …) and a `tool_choice` naming one, other item and
/// part types (`input.<type>`), file ids, `encrypted_content` the gateway did not write
/// (OpenAI's own, which no chat provider can read) and any reasoning with no assistant turn
/// after it, `reasoning.summary`, `text.verbosity`,
/// `store: true` (the gateway keeps nothing), and every other top-level field (`include`,
/// `prompt_cache_key`, `client_metadata`, `metadata`, `service_tier`, `truncation`, …).
/// `store: false` asks for what the gateway does anyway and is not named.
///
/// Errors: a body that is not a JSON object, no string `model`, no `input`, a field of the
/// wrong type ([`InboundErrorKind::Malformed`](super::InboundErrorKind::Malformed)). A
/// `previous_response_id` or `conversation` is not an error here: it is left out of the chat
/// body and named in [`Inbound::stateful`]
/// ([`InboundErrorKind::Stateful`](super::InboundErrorKind::Stateful)), for the gateway to
/// pass the request through or refuse it.
pub fn request(body: &[u8]) -> Result<Inbound, InboundError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        InboundError::malformed("", format_args!("the body is not valid JSON: {e}"))
    })?;
    let Value::Object(map) = value else {
        return Err(InboundError::malformed("", "the body is not a JSON object"));
    };
    let mut dropped = Dropped::default();
    let (mut model, mut input, mut instructions) = (None, None, None);
    let (mut tools, mut tool_choice, mut parallel) = (Vec::new(), None, None);
    let mut chat = Map::new();
    let mut stream = false;
    let mut stateful = None;
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "model" => model = Some(string(value, "model")?),
            "input" => input = Some(value),
            "instructions" => instructions = Some(string(value, "instructions")?),
            "tools" => tools = read_tools(value, &mut dropped)?,
            "tool_choice" => tool_choice = Some(value),
            "parallel_tool_calls" => parallel = Some(boolean(value, "parallel_tool_calls")?),
            "reasoning" => reasoning(value, &mut chat, &mut dropped)?,
            "max_output_tokens" => match value.as_u64().filter(|n| *n > 0) {
                Some(n) => {
                    chat.insert("max_completion_tokens".into(), n.into());
                }
                None => {
                    let err = "must be a positive integer";
                    return Err(InboundError::malformed("max_output_tokens", err));
                }
            },
            "temperature" | "top_p" => {
                if !value.is_number() {
                    return Err(InboundError::malformed(key, "must be a number"));
                }
                chat.insert(key, value);
            }
            "text" => text(value, &mut chat, &mut dropped)?,
            "stream" => stream = boolean(value, "stream")?,
            "store" => {
                if boolean(value, "store")? {
                    dropped.add("store");
                }
            }
            "previous_response_id" | "conversation" => {
                stateful.get_or_insert_with(|| InboundError::stateful(&key));
            }
            "user" => {
                chat.insert("user".into(), string(value, "user")?.into());
            }
            _ => dropped.field(&key),
        }
    }
    let model = model.ok_or_else(|| InboundError::malformed("model", "is required"))?;
    let input = input.ok_or_else(|| InboundError::malformed("input", "is required"))?;
    let messages = input::messages(input, instructions, &mut dropped)?;
    let mut body = Map::new();
    body.insert("model".into(), model.clone().into());
    body.insert("messages".into(), Value::Array(messages));
    if let Some(choice) = tool_choice {
        match read_tool_choice(choice, &mut dropped)? {
            Some(choice) if !tools.is_empty() => {
                body.insert("tool_choice".into(), choice);
            }
            // Without tools, `auto` and `none` ask for nothing; a call of no tool cannot be.
            Some(choice) if choice != "auto" && choice != "none" => dropped.add("tool_choice"),
            _ => {}
        }
    }
    if !tools.is_empty() {
        if let Some(parallel) = parallel {
            body.insert("parallel_tool_calls".into(), parallel.into());
        }
        body.insert("tools".into(), Value::Array(tools));
    }
    body.extend(chat);
    if stream {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Inbound {
        body: Value::Object(body).to_string().into_bytes(),
        model,
        stream,
        dropped: dropped.0,
        stateful,
    })
}

fn string(value: Value, param: &str) -> Result<String, InboundError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(InboundError::malformed(param, "must be a string")),
    }
}

fn boolean(value: Value, param: &str) -> Result<bool, InboundError> {
    value
        .as_bool()
        .ok_or_else(|| InboundError::malformed(param, "must be a boolean"))
}

fn object(value: Value, param: &str) -> Result<Map<String, Value>, InboundError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(InboundError::malformed(param, "must be an object")),
    }
}

/// `function` tools in chat's nested shape; other tool types are dropped.
fn read_tools(value: Value, dropped: &mut Dropped) -> Result<Vec<Value>, InboundError> {
    let Value::Array(list) = value else {
        return Err(InboundError::malformed("tools", "must be an array"));
    };
    let mut out = Vec::new();
    for (i, tool) in list.into_iter().enumerate() {
        let path = format!("tools[{i}]");
        let mut tool = object(tool, &path)?;
        let kind = match tool.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => {
                return Err(InboundError::malformed(
                    format!("{path}.type"),
                    "must be a string",
                ))
            }
        };
        if kind != "function" {
            dropped.kind("tools", &kind);
            continue;
        }
        let mut function = Map::new();
        let name = tool.remove("name").unwrap_or(Value::Null);
        function.insert("name".into(), string(name, &format!("{path}.name"))?.into());
        for (key, check) in [
            ("description", Value::is_string as fn(&Value) -> bool),
            ("parameters", Value::is_object),
            ("strict", Value::is_boolean),
        ] {
            match tool.remove(key) {
                None | Some(Value::Null) => {}
                Some(v) if check(&v) => {
                    function.insert(key.into(), v);
                }
                Some(_) => {
                    let param = format!("{path}.{key}");
                    return Err(InboundError::malformed(param, "has the wrong type"));
                }
            }
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// `tool_choice` in chat's shape; `None` when it names a tool type chat has not (dropped).
fn read_tool_choice(value: Value, dropped: &mut Dropped) -> Result<Option<Value>, InboundError> {
    match value {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(Some(Value::String(s)))
        }
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("function") => match map.get("name").and_then(Value::as_str) {
                Some(name) => Ok(Some(
                    json!({"type": "function", "function": {"name": name}}),
                )),
                None => Err(InboundError::malformed(
                    "tool_choice.name",
                    "must be a string",
                )),
            },
            Some(kind) => {
                dropped.kind("tool_choice", kind);
                Ok(None)
            }
            None => Err(InboundError::malformed(
                "tool_choice.type",
                "must be a string",
            )),
        },
        _ => Err(InboundError::malformed(
            "tool_choice",
            "must be auto, none, required or an object",
        )),
    }
}

/// `reasoning.effort` → `reasoning_effort`; the summary is not carried.
fn reasoning(
    value: Value,
    chat: &mut Map<String, Value>,
    dropped: &mut Dropped,
) -> Result<(), InboundError> {
    for (key, value) in object(value, "reasoning")? {
        match key.as_str() {
            _ if value.is_null() => {}
            "effort" => {
                let effort = string(value, "reasoning.effort")?;
                chat.insert("reasoning_effort".into(), effort.into());
            }
            "summary" | "generate_summary" => dropped.add("reasoning.summary"),
            _ => dropped.add("reasoning.other"),
        }
    }
    Ok(())
}

/// `text.format` → `response_format`; `text.verbosity` is not carried.
fn text(
    value: Value,
    chat: &mut Map<String, Value>,
    dropped: &mut Dropped,
) -> Result<(), InboundError> {
    for (key, value) in object(value, "text")? {
        match key.as_str() {
            _ if value.is_null() => {}
            "format" => {
                let mut format = object(value, "text.format")?;
                let kind = format
                    .remove("type")
                    .and_then(|t| t.as_str().map(str::to_owned));
                match kind.as_deref() {
                    Some("text") => {}
                    Some("json_object") => {
                        chat.insert("response_format".into(), json!({"type": "json_object"}));
                    }
                    Some("json_schema") => {
                        let mut schema = Map::new();
                        let name = format.remove("name").filter(Value::is_string);
                        schema.insert("name".into(), name.unwrap_or_else(|| "response".into()));
                        for key in ["description", "schema", "strict"] {
                            if let Some(v) = format.remove(key).filter(|v| !v.is_null()) {
                                schema.insert(key.into(), v);
                            }
                        }
                        let format = json!({"type": "json_schema", "json_schema": schema});
                        chat.insert("response_format".into(), format);
                    }
                    _ => {
                        return Err(InboundError::malformed(
                            "text.format.type",
                            "must be text, json_object or json_schema",
                        ))
                    }
                }
            }
            "verbosity" => dropped.add("text.verbosity"),
            _ => dropped.add("text.other"),
        }
    }
    Ok(())
}
