//! Pass-through: a client that speaks a provider's own API (Anthropic's Messages to an
//! Anthropic provider, OpenAI's Responses to a provider that serves it) gets the provider's
//! events as they came, with only the final usage changed to carry the gateway's cost. Such
//! events are not chat chunks, so the relay cannot read them itself: a [`PassThrough`], one per
//! stream, reads each for what the relay must know and writes what the client gets.

use std::borrow::Cow;

use bytes::BytesMut;
use sluice_sse::Event;
use sluice_types::Usage;

use super::EncodeError;
use crate::error::ErrorBody;

/// Reads and writes one provider stream in the provider's own API.
pub trait PassThrough: Send + Sync + std::fmt::Debug {
    /// Reads one provider event and writes what the client gets for it into `out` (the event
    /// as it came, unless it carries the final usage). An event that reports a failure writes
    /// nothing and says so in [`Passed::error`]: before the commit it becomes the client's
    /// HTTP error (or a retry), after it [`PassThrough::error`] writes it.
    fn event<'a>(
        &mut self,
        event: &'a Event,
        out: &mut BytesMut,
    ) -> Result<Passed<'a>, EncodeError>;

    /// Writes the final event of a stream that failed after it started, in the API's own
    /// shape: the provider's own failure event when it sent one.
    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut);
}

/// What one provider event meant to the relay.
#[derive(Debug, Default)]
pub struct Passed<'a> {
    /// It carries answer content (text, reasoning, tool input): the time to first token ends
    /// with the first such event.
    pub content: bool,
    /// Its text, for counting tokens with a tokenizer when the provider reports no usage.
    pub text: Option<Cow<'a, str>>,
    /// The usage it reports, counted in OpenAI's terms (the last one reported wins).
    pub usage: Option<Usage>,
    /// The provider's last event: once it is relayed the stream has completed.
    pub last: bool,
    /// The provider reported a failure; nothing was written for it.
    pub error: Option<Box<ErrorBody>>,
}
