//! A Responses stream relayed to a Responses client. The answer's usage comes once, in the
//! `response` object of the last event (`response.completed`, or `response.incomplete` when a
//! limit stopped it); that event is where the client finds the gateway's cost. A failure is
//! `response.failed` or an `error` event: the relay fails the stream with it and, once the
//! client has the stream, gets the provider's own event back to write.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sluice_openai::pricing::price_usage_in_chunk;
use sluice_openai::rewrite::{get_top_level, set_top_level};
use sluice_openai::{EncodeError, ErrorBody, PassThrough, Passed, Pricer};
use sluice_sse::Event;
use sluice_types::Usage;

use super::{literal_text, write};
use crate::anthropic::fast::string_literal;
use crate::inbound::responses::failure_code;
use crate::usage::{read, Count};

/// One Responses stream, relayed.
#[derive(Debug)]
pub struct ResponsesPassThrough {
    pricer: Option<Pricer>,
    /// The last `sequence_number` relayed, so an event the gateway adds follows it.
    pub(super) sequence: Option<u64>,
    /// What `response.created` said of the response, for a `response.failed` the gateway
    /// writes itself.
    id: String,
    model: String,
    created_at: u64,
    /// The provider's own failure event (its `event:` name and data), written if the stream
    /// fails after the client has it.
    failure: Option<(Option<Bytes>, Bytes)>,
    /// The stream ended (its last event or its failure was written).
    over: bool,
}

impl ResponsesPassThrough {
    /// With a `pricer`, the client's final `response.usage` carries the gateway's cost.
    pub fn new(pricer: Option<Pricer>) -> Self {
        ResponsesPassThrough {
            pricer,
            sequence: None,
            id: String::new(),
            model: String::new(),
            created_at: 0,
            failure: None,
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
    sequence_number: Option<u64>,
    /// A delta event's text (any other shape of `delta` is kept raw and not counted).
    #[serde(default, borrow)]
    delta: Option<&'a RawValue>,
    #[serde(default, borrow)]
    response: Option<ResponseView<'a>>,
    /// An `error` event's fields.
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    param: Option<Value>,
}

#[derive(Deserialize)]
struct ResponseView<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    created_at: Option<u64>,
    #[serde(default)]
    usage: Option<RawUsage>,
    #[serde(default)]
    error: Option<Value>,
}

/// The Responses API's usage object.
#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    input_tokens: Option<Count>,
    #[serde(default)]
    output_tokens: Option<Count>,
    #[serde(default)]
    input_tokens_details: Option<InputDetails>,
}

#[derive(Deserialize)]
struct InputDetails {
    #[serde(default)]
    cached_tokens: Option<Count>,
}

impl RawUsage {
    /// In OpenAI's chat terms, which it shares (`input_tokens` is the whole prompt, cached
    /// reads included); `None` when a count cannot be trusted.
    fn usage(self) -> Option<Usage> {
        let mut readable = true;
        let input = read(self.input_tokens, &mut readable);
        let output = read(self.output_tokens, &mut readable);
        let cached = self
            .input_tokens_details
            .and_then(|d| read(d.cached_tokens, &mut readable));
        if !readable || (input.is_none() && output.is_none()) {
            return None;
        }
        let (input, output) = (input.unwrap_or(0), output.unwrap_or(0));
        Some(Usage {
            cached_tokens: cached.unwrap_or(0).min(input),
            ..Usage::counted(input, output)
        })
    }
}

impl PassThrough for ResponsesPassThrough {
    fn event<'a>(
        &mut self,
        event: &'a Event,
        out: &mut BytesMut,
    ) -> Result<Passed<'a>, EncodeError> {
        let data = &event.data[..];
        if data == b"[DONE]" {
            // Not part of the Responses API, but some compatible servers end with it.
            return Ok(Passed {
                last: true,
                ..Passed::default()
            });
        }
        if let Some(delta) = quick_delta(data) {
            self.sequence = delta.sequence.or(self.sequence);
            write(out, event.event.as_deref(), data);
            return Ok(Passed {
                content: true,
                text: delta.text,
                ..Passed::default()
            });
        }
        let view: View<'a> = serde_json::from_slice(data)?;
        if view.sequence_number.is_some() {
            self.sequence = view.sequence_number;
        }
        let mut passed = Passed::default();
        let mut priced = None;
        match &*view.kind {
            "response.created" => {
                if let Some(response) = view.response {
                    self.id = response.id.map(Cow::into_owned).unwrap_or_default();
                    self.model = response.model.map(Cow::into_owned).unwrap_or_default();
                    self.created_at = response.created_at.unwrap_or(0);
                }
            }
            "response.completed" | "response.incomplete" => {
                passed.usage = view
                    .response
                    .and_then(|r| r.usage)
                    .and_then(RawUsage::usage);
                passed.last = true;
                priced = self.priced(passed.usage.as_ref(), data);
            }
            "response.failed" => {
                let response = view.response;
                let error = response.as_ref().and_then(|r| r.error.clone());
                passed.usage = response.and_then(|r| r.usage).and_then(RawUsage::usage);
                passed.error = Some(Box::new(ErrorBody::from_json(&json!({ "error": error }))));
            }
            "error" => {
                let error = json!({
                    "message": view.message, "code": view.code, "param": view.param,
                });
                passed.error = Some(Box::new(ErrorBody::from_json(&json!({ "error": error }))));
            }
            kind if kind.ends_with(".delta") => {
                passed.content = true;
                passed.text = view.delta.and_then(|d| serde_json::from_str(d.get()).ok());
            }
            _ => {}
        }
        if passed.error.is_some() {
            self.failure = Some((event.event.clone(), event.data.clone()));
            return Ok(passed);
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
        if let Some((name, data)) = self.failure.take() {
            write(out, name.as_deref(), &data);
            return;
        }
        // The gateway's own failure (a timeout, a cut connection): the documented ending.
        let code = failure_code(err);
        let failed = json!({
            "type": "response.failed",
            "sequence_number": self.sequence.map_or(0, |n| n + 1),
            "response": {
                "id": self.id, "object": "response", "created_at": self.created_at,
                "status": "failed", "error": {"code": code, "message": err.message},
                "incomplete_details": null, "model": self.model, "output": [], "usage": null,
            },
        });
        sluice_sse::write_event(out, Some("response.failed"), failed.to_string().as_bytes());
    }
}

impl ResponsesPassThrough {
    /// `data` (an event whose `response` has a `usage`) with the gateway's cost on that usage.
    fn priced(&self, usage: Option<&Usage>, data: &[u8]) -> Option<Vec<u8>> {
        let priced = self.pricer.as_ref()?.price(usage?)?;
        let response = get_top_level(data, "response").ok()??;
        let response = price_usage_in_chunk(response.as_bytes(), &priced).ok()?;
        let response = std::str::from_utf8(&response).ok()?;
        set_top_level(data, "response", Some(response)).ok()
    }
}

/// What the shortcut reads of a delta event.
pub(super) struct QuickDelta<'a> {
    pub sequence: Option<u64>,
    /// Its `delta`, if that is a string where the shortcut looks for it.
    text: Option<Cow<'a, str>>,
}

/// Most events of a Responses stream are deltas (`response.output_text.delta` and the other
/// `….delta` types), which the relay needs only to know are content: one written the way
/// OpenAI writes them (`type` first, then `sequence_number`) is read from its bytes, its
/// `delta` string found by its key. Anything else goes the full way. The event is relayed as
/// it came either way; only the text counted for a stream with no usage could be misread.
pub(super) fn quick_delta(data: &[u8]) -> Option<QuickDelta<'_>> {
    let rest = data.strip_prefix(br#"{"type":"response."#)?;
    let end = rest.iter().position(|b| *b == b'"')?;
    if !rest[..end].ends_with(b".delta") || rest[..end].contains(&b'\\') {
        return None;
    }
    let rest = &rest[end + 1..];
    let sequence = rest.strip_prefix(br#","sequence_number":"#).and_then(|r| {
        let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&r[..digits]).ok()?.parse().ok()
    });
    // Built once: a searcher made per call costs more than the search.
    static KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#","delta":""#));
    let at = KEY.find(rest)? + KEY.needle().len() - 1;
    let literal = string_at(&rest[at..])?;
    Some(QuickDelta {
        sequence,
        text: std::str::from_utf8(literal).ok().and_then(literal_text),
    })
}

/// The JSON string literal at the start of `s` (quotes included), if it is one.
fn string_at(s: &[u8]) -> Option<&[u8]> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => {
                let literal = &s[..=i];
                return string_literal(literal).then_some(literal);
            }
            _ => i += 1,
        }
    }
    None
}

/// A whole `response` object's usage.
pub(super) fn whole_usage(body: &[u8]) -> Option<Usage> {
    #[derive(Deserialize)]
    struct Whole {
        #[serde(default)]
        usage: Option<RawUsage>,
    }
    serde_json::from_slice::<Whole>(body).ok()?.usage?.usage()
}
