//! The client's chat request as a Messages API body.

use serde_json::{json, Map, Value};

use crate::chat::{
    self, Assistant, Chat, Effort, Media, MediaKind, Message, Part, Provider, Tool, ToolChoice,
};
use crate::error::TranslateError;

const P: Provider = Provider::Anthropic;

/// Settings of an Anthropic provider that requests need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicOptions {
    /// Anthropic requires `max_tokens`; a request that gives neither `max_tokens` nor
    /// `max_completion_tokens` gets this.
    pub default_max_tokens: u64,
}

/// The thinking budget (`thinking.budget_tokens`) for a `reasoning_effort`: `none` → no
/// thinking; `minimal` → 1,024 (Anthropic's least); `low` → 2,048; `medium` → 8,192;
/// `high` → 24,576.
pub fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "minimal" => Some(1024),
        "low" => Some(2048),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// The least budget Anthropic takes.
const MIN_BUDGET: u64 = 1024;

/// Translates a chat-completions body into a Messages body for `model`.
///
/// - `system` and `developer` messages, wherever they stand, become `system` text blocks in
///   order; `user`, `assistant` and `tool` messages become turns, consecutive turns of one
///   role merged (tool results are user turns, so parallel results share one).
/// - Parts: text → `text`; `image_url` → `image` with a `base64` source for a data URL, a
///   `url` source otherwise; a `file` with PDF or image data → `document` (its `filename` the
///   title) or `image`; `cache_control` on a part or tool is passed on. Audio is refused.
/// - Assistant turns: `reasoning_content` with its `reasoning_signature` → a `thinking` block
///   (reasoning without a signature is refused: Anthropic takes back only thinking it
///   signed), `reasoning_redacted` → `redacted_thinking` blocks, then text, then `tool_use`
///   blocks with the tool calls' ids and parsed arguments. A tool call's Gemini signature
///   (`extra_content.google`) means nothing here and is not sent. `tool` messages →
///   `tool_result` blocks with the same ids.
/// - `tools` → `name`, `description`, `input_schema` (an empty object schema when none),
///   `strict`; `tool_choice` auto/none/required/named → `auto`/`none`/`any`/`tool`;
///   `parallel_tool_calls: false` → `disable_parallel_tool_use`.
/// - `max_completion_tokens`, else `max_tokens`, else the default → `max_tokens`;
///   `temperature` (0 to 1 only), `top_p`; `stop` → `stop_sequences`; `user` →
///   `metadata.user_id`; `stream`.
/// - `reasoning_effort` → `thinking` with [`thinking_budget`]'s budget. With the client's own
///   `max_tokens` the budget is cut to fit under it (refused below 1,024); without one,
///   `max_tokens` is the default plus the budget, so thinking does not eat the answer.
/// - Refused: `response_format` other than text, `seed`, non-zero penalties, `n` > 1,
///   `logprobs`, `logit_bias`, audio, and every field not named here or in
///   [`IGNORED_FIELDS`](crate::IGNORED_FIELDS).
pub fn request(
    body: &[u8],
    model: &str,
    opts: &AnthropicOptions,
) -> Result<Vec<u8>, TranslateError> {
    let chat = chat::read(body, P)?;
    refuse_unsupported(&chat)?;
    let mut out = Map::new();
    out.insert("model".into(), model.into());
    let (max_tokens, thinking) = budget(&chat, opts)?;
    out.insert("max_tokens".into(), max_tokens.into());
    if !chat.system.is_empty() {
        let blocks = chat
            .system
            .into_iter()
            .map(block)
            .collect::<Result<_, _>>()?;
        out.insert("system".into(), Value::Array(blocks));
    }
    out.insert("messages".into(), Value::Array(turns(chat.messages)?));
    if !chat.tools.is_empty() {
        let tools = chat.tools.into_iter().map(tool).collect();
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice(chat.tool_choice, chat.serial_tool_calls) {
            out.insert("tool_choice".into(), choice);
        }
    }
    if !chat.stop.is_empty() {
        out.insert("stop_sequences".into(), chat.stop.into());
    }
    if let Some(t) = chat.temperature {
        out.insert("temperature".into(), Value::Number(t));
    }
    if let Some(p) = chat.top_p {
        out.insert("top_p".into(), Value::Number(p));
    }
    if let Some(budget) = thinking {
        out.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(user) = chat.user {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    if chat.stream {
        out.insert("stream".into(), true.into());
    }
    serde_json::to_vec(&Value::Object(out))
        .map_err(|e| TranslateError::new("", format_args!("the request could not be written: {e}")))
}

fn refuse_unsupported(chat: &Chat) -> Result<(), TranslateError> {
    if chat.format.is_some() {
        return Err(TranslateError::new(
            "response_format",
            "Anthropic's Messages API has no JSON mode or schema-constrained answer",
        ));
    }
    for (param, set) in [
        ("seed", chat.seed.is_some()),
        ("presence_penalty", chat.presence_penalty.is_some()),
        ("frequency_penalty", chat.frequency_penalty.is_some()),
    ] {
        if set {
            return Err(P.refuse(param));
        }
    }
    if let Some(t) = &chat.temperature {
        if !t.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) {
            return Err(TranslateError::new(
                "temperature",
                "Anthropic's Messages API takes a temperature from 0 to 1",
            ));
        }
    }
    Ok(())
}

/// `max_tokens` and the thinking budget.
fn budget(chat: &Chat, opts: &AnthropicOptions) -> Result<(u64, Option<u64>), TranslateError> {
    let budget = match chat.effort {
        None | Some(Effort::None) => None,
        Some(Effort::Minimal) => thinking_budget("minimal"),
        Some(Effort::Low) => thinking_budget("low"),
        Some(Effort::Medium) => thinking_budget("medium"),
        Some(Effort::High) => thinking_budget("high"),
    };
    match (chat.max_tokens, budget) {
        (Some(max), Some(budget)) => {
            let fitted = budget.min(max.saturating_sub(1));
            if fitted < MIN_BUDGET {
                return Err(TranslateError::new(
                    "reasoning_effort",
                    format_args!(
                        "Anthropic's thinking needs at least {MIN_BUDGET} tokens under max_tokens, which is {max}"
                    ),
                ));
            }
            Ok((max, Some(fitted)))
        }
        (Some(max), None) => Ok((max, None)),
        (None, budget) => Ok((
            opts.default_max_tokens.saturating_add(budget.unwrap_or(0)),
            budget,
        )),
    }
}

/// The messages as turns, consecutive turns of one role merged.
fn turns(messages: Vec<Message>) -> Result<Vec<Value>, TranslateError> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::with_capacity(messages.len());
    for message in messages {
        let (role, blocks) = match message {
            Message::User(parts) => (
                "user",
                parts.into_iter().map(block).collect::<Result<_, _>>()?,
            ),
            Message::Assistant(a) => ("assistant", assistant(a)?),
            Message::Tool {
                call_id, content, ..
            } => {
                let mut result = Map::new();
                result.insert("type".into(), "tool_result".into());
                result.insert("tool_use_id".into(), call_id.into());
                if !content.is_empty() {
                    let blocks = content.into_iter().map(block).collect::<Result<_, _>>()?;
                    result.insert("content".into(), Value::Array(blocks));
                }
                ("user", vec![Value::Object(result)])
            }
        };
        match turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Ok(turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect())
}

fn assistant(a: Assistant) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = Vec::with_capacity(a.parts.len() + a.calls.len() + 1);
    match (a.reasoning, a.signature) {
        (text, Some(signature)) => blocks.push(json!({
            "type": "thinking",
            "thinking": text.unwrap_or_default(),
            "signature": signature,
        })),
        (Some(_), None) => {
            return Err(TranslateError::new(
                format!("{}.reasoning_content", a.path),
                "Anthropic takes thinking back only with the `reasoning_signature` its stream gave",
            ))
        }
        (None, None) => {}
    }
    for data in a.redacted {
        blocks.push(json!({"type": "redacted_thinking", "data": data}));
    }
    for part in a.parts {
        blocks.push(block(part)?);
    }
    for call in a.calls {
        blocks.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.arguments,
        }));
    }
    Ok(blocks)
}

/// A content part as a block.
fn block(part: Part) -> Result<Value, TranslateError> {
    let (mut block, cache) = match part {
        Part::Text { text, cache } => (json!({"type": "text", "text": text}), cache),
        Part::Media {
            kind,
            media,
            filename,
            cache,
            path,
        } => (media_block(kind, media, filename, &path)?, cache),
    };
    if let (Some(cache), Value::Object(map)) = (cache, &mut block) {
        map.insert("cache_control".into(), cache);
    }
    Ok(block)
}

fn media_block(
    kind: MediaKind,
    media: Media,
    filename: Option<String>,
    path: &str,
) -> Result<Value, TranslateError> {
    match (kind, media) {
        (MediaKind::Audio, _) => Err(TranslateError::new(
            path,
            "Anthropic's Messages API takes no audio",
        )),
        (MediaKind::Image, Media::Url(url)) => {
            Ok(json!({"type": "image", "source": {"type": "url", "url": url}}))
        }
        (_, Media::Data { mime, data }) if mime.starts_with("image/") => Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": mime, "data": data},
        })),
        (MediaKind::File, Media::Data { mime, data }) if mime == "application/pdf" => {
            let mut doc = json!({
                "type": "document",
                "source": {"type": "base64", "media_type": mime, "data": data},
            });
            if let (Some(name), Value::Object(map)) = (filename, &mut doc) {
                map.insert("title".into(), name.into());
            }
            Ok(doc)
        }
        (_, Media::Data { mime, .. }) => Err(TranslateError::new(
            path,
            format_args!("Anthropic's Messages API takes images and PDF files, not {mime}"),
        )),
        (MediaKind::File, Media::Url(_)) => Err(TranslateError::new(path, "must be a data URL")),
    }
}

fn tool(tool: Tool) -> Value {
    let mut map = Map::new();
    map.insert("name".into(), tool.name.into());
    if let Some(d) = tool.description {
        map.insert("description".into(), d.into());
    }
    let schema = tool
        .parameters
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    map.insert("input_schema".into(), schema);
    if let Some(cache) = tool.cache {
        map.insert("cache_control".into(), cache);
    }
    if tool.strict {
        map.insert("strict".into(), true.into());
    }
    Value::Object(map)
}

fn tool_choice(choice: Option<ToolChoice>, serial: bool) -> Option<Value> {
    let mut value = match choice {
        None if serial => json!({"type": "auto"}),
        None => return None,
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Named(name)) => json!({"type": "tool", "name": name}),
    };
    if let (true, Value::Object(map)) = (serial, &mut value) {
        map.insert("disable_parallel_tool_use".into(), true.into());
    }
    Some(value)
}

#[cfg(test)]
mod tests;
