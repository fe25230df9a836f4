//! A client's chat request, read into the few shapes both providers are translated from.
//! Values a request may hold that ask for nothing (`n: 1`, `logprobs: false`, an empty
//! `logit_bias`) are gone by here; everything else the request asked for is here, for each
//! provider to translate or refuse.

use serde_json::{Number, Value};

use crate::error::TranslateError;

/// Which provider a request is translated for, to name it in refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    Anthropic,
    Gemini,
}

impl Provider {
    pub fn api(self) -> &'static str {
        match self {
            Provider::Anthropic => "Anthropic's Messages API",
            Provider::Gemini => "the Gemini API",
        }
    }

    /// The refusal of a field the provider has no equivalent for.
    pub fn refuse(self, param: impl Into<String>) -> TranslateError {
        TranslateError::new(
            param,
            format_args!("{} has no equivalent for it", self.api()),
        )
    }
}

#[derive(Debug, Default)]
pub(crate) struct Chat {
    /// System and developer messages, in order, wherever they stood.
    pub system: Vec<Part>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` only: one tool call per turn.
    pub serial_tool_calls: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    pub temperature: Option<Number>,
    pub top_p: Option<Number>,
    pub stop: Vec<String>,
    pub effort: Option<Effort>,
    pub format: Option<Format>,
    pub stream: bool,
    pub user: Option<String>,
    pub seed: Option<Number>,
    /// Non-zero penalties only.
    pub presence_penalty: Option<Number>,
    pub frequency_penalty: Option<Number>,
}

#[derive(Debug)]
pub(crate) enum Message {
    User(Vec<Part>),
    Assistant(Assistant),
    /// A tool's result (`role: "tool"`): text parts only.
    Tool {
        call_id: String,
        content: Vec<Part>,
        /// `messages[i]`, for refusals.
        path: String,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Assistant {
    pub parts: Vec<Part>,
    /// `reasoning_content`.
    pub reasoning: Option<String>,
    /// `reasoning_signature`.
    pub signature: Option<String>,
    /// `reasoning_redacted`.
    pub redacted: Vec<String>,
    pub calls: Vec<ToolCall>,
    /// `messages[i]`, for refusals.
    pub path: String,
}

#[derive(Debug)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    /// The parsed arguments: always an object (`{}` for empty arguments).
    pub arguments: Value,
    /// `extra_content.google.thought_signature`.
    pub signature: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Part {
    Text {
        text: String,
        /// Anthropic's `cache_control`, as the client wrote it.
        cache: Option<Value>,
    },
    Media {
        kind: MediaKind,
        media: Media,
        /// A file part's `filename`.
        filename: Option<String>,
        cache: Option<Value>,
        /// `messages[i].content[j]`, for refusals.
        path: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Image,
    File,
    Audio,
}

#[derive(Debug)]
pub(crate) enum Media {
    /// Base64 data and its media type (from a data URL or `input_audio`).
    Data { mime: String, data: String },
    /// A URL other than a data URL.
    Url(String),
}

#[derive(Debug)]
pub(crate) struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// The JSON Schema of the arguments, as the client wrote it.
    pub parameters: Option<Value>,
    pub cache: Option<Value>,
    /// `strict: true`: the arguments must match the schema (Anthropic's strict tools, Gemini's
    /// `VALIDATED` function calling).
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Required,
    Named(String),
}

/// `reasoning_effort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
}

/// `response_format` other than `text`.
#[derive(Debug)]
pub(crate) enum Format {
    JsonObject,
    /// `json_schema.schema`, if given.
    JsonSchema(Option<Value>),
}

/// `value` as a string, or a refusal naming `param`.
pub(crate) fn string(value: Value, param: &str) -> Result<String, TranslateError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(TranslateError::new(param, "must be a string")),
    }
}

/// `value` as an object, or a refusal naming `param`.
pub(crate) fn object(
    value: Value,
    param: &str,
) -> Result<serde_json::Map<String, Value>, TranslateError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(TranslateError::new(param, "must be an object")),
    }
}
