//! A plain text delta of the open text part, written straight from its payload (see
//! [`crate::inbound::plain`]).

use std::fmt::Write as _;

use bytes::BytesMut;
use serde_json::Value;
use sluice_openai::chunk::ChunkSummary;
use sluice_openai::EncodeError;

use super::{too_large, Item, Open, ResponsesEncoder};
use crate::inbound::plain::{text_of, text_span};
use crate::inbound::responses::object::{PartKind, MAX_OUTPUT_BYTES};

impl ResponsesEncoder {
    /// Writes a plain text delta of the open text part straight from the payload, if the
    /// chunk is one (see [`crate::inbound::plain`]); `false` when it must be read the slow
    /// way.
    pub(super) fn plain_text(
        &mut self,
        out: &mut BytesMut,
        payload: &[u8],
        summary: &ChunkSummary,
    ) -> Result<bool, EncodeError> {
        let Some(span) = text_span(summary) else {
            return Ok(false);
        };
        let index = self.output.len();
        let Some(Open {
            id,
            item: Item::Message(parts),
        }) = &mut self.open
        else {
            return Ok(false);
        };
        let (Some((PartKind::Text, held)), Some(shape)) = (parts.last_mut(), &self.plain) else {
            return Ok(false);
        };
        if !shape.matches(payload, summary) {
            return Ok(false);
        }
        let text = text_of(payload, span)?;
        if text.is_empty() {
            return Ok(true);
        }
        self.held += text.len();
        if self.held > MAX_OUTPUT_BYTES {
            return Err(too_large(format_args!(
                "the answer exceeds {MAX_OUTPUT_BYTES} bytes"
            )));
        }
        held.push_str(&text);
        let content_index = parts.len() - 1;
        // The event `text` writes, with the provider's JSON string as the delta. What follows
        // the sequence number is the same for every delta of a part: written once.
        if self.plain_head.0 != (index, content_index) {
            let mut head = String::new();
            let _ = write!(
                head,
                ",\"item_id\":{},\"output_index\":{index},\"content_index\":{content_index},\
                 \"delta\":\"",
                Value::from(id.as_str())
            );
            self.plain_head = ((index, content_index), head);
        }
        out.extend_from_slice(
            b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\
              \"sequence_number\":",
        );
        let _ = write!(out, "{}", self.seq);
        out.extend_from_slice(self.plain_head.1.as_bytes());
        out.extend_from_slice(&payload[span.range()]);
        out.extend_from_slice(b"\",\"logprobs\":[]}\n\n");
        self.seq += 1;
        self.plain_written += 1;
        Ok(true)
    }
}

/// Whether `choice` (of `chunk`, read the slow way) is choice 0 alone with a delta whose only
/// text is a non-empty `content`: what a chunk of the same shape is.
pub(super) fn is_plain_text(chunk: &Value, choice: &Value) -> bool {
    let one_choice = chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|c| c.len() == 1);
    let Some(Value::Object(delta)) = choice.get("delta") else {
        return false;
    };
    let text = delta
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let other = [
        "reasoning_content",
        "reasoning",
        "refusal",
        "tool_calls",
        "reasoning_signature",
        "reasoning_redacted",
    ]
    .iter()
    .any(|k| delta.get(*k).is_some_and(|v| !v.is_null()));
    one_choice && text && !other && choice.get("index").and_then(Value::as_u64) == Some(0)
}
