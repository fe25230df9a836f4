//! `/v1/chat/completions`: each chunk relayed as the provider wrote it (`data:` lines only).

use bytes::BytesMut;
use sluice_sse::write_data;
use sluice_types::Usage;

use super::{ClientEncoder, EncodeError};
use crate::chunk::ChunkSummary;
use crate::error::ErrorBody;
use crate::pricing::{price_usage_in_chunk, Pricer};
use crate::rewrite;

const DONE: &[u8] = b"[DONE]";

/// OpenAI chat-completion chunks, relayed verbatim. `include_usage` says whether the client
/// asked for usage: if not, the usage-only chunk is dropped and a `usage` riding on a chunk
/// with choices is removed from it; if so, the usage carries the gateway's `cost` and
/// `cost_local` (with a pricer).
#[derive(Debug, Clone)]
pub struct ChatChunks {
    include_usage: bool,
    pricer: Option<Pricer>,
}

impl ChatChunks {
    pub fn new(include_usage: bool, pricer: Option<Pricer>) -> Self {
        ChatChunks {
            include_usage,
            pricer,
        }
    }
}

impl ClientEncoder for ChatChunks {
    fn chunk(
        &mut self,
        payload: &[u8],
        summary: &ChunkSummary,
        out: &mut BytesMut,
    ) -> Result<bool, EncodeError> {
        let priced = summary
            .usage
            .filter(|_| self.include_usage)
            .and_then(|u| self.pricer.as_ref()?.price(&u));
        if let Some(priced) = priced {
            write_data(out, &price_usage_in_chunk(payload, &priced)?);
        } else if self.include_usage || !summary.usage_key {
            write_data(out, payload);
        } else if (summary.usage.is_some() || summary.usage_unreadable) && summary.choices == 0 {
            // A usage-only chunk the client did not ask for is dropped.
            return Ok(false);
        } else {
            // `usage` riding on another chunk (even as `null`) is removed from it.
            write_data(out, &rewrite::set_top_level(payload, "usage", None)?);
        }
        // Only a plain content delta on one line may merge later (one with `usage: null`
        // too: the null was removed, or is the same in its neighbours).
        Ok(summary.content
            && !summary.finish
            && summary.usage.is_none()
            && !summary.usage_unreadable
            && summary.choices == 1
            && memchr::memchr(b'\n', payload).is_none())
    }

    fn end(&mut self, _usage: Option<&Usage>, out: &mut BytesMut) {
        write_data(out, DONE);
    }

    /// A final `data: {"error":{...}}` event; no `[DONE]` follows, so no client mistakes the
    /// stream for a success.
    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut) {
        write_data(out, err.to_json().to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk;

    fn frame(include_usage: bool, payload: &str) -> (String, bool) {
        let summary = chunk::inspect(payload.as_bytes()).unwrap();
        let mut out = BytesMut::new();
        let mergeable = ChatChunks::new(include_usage, None)
            .chunk(payload.as_bytes(), &summary, &mut out)
            .unwrap();
        (String::from_utf8(out.to_vec()).unwrap(), mergeable)
    }

    const WITH: bool = true;
    const WITHOUT: bool = false;

    #[test]
    fn chunks_pass_verbatim_and_plain_deltas_may_merge() {
        let p = r#"{"choices":[{"index":0,"delta":{"content":"hi"},"logprobs":null}]}"#;
        assert_eq!(frame(WITHOUT, p), (format!("data: {p}\n\n"), true));
        let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
        assert_eq!(frame(WITHOUT, role), (format!("data: {role}\n\n"), false));
    }

    #[test]
    fn usage_only_chunk_dropped_unless_asked() {
        let p =
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        assert_eq!(frame(WITHOUT, p).0, "");
        assert_eq!(frame(WITH, p).0, format!("data: {p}\n\n"));
    }

    #[test]
    fn usage_riding_on_a_choice_is_removed_unless_asked() {
        let p = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#;
        assert_eq!(
            frame(WITHOUT, p).0,
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        );
    }

    #[test]
    fn usage_null_is_removed_unless_asked() {
        let p = r#"{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}"#;
        assert_eq!(
            frame(WITHOUT, p),
            (
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n".to_owned(),
                true
            )
        );
        assert_eq!(frame(WITH, p), (format!("data: {p}\n\n"), true));
    }

    #[test]
    fn empty_choices_filter_chunks_pass() {
        let p = r#"{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}"#;
        assert_eq!(frame(WITHOUT, p).0, format!("data: {p}\n\n"));
    }

    #[test]
    fn unreadable_usage_is_relayed_as_written_or_removed() {
        let p = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":12.5,"completion_tokens":3}}"#;
        assert_eq!(frame(WITH, p), (format!("data: {p}\n\n"), false));
        assert_eq!(
            frame(WITHOUT, p).0,
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        );
        // A usage-only chunk is dropped for a client that did not ask, readable or not.
        assert_eq!(
            frame(WITHOUT, r#"{"choices":[],"usage":{"prompt_tokens":"x"}}"#).0,
            ""
        );
    }

    #[test]
    fn ends_with_done_and_errors_without_it() {
        let mut enc = ChatChunks::new(false, None);
        let mut out = BytesMut::new();
        enc.end(None, &mut out);
        assert_eq!(&out[..], b"data: [DONE]\n\n");
        out.clear();
        enc.error(&ErrorBody::from_message("boom".into()), &mut out);
        assert_eq!(
            &out[..],
            &b"data: {\"error\":{\"message\":\"boom\",\"type\":\"upstream_error\",\"code\":null}}\n\n"[..]
        );
    }
}
