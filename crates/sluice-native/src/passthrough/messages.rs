//! Anthropic's Messages stream relayed to a Messages client: `message_start` gives the prompt's
//! counts, `message_delta` the answer's (Anthropic's counts are cumulative, each replacing the
//! last), and the `message_delta` is where the client finds the gateway's cost.

use std::borrow::Cow;

use bytes::BytesMut;
use serde::Deserialize;
use sluice_openai::pricing::price_usage_in_chunk;
use sluice_openai::{EncodeError, ErrorBody, PassThrough, Passed, Pricer};
use sluice_sse::Event;
use sluice_types::Usage;

use super::{literal_text, write};
use crate::anthropic::usage::{error_body, Counts, RawUsage};
use crate::inbound::messages::{document, stream_error_type};

/// One Messages stream, relayed.
#[derive(Debug)]
pub struct MessagesPassThrough {
    counts: Counts,
    pricer: Option<Pricer>,
    /// The stream ended (its last event or its error was written).
    over: bool,
}

impl MessagesPassThrough {
    /// With a `pricer`, the client's `message_delta.usage` carries the gateway's cost.
    pub fn new(pricer: Option<Pricer>) -> Self {
        MessagesPassThrough {
            counts: Counts::default(),
            pricer,
            over: false,
        }
    }
}

/// What the relay reads of an event; everything else is skipped without allocating.
#[derive(Deserialize)]
struct View<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    message: Option<MessageView>,
    #[serde(default)]
    usage: Option<RawUsage>,
    #[serde(default, borrow)]
    delta: Option<DeltaView<'a>>,
}

#[derive(Deserialize)]
struct MessageView {
    #[serde(default)]
    usage: Option<RawUsage>,
}

/// A `content_block_delta`'s delta (or a `message_delta`'s, which has none of these).
#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
}

impl PassThrough for MessagesPassThrough {
    fn event<'a>(
        &mut self,
        event: &'a Event,
        out: &mut BytesMut,
    ) -> Result<Passed<'a>, EncodeError> {
        let data = &event.data[..];
        if data == b"[DONE]" {
            // Not Anthropic's, but an OpenAI habit some compatible servers keep: the end.
            return Ok(Passed {
                last: true,
                ..Passed::default()
            });
        }
        // Most events: a text delta as Anthropic writes it, recognised by its bytes.
        if let Some(literal) = crate::anthropic::fast::text_delta(data) {
            write(out, event.event.as_deref(), data);
            return Ok(Passed {
                content: literal.len() > 2,
                text: literal_text(literal),
                ..Passed::default()
            });
        }
        let view: View<'a> = serde_json::from_slice(data)?;
        let mut passed = Passed::default();
        let mut priced = None;
        match &*view.kind {
            "message_start" => {
                if let Some(usage) = view.message.and_then(|m| m.usage) {
                    self.counts.take(usage);
                }
            }
            "content_block_delta" => {
                if let Some(delta) = view.delta {
                    passed.text = delta.text.or(delta.thinking).or(delta.partial_json);
                    passed.content = passed.text.is_some();
                }
            }
            "message_delta" => {
                if let Some(usage) = view.usage {
                    self.counts.take(usage);
                }
                // Reported here, once the answer's count is in: a stream cut before it is
                // counted by the gateway instead, not billed for one output token.
                passed.usage = self.counts.usage().map(|u| u.usage());
                priced = self.priced(passed.usage.as_ref(), data);
            }
            "message_stop" => passed.last = true,
            "error" => {
                passed.error = Some(Box::new(error_body(data)));
                return Ok(passed);
            }
            _ => {}
        }
        write(
            out,
            event.event.as_deref(),
            priced.as_deref().unwrap_or(data),
        );
        self.over |= passed.last;
        Ok(passed)
    }

    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut) {
        if std::mem::replace(&mut self.over, true) {
            return;
        }
        let doc = document(stream_error_type(err), &err.message);
        sluice_sse::write_event(out, Some("error"), &doc);
    }
}

impl MessagesPassThrough {
    /// `data` (an event with a top-level `usage`) with the gateway's cost on that usage.
    fn priced(&self, usage: Option<&Usage>, data: &[u8]) -> Option<Vec<u8>> {
        let priced = self.pricer.as_ref()?.price(usage?)?;
        price_usage_in_chunk(data, &priced).ok()
    }
}

/// A whole Messages answer's usage, in OpenAI's terms (the prompt includes the cache's reads
/// and writes).
pub(super) fn whole_usage(body: &[u8]) -> Option<Usage> {
    #[derive(Deserialize)]
    struct Whole {
        #[serde(default)]
        usage: Option<RawUsage>,
    }
    let whole: Whole = serde_json::from_slice(body).ok()?;
    let mut counts = Counts::default();
    counts.take(whole.usage?);
    counts.usage().map(|u| u.usage())
}
