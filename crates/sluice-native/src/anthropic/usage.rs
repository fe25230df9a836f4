//! Anthropic's usage: read from `message_start` and `message_delta` (cumulative counts, so
//! each count given replaces the last, never adds to it), and its error events.

use serde::Deserialize;
use serde_json::Value;
use sluice_openai::ErrorBody;

use crate::usage::{read, Count, TokenUsage};

/// A usage object as Anthropic writes it; every count may be absent.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawUsage {
    #[serde(default)]
    input_tokens: Option<Count>,
    #[serde(default)]
    output_tokens: Option<Count>,
    #[serde(default)]
    cache_creation_input_tokens: Option<Count>,
    #[serde(default)]
    cache_read_input_tokens: Option<Count>,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Default, Deserialize)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<Count>,
}

/// The counts read so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    input: Option<u64>,
    output: Option<u64>,
    cache_write: Option<u64>,
    cache_read: Option<u64>,
    write_1h: Option<u64>,
    readable: bool,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            input: None,
            output: None,
            cache_write: None,
            cache_read: None,
            write_1h: None,
            readable: true,
        }
    }
}

impl Counts {
    /// Takes the counts `raw` gives, each replacing the one before.
    pub fn take(&mut self, raw: RawUsage) {
        let r = &mut self.readable;
        let mut set = |slot: &mut Option<u64>, count| {
            if let Some(n) = read(count, r) {
                *slot = Some(n);
            }
        };
        set(&mut self.input, raw.input_tokens);
        set(&mut self.output, raw.output_tokens);
        set(&mut self.cache_write, raw.cache_creation_input_tokens);
        set(&mut self.cache_read, raw.cache_read_input_tokens);
        if let Some(cc) = raw.cache_creation {
            set(&mut self.write_1h, cc.ephemeral_1h_input_tokens);
        }
    }

    /// The usage in OpenAI's terms, once any count was read and all could be trusted.
    pub fn usage(&self) -> Option<TokenUsage> {
        if !self.readable || (self.input.is_none() && self.output.is_none()) {
            return None;
        }
        let (read, write) = (self.cache_read.unwrap_or(0), self.cache_write.unwrap_or(0));
        Some(TokenUsage {
            prompt_tokens: self
                .input
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(write),
            completion_tokens: self.output.unwrap_or(0),
            cached_tokens: read,
            cache_creation_tokens: Some(write),
            cache_creation_1h_tokens: self.write_1h,
            reasoning_tokens: None,
        })
    }
}

/// An Anthropic error (`{"type":"error","error":{"type","message"}}`, or text) in OpenAI's
/// shape. Its `type` is kept, and the HTTP status Anthropic gives that type is added as
/// `status_code`, so the gateway can tell an overload (529) from a bad request (400).
pub(crate) fn error_body(data: &[u8]) -> ErrorBody {
    let mut body = ErrorBody::from_event_data(data);
    let status = match body.error_type.as_deref() {
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("billing_error") => 402,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        Some("rate_limit_error") => 429,
        Some("api_error") => 500,
        Some("timeout_error") => 504,
        Some("overloaded_error") => 529,
        _ => return body,
    };
    body.extra
        .entry("status_code")
        .or_insert(Value::from(status));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawUsage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn later_counts_replace_earlier_ones() {
        let mut c = Counts::default();
        assert_eq!(c.usage(), None);
        c.take(raw(r#"{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":1}"#));
        c.take(raw(r#"{"output_tokens":15}"#));
        c.take(raw(r#"{"output_tokens":30}"#));
        let u = c.usage().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (130, 30));
        assert_eq!((u.cached_tokens, u.cache_creation_tokens), (100, Some(20)));
        c.take(raw(r#"{"output_tokens":-3}"#));
        assert_eq!(c.usage(), None, "an unreadable count is not believed");
    }

    #[test]
    fn errors_keep_their_type_and_gain_a_status() {
        let body = error_body(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(body.message, "Overloaded");
        assert_eq!(body.error_type.as_deref(), Some("overloaded_error"));
        assert_eq!(body.status_hint(), Some(529));
        assert_eq!(error_body(b"not json").message, "not json");
    }
}
