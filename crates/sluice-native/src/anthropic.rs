//! Anthropic's Messages API (`POST /v1/messages`, with the `x-api-key` and `anthropic-version`
//! headers, which are the caller's).
//!
//! - [`request`]: the client's chat request → a Messages body (`stream: true` when the client
//!   streams). What each field becomes, and which are refused, is on [`request`].
//! - [`AnthropicStream`]: the Messages SSE stream → chat-completion chunks.
//! - [`response`]: a whole Messages answer → one `chat.completion`.
//!
//! Finish reasons: `end_turn`, `stop_sequence` and `pause_turn` → `stop`; `max_tokens` and
//! `model_context_window_exceeded` → `length`; `tool_use` → `tool_calls`; `refusal` →
//! `content_filter`; any other → `stop`.

pub(crate) mod fast;
mod request;
mod response;
mod stream;
pub(crate) mod usage;

pub use request::{request, thinking_budget, AnthropicOptions};
pub use response::response;
pub use stream::AnthropicStream;

/// OpenAI's finish reason for Anthropic's stop reason.
fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}
