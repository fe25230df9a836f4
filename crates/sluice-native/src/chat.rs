//! Reading a client's chat-completions request for a native provider. Every top-level field
//! is read (and later translated or refused by the provider's module), ignored because it
//! cannot change the answer ([`IGNORED_FIELDS`]), or refused here because neither provider
//! has it.

mod messages;
mod model;
mod tools;

use serde_json::{Number, Value};

pub(crate) use model::{
    Assistant, Chat, Effort, Format, Media, MediaKind, Message, Part, Provider, Tool, ToolChoice,
};

use crate::error::TranslateError;
use model::string;

/// Request fields both translations ignore, because they cannot change the answer:
/// - `model`: the provider's model is the route's, given by the caller;
/// - `stream_options`: the translated stream always ends with its usage chunk, and the
///   gateway's encoder gives it to the client or not, as for OpenAI's providers;
/// - `store`, `metadata`: OpenAI's own storage of completions and its tags;
/// - `prompt_cache_key`: a hint for OpenAI's cache routing;
/// - `safety_identifier`: OpenAI's abuse-tracking id (for Anthropic, `user` is sent as
///   `metadata.user_id`; Gemini has no such field and ignores `user` too);
/// - `service_tier` when `auto` or `default`, `modalities` when `["text"]`, `n` when 1,
///   `logprobs` when false, `top_logprobs` and `parallel_tool_calls` when null, `logit_bias`
///   when empty, penalties when 0: the values that ask for what the provider does anyway.
///
/// Inside messages: `image_url.detail` (a resolution hint; the providers pick their own) and,
/// for Gemini, `cache_control` (its caching is implicit) and a file part's `filename`.
pub const IGNORED_FIELDS: &[&str] = &[
    "model",
    "stream_options",
    "store",
    "metadata",
    "prompt_cache_key",
    "safety_identifier",
];

/// Reads the request body for `provider`.
pub(crate) fn read(body: &[u8], provider: Provider) -> Result<Chat, TranslateError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        TranslateError::new("", format_args!("the body is not a valid JSON object: {e}"))
    })?;
    let Value::Object(map) = value else {
        return Err(TranslateError::new("", "the body is not a JSON object"));
    };
    let mut chat = Chat::default();
    let (mut max_tokens, mut max_completion_tokens) = (None, None);
    let mut messages = None;
    for (key, value) in map {
        match key.as_str() {
            k if IGNORED_FIELDS.contains(&k) => {}
            _ if value.is_null() => {}
            "messages" => messages = Some(value),
            "stream" => match value {
                Value::Bool(b) => chat.stream = b,
                _ => return Err(TranslateError::new("stream", "must be a boolean")),
            },
            "max_tokens" => max_tokens = Some(count(value, "max_tokens")?),
            "max_completion_tokens" => {
                max_completion_tokens = Some(count(value, "max_completion_tokens")?)
            }
            "temperature" => chat.temperature = Some(number(value, "temperature")?),
            "top_p" => chat.top_p = Some(number(value, "top_p")?),
            "seed" => chat.seed = Some(number(value, "seed")?),
            "presence_penalty" => {
                chat.presence_penalty = non_zero(number(value, "presence_penalty")?)
            }
            "frequency_penalty" => {
                chat.frequency_penalty = non_zero(number(value, "frequency_penalty")?)
            }
            "stop" => chat.stop = stop(value)?,
            "n" if value.as_u64() == Some(1) => {}
            "logprobs" if value == Value::Bool(false) => {}
            "logit_bias" if value.as_object().is_some_and(|m| m.is_empty()) => {}
            "service_tier" if matches!(value.as_str(), Some("auto" | "default")) => {}
            "modalities" if value == serde_json::json!(["text"]) => {}
            "tools" => chat.tools = tools::tools(value, provider)?,
            "tool_choice" => chat.tool_choice = Some(tools::tool_choice(value, provider)?),
            "parallel_tool_calls" => match value {
                Value::Bool(b) => chat.serial_tool_calls = !b,
                _ => {
                    return Err(TranslateError::new(
                        "parallel_tool_calls",
                        "must be a boolean",
                    ))
                }
            },
            "reasoning_effort" => chat.effort = Some(tools::effort(value)?),
            "response_format" => chat.format = tools::format(value)?,
            "user" => chat.user = Some(string(value, "user")?),
            _ => return Err(provider.refuse(key)),
        }
    }
    match messages {
        Some(list) => messages::read(list, provider, &mut chat)?,
        None => return Err(TranslateError::new("messages", "is required")),
    }
    chat.max_tokens = max_completion_tokens.or(max_tokens);
    // Without tools, `auto` and `none` ask for nothing; a call required of no tool cannot be.
    if chat.tools.is_empty() {
        match chat.tool_choice.take() {
            None | Some(ToolChoice::Auto | ToolChoice::None) => {}
            Some(_) => {
                return Err(TranslateError::new(
                    "tool_choice",
                    "asks for a tool call, but the request has no tools",
                ))
            }
        }
    }
    Ok(chat)
}

fn count(value: Value, param: &str) -> Result<u64, TranslateError> {
    value
        .as_u64()
        .filter(|n| *n > 0)
        .ok_or_else(|| TranslateError::new(param, "must be a positive integer"))
}

fn number(value: Value, param: &str) -> Result<Number, TranslateError> {
    match value {
        Value::Number(n) => Ok(n),
        _ => Err(TranslateError::new(param, "must be a number")),
    }
}

fn non_zero(n: Number) -> Option<Number> {
    (n.as_f64() != Some(0.0)).then_some(n)
}

/// `stop`: a string or a list of strings.
fn stop(value: Value) -> Result<Vec<String>, TranslateError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, s)| string(s, &format!("stop[{i}]")))
            .collect(),
        _ => Err(TranslateError::new(
            "stop",
            "must be a string or an array of strings",
        )),
    }
}
