//! Why a Responses request cannot be translated at all.

use std::fmt;

use serde_json::Value;
use sluice_openai::ErrorBody;

/// A Responses request the gateway answers with a 400 in OpenAI's shape
/// ([`InboundError::to_error_body`]): malformed (not JSON, no `model` or `input`, a field of
/// the wrong type), or asking for state the gateway does not keep. A field that is well
/// formed but has no chat-completions counterpart is never an error: it is dropped and named
/// in [`Inbound::dropped`](super::Inbound::dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundError {
    pub kind: InboundErrorKind,
    /// The field at fault as a path (`input[2].call_id`); empty for the body as a whole.
    pub param: String,
    /// One sentence naming the field and what is wrong with it.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundErrorKind {
    /// The body is not a Responses request.
    Malformed,
    /// The request continues a stored response or conversation (`previous_response_id`,
    /// `conversation`): only a provider that serves Responses natively can answer it.
    Stateful,
}

impl InboundError {
    pub(crate) fn malformed(param: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::new(InboundErrorKind::Malformed, param.into(), message)
    }

    pub(crate) fn stateful(param: &str) -> Self {
        Self::new(
            InboundErrorKind::Stateful,
            param.to_owned(),
            "continues a stored response, which this gateway does not keep; send the whole \
             conversation in `input` (with `store: false`), or use a route to a provider that \
             serves the Responses API",
        )
    }

    fn new(kind: InboundErrorKind, param: String, message: impl fmt::Display) -> Self {
        let message = if param.is_empty() {
            message.to_string()
        } else {
            format!("`{param}`: {message}")
        };
        InboundError {
            kind,
            param,
            message,
        }
    }

    /// OpenAI's 400 body: `{"error":{"message","type":"invalid_request_error","code":null,
    /// "param"}}`.
    pub fn to_error_body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(self.message.clone(), "invalid_request_error", Value::Null);
        let param = match self.param.as_str() {
            "" => Value::Null,
            param => Value::String(param.to_owned()),
        };
        body.extra.insert("param".into(), param);
        body
    }
}

impl fmt::Display for InboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InboundError {}

/// The names of what a translation could not carry (fields, tool types, item types), each
/// once, for the gateway's metric. Names come from a fixed vocabulary, so a client cannot
/// grow the metric's label set: a field or type the Responses API does not publish is named
/// `other` (`tools.other`, `input.other`).
#[derive(Debug, Default)]
pub(crate) struct Dropped(pub Vec<String>);

/// The Responses API's top-level fields that have no chat counterpart.
const FIELDS: &[&str] = &[
    "background",
    "client_metadata",
    "context_management",
    "include",
    "max_tool_calls",
    "metadata",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "service_tier",
    "stream_options",
    "top_logprobs",
    "truncation",
];

/// The Responses API's tool, tool-choice, item and content-part types.
const TYPES: &[&str] = &[
    "allowed_tools",
    "apply_patch",
    "apply_patch_call",
    "apply_patch_call_output",
    "code_interpreter",
    "code_interpreter_call",
    "compaction",
    "computer_call",
    "computer_call_output",
    "computer_use",
    "computer_use_preview",
    "custom",
    "custom_tool_call",
    "custom_tool_call_output",
    "file_search",
    "file_search_call",
    "image_generation",
    "image_generation_call",
    "input_audio",
    "input_file",
    "input_image",
    "item_reference",
    "local_shell",
    "local_shell_call",
    "local_shell_call_output",
    "mcp",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "mcp_list_tools",
    "namespace",
    "shell",
    "shell_call",
    "shell_call_output",
    "tool_search",
    "web_search",
    "web_search_call",
    "web_search_preview",
];

impl Dropped {
    /// A name of the crate's own making (`store`, `input.reasoning.encrypted_content`).
    pub fn add(&mut self, name: impl AsRef<str>) {
        let name = name.as_ref();
        if !self.0.iter().any(|n| n == name) {
            self.0.push(name.to_owned());
        }
    }

    /// A top-level field the request had.
    pub fn field(&mut self, key: &str) {
        self.add(if FIELDS.contains(&key) { key } else { "other" });
    }

    /// A type the request named, under `prefix` (`tools`, `input`, `tool_choice`).
    pub fn kind(&mut self, prefix: &str, kind: &str) {
        let kind = if TYPES.contains(&kind) { kind } else { "other" };
        self.add(format!("{prefix}.{kind}"));
    }
}
