//! Translation between OpenAI's chat completions, Sluice's internal format, and the native APIs
//! of Anthropic (Messages, `POST /v1/messages`) and Google (Gemini `generateContent` and
//! `streamGenerateContent?alt=sse`); and, inbound, between client APIs the gateway serves and
//! chat completions ([`inbound`]).
//!
//! Each provider module has the same three parts:
//! - `request`: a client's chat-completions body → the provider's JSON body, or a
//!   [`TranslateError`] naming the field the provider cannot take (the gateway's 400). Nothing
//!   is dropped silently: the few OpenAI fields that cannot change the answer are ignored and
//!   listed in [`IGNORED_FIELDS`]; every other field is translated or refused.
//! - a stream translator ([`anthropic::AnthropicStream`], [`gemini::GeminiStream`], both
//!   [`NativeStream`]): fed the provider's SSE events one at a time, it appends complete
//!   `chat.completion.chunk` payloads to a [`Chunks`] at once (no answer is buffered) and says
//!   what else the event meant ([`Step`]); its last chunk carries the usage with no choices,
//!   like OpenAI's `include_usage`.
//! - `response`: a whole provider answer → one `chat.completion` body.
//!
//! # What the chunks carry beyond OpenAI's fields
//!
//! - `delta.reasoning_content`: thinking text (Anthropic `thinking` blocks, Gemini parts with
//!   `thought: true`), never mixed into `content`.
//! - `delta.reasoning_signature`: the signature that closes a thinking block (Anthropic's
//!   `signature_delta`; Gemini's `thoughtSignature` on a text part), in a delta of its own.
//!   A client sends it back on the assistant message as `reasoning_signature`, beside the
//!   `reasoning_content` it signs, and Anthropic gets the `thinking` block it produced.
//! - `delta.reasoning_redacted`: the opaque `data` of an Anthropic `redacted_thinking` block,
//!   sent back the same way (a string, or a list of strings for several blocks).
//! - `tool_calls[i].extra_content.google.thought_signature`: the signature Gemini puts on a
//!   function call (Google's own OpenAI-compatible shape), sent back on the same tool call.
//! - `usage.prompt_tokens_details.cache_creation_tokens` (and `cache_creation_1h_tokens`):
//!   Anthropic's cache writes; see [`TokenUsage`] for what every count includes.
//!
//! A whole answer's `message` carries the same fields, accumulated.
//!
//! # The other way: client APIs served through chat completions
//!
//! [`inbound`] holds one module per client API the gateway serves by translation. Each reads
//! the client's request into a chat request (what cannot be carried is dropped and named,
//! never refused, since agents send such fields on every turn), writes the client's stream
//! from the provider's chat chunks with a [`ClientEncoder`](sluice_openai::ClientEncoder), and
//! translates a whole `chat.completion`:
//! - [`inbound::messages`]: Anthropic's Messages API ([`inbound::messages::MessagesEncoder`]);
//!   thinking and its signatures travel in the extra fields above, so a conversation that
//!   reaches an Anthropic provider keeps them.
//! - [`inbound::responses`]: OpenAI's Responses API ([`inbound::responses::ResponsesEncoder`]);
//!   it keeps no state: tool-call ids and reasoning signatures ride in the items the client
//!   sends back.
//!
//! # No translation: pass-through
//!
//! [`passthrough`]: a client that speaks its provider's own API (Messages to Anthropic,
//! Responses to a provider that serves it) gets the provider's events as they came, read for
//! the relay and with the gateway's cost put on the final usage.
//!
//! **Architecture invariants:** pure: no IO, no async runtime, no HTTP types, no clock, no
//! money. Translation never buffers an answer: each provider event yields its chunks at once;
//! the one exception is an inbound API whose last event repeats the whole answer (the
//! Responses API), kept up to [`inbound::responses::MAX_OUTPUT_BYTES`].
//! Bounded: a stream tracks at most [`MAX_BLOCKS`] content blocks or tool calls.

pub mod anthropic;
mod chat;
mod chunk;
mod error;
pub mod gemini;
pub mod inbound;
pub mod passthrough;
mod usage;

pub use chat::IGNORED_FIELDS;
pub use chunk::{ChunkMeta, Chunks};
pub use error::{ProtocolError, ResponseError, TranslateError};
pub use usage::TokenUsage;

use sluice_openai::ErrorBody;

/// The most content blocks (Anthropic) or tool calls (Gemini) one stream may have; past it the
/// stream is a [`ProtocolError`], so a hostile provider cannot grow a translator's state.
pub const MAX_BLOCKS: usize = 1024;

/// What one provider event meant, beside the chunks it appended.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Go on (the event may have appended nothing, as a block's end does).
    Continue,
    /// A keep-alive (Anthropic `ping`): nothing for the client, but the provider is alive, so
    /// the caller's idle timer starts again.
    Alive,
    /// The provider ended the stream properly (Anthropic `message_stop`); the usage chunk, if
    /// any, was appended. The caller ends the client's stream (`[DONE]`); later events are
    /// ignored.
    Done,
    /// The provider reported an error mid-stream (Anthropic `event: error`, a Gemini error
    /// object): the caller writes it as the stream's final error event, with no `[DONE]`.
    /// Later events are ignored.
    Error(ErrorBody),
}

/// A per-stream translator from a provider's SSE events to chat-completion chunks.
pub trait NativeStream: Send + Sync + std::fmt::Debug {
    /// Translates one SSE event (`event` is its `event:` field, `None` for the default type;
    /// `data` its data), appending the chunks it became to `out`.
    fn event(
        &mut self,
        event: Option<&[u8]>,
        data: &[u8],
        out: &mut Chunks,
    ) -> Result<Step, ProtocolError>;

    /// The provider's stream ended (end of input). If the answer finished (a finish reason was
    /// sent) and the usage chunk was not written yet, it is appended now; an answer cut off
    /// before its finish is a [`ProtocolError`]. After [`Step::Done`] or [`Step::Error`] it
    /// does nothing.
    fn finish(&mut self, out: &mut Chunks) -> Result<(), ProtocolError>;

    /// The usage read so far (`None` before any, or when the provider's counts could not be
    /// trusted): for billing a stream that failed, and for the cache counts a price needs.
    fn usage(&self) -> Option<TokenUsage>;
}

/// A whole answer translated to a `chat.completion` body.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The `chat.completion` JSON.
    pub body: Vec<u8>,
    /// Its usage, as in the body (`None` when the provider's counts could not be trusted).
    pub usage: Option<TokenUsage>,
}
