//! Anthropic's Messages API as a client API (`POST /v1/messages` and
//! `/v1/messages/count_tokens`), served from any provider through chat completions.
//!
//! - [`request`] (and [`count_tokens_body`]): a Messages body → a chat-completions body, with
//!   the fields and tool types it could not carry named in [`Inbound::dropped`] (dropped, never
//!   refused: an agent must not be stopped by a field it sends on every turn).
//! - [`MessagesEncoder`]: the chat chunks of a stream → Anthropic's SSE events.
//! - [`response`]: a whole `chat.completion` → a Messages `message`.
//! - [`error_json`]: any error → Anthropic's error document.
//!
//! Stop reasons: `stop` → `end_turn`, `length` → `max_tokens`, `tool_calls` (and the legacy
//! `function_call`) → `tool_use`, `content_filter` → `refusal`, any other → `end_turn`.
//! Usage: Anthropic's `input_tokens` excludes cache reads and writes, which it counts apart
//! (`cache_read_input_tokens`, `cache_creation_input_tokens`); OpenAI's `prompt_tokens`
//! includes them, so the prompt is split with [`Usage::prompt_parts`].

mod encoder;
mod request;
mod response;

use std::fmt;

use serde_json::{json, Value};
use sluice_openai::ErrorBody;
use sluice_types::Usage;

pub use encoder::MessagesEncoder;
pub use request::{count_tokens_body, request, Inbound};
pub use response::response;

/// A Messages request that cannot be read at all (not JSON, no `model` or `messages`, a
/// field of the wrong type): the client's 400, written with [`InboundError::to_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundError {
    pub message: String,
}

impl InboundError {
    pub(crate) fn new(path: impl AsRef<str>, message: impl fmt::Display) -> Self {
        let path = path.as_ref();
        let message = if path.is_empty() {
            message.to_string()
        } else {
            format!("{path}: {message}")
        };
        InboundError { message }
    }

    /// The error as an [`ErrorBody`] of type `invalid_request_error`.
    pub fn to_error_body(&self) -> ErrorBody {
        ErrorBody::new(self.message.clone(), "invalid_request_error", Value::Null)
    }

    /// Anthropic's 400 document.
    pub fn to_json(&self) -> Vec<u8> {
        error_json(400, &self.to_error_body())
    }
}

impl fmt::Display for InboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InboundError {}

/// Anthropic's error types, which an error that already has one keeps.
const ERROR_TYPES: &[&str] = &[
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
];

/// Anthropic's error document `{"type":"error","error":{"type","message"}}` for an error
/// answered with `status`. The type is the error's own when it is one of Anthropic's (an
/// Anthropic provider's error, relayed), else the status's: 400 `invalid_request_error`, 401
/// `authentication_error`, 402 `billing_error`, 403 `permission_error`, 404
/// `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`, 503 and 529
/// `overloaded_error`, 504 `timeout_error`, any other 4xx `invalid_request_error`, anything
/// else `api_error`.
pub fn error_json(status: u16, err: &ErrorBody) -> Vec<u8> {
    let kind = own_type(err).unwrap_or_else(|| type_of_status(status));
    document(kind, &err.message)
}

/// The error event's type for an error after the stream started: its own Anthropic type, else
/// the status it carries, else what the gateway's own error types mean.
pub(crate) fn stream_error_type(err: &ErrorBody) -> &'static str {
    if let Some(kind) = own_type(err) {
        return kind;
    }
    if let Some(status) = err.status_hint() {
        return type_of_status(status);
    }
    let code = err.code.as_str().unwrap_or_default();
    match err.error_type.as_deref().unwrap_or_default() {
        "timeout" => "timeout_error",
        t if t.contains("rate_limit") || code.contains("rate_limit") => "rate_limit_error",
        _ if code == "gateway_overloaded" => "overloaded_error",
        _ => "api_error",
    }
}

fn own_type(err: &ErrorBody) -> Option<&'static str> {
    let own = err.error_type.as_deref()?;
    ERROR_TYPES.iter().copied().find(|t| *t == own)
}

fn type_of_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

pub(crate) fn document(kind: &str, message: &str) -> Vec<u8> {
    json!({"type": "error", "error": {"type": kind, "message": message}})
        .to_string()
        .into_bytes()
}

/// Anthropic's stop reason for a chat finish reason.
pub(crate) fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// A usage in Anthropic's counts: `input_tokens` without the cache's reads and writes.
pub(crate) fn usage_json(usage: Option<&Usage>) -> Value {
    let u = usage.copied().unwrap_or_default();
    let parts = u.prompt_parts();
    json!({
        "input_tokens": parts.uncached,
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": parts.cache_read,
        "cache_creation_input_tokens": parts.cache_write_5m + parts.cache_write_1h,
    })
}

#[cfg(test)]
mod tests;
