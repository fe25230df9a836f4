//! Reading `messages`: roles, content parts, tool calls and results, and the reasoning an
//! assistant turn carries back. Every key of a message or part is either read or refused.

use serde_json::{Map, Value};

use super::model::{
    object, string, Assistant, Chat, Media, MediaKind, Message, Part, Provider, ToolCall,
};
use crate::error::TranslateError;

/// Reads `messages` into `chat`.
pub(crate) fn read(
    value: Value,
    provider: Provider,
    chat: &mut Chat,
) -> Result<(), TranslateError> {
    let Value::Array(list) = value else {
        return Err(TranslateError::new("messages", "must be an array"));
    };
    for (i, message) in list.into_iter().enumerate() {
        let path = format!("messages[{i}]");
        let mut map = object(message, &path)?;
        let role = match map.remove("role") {
            Some(role) => string(role, &format!("{path}.role"))?,
            None => return Err(TranslateError::new(format!("{path}.role"), "is required")),
        };
        match role.as_str() {
            "system" | "developer" => {
                let content = take_content(&mut map, &path)?;
                no_other_keys(map, &path, provider)?;
                chat.system
                    .extend(parts(content, &format!("{path}.content"), Allow::Text)?);
            }
            "user" => {
                let content = take_content(&mut map, &path)?;
                no_other_keys(map, &path, provider)?;
                let parts = parts(content, &format!("{path}.content"), Allow::Any)?;
                chat.messages.push(Message::User(parts));
            }
            "assistant" => {
                let assistant = assistant(map, path, provider)?;
                chat.messages.push(Message::Assistant(assistant));
            }
            "tool" => {
                let call_id = match map.remove("tool_call_id") {
                    Some(id) => string(id, &format!("{path}.tool_call_id"))?,
                    None => {
                        return Err(TranslateError::new(
                            format!("{path}.tool_call_id"),
                            "is required",
                        ))
                    }
                };
                let content = take_content(&mut map, &path)?;
                no_other_keys(map, &path, provider)?;
                let content = parts(content, &format!("{path}.content"), Allow::Text)?;
                chat.messages.push(Message::Tool {
                    call_id,
                    content,
                    path,
                });
            }
            _ => return Err(provider.refuse(format!("{path}.role"))),
        }
    }
    Ok(())
}

fn take_content(map: &mut Map<String, Value>, path: &str) -> Result<Value, TranslateError> {
    map.remove("content")
        .ok_or_else(|| TranslateError::new(format!("{path}.content"), "is required"))
}

/// Refuses whatever keys are left in a message, unless they are null.
fn no_other_keys(
    map: Map<String, Value>,
    path: &str,
    provider: Provider,
) -> Result<(), TranslateError> {
    match map.into_iter().find(|(_, v)| !v.is_null()) {
        Some((key, _)) => Err(provider.refuse(format!("{path}.{key}"))),
        None => Ok(()),
    }
}

fn assistant(
    mut map: Map<String, Value>,
    path: String,
    provider: Provider,
) -> Result<Assistant, TranslateError> {
    let mut out = Assistant::default();
    for key in ["content", "refusal"] {
        if let Some(value) = map.remove(key).filter(|v| !v.is_null()) {
            let param = format!("{path}.{key}");
            out.parts.extend(parts(value, &param, Allow::Assistant)?);
        }
    }
    if let Some(calls) = map.remove("tool_calls").filter(|v| !v.is_null()) {
        let param = format!("{path}.tool_calls");
        let Value::Array(calls) = calls else {
            return Err(TranslateError::new(param, "must be an array"));
        };
        for (j, call) in calls.into_iter().enumerate() {
            out.calls
                .push(tool_call(call, &format!("{param}[{j}]"), provider)?);
        }
    }
    if let Some(text) = map.remove("reasoning_content").filter(|v| !v.is_null()) {
        out.reasoning = Some(string(text, &format!("{path}.reasoning_content"))?);
    }
    if let Some(sig) = map.remove("reasoning_signature").filter(|v| !v.is_null()) {
        out.signature = Some(string(sig, &format!("{path}.reasoning_signature"))?);
    }
    if let Some(redacted) = map.remove("reasoning_redacted").filter(|v| !v.is_null()) {
        let param = format!("{path}.reasoning_redacted");
        match redacted {
            Value::String(s) => out.redacted.push(s),
            Value::Array(list) => {
                for (j, item) in list.into_iter().enumerate() {
                    out.redacted.push(string(item, &format!("{param}[{j}]"))?);
                }
            }
            _ => return Err(TranslateError::new(param, "must be a string or strings")),
        }
    }
    no_other_keys(map, &path, provider)?;
    out.path = path;
    Ok(out)
}

fn tool_call(value: Value, path: &str, provider: Provider) -> Result<ToolCall, TranslateError> {
    let mut map = object(value, path)?;
    let id = match map.remove("id") {
        Some(id) => string(id, &format!("{path}.id"))?,
        None => return Err(TranslateError::new(format!("{path}.id"), "is required")),
    };
    match map.remove("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "function" => {}
        Some(_) => return Err(provider.refuse(format!("{path}.type"))),
    }
    let param = format!("{path}.function");
    let mut function = object(
        map.remove("function")
            .ok_or_else(|| TranslateError::new(&param, "is required"))?,
        &param,
    )?;
    let name = match function.remove("name") {
        Some(name) => string(name, &format!("{param}.name"))?,
        None => return Err(TranslateError::new(format!("{param}.name"), "is required")),
    };
    let arguments = arguments(function.remove("arguments"), &format!("{param}.arguments"))?;
    no_other_keys(function, &param, provider)?;
    let mut signature = None;
    if let Some(extra) = map.remove("extra_content").filter(|v| !v.is_null()) {
        let param = format!("{path}.extra_content");
        let mut extra = object(extra, &param)?;
        if let Some(google) = extra.remove("google").filter(|v| !v.is_null()) {
            let param = format!("{param}.google");
            let mut google = object(google, &param)?;
            if let Some(sig) = google.remove("thought_signature").filter(|v| !v.is_null()) {
                signature = Some(string(sig, &format!("{param}.thought_signature"))?);
            }
            no_other_keys(google, &param, provider)?;
        }
        no_other_keys(extra, &param, provider)?;
    }
    no_other_keys(map, path, provider)?;
    Ok(ToolCall {
        id,
        name,
        arguments,
        signature,
    })
}

/// A tool call's `arguments`: a string of JSON holding an object (empty means `{}`), or the
/// object itself.
fn arguments(value: Option<Value>, param: &str) -> Result<Value, TranslateError> {
    let parsed = match value {
        None | Some(Value::Null) => return Ok(Value::Object(Map::new())),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Value::Object(Map::new())),
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s)
            .map_err(|e| TranslateError::new(param, format_args!("is not JSON: {e}")))?,
        Some(other) => other,
    };
    match parsed {
        Value::Object(_) => Ok(parsed),
        _ => Err(TranslateError::new(param, "must be a JSON object")),
    }
}

/// Which parts a content may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Allow {
    /// Text only (system, developer and tool messages).
    Text,
    /// Text and refusals (assistant messages).
    Assistant,
    /// Text, images, files and audio (user messages).
    Any,
}

/// A content: a string or a list of parts. Empty texts say nothing and are left out.
fn parts(value: Value, path: &str, allow: Allow) -> Result<Vec<Part>, TranslateError> {
    let list = match value {
        Value::String(text) => return Ok(text_part(text, None).into_iter().collect()),
        Value::Array(list) => list,
        _ => {
            return Err(TranslateError::new(
                path,
                "must be a string or an array of parts",
            ))
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (j, part) in list.into_iter().enumerate() {
        let path = format!("{path}[{j}]");
        out.extend(part_of(object(part, &path)?, path, allow)?);
    }
    Ok(out)
}

fn text_part(text: String, cache: Option<Value>) -> Option<Part> {
    (!text.is_empty()).then_some(Part::Text { text, cache })
}

fn part_of(
    mut map: Map<String, Value>,
    path: String,
    allow: Allow,
) -> Result<Option<Part>, TranslateError> {
    let kind = match map.remove("type") {
        Some(kind) => string(kind, &format!("{path}.type"))?,
        None => return Err(TranslateError::new(format!("{path}.type"), "is required")),
    };
    let cache = map.remove("cache_control").filter(|v| !v.is_null());
    let refuse = |what: &str| {
        TranslateError::new(
            format!("{path}.type"),
            format_args!("{what} parts are not allowed here"),
        )
    };
    let part = match kind.as_str() {
        "text" | "refusal" => {
            if kind == "refusal" && allow != Allow::Assistant {
                return Err(refuse("refusal"));
            }
            let text = match map.remove(kind.as_str()) {
                Some(text) => string(text, &format!("{path}.{kind}"))?,
                None => return Err(TranslateError::new(format!("{path}.{kind}"), "is required")),
            };
            text_part(text, cache)
        }
        "image_url" | "file" | "input_audio" if allow != Allow::Any => return Err(refuse(&kind)),
        "image_url" => {
            let param = format!("{path}.image_url");
            let mut image = object(
                map.remove("image_url")
                    .ok_or_else(|| TranslateError::new(&param, "is required"))?,
                &param,
            )?;
            let url = string(
                image.remove("url").unwrap_or(Value::Null),
                &format!("{param}.url"),
            )?;
            // `detail` sets the resolution OpenAI reads an image at; the native providers
            // choose their own, so it is a hint with nothing to translate to.
            image.remove("detail");
            no_other(image, &param)?;
            Some(Part::Media {
                kind: MediaKind::Image,
                media: media_of_url(url, &format!("{param}.url"))?,
                filename: None,
                cache,
                path: path.clone(),
            })
        }
        "file" => {
            let param = format!("{path}.file");
            let mut file = object(
                map.remove("file")
                    .ok_or_else(|| TranslateError::new(&param, "is required"))?,
                &param,
            )?;
            if file.get("file_id").is_some_and(|v| !v.is_null()) {
                return Err(TranslateError::new(
                    format!("{param}.file_id"),
                    "names a file stored with OpenAI, which other providers cannot read; send `file_data` instead",
                ));
            }
            file.remove("file_id");
            let data = string(
                file.remove("file_data").unwrap_or(Value::Null),
                &format!("{param}.file_data"),
            )?;
            let filename = match file.remove("filename").filter(|v| !v.is_null()) {
                Some(name) => Some(string(name, &format!("{param}.filename"))?),
                None => None,
            };
            no_other(file, &param)?;
            let media = match media_of_url(data, &format!("{param}.file_data"))? {
                Media::Url(_) => {
                    return Err(TranslateError::new(
                        format!("{param}.file_data"),
                        "must be a base64 data URL",
                    ))
                }
                data => data,
            };
            Some(Part::Media {
                kind: MediaKind::File,
                media,
                filename,
                cache,
                path: path.clone(),
            })
        }
        "input_audio" => {
            let param = format!("{path}.input_audio");
            let mut audio = object(
                map.remove("input_audio")
                    .ok_or_else(|| TranslateError::new(&param, "is required"))?,
                &param,
            )?;
            let data = string(
                audio.remove("data").unwrap_or(Value::Null),
                &format!("{param}.data"),
            )?;
            let format = string(
                audio.remove("format").unwrap_or(Value::Null),
                &format!("{param}.format"),
            )?;
            no_other(audio, &param)?;
            let mime = match format.as_str() {
                "wav" => "audio/wav",
                "mp3" => "audio/mp3",
                _ => {
                    return Err(TranslateError::new(
                        format!("{param}.format"),
                        "must be wav or mp3",
                    ))
                }
            };
            Some(Part::Media {
                kind: MediaKind::Audio,
                media: Media::Data {
                    mime: mime.to_owned(),
                    data,
                },
                filename: None,
                cache,
                path: path.clone(),
            })
        }
        _ => {
            return Err(TranslateError::new(
                format!("{path}.type"),
                format_args!("unknown part type `{kind}`"),
            ))
        }
    };
    no_other(map, &path)?;
    Ok(part)
}

/// Refuses keys a part does not have.
fn no_other(map: Map<String, Value>, path: &str) -> Result<(), TranslateError> {
    match map.into_iter().find(|(_, v)| !v.is_null()) {
        Some((key, _)) => Err(TranslateError::new(
            format!("{path}.{key}"),
            "is not a field of this part",
        )),
        None => Ok(()),
    }
}

/// A URL as media: a base64 data URL becomes its data and type, any other URL stays a URL.
fn media_of_url(url: String, param: &str) -> Result<Media, TranslateError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(Media::Url(url));
    };
    let Some((header, data)) = rest.split_once(',') else {
        return Err(TranslateError::new(param, "is a data URL without data"));
    };
    let mut fields = header.split(';');
    let mime = fields.next().unwrap_or_default();
    if !fields.any(|f| f.eq_ignore_ascii_case("base64")) {
        return Err(TranslateError::new(param, "must be a base64 data URL"));
    }
    if mime.is_empty() {
        return Err(TranslateError::new(
            param,
            "is a data URL without a media type",
        ));
    }
    Ok(Media::Data {
        mime: mime.to_ascii_lowercase(),
        data: data.to_owned(),
    })
}
