//! Google's Gemini API: `models/{model}:streamGenerateContent?alt=sse` for streams and
//! `models/{model}:generateContent` for whole answers, with the `x-goog-api-key` header. The
//! model and the choice of method are in the URL, the caller's: the body is the same for both.
//!
//! - [`request`]: the client's chat request → a `GenerateContentRequest` body. What each field
//!   becomes, and which are refused, is on [`request`].
//! - [`GeminiStream`]: the SSE stream of `GenerateContentResponse`s → chat-completion chunks.
//! - [`response`]: a whole `GenerateContentResponse` → one `chat.completion`.
//!
//! Finish reasons: `STOP` → `stop`, or `tool_calls` when the answer made any function call
//! (in that chunk or an earlier one); `MAX_TOKENS` → `length`; `SAFETY`, `RECITATION`,
//! `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY`, `IMAGE_PROHIBITED_CONTENT` and a
//! prompt blocked by `promptFeedback.blockReason` → `content_filter`; any other → `stop`.

mod request;
mod response;
mod stream;
mod view;

pub use request::{request, thinking_budget, GeminiOptions};
pub use response::response;
pub use stream::GeminiStream;
