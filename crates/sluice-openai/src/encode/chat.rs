//! `/v1/chat/completions`: each chunk relayed as the provider wrote it (`data:` lines only),
//! and, for a client that asked for usage but got none at the top level of any chunk, one
//! usage-only chunk of the gateway's own before `[DONE]`.

use std::fmt::Write as _;

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_sse::write_data;
use sluice_types::Usage;

use super::{ClientEncoder, EncodeError, Merge};
use crate::chunk::ChunkSummary;
use crate::error::ErrorBody;
use crate::pricing::{price_usage_in_chunk, Pricer};
use crate::rewrite;

const DONE: &[u8] = b"[DONE]";

/// OpenAI chat-completion chunks, relayed verbatim. `include_usage` says whether the client
/// asked for usage: if not, the usage-only chunk is dropped and a `usage` riding on a chunk
/// with choices is removed from it; if so, the usage carries the gateway's `cost` and
/// `cost_local` (with a pricer), and a stream whose provider reported usage only in an
/// extension (`x_groq.usage`, relayed unchanged) still ends with a top-level usage.
#[derive(Debug, Clone)]
pub struct ChatChunks {
    include_usage: bool,
    pricer: Option<Pricer>,
    /// A chunk with a readable top-level usage reached the client, so the stream needs no
    /// usage chunk of the gateway's at its end.
    usage_relayed: bool,
    /// The stream's identity, for that usage chunk.
    head: StreamHead,
}

impl ChatChunks {
    pub fn new(include_usage: bool, pricer: Option<Pricer>) -> Self {
        ChatChunks {
            include_usage,
            pricer,
            usage_relayed: false,
            head: StreamHead::default(),
        }
    }

    /// The usage-only chunk the gateway writes when the provider put usage only in an
    /// extension: the stream's `id`, `created`, `model` (and `system_fingerprint`), no
    /// choices, and the usage with the gateway's cost.
    fn usage_chunk(&self, usage: &Usage) -> String {
        let h = &self.head;
        let mut chunk = format!(
            "{{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},",
            h.id.as_deref().unwrap_or("\"\""),
            h.created.as_deref().unwrap_or("0"),
            h.model.as_deref().unwrap_or("\"\""),
        );
        // Writing to a String cannot fail.
        if let Some(fingerprint) = &h.system_fingerprint {
            let _ = write!(chunk, "\"system_fingerprint\":{fingerprint},");
        }
        let _ = write!(
            chunk,
            "\"choices\":[],\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{}",
            usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
        );
        // The cache counts the price was made from, in OpenAI's place for them; only when
        // there are any, so a usage without them reads as the provider's did.
        if usage.cached_tokens > 0 || usage.cache_write_tokens > 0 {
            let _ = write!(
                chunk,
                ",\"prompt_tokens_details\":{{\"cached_tokens\":{}",
                usage.cached_tokens
            );
            if usage.cache_write_tokens > 0 {
                let _ = write!(
                    chunk,
                    ",\"cache_creation_tokens\":{}",
                    usage.cache_write_tokens
                );
            }
            if usage.cache_write_1h_tokens > 0 {
                let _ = write!(
                    chunk,
                    ",\"cache_creation_1h_tokens\":{}",
                    usage.cache_write_1h_tokens
                );
            }
            chunk.push('}');
        }
        if let Some(priced) = self.pricer.as_ref().and_then(|p| p.price(usage)) {
            let _ = write!(
                chunk,
                ",\"cost\":{},\"cost_local\":{}",
                priced.cost_usd,
                priced.cost_local_json()
            );
        }
        chunk.push_str("}}");
        chunk
    }
}

impl ClientEncoder for ChatChunks {
    fn chunk(
        &mut self,
        payload: &[u8],
        summary: &ChunkSummary,
        out: &mut BytesMut,
    ) -> Result<Merge, EncodeError> {
        if self.include_usage && !self.usage_relayed && !self.head.complete() {
            // Read until the stream has named itself (Azure's first chunk has an empty id and
            // model), so most streams pay for this on their first chunk only.
            self.head.learn(payload);
        }
        self.usage_relayed |= self.include_usage && summary.usage.is_some();
        let priced = summary
            .usage
            .filter(|_| self.include_usage)
            .and_then(|u| self.pricer.as_ref()?.price(&u));
        // Only a plain content delta on one line may merge later.
        let delta = summary.mergeable && memchr::memchr(b'\n', payload).is_none();
        if let Some(priced) = priced {
            write_data(out, &price_usage_in_chunk(payload, &priced)?);
            Ok(Merge::No)
        } else if self.include_usage || !summary.usage_key {
            write_data(out, payload);
            Ok(if delta { Merge::InPlace } else { Merge::No })
        } else if (summary.usage.is_some() || summary.usage_unreadable) && summary.choices == 0 {
            // A usage-only chunk the client did not ask for is dropped.
            Ok(Merge::No)
        } else {
            // `usage` riding on another chunk (even as `null`) is removed from it.
            write_data(out, &rewrite::set_top_level(payload, "usage", None)?);
            Ok(if delta { Merge::Rewritten } else { Merge::No })
        }
    }

    /// `[DONE]`, after the gateway's own usage chunk when the client asked for usage, the
    /// provider reported some (`usage` is the last seen, top-level or in an extension), and
    /// none reached the client at the top level of a chunk.
    fn end(&mut self, usage: Option<&Usage>, out: &mut BytesMut) {
        if let (true, false, Some(usage)) = (self.include_usage, self.usage_relayed, usage) {
            write_data(out, self.usage_chunk(usage).as_bytes());
        }
        write_data(out, DONE);
    }

    /// A final `data: {"error":{...}}` event; no `[DONE]` follows, so no client mistakes the
    /// stream for a success.
    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut) {
        write_data(out, err.to_json().to_string().as_bytes());
    }
}

/// The fields that name a stream, as JSON text taken verbatim from its chunks: strings for
/// `id`, `model` and `system_fingerprint`, a whole number for `created`. A value of another
/// type is not taken, so what the gateway writes is always a well-formed chunk on one line.
#[derive(Debug, Clone, Default)]
struct StreamHead {
    id: Option<String>,
    created: Option<String>,
    model: Option<String>,
    system_fingerprint: Option<String>,
}

impl StreamHead {
    /// The stream has given a non-empty `id` and `model`.
    fn complete(&self) -> bool {
        self.id.is_some() && self.model.is_some()
    }

    /// Takes what `payload` says of the stream; a later value replaces an earlier one, and an
    /// empty string is not taken. A payload that does not read leaves the head as it was.
    fn learn(&mut self, payload: &[u8]) {
        #[derive(Deserialize)]
        struct View<'a> {
            #[serde(borrow, default)]
            id: Option<&'a RawValue>,
            #[serde(borrow, default)]
            created: Option<&'a RawValue>,
            #[serde(borrow, default)]
            model: Option<&'a RawValue>,
            #[serde(borrow, default)]
            system_fingerprint: Option<&'a RawValue>,
        }
        let Ok(view) = serde_json::from_slice::<View<'_>>(payload) else {
            return;
        };
        let string = |v: &RawValue| v.get().starts_with('"') && v.get() != "\"\"";
        let whole = |v: &RawValue| v.get().bytes().all(|b| b.is_ascii_digit());
        for (slot, value, take) in [
            (&mut self.id, view.id, &string as &dyn Fn(&RawValue) -> bool),
            (&mut self.created, view.created, &whole),
            (&mut self.model, view.model, &string),
            (
                &mut self.system_fingerprint,
                view.system_fingerprint,
                &string,
            ),
        ] {
            if let Some(v) = value.filter(|v| take(v)) {
                *slot = Some(v.get().to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk;

    fn frame(include_usage: bool, payload: &str) -> (String, Merge) {
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
        assert_eq!(
            frame(WITHOUT, p),
            (format!("data: {p}\n\n"), Merge::InPlace)
        );
        let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
        assert_eq!(
            frame(WITHOUT, role),
            (format!("data: {role}\n\n"), Merge::No)
        );
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
                Merge::Rewritten
            )
        );
        assert_eq!(frame(WITH, p), (format!("data: {p}\n\n"), Merge::InPlace));
    }

    #[test]
    fn empty_choices_filter_chunks_pass() {
        let p = r#"{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}"#;
        assert_eq!(frame(WITHOUT, p).0, format!("data: {p}\n\n"));
    }

    #[derive(Debug)]
    struct FixedPrice;

    impl crate::pricing::UsagePricer for FixedPrice {
        fn price(&self, _: &Usage) -> Option<crate::pricing::PricedUsage> {
            Some(crate::pricing::PricedUsage {
                cost_usd: "0.00017151".into(),
                currency: "JPY".into(),
                cost_local: "0.0257265".into(),
            })
        }
    }

    /// Feeds `payloads` to one encoder as the relay does (the last usage seen, top-level or in
    /// an extension, goes to `end`) and returns everything it wrote.
    fn stream(include_usage: bool, pricer: Option<Pricer>, payloads: &[&str]) -> String {
        let mut enc = ChatChunks::new(include_usage, pricer);
        let mut out = BytesMut::new();
        let mut last = None;
        for p in payloads {
            let summary = chunk::inspect(p.as_bytes()).unwrap();
            last = summary.usage.or(summary.vendor_usage).or(last);
            enc.chunk(p.as_bytes(), &summary, &mut out).unwrap();
        }
        enc.end(last.as_ref(), &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    const GROQ_FIRST: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1729171479,"model":"gemma2-9b-it","system_fingerprint":"fp_10c08bf97d","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":null}],"x_groq":{"id":"req_1"}}"#;
    const GROQ_LAST: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1729171479,"model":"gemma2-9b-it","system_fingerprint":"fp_10c08bf97d","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"queue_time":0.061348671,"prompt_tokens":18,"prompt_time":0.000211569,"completion_tokens":439,"completion_time":0.798181818,"total_tokens":457,"total_time":0.798393387}}}"#;

    #[test]
    fn usage_only_in_an_extension_gets_a_top_level_usage_chunk() {
        let pricer: Pricer = std::sync::Arc::new(FixedPrice);
        let out = stream(WITH, Some(pricer), &[GROQ_FIRST, GROQ_LAST]);
        let usage_chunk = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1729171479,"model":"gemma2-9b-it","system_fingerprint":"fp_10c08bf97d","choices":[],"usage":{"prompt_tokens":18,"completion_tokens":439,"total_tokens":457,"cost":0.00017151,"cost_local":{"currency":"JPY","amount":0.0257265}}}"#;
        assert_eq!(
            out,
            format!("data: {GROQ_FIRST}\n\ndata: {GROQ_LAST}\n\ndata: {usage_chunk}\n\ndata: [DONE]\n\n")
        );
        // Without a price the counts still come, without `cost`.
        let out = stream(WITH, None, &[GROQ_LAST]);
        assert!(out.contains(r#""choices":[],"usage":{"prompt_tokens":18,"completion_tokens":439,"total_tokens":457}}"#), "{out}");
        // A client that did not ask gets the chunks as they were, and no usage.
        assert_eq!(
            stream(WITHOUT, None, &[GROQ_FIRST, GROQ_LAST]),
            format!("data: {GROQ_FIRST}\n\ndata: {GROQ_LAST}\n\ndata: [DONE]\n\n")
        );
    }

    #[test]
    fn the_usage_chunk_keeps_the_cache_counts_it_was_priced_from() {
        let last = |details: &str| {
            GROQ_LAST.replace(
                r#""total_tokens":457,"#,
                &format!(r#""total_tokens":457,"prompt_tokens_details":{details},"#),
            )
        };
        for (details, written) in [
            (
                r#"{"cached_tokens":16}"#,
                r#","prompt_tokens_details":{"cached_tokens":16}}"#,
            ),
            (
                r#"{"cached_tokens":"4","cache_creation_tokens":10,"audio_tokens":0}"#,
                r#","prompt_tokens_details":{"cached_tokens":4,"cache_creation_tokens":10}}"#,
            ),
            (
                r#"{"cache_creation_tokens":10,"cache_creation_1h_tokens":6}"#,
                r#","prompt_tokens_details":{"cached_tokens":0,"cache_creation_tokens":10,"cache_creation_1h_tokens":6}}"#,
            ),
            // No cache counts: nothing added.
            (r#"{"cached_tokens":0,"audio_tokens":3}"#, "}"),
            ("null", "}"),
        ] {
            let out = stream(WITH, None, &[&last(details)]);
            let want = format!(
                r#""choices":[],"usage":{{"prompt_tokens":18,"completion_tokens":439,"total_tokens":457{written}}}"#
            );
            assert!(out.contains(&want), "{details}: {out}");
        }
    }

    #[test]
    fn no_usage_chunk_after_a_top_level_usage_or_without_any_usage() {
        let top = r#"{"id":"c","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        let pricer: Pricer = std::sync::Arc::new(FixedPrice);
        let out = stream(WITH, Some(pricer), &[GROQ_LAST, top]);
        assert_eq!(out.matches("\"usage\":{").count(), 2, "{out}");
        assert_eq!(out.matches("\"choices\":[]").count(), 1, "{out}");
        assert!(
            out.ends_with(
                "\"cost_local\":{\"currency\":\"JPY\",\"amount\":0.0257265}}}\n\ndata: [DONE]\n\n"
            ),
            "{out}"
        );
        let plain =
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#;
        assert_eq!(
            stream(WITH, None, &[plain]),
            format!("data: {plain}\n\ndata: [DONE]\n\n")
        );
    }

    #[test]
    fn the_usage_chunk_names_the_stream_from_its_first_named_chunk() {
        // Azure's first chunk names nothing; the stream is named by the next one.
        let filter = r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}"#;
        let named = r#"{"id":"chatcmpl-\u00e9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-5-nano","choices":[{"index":0,"delta":{"content":"x"}}],"x_groq":{"usage":{"prompt_tokens":"2","completion_tokens":3.0}}}"#;
        let out = stream(WITH, None, &[filter, named]);
        let last = out.split("\n\n").nth(2).unwrap();
        assert_eq!(
            last,
            r#"data: {"id":"chatcmpl-\u00e9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-5-nano","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}"#
        );
        // Fields of the wrong type are not copied; the chunk stays well-formed.
        let odd = r#"{"id":7,"created":"soon","model":{"a":"\n"},"choices":[],"x_groq":{"usage":{"prompt_tokens":1}}}"#;
        let out = stream(WITH, None, &[odd]);
        let last = out.split("\n\n").nth(1).unwrap();
        assert_eq!(
            last,
            r#"data: {"id":"","object":"chat.completion.chunk","created":0,"model":"","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}"#
        );
    }

    #[test]
    fn unreadable_usage_is_relayed_as_written_or_removed() {
        let p = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":12.5,"completion_tokens":3}}"#;
        assert_eq!(frame(WITH, p), (format!("data: {p}\n\n"), Merge::No));
        assert_eq!(
            frame(WITHOUT, p).0,
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        );
        // A usage-only chunk is dropped for a client that did not ask, readable or not.
        assert_eq!(
            frame(WITHOUT, r#"{"choices":[],"usage":{"prompt_tokens":"x"}}"#).0,
            ""
        );
        // Not priced, and with no usage anywhere else the gateway adds none.
        let pricer: Pricer = std::sync::Arc::new(FixedPrice);
        assert_eq!(
            stream(WITH, Some(pricer), &[p]),
            format!("data: {p}\n\ndata: [DONE]\n\n")
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
