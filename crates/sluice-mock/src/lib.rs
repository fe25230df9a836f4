//! The simulated OpenAI-compatible provider behind the built-in `mock` model and
//! `sluice mock-upstream`: it owns deterministic completion content (same `messages`, same
//! tokens), per-request timing (ttft, inter-token latency), usage numbers, the fault models
//! (`mock-500`, `mock-429`, `mock-stall`, `mock-drop`) and the `/stats` counters. It is the
//! only stand-in for a real provider in Sluice. The core ([`respond`]) produces status,
//! headers and a byte stream without any HTTP server, so the gateway can read exactly the
//! bytes the HTTP server ([`serve`]) would send.

mod encode;
mod generator;
mod respond;
mod scenario;
mod server;
mod stats;
mod stream;

use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::time::Duration;

pub use crate::encode::{models_body, MODELS};
pub use crate::generator::{completion_text, fnv1a64, generate, prompt_tokens, seed_for, Tokens};
pub use crate::respond::respond;
pub use crate::scenario::{Fault, Finish, Scenario, FAULT_AFTER_TOKENS};
pub use crate::server::serve;
pub use crate::stats::{Stats, StatsSnapshot};

/// Defaults for requests that do not override them by header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockSettings {
    /// Completion tokens per answer (`x-mock-tokens` overrides).
    pub tokens: usize,
    /// Delay before the first body byte (`x-mock-ttft-ms` overrides).
    pub ttft: Duration,
    /// Delay between content chunks (`x-mock-itl-ms` overrides).
    pub itl: Duration,
    /// Percentage of otherwise healthy requests that fail at random, half with a 500 before the
    /// stream, half dropping the connection mid-stream (for soak and fault-injection runs).
    pub fail_percent: u8,
}

impl Default for MockSettings {
    fn default() -> Self {
        Self {
            tokens: 16,
            ttft: Duration::from_millis(150),
            itl: Duration::from_millis(15),
            fail_percent: 0,
        }
    }
}

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
