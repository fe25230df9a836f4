//! The simulated provider behind the built-in `mock` model and `sluice mock-upstream`: it owns
//! deterministic completion content (same messages, same tokens), per-request timing (ttft,
//! inter-token latency), usage numbers, the fault models and the `/stats` counters. It is the
//! only stand-in for a real provider in Sluice. The core produces status, headers and a byte
//! stream without any HTTP server, so the gateway can read exactly the bytes the HTTP server
//! ([`serve`]) would send. What one request may ask for is capped ([`MAX_TOKENS`],
//! [`MAX_DELAY`]), so neither the mock nor a gateway running it in-process can be made to build
//! gigabytes or stay silent for more than a minute.
//!
//! Fault models by model name: `mock-500`, `mock-429` (with `retry-after: 1`), `mock-529`
//! (overloaded), `mock-stall`, `mock-drop` and `mock-error-midstream` ([`Fault`]). The handler
//! core ([`respond`] for chat completions) is written once for any wire format: a `Dialect`
//! says how a request reads and how answers are written, a `Script` the events of a stream.

mod encode;
mod generator;
mod openai;
mod respond;
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
