//! Reasoning items: their text as a summary part, and the signature or redacted data that
//! seals a block, carried in `encrypted_content`.

use bytes::BytesMut;
use serde_json::json;
use sluice_openai::EncodeError;

use super::{Item, Open, ResponsesEncoder};
use crate::inbound::responses::object::reasoning_item;

impl ResponsesEncoder {
    /// Reasoning text: appended to the open block, or a new reasoning item.
    pub(super) fn reasoning(&mut self, out: &mut BytesMut, text: &str) -> Result<(), EncodeError> {
        self.hold(text)?;
        let open_block = matches!(
            &self.open,
            Some(Open {
                item: Item::Reasoning {
                    encrypted: None,
                    ..
                },
                ..
            })
        );
        if !open_block {
            self.close(out, "completed");
            self.open_reasoning(out)?;
        }
        let index = self.output.len();
        let Some(Open {
            id,
            item: Item::Reasoning {
                text: held, part, ..
            },
        }) = &mut self.open
        else {
            return Ok(());
        };
        let id = id.clone();
        held.push_str(text);
        let first = !std::mem::replace(part, true);
        if first {
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
            );
        }
        let fields = json!({"item_id": id, "output_index": index, "summary_index": 0,
                            "delta": text});
        self.emit(out, "response.reasoning_summary_text.delta", fields);
        Ok(())
    }

    /// Seals the open reasoning block with `encrypted` (a signature or redacted data), or a
    /// new block with no text when none is open.
    pub(super) fn seal(
        &mut self,
        out: &mut BytesMut,
        encrypted: String,
    ) -> Result<(), EncodeError> {
        self.hold(&encrypted)?;
        let open_block = matches!(
            &self.open,
            Some(Open {
                item: Item::Reasoning {
                    encrypted: None,
                    ..
                },
                ..
            })
        );
        if !open_block {
            self.close(out, "completed");
            self.open_reasoning(out)?;
        }
        if let Some(Open {
            item: Item::Reasoning {
                encrypted: slot, ..
            },
            ..
        }) = &mut self.open
        {
            *slot = Some(encrypted);
        }
        Ok(())
    }

    fn open_reasoning(&mut self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let item = Item::Reasoning {
            text: String::new(),
            part: false,
            encrypted: None,
        };
        self.open_item(out, |id| reasoning_item(id, "", None), item)
    }

    /// The events that close a block's summary part.
    pub(super) fn close_summary(&mut self, out: &mut BytesMut, id: &str, text: &str) {
        let index = self.output.len();
        let part = json!({"type": "summary_text", "text": text});
        self.emit(
            out,
            "response.reasoning_summary_text.done",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
        );
        self.emit(
            out,
            "response.reasoning_summary_part.done",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "part": part}),
        );
    }
}
