//! The crate's error types: [`BenchError`], why a benchmark could not start, and
//! [`Failure`] with its [`ErrorKind`], why one request of a running benchmark did not count
//! as a success.

use std::fmt;

/// Why a benchmark could not start. Failures of individual requests are not errors: they
/// are counted in [`Report::errors`](crate::Report::errors).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The base URL cannot be used as an HTTP(S) endpoint.
    #[error("bad base URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// An extra header has an invalid name or value.
    #[error("bad header {name:?}: {reason}")]
    BadHeader { name: String, reason: String },
    /// A setting that cannot describe a run (no concurrency, no end).
    #[error("{0}")]
    BadConfig(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Why one request did not count as a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// No connection could be made.
    Connect,
    /// HTTP 400–499.
    Http4xx,
    /// HTTP 500 and up.
    Http5xx,
    /// The request did not finish within its timeout.
    Timeout,
    /// The stream carried an error event.
    StreamError,
    /// The stream ended (or broke off) without `[DONE]`.
    Incomplete,
    /// The reply was not the expected SSE of JSON chunks.
    Protocol,
}

impl ErrorKind {
    /// The name used in reports: `connect`, `http_4xx`, `http_5xx`, `timeout`,
    /// `stream_error`, `incomplete`, `protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::Timeout => "timeout",
            ErrorKind::StreamError => "stream_error",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::Protocol => "protocol",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed request: its kind and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}
