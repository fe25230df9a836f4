//! What a relay reports: the stream's [`Outcome`], exactly once, through its [`OutcomeSink`];
//! and the [`Commit`] that tells the handler when it may send the response head.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use sluice_types::Usage;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::StreamError;
use crate::queue::QueueStats;

/// Receives the stream's [`Outcome`], exactly once, when the relay task ends.
pub type OutcomeSink = Box<dyn FnOnce(Outcome) + Send>;

/// How a stream ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The provider finished (`[DONE]`, or end of body after a finish reason).
    Completed,
    /// The provider, the network or a timer failed the stream.
    Failed(StreamError),
    /// The client went away first.
    ClientClosed,
}

/// Everything the gateway learns from one stream, reported once when it ends.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub end: End,
    /// Whether the client got a response head (something was queued before the end).
    pub committed: bool,
    /// What was counted while the stream ran.
    pub tally: Tally,
    pub queue: QueueStats,
    pub ended_at: Instant,
}

impl Outcome {
    /// When the first content reached the client's writer (the end of the time to first
    /// token), if any did.
    pub fn first_token_at(&self) -> Option<Instant> {
        self.queue.first_content_taken
    }
}

/// The running count of one stream, kept by the relay as it goes and handed over whole in its
/// [`Outcome`].
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// The last usage the provider reported (top level, or a vendor extension).
    pub usage: Option<Usage>,
    /// Some choice finished (a `finish_reason` was seen).
    pub finished: bool,
    /// When the provider answered with success headers (its `Connect` resolved).
    pub headers_at: Option<Instant>,
    /// When the first body byte from the provider arrived.
    pub first_byte_at: Option<Instant>,
    /// When the provider's first event arrived.
    pub first_event_at: Option<Instant>,
    /// When the first and last chunk with content (text, reasoning, refusal, tool call) were
    /// queued for the client.
    pub first_content_at: Option<Instant>,
    pub last_content_at: Option<Instant>,
    /// Provider events relayed, and those with content.
    pub events: u64,
    pub content_events: u64,
    /// Time the reader spent waiting for queue room.
    pub blocked: Duration,
    /// The text relayed (content, reasoning, refusal, tool calls), for counting tokens with a
    /// tokenizer when the provider reported no usage. Capped at [`MAX_TEXT`] bytes.
    pub text: String,
}

/// Text kept per stream for token estimates; past it the estimate counts what it has.
pub const MAX_TEXT: usize = 4 << 20;

/// Resolves when the handler may send the response head: `Ok` once something is queued for the
/// client, or the error that ended the stream before anything was.
pub struct Commit(pub(crate) oneshot::Receiver<Result<(), StreamError>>);

impl Future for Commit {
    type Output = Result<(), StreamError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.unwrap_or_else(|_| Err(StreamError::Protocol("the relay task ended early".into())))
        })
    }
}
