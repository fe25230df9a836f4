//! How relayed chunks are written for the client. `/v1/chat/completions` relays each chunk as
//! the provider wrote it (`data:` lines only); the seed's `/stream/chat` sends a reduced event
//! per delta and a closing `usage` event.

use bytes::BytesMut;
use serde_json::json;
use sluice_sse::{write_data, write_event};

use crate::chunk::{self, ChunkSummary, Usage};
use crate::pricing::{price_usage_in_chunk, UsagePricer};
use crate::rewrite;
use crate::StreamError;

/// The client-facing format of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// OpenAI chat-completion chunks, relayed verbatim. `include_usage` says whether the client
    /// asked for usage: if not, the usage-only chunk is dropped and a `usage` riding on a chunk
    /// with choices is removed from it.
    ChatCompletions { include_usage: bool },
    /// The seed's endpoint: `data: {"id","content","finish_reason"}` per delta, then
    /// `event: usage`, then `data: [DONE]`.
    SimpleChat,
}

const DONE: &[u8] = b"[DONE]";

impl Framing {
    /// Writes what the client gets for one provider chunk (possibly nothing).
    /// With a `pricer`, a usage the client gets carries the gateway's `cost` and `cost_local`.
    pub fn write_chunk(
        &self,
        payload: &[u8],
        summary: &ChunkSummary,
        pricer: Option<&dyn UsagePricer>,
        out: &mut BytesMut,
    ) -> Result<(), StreamError> {
        match *self {
            Framing::ChatCompletions { include_usage } => {
                let priced = summary
                    .usage
                    .filter(|_| include_usage)
                    .and_then(|u| pricer?.price(&u));
                if let Some(priced) = priced {
                    let with_cost = price_usage_in_chunk(payload, &priced)
                        .map_err(|e| StreamError::Protocol(e.to_string()))?;
                    write_data(out, &with_cost);
                } else if include_usage || !summary.usage_key {
                    write_data(out, payload);
                } else if summary.usage.is_some() && summary.choices == 0 {
                    // A usage-only chunk the client did not ask for is dropped.
                } else {
                    // `usage` riding on another chunk (even as `null`) is removed from it.
                    let stripped = rewrite::set_top_level(payload, "usage", None)
                        .map_err(|e| StreamError::Protocol(e.to_string()))?;
                    write_data(out, &stripped);
                }
                Ok(())
            }
            Framing::SimpleChat => {
                if !(summary.content || summary.finish) {
                    return Ok(());
                }
                let delta = chunk::simple_delta(payload)
                    .map_err(|e| StreamError::Protocol(e.to_string()))?;
                if delta.content.is_empty() && delta.finish_reason.is_none() {
                    return Ok(());
                }
                let event = json!({
                    "id": delta.id,
                    "content": delta.content,
                    "finish_reason": delta.finish_reason,
                });
                write_data(out, event.to_string().as_bytes());
                Ok(())
            }
        }
    }

    /// Writes the end of a stream that completed.
    pub fn write_end(
        &self,
        usage: Option<&Usage>,
        pricer: Option<&dyn UsagePricer>,
        out: &mut BytesMut,
    ) {
        if let Framing::SimpleChat = self {
            let u = usage.copied().unwrap_or_default();
            // Amounts are exact decimal text, so the event is written by hand.
            let (cost, cost_local) = match usage.and_then(|u| pricer?.price(u)) {
                Some(p) => (p.cost_usd.clone(), p.cost_local_json()),
                None => ("null".to_owned(), "null".to_owned()),
            };
            let event = format!(
                "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"cost\":{cost},\"cost_local\":{cost_local}}}",
                u.prompt_tokens, u.completion_tokens, u.total_tokens
            );
            write_event(out, Some("usage"), event.as_bytes());
        }
        write_data(out, DONE);
    }

    /// Writes the final error event of a stream that failed after it started. No `[DONE]`
    /// follows, so no client mistakes the stream for a success.
    pub fn write_error(&self, err: &StreamError, out: &mut BytesMut) {
        write_data(out, err.to_json().to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(framing: Framing, payload: &str) -> String {
        let summary = chunk::inspect(payload.as_bytes()).unwrap();
        let mut out = BytesMut::new();
        framing
            .write_chunk(payload.as_bytes(), &summary, None, &mut out)
            .unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    const WITH: Framing = Framing::ChatCompletions {
        include_usage: true,
    };
    const WITHOUT: Framing = Framing::ChatCompletions {
        include_usage: false,
    };

    #[test]
    fn chunks_pass_verbatim() {
        let p = r#"{"choices":[{"index":0,"delta":{"content":"hi"},"logprobs":null}]}"#;
        assert_eq!(frame(WITHOUT, p), format!("data: {p}\n\n"));
    }

    #[test]
    fn usage_only_chunk_dropped_unless_asked() {
        let p =
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        assert_eq!(frame(WITHOUT, p), "");
        assert_eq!(frame(WITH, p), format!("data: {p}\n\n"));
    }

    #[test]
    fn usage_riding_on_a_choice_is_removed_unless_asked() {
        let p = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#;
        assert_eq!(
            frame(WITHOUT, p),
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        );
    }

    #[test]
    fn usage_null_is_removed_unless_asked() {
        let p = r#"{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}"#;
        assert_eq!(
            frame(WITHOUT, p),
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
        );
        assert_eq!(frame(WITH, p), format!("data: {p}\n\n"));
    }

    #[test]
    fn empty_choices_filter_chunks_pass() {
        let p = r#"{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}"#;
        assert_eq!(frame(WITHOUT, p), format!("data: {p}\n\n"));
    }

    #[test]
    fn simple_chat_reduces_deltas_and_ends_with_usage() {
        let p =
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
        assert_eq!(
            frame(Framing::SimpleChat, p),
            "data: {\"id\":\"c\",\"content\":\"hi\",\"finish_reason\":null}\n\n"
        );
        let role =
            r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
        assert_eq!(frame(Framing::SimpleChat, role), "");
        let mut out = BytesMut::new();
        let usage = Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
        };
        Framing::SimpleChat.write_end(Some(&usage), None, &mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with("event: usage\ndata: {\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3,"), "{text}");
        assert!(text.ends_with("\n\ndata: [DONE]\n\n"), "{text}");
    }
}
