//! Pass-through: a client of a provider's own API gets that provider's answer as it came.
//! A `/v1/messages` client on an Anthropic provider and a `/v1/responses` client on a provider
//! that serves the Responses API are not translated at all: their request goes to the provider
//! with only the model renamed, and the provider's events reach them unchanged (blocks and
//! items the chat format has no place for, citations and server tools among them, included),
//! except the final usage, which gets the gateway's `cost` and `cost_local` as every other
//! API's final usage does.
//!
//! Per API, a [`PassThrough`](sluice_openai::PassThrough) reads each event for the relay
//! (content for the time to first token, the usage, the last event, failures) in one serde
//! pass without a JSON tree, and the whole-answer functions read and price a whole answer.
//! Like the translators, this module is pure: no IO, no clock, no money (amounts come as text
//! from a [`UsagePricer`](sluice_openai::UsagePricer)).

mod messages;
mod responses;

use sluice_openai::pricing::price_usage_in_chunk;
use sluice_openai::PricedUsage;
use sluice_types::Usage;

pub use messages::MessagesPassThrough;
pub use responses::ResponsesPassThrough;

/// A provider API a client may speak natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeApi {
    /// Anthropic's Messages API (`POST /messages`).
    Messages,
    /// OpenAI's Responses API (`POST /responses`).
    Responses,
}

impl NativeApi {
    /// Its path under a provider's base URL.
    pub fn path(self) -> &'static str {
        match self {
            NativeApi::Messages => "/messages",
            NativeApi::Responses => "/responses",
        }
    }

    /// The usage of a whole answer in this API (`None` when it has none the gateway can
    /// trust: it then counts the tokens itself).
    pub fn whole_usage(self, body: &[u8]) -> Option<Usage> {
        match self {
            NativeApi::Messages => messages::whole_usage(body),
            NativeApi::Responses => responses::whole_usage(body),
        }
    }

    /// A whole answer with the gateway's cost on its usage; every other byte as the provider
    /// wrote it. An answer whose usage cannot be rewritten is returned as it came.
    pub fn price_whole(self, body: &[u8], priced: &PricedUsage) -> Vec<u8> {
        // Both APIs keep a whole answer's usage at its top level.
        price_usage_in_chunk(body, priced).unwrap_or_else(|_| body.to_vec())
    }
}

/// The text of a JSON string literal (quotes included, already checked to be one): borrowed
/// when it has no escape.
fn literal_text(literal: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = literal.get(1..literal.len().checked_sub(1)?)?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(literal).ok().map(Into::into)
    } else {
        Some(inner.into())
    }
}

/// Writes one SSE event as the provider named it (`event`: its `event:` field, if any).
fn write(out: &mut bytes::BytesMut, event: Option<&[u8]>, data: &[u8]) {
    let name = event.and_then(|e| std::str::from_utf8(e).ok());
    sluice_sse::write_event(out, name, data);
}

#[cfg(test)]
mod tests;
