//! Token counts in OpenAI's terms, with the cache and reasoning details the native providers
//! report, and the lenient reading of one count.
//!
//! OpenAI's `prompt_tokens` is the whole prompt and its details are parts of it; Anthropic's
//! `input_tokens` leaves out the tokens read from or written to its cache, and Gemini's
//! `candidatesTokenCount` leaves out its thoughts. So the translators add those in:
//! `prompt_tokens` and `completion_tokens` always mean what they mean for OpenAI, and a priced
//! request is `prompt − cached − cache creation` at the input rate, `cached` at the cache-read
//! rate, `cache creation` at the cache-write rate, and `completion` at the output rate.

use std::fmt;

use sluice_types::Usage;

/// A stream's or answer's token counts, as the translators report them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    /// The whole prompt: Anthropic's `input_tokens + cache_read_input_tokens +
    /// cache_creation_input_tokens`; Gemini's `promptTokenCount + toolUsePromptTokenCount`.
    pub prompt_tokens: u64,
    /// The whole answer, reasoning included: Anthropic's `output_tokens`; Gemini's
    /// `candidatesTokenCount + thoughtsTokenCount`.
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache (part of `prompt_tokens`): Anthropic's
    /// `cache_read_input_tokens`, Gemini's `cachedContentTokenCount`. Written as
    /// `prompt_tokens_details.cached_tokens`, as OpenAI does.
    pub cached_tokens: u64,
    /// Prompt tokens written to the cache (part of `prompt_tokens`, Anthropic only: `None` for
    /// Gemini). Written as `prompt_tokens_details.cache_creation_tokens`.
    pub cache_creation_tokens: Option<u64>,
    /// Of the cache writes, those kept for an hour, which Anthropic prices above the
    /// five-minute ones (`cache_creation.ephemeral_1h_input_tokens`), when it says. Written as
    /// `prompt_tokens_details.cache_creation_1h_tokens`.
    pub cache_creation_1h_tokens: Option<u64>,
    /// Reasoning tokens (part of `completion_tokens`): Gemini's `thoughtsTokenCount`; `None`
    /// for Anthropic, which does not count thinking apart. Written as
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: Option<u64>,
}

impl TokenUsage {
    /// The counts the gateway's ledger, limits and prices read, cache details included.
    pub fn usage(&self) -> Usage {
        Usage {
            cached_tokens: self.cached_tokens,
            cache_write_tokens: self.cache_creation_tokens.unwrap_or(0),
            cache_write_1h_tokens: self.cache_creation_1h_tokens.unwrap_or(0),
            ..Usage::counted(self.prompt_tokens, self.completion_tokens)
        }
    }

    /// Writes OpenAI's usage object.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        let total = self.prompt_tokens.saturating_add(self.completion_tokens);
        push_fmt(
            out,
            format_args!(
                "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{total},\
                 \"prompt_tokens_details\":{{\"cached_tokens\":{}",
                self.prompt_tokens, self.completion_tokens, self.cached_tokens
            ),
        );
        if let Some(n) = self.cache_creation_tokens {
            push_fmt(out, format_args!(",\"cache_creation_tokens\":{n}"));
        }
        if let Some(n) = self.cache_creation_1h_tokens {
            push_fmt(out, format_args!(",\"cache_creation_1h_tokens\":{n}"));
        }
        out.push(b'}');
        if let Some(n) = self.reasoning_tokens {
            push_fmt(
                out,
                format_args!(",\"completion_tokens_details\":{{\"reasoning_tokens\":{n}}}"),
            );
        }
        out.push(b'}');
    }

    /// OpenAI's usage object as a JSON value (for whole answers).
    pub(crate) fn to_value(self) -> serde_json::Value {
        let mut out = Vec::new();
        self.write_json(&mut out);
        serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null)
    }
}

pub(crate) fn push_fmt(out: &mut Vec<u8>, args: fmt::Arguments<'_>) {
    use std::io::Write;
    // Writing into a `Vec` cannot fail.
    let _ = out.write_fmt(args);
}

/// One token count read leniently (`sluice_types::TokenCount`): `Some` for a whole number
/// within `u64`, `None` for anything else. A usage with a `None` count is not believed: the
/// translators then report no usage, and the gateway counts the tokens itself.
pub(crate) use sluice_types::TokenCount as Count;

/// A usage's counts as read: each `None` when absent, `Some(Count(None))` when unreadable.
pub(crate) fn read(count: Option<Count>, readable: &mut bool) -> Option<u64> {
    let count = count?;
    *readable &= count.0.is_some();
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_openai_usage_with_details() {
        let u = TokenUsage {
            prompt_tokens: 30,
            completion_tokens: 5,
            cached_tokens: 10,
            cache_creation_tokens: Some(8),
            cache_creation_1h_tokens: None,
            reasoning_tokens: None,
        };
        let mut out = Vec::new();
        u.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"prompt_tokens":30,"completion_tokens":5,"total_tokens":35,"prompt_tokens_details":{"cached_tokens":10,"cache_creation_tokens":8}}"#
        );
        let u = TokenUsage {
            cache_creation_tokens: None,
            reasoning_tokens: Some(3),
            ..u
        };
        assert_eq!(
            u.to_value()["completion_tokens_details"]["reasoning_tokens"],
            3
        );
        assert_eq!(
            u.usage(),
            Usage {
                cached_tokens: 10,
                ..Usage::counted(30, 5)
            }
        );
        let u = TokenUsage {
            cache_creation_tokens: Some(8),
            cache_creation_1h_tokens: Some(2),
            ..u
        };
        assert_eq!(
            u.usage(),
            Usage {
                cached_tokens: 10,
                cache_write_tokens: 8,
                cache_write_1h_tokens: 2,
                ..Usage::counted(30, 5)
            }
        );
    }

    /// What the translators write is what the gateway's reader of OpenAI usage reads back:
    /// the same counts, whichever way the usage reaches it.
    #[test]
    fn the_usage_written_reads_back_as_the_same_counts() {
        for u in [
            TokenUsage::default(),
            TokenUsage {
                prompt_tokens: 30,
                completion_tokens: 5,
                cached_tokens: 10,
                cache_creation_tokens: Some(8),
                cache_creation_1h_tokens: Some(2),
                reasoning_tokens: Some(1),
            },
            TokenUsage {
                prompt_tokens: 9,
                completion_tokens: 4,
                cached_tokens: 3,
                cache_creation_tokens: None,
                cache_creation_1h_tokens: None,
                reasoning_tokens: Some(2),
            },
        ] {
            let mut out = Vec::new();
            u.write_json(&mut out);
            let read: sluice_types::MaybeUsage = serde_json::from_slice(&out).unwrap();
            assert_eq!(read.0, Some(u.usage()), "{u:?}");
        }
    }

    #[test]
    fn counts_are_read_leniently_and_refused_when_unsure() {
        for (json, want) in [
            ("12", Some(12)),
            ("12.0", Some(12)),
            ("\"12\"", Some(12)),
            ("-1", None),
            ("1.5", None),
            ("\"x\"", None),
            ("null", None),
            ("[1]", None),
            ("{\"a\":1}", None),
        ] {
            let c: Count = serde_json::from_str(json).unwrap();
            assert_eq!(c.0, want, "{json}");
        }
    }
}
