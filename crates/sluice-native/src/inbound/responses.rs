//! OpenAI's Responses API (`POST /v1/responses`) for a client whose route serves only chat
//! completions:
//! - [`request`]: a Responses request → a chat-completions request body, with the fields and
//!   tool types it could not carry named in [`Inbound::dropped`] (never a 400, SPEC §3);
//! - [`ResponsesEncoder`]: the client's stream, the Responses events written from the
//!   provider's chat-completion chunks;
//! - [`response`]: a whole `chat.completion` → a Responses `response` object.
//!
//! The translation is stateless, as the gateway is: a request with `previous_response_id` or
//! `conversation` can only be passed through to a provider that serves the Responses API
//! ([`Inbound::stateful`] is the 400 otherwise), `store: true` is dropped. What a stateless
//! client must carry from one turn to the next rides in the items it gives back: tool calls
//! keep the provider's ids as `call_id`, and a reasoning block the provider signed (Anthropic,
//! Gemini) keeps its signature in `encrypted_content`, so the next turn gives the provider the
//! thinking it signed.

mod error;
mod object;
mod request;
mod stream;
mod whole;

pub use error::{InboundError, InboundErrorKind};
pub use object::{failure_code, ResponseMeta, MAX_OUTPUT_BYTES};
pub use request::{request, Inbound};
pub use stream::ResponsesEncoder;
pub use whole::response;
