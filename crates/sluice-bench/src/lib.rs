//! The load generator behind `sluice bench`: sends streamed chat completions to any
//! OpenAI-compatible endpoint (or streamed Responses or Anthropic Messages requests, [`Api`])
//! with a fixed concurrency, reads each reply as SSE while it
//! arrives, and summarises time to first token, time per output token, inter-chunk gaps and
//! total time as histograms. No command line and no printing: the binary does both.
//!
//! - `api`: the streaming APIs ([`Api`]): path, request body, and what an event of each says.
//! - `config`: what to send and how much ([`BenchConfig`]), checked into a ready target.
//! - `error`: [`BenchError`] for a run that cannot start, and the [`ErrorKind`] of a failed
//!   request.
//! - `measure`: one request, timed, its SSE body read incrementally.
//! - `stream_state`: the IO-free reading of one reply: which chunk is content, when it is
//!   complete, and its timings.
//! - `report`: histograms to [`Summary`], outcomes to a [`Report`], two reports to a [`Diff`].
//! - `run`: scheduling of requests over worker tasks ([`run()`], [`compare`]).

mod api;
mod config;
mod error;
mod measure;
mod report;
mod run;
mod stream_state;

pub use api::Api;
pub use config::BenchConfig;
pub use error::{BenchError, ErrorKind};
pub use report::{Diff, MetricDiff, Report, Summary};
pub use run::{compare, run, Progress};
