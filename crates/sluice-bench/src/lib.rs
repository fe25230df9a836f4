//! The load generator behind `sluice bench`: sends streamed chat completions to any
//! OpenAI-compatible endpoint with a fixed concurrency, reads each reply as SSE while it
//! arrives, and summarises time to first token, time per output token, inter-chunk gaps and
//! total time as histograms. No command line and no printing: the binary does both.
//!
//! - `config`: what to send and how much ([`BenchConfig`]), checked into a ready target.
//! - `measure`: one request, timed, its SSE body read incrementally.
//! - `report`: histograms to [`Summary`], outcomes to a [`Report`], two reports to a [`Diff`].
//! - `run`: scheduling of requests over worker tasks ([`run()`], [`compare`]).

mod config;
mod measure;
mod report;
mod run;

pub use config::BenchConfig;
pub use measure::ErrorKind;
pub use report::{Diff, MetricDiff, Report, Summary};
pub use run::{compare, run, Progress};

/// Why a benchmark could not start. Failures of individual requests are not errors: they
/// are counted in [`Report::errors`].
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
