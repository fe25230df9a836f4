//! The common chunk without a parse: a plain text delta of choice 0 (one choice, its
//! `delta.content` and nothing else to write), which is most chunks of a long answer. Both
//! inbound encoders use it.
//!
//! An encoder reads a delta the slow way once, and if it was such a delta it keeps its
//! [`Shape`]: the payload's bytes outside its text values (the relay's inspector already found
//! where they are). A later chunk whose bytes outside its text values are the same is the same
//! kind of delta, for the same choice, with the same key, so its text is written into the
//! client's event straight from the payload: the JSON string as the provider escaped it.
//! Measured with `cargo bench -p sluice-native --bench translate`
//! (`inbound/responses_text_delta`, `inbound/messages_text_delta`), against the slow way's
//! parse of every chunk.

use std::borrow::Cow;

use sluice_openai::chunk::{ChunkSummary, Span, TextKind, MAX_TEXTS};
use sluice_openai::EncodeError;

/// A chunk's bytes outside its text values (padding such as `obfuscation` included with the
/// texts: it differs in every chunk).
#[derive(Debug, Default, Clone)]
pub(crate) struct Shape {
    gaps: Vec<u8>,
    /// The length of each gap, in order: one more than the spans.
    lens: [usize; MAX_TEXTS + 1],
    n: usize,
}

impl Shape {
    /// The shape of `payload`, a plain delta with one text value (see [`text_span`]).
    pub fn of(payload: &[u8], summary: &ChunkSummary) -> Self {
        let mut shape = Shape::default();
        for gap in gaps(payload, summary) {
            shape.gaps.extend_from_slice(gap);
            shape.lens[shape.n] = gap.len();
            shape.n += 1;
        }
        shape
    }

    /// Whether `payload` has this shape, its texts aside.
    pub fn matches(&self, payload: &[u8], summary: &ChunkSummary) -> bool {
        let mut at = 0;
        let mut n = 0;
        for gap in gaps(payload, summary) {
            if n == self.n || self.lens[n] != gap.len() || self.gaps[at..at + gap.len()] != *gap {
                return false;
            }
            at += gap.len();
            n += 1;
        }
        n == self.n
    }
}

/// The one text value of a delta that may merge with its neighbours (one choice, no finish,
/// logprobs, usage or error; padding aside), if it has exactly one.
pub(crate) fn text_span(summary: &ChunkSummary) -> Option<Span> {
    if !summary.mergeable {
        return None;
    }
    let mut texts = summary
        .texts
        .spans()
        .iter()
        .filter(|s| s.kind != TextKind::Padding);
    match (texts.next(), texts.next()) {
        (Some(span), None) if span.kind == TextKind::Text => Some(*span),
        _ => None,
    }
}

/// The text of `span` in `payload`, unescaped.
pub(crate) fn text_of(payload: &[u8], span: Span) -> Result<Cow<'_, str>, EncodeError> {
    let range = span.range();
    if span.escaped {
        let quoted = &payload[range.start - 1..range.end + 1];
        return Ok(Cow::Owned(serde_json::from_slice(quoted)?));
    }
    // The payload was read as JSON, so this is UTF-8; anything else is the slow way's to read.
    std::str::from_utf8(&payload[range])
        .map(Cow::Borrowed)
        .map_err(|e| EncodeError::from(<serde_json::Error as serde::de::Error>::custom(e)))
}

/// The bytes of `payload` before, between and after its text values.
fn gaps<'a>(payload: &'a [u8], summary: &'a ChunkSummary) -> impl Iterator<Item = &'a [u8]> {
    let spans = summary.texts.spans();
    let starts = std::iter::once(0).chain(spans.iter().map(|s| s.range().end));
    let ends = spans
        .iter()
        .map(|s| s.range().start)
        .chain(std::iter::once(payload.len()));
    // Spans out of order (never from the inspector) give empty gaps, not a panic.
    starts
        .zip(ends)
        .map(move |(a, b)| payload.get(a..b).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use serde_json::Value;
    use sluice_openai::chunk::Inspector;
    use sluice_openai::ClientEncoder;

    use crate::inbound::messages::MessagesEncoder;
    use crate::inbound::responses::{ResponseMeta, ResponsesEncoder};

    fn encoder() -> ResponsesEncoder {
        let meta = ResponseMeta {
            id: "resp_1".into(),
            model: "m".into(),
            created_at: 1,
        };
        ResponsesEncoder::new(meta, None)
    }

    /// Every event's (name, data), read back.
    fn events(sse: &[u8]) -> Vec<(String, Value)> {
        let text = std::str::from_utf8(sse).unwrap();
        text.split_terminator("\n\n")
            .map(|e| {
                let (name, data) = e
                    .strip_prefix("event: ")
                    .and_then(|e| e.split_once("\ndata: "))
                    .unwrap();
                (name.to_owned(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    const CHUNKS: &[&str] = &[
        r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"obfuscation":"ab"}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"obfuscation":"abc"}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"lo \"you\" caf\u00e9"},"finish_reason":null}],"obfuscation":"x"}"#,
        r#"{"id":"c","choices":[{"index":1,"delta":{"content":"other choice"},"finish_reason":null}],"obfuscation":"x"}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":null}],"obfuscation":"x"}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}],"obfuscation":"yy"}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":" more"},"finish_reason":null}],"obfuscation":"z"}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    ];

    /// `CHUNKS` written by `fast` (the relay's summaries, so the shortcut may apply) and by
    /// `slow` (summaries saying no chunk may merge, so every chunk goes the slow way), ended.
    fn both_ways(
        fast: &mut dyn ClientEncoder,
        slow: &mut dyn ClientEncoder,
    ) -> (BytesMut, BytesMut) {
        let (mut fast_out, mut slow_out) = (BytesMut::new(), BytesMut::new());
        let mut inspector = Inspector::new();
        for chunk in CHUNKS {
            let summary = inspector.inspect(chunk.as_bytes()).unwrap();
            fast.chunk(chunk.as_bytes(), &summary, &mut fast_out)
                .unwrap();
            let slow_summary = sluice_openai::chunk::ChunkSummary {
                mergeable: false,
                ..summary
            };
            slow.chunk(chunk.as_bytes(), &slow_summary, &mut slow_out)
                .unwrap();
        }
        fast.end(None, &mut fast_out);
        slow.end(None, &mut slow_out);
        (fast_out, slow_out)
    }

    /// A stream written with the shortcut is the stream written without it, event for event.
    #[test]
    fn a_plain_delta_written_from_its_bytes_is_the_slow_ways_event() {
        let (mut fast, mut slow) = (encoder(), encoder());
        let (fast_out, slow_out) = both_ways(&mut fast, &mut slow);
        assert_eq!(events(&fast_out), events(&slow_out));
        // The escaped delta after "Hel", and " more" after "!" (which followed the reasoning
        // item) took the shortcut; the other choice's delta, of another shape, did not.
        assert_eq!((fast.plain_written(), slow.plain_written()), (2, 0));
        let text: String = events(&fast_out)
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(text, "Hello \"you\" café! more");
    }

    /// The same for the Messages encoder: its text deltas written from the payload are the
    /// slow way's, the other choice's delta and the thinking aside.
    #[test]
    fn a_plain_delta_becomes_the_slow_ways_text_delta() {
        let new = || MessagesEncoder::new("m", Some("1".into()));
        let (mut fast, mut slow) = (new(), new());
        let (fast_out, slow_out) = both_ways(&mut fast, &mut slow);
        assert_eq!(fast_out, slow_out, "the same bytes");
        assert_eq!((fast.plain_written(), slow.plain_written()), (2, 0));
        let text: String = events(&fast_out)
            .iter()
            .filter(|(_, d)| d["delta"]["type"] == "text_delta")
            .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(text, "Hello \"you\" café! more");
    }
}
