//! The client's chat request as a `GenerateContentRequest` body.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::chat::{
    self, Assistant, Chat, Effort, Format, Media, Message, Part, Provider, ToolChoice,
};
use crate::error::TranslateError;

const P: Provider = Provider::Gemini;

/// Settings of a Gemini provider that requests need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeminiOptions {
    /// `maxOutputTokens` for a request that gives neither `max_tokens` nor
    /// `max_completion_tokens`; `None` leaves Gemini's own limit.
    pub default_max_tokens: Option<u64>,
}

/// The thinking budget (`thinkingConfig.thinkingBudget`) for a `reasoning_effort`, the values
/// Google's own OpenAI-compatible API uses where it has them: `none` → 0 (thinking off, where
/// the model allows it); `minimal` → 512; `low` → 1,024; `medium` → 8,192; `high` → 24,576.
pub fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "none" => Some(0),
        "minimal" => Some(512),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// Translates a chat-completions body into a `GenerateContentRequest` body. Whether it
/// streams is the URL's business (`stream` is read by the caller, not written here).
///
/// - `system` and `developer` messages, wherever they stand, → `systemInstruction` parts in
///   order; `user` → `user` contents, `assistant` → `model` contents, `tool` → `user` contents
///   with a `functionResponse` named after the tool call whose id it answers (its `response` is
///   the result when that is a JSON object, else `{"content": text}`); consecutive contents of
///   one role are merged, so parallel results share one.
/// - Parts: text → `text`; `image_url`, `file` and `input_audio` data → `inlineData`; an image
///   URL → `fileData` with the type its extension gives (png, jpg, jpeg, webp, gif, heic,
///   heif, pdf; any other is refused).
/// - Assistant turns: text, then each tool call → `functionCall` (name, parsed arguments, and
///   `thoughtSignature` from `extra_content.google.thought_signature`); a
///   `reasoning_signature` → `thoughtSignature` on the last text part. `reasoning_content`
///   and `reasoning_redacted` are not sent: Gemini takes no thought text back (its signatures
///   carry its thinking).
/// - `tools` → `functionDeclarations` with the JSON Schema as `parametersJsonSchema`;
///   `tool_choice` auto/none/required/named → `AUTO`/`NONE`/`ANY`/`ANY` with
///   `allowedFunctionNames`; with a `strict` tool, `auto` (or no choice) is `VALIDATED`, which
///   holds calls to their schemas.
/// - `generationConfig`: `max_completion_tokens`, else `max_tokens`, else the default →
///   `maxOutputTokens`; `temperature`, `top_p` → `topP`, `stop` → `stopSequences`, `seed`,
///   `presence_penalty`, `frequency_penalty`; `response_format` json_object →
///   `responseMimeType: application/json`, json_schema → that and `responseJsonSchema` (JSON
///   Schema as written; `responseSchema` would take only OpenAPI's subset);
///   `reasoning_effort` → `thinkingConfig` with [`thinking_budget`]'s budget and
///   `includeThoughts` (so thoughts stream as `reasoning_content`) unless `none`.
/// - Ignored for Gemini: `user`, `cache_control`, a file's `filename` (with
///   [`IGNORED_FIELDS`](crate::IGNORED_FIELDS)).
/// - Refused: `parallel_tool_calls: false`, `n` > 1, `logprobs`, `logit_bias`, and every field
///   not named here or in `IGNORED_FIELDS`.
pub fn request(body: &[u8], opts: &GeminiOptions) -> Result<Vec<u8>, TranslateError> {
    let chat = chat::read(body, P)?;
    if chat.serial_tool_calls {
        return Err(TranslateError::new(
            "parallel_tool_calls",
            "the Gemini API cannot be kept to one tool call per turn",
        ));
    }
    let mut out = Map::new();
    let config = generation_config(&chat, opts);
    out.insert("contents".into(), Value::Array(contents(chat.messages)?));
    if !chat.system.is_empty() {
        let parts = chat
            .system
            .into_iter()
            .map(part)
            .collect::<Result<Vec<_>, _>>()?;
        out.insert("systemInstruction".into(), json!({ "parts": parts }));
    }
    // Gemini has no strict flag per function: `VALIDATED` holds every call to its schema
    // where `AUTO` would not (`ANY` already does).
    let strict = chat.tools.iter().any(|t| t.strict);
    if !chat.tools.is_empty() {
        let declarations: Vec<Value> = chat
            .tools
            .into_iter()
            .map(|t| {
                let mut d = Map::new();
                d.insert("name".into(), t.name.into());
                if let Some(desc) = t.description {
                    d.insert("description".into(), desc.into());
                }
                if let Some(schema) = t.parameters {
                    d.insert("parametersJsonSchema".into(), schema);
                }
                Value::Object(d)
            })
            .collect();
        out.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
    }
    let choice = match chat.tool_choice {
        None if strict => Some(ToolChoice::Auto),
        choice => choice,
    };
    if let Some(choice) = choice {
        let config = match choice {
            ToolChoice::Auto if strict => json!({"mode": "VALIDATED"}),
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        out.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": config }),
        );
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    serde_json::to_vec(&Value::Object(out))
        .map_err(|e| TranslateError::new("", format_args!("the request could not be written: {e}")))
}

fn generation_config(chat: &Chat, opts: &GeminiOptions) -> Map<String, Value> {
    let mut config = Map::new();
    if let Some(max) = chat.max_tokens.or(opts.default_max_tokens) {
        config.insert("maxOutputTokens".into(), max.into());
    }
    for (key, value) in [
        ("temperature", &chat.temperature),
        ("topP", &chat.top_p),
        ("seed", &chat.seed),
        ("presencePenalty", &chat.presence_penalty),
        ("frequencyPenalty", &chat.frequency_penalty),
    ] {
        if let Some(n) = value {
            config.insert(key.into(), Value::Number(n.clone()));
        }
    }
    if !chat.stop.is_empty() {
        config.insert("stopSequences".into(), chat.stop.clone().into());
    }
    match &chat.format {
        None => {}
        Some(Format::JsonObject) => {
            config.insert("responseMimeType".into(), "application/json".into());
        }
        Some(Format::JsonSchema(schema)) => {
            config.insert("responseMimeType".into(), "application/json".into());
            if let Some(schema) = schema {
                config.insert("responseJsonSchema".into(), schema.clone());
            }
        }
    }
    if let Some(effort) = chat.effort {
        let name = match effort {
            Effort::None => "none",
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        };
        let mut thinking = Map::new();
        thinking.insert("thinkingBudget".into(), thinking_budget(name).into());
        if effort != Effort::None {
            thinking.insert("includeThoughts".into(), true.into());
        }
        config.insert("thinkingConfig".into(), Value::Object(thinking));
    }
    config
}

/// The messages as contents, consecutive contents of one role merged.
fn contents(messages: Vec<Message>) -> Result<Vec<Value>, TranslateError> {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::with_capacity(messages.len());
    for message in messages {
        let (role, parts) = match message {
            Message::User(parts) => (
                "user",
                parts.into_iter().map(part).collect::<Result<_, _>>()?,
            ),
            Message::Assistant(a) => ("model", assistant(a, &mut names)?),
            Message::Tool {
                call_id,
                content,
                path,
            } => {
                let Some(name) = names.get(&call_id) else {
                    return Err(TranslateError::new(
                        format!("{path}.tool_call_id"),
                        "answers no tool call of an earlier assistant message",
                    ));
                };
                let text: String = content
                    .into_iter()
                    .filter_map(|p| match p {
                        Part::Text { text, .. } => Some(text),
                        Part::Media { .. } => None,
                    })
                    .collect();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(obj @ Value::Object(_)) => obj,
                    _ => json!({ "content": text }),
                };
                let call = json!({"functionResponse": {"name": name, "response": response}});
                ("user", vec![call])
            }
        };
        match contents.last_mut() {
            Some((last, list)) if *last == role => list.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    Ok(contents
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect())
}

fn assistant(
    a: Assistant,
    names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, TranslateError> {
    let mut parts = a
        .parts
        .into_iter()
        .map(part)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(sig) = a.signature {
        match parts.iter_mut().rev().find(|p| p.get("text").is_some()) {
            Some(Value::Object(last)) => {
                last.insert("thoughtSignature".into(), sig.into());
            }
            _ => parts.push(json!({"text": "", "thoughtSignature": sig})),
        }
    }
    for call in a.calls {
        let mut entry = json!({"functionCall": {"name": call.name, "args": call.arguments}});
        if let (Some(sig), Value::Object(map)) = (call.signature, &mut entry) {
            map.insert("thoughtSignature".into(), sig.into());
        }
        names.insert(call.id, call.name);
        parts.push(entry);
    }
    Ok(parts)
}

fn part(part: Part) -> Result<Value, TranslateError> {
    match part {
        Part::Text { text, .. } => Ok(json!({ "text": text })),
        Part::Media {
            media: Media::Data { mime, data },
            ..
        } => Ok(json!({"inlineData": {"mimeType": mime, "data": data}})),
        Part::Media {
            media: Media::Url(url),
            path,
            ..
        } => match mime_of_url(&url) {
            Some(mime) => Ok(json!({"fileData": {"mimeType": mime, "fileUri": url}})),
            None => Err(TranslateError::new(
                path,
                "the Gemini API needs the type of a file given by URL: use a data URL, or a URL ending in .png, .jpg, .jpeg, .webp, .gif, .heic, .heif or .pdf",
            )),
        },
    }
}

/// The media type an URL's extension names.
fn mime_of_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
