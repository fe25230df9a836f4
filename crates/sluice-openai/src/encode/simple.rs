//! The seed's `/stream/chat`: `data: {"id","content","finish_reason"}` per delta, then
//! `event: usage` with tokens and cost, then `data: [DONE]`.

use bytes::BytesMut;
use serde_json::json;
use sluice_sse::{write_data, write_event};
use sluice_types::Usage;

use super::{ClientEncoder, EncodeError, Merge};
use crate::chunk::{self, ChunkSummary};
use crate::error::ErrorBody;
use crate::pricing::Pricer;

const DONE: &[u8] = b"[DONE]";

/// The seed's reduced events. Only this endpoint pays for reading each delta into owned
/// strings.
#[derive(Debug, Clone)]
pub struct SimpleChat {
    pricer: Option<Pricer>,
}

impl SimpleChat {
    pub fn new(pricer: Option<Pricer>) -> Self {
        SimpleChat { pricer }
    }
}

impl ClientEncoder for SimpleChat {
    fn chunk(
        &mut self,
        payload: &[u8],
        summary: &ChunkSummary,
        out: &mut BytesMut,
    ) -> Result<Merge, EncodeError> {
        if !(summary.content || summary.finish) {
            return Ok(Merge::No);
        }
        let delta = chunk::simple_delta(payload)?;
        if delta.content.is_empty() && delta.finish_reason.is_none() {
            return Ok(Merge::No);
        }
        let event = json!({
            "id": delta.id,
            "content": delta.content,
            "finish_reason": delta.finish_reason,
        });
        write_data(out, event.to_string().as_bytes());
        Ok(Merge::No)
    }

    fn end(&mut self, usage: Option<&Usage>, out: &mut BytesMut) {
        let u = usage.copied().unwrap_or_default();
        // Amounts are exact decimal text, so the event is written by hand.
        let (cost, cost_local) = match usage.and_then(|u| self.pricer.as_ref()?.price(u)) {
            Some(p) => (p.cost_usd.clone(), p.cost_local_json()),
            None => ("null".to_owned(), "null".to_owned()),
        };
        let event = format!(
            "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"cost\":{cost},\"cost_local\":{cost_local}}}",
            u.prompt_tokens, u.completion_tokens, u.total_tokens
        );
        write_event(out, Some("usage"), event.as_bytes());
        write_data(out, DONE);
    }

    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut) {
        write_data(out, err.to_json().to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &str) -> String {
        let summary = chunk::inspect(payload.as_bytes()).unwrap();
        let mut out = BytesMut::new();
        SimpleChat::new(None)
            .chunk(payload.as_bytes(), &summary, &mut out)
            .unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn reduces_deltas_and_ends_with_usage() {
        let p =
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
        assert_eq!(
            frame(p),
            "data: {\"id\":\"c\",\"content\":\"hi\",\"finish_reason\":null}\n\n"
        );
        let role =
            r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
        assert_eq!(frame(role), "");
        let mut out = BytesMut::new();
        let usage = Usage::counted(1, 2);
        SimpleChat::new(None).end(Some(&usage), &mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with("event: usage\ndata: {\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3,"), "{text}");
        assert!(text.ends_with("\n\ndata: [DONE]\n\n"), "{text}");
    }
}
