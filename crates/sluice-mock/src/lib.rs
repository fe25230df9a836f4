//! The simulated provider behind the built-in `mock` model and `sluice mock-upstream`: it owns
//! deterministic completion content (same prompt, same tokens), per-request timing (ttft,
//! inter-token latency), usage numbers, the fault models and the `/stats` counters. It is the
//! only stand-in for a real provider in Sluice. The core produces status, headers and a byte
//! stream without any HTTP server, so the gateway can read exactly the bytes the HTTP server
//! ([`serve`]) would send. What one request may ask for is capped ([`MAX_TOKENS`],
//! [`MAX_DELAY`]), so neither the mock nor a gateway running it in-process can be made to build
//! gigabytes or stay silent for more than a minute.
//!
//! It speaks four APIs, each in its own wire format, with the same generator, timing and
//! fault models:
//! - OpenAI chat completions, `POST /v1/chat/completions` ([`respond`]), and OpenAI
//!   embeddings, `POST /v1/embeddings` ([`embeddings::respond`]: deterministic unit-length
//!   vectors, never streamed);
//! - Anthropic Messages, `POST /v1/messages` ([`anthropic::respond`]; a Sluice provider of
//!   `kind = "anthropic"` has `base_url = "http://ADDR/v1"`);
//! - Gemini, `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` and
//!   `…:generateContent` ([`gemini::respond`]; `kind = "gemini"` has
//!   `base_url = "http://ADDR/v1beta"`);
//! - OpenAI Responses, `POST /v1/responses` ([`responses::respond`]: text answers, for a
//!   `kind = "openai"` provider with `responses = true`).
//!
//! Controls on every API: the `x-mock-tokens`, `x-mock-ttft-ms` and `x-mock-itl-ms` headers,
//! and the model name: `mock-500`, `mock-429` (with `retry-after: 1`), `mock-529` (overloaded),
//! `mock-stall`, `mock-drop` and `mock-error-midstream` ([`Fault`]). The native APIs also
//! answer `mock-tool` with a call of the request's first tool and `mock-think` with thinking
//! before the text, in their own shapes.
//!
//! # Seeds
//!
//! The OpenAI path seeds the generator with FNV-1a 64 of its `messages` JSON ([`seed_for`]).
//! The native APIs seed it with FNV-1a 64 over the prompt's texts in order, each followed by a
//! NUL byte, with a 0x1E byte after each message (the system prompt, when there is one, is the
//! first message); roles, images, tool results and every other field are left out, so the same
//! system prompt and messages give the same answer on both native APIs. Prompt tokens are
//! counted alike on every API: each message's whitespace-separated words plus 4, at least 1.

pub mod anthropic;
pub mod embeddings;
mod encode;
pub mod gemini;
mod generator;
mod native;
mod openai;
mod respond;
pub mod responses;
mod scenario;
mod server;
mod settings;
mod stats;
mod stream;

use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;

pub use crate::encode::{models_body, MODELS};
pub use crate::generator::{completion_text, fnv1a64, generate, prompt_tokens, seed_for, Tokens};
pub use crate::native::THINKING_TOKENS;
pub use crate::openai::respond;
pub use crate::scenario::{Fault, Finish, Scenario, FAULT_AFTER_TOKENS};
pub use crate::server::serve;
pub use crate::settings::{MockSettings, SettingsError, MAX_DELAY, MAX_DELAY_MS, MAX_TOKENS};
pub use crate::stats::{Stats, StatsSnapshot};

/// The body of a mock answer: the exact bytes an HTTP server would send. An `Err` item means
/// the connection is aborted mid-body (`mock-drop`).
pub type MockBody = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// One answer of the mock: status, headers (lower-case names) and a lazy body.
pub struct MockResponse {
    pub status: http::StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: MockBody,
}

impl std::fmt::Debug for MockResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
