//! Turns a request (body + headers) into a [`Scenario`]: what to answer and how fast,
//! independent of any HTTP server and of the API's wire format. The OpenAI path's body is read
//! here ([`Scenario::parse`]); the native APIs read theirs in their own modules and meet the
//! same rules in [`Scenario::build`].

use crate::generator::{prompt_tokens, seed_for};
use crate::settings::{MockSettings, MAX_DELAY_MS, MAX_TOKENS};
use http::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// The deliberate failure selected by the request's model name, the same on every API; each
/// API writes it in its own error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A normal answer.
    None,
    /// `mock-500`: HTTP 500.
    ServerError,
    /// `mock-429`: HTTP 429 with `retry-after: 1`.
    RateLimited,
    /// `mock-529`: the provider is overloaded (529 on the OpenAI and Anthropic paths, Gemini's
    /// 503 `UNAVAILABLE`).
    Overloaded,
    /// `mock-stall`: a few tokens, then silence forever.
    Stall,
    /// `mock-drop`: a few tokens, then the body errors (connection aborted).
    Drop,
    /// `mock-error-midstream`: a few tokens, then the API's in-stream error event (an
    /// overload) and the end of the body; a non-streaming request gets [`Fault::Overloaded`].
    ErrorMidstream,
}

/// How many content tokens `mock-stall`, `mock-drop` and `mock-error-midstream` send before
/// misbehaving.
pub const FAULT_AFTER_TOKENS: usize = 3;

impl Fault {
    pub fn for_model(model: &str) -> Self {
        match model {
            "mock-500" => Fault::ServerError,
            "mock-429" => Fault::RateLimited,
            "mock-529" => Fault::Overloaded,
            "mock-stall" => Fault::Stall,
            "mock-drop" => Fault::Drop,
            "mock-error-midstream" => Fault::ErrorMidstream,
            _ => Fault::None,
        }
    }
}

/// Why a completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }
}

/// Everything needed to produce one response.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub model: String,
    pub fault: Fault,
    pub stream: bool,
    pub include_usage: bool,
    pub seed: u64,
    /// Completion tokens to send (after the `max_tokens` cap).
    pub tokens: usize,
    pub finish: Finish,
    pub prompt_tokens: u64,
    pub ttft: Duration,
    pub itl: Duration,
}

/// What a request's body asks for, as its API's module reads it.
#[derive(Debug, Clone)]
pub(crate) struct Asked {
    pub model: String,
    pub stream: bool,
    /// OpenAI's `stream_options.include_usage`; the native APIs always send their usage.
    pub include_usage: bool,
    pub seed: u64,
    pub prompt_tokens: u64,
    /// The body's cap on completion tokens (`max_tokens` and the like), if any.
    pub max_tokens: Option<u64>,
}

impl Scenario {
    /// Parses a chat-completions request. `Err` carries the message of a 400
    /// `invalid_request_error`: a body that is not a chat request, or an `x-mock-*` header that
    /// is not a number within its cap. Settings past their caps are read as the caps.
    pub fn parse(
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self, String> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| format!("request body is not valid JSON: {e}"))?;
        if !json.get("messages").is_some_and(Value::is_array) {
            return Err("'messages' is a required array".to_owned());
        }
        let model = match json.get("model") {
            None | Some(Value::Null) => "mock".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("'model' must be a string".to_owned()),
        };
        let asked = Asked {
            model,
            stream: json.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: json
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            seed: seed_for(&json),
            prompt_tokens: prompt_tokens(&json),
            max_tokens: ["max_completion_tokens", "max_tokens"]
                .iter()
                .filter_map(|k| json.get(*k).and_then(Value::as_u64))
                .min(),
        };
        Self::build(settings, headers, asked)
    }

    /// The scenario of a request whose body said `asked`: the token count (`x-mock-tokens` or
    /// the settings, cut to the body's cap with [`Finish::Length`]), the timing (`x-mock-*-ms`
    /// or the settings) and the fault of the model name. `Err` names a control header that is
    /// not a number within its cap.
    pub(crate) fn build(
        settings: &MockSettings,
        headers: &HeaderMap,
        asked: Asked,
    ) -> Result<Self, String> {
        let settings = settings.capped();
        let wanted = header_number(headers, "x-mock-tokens", MAX_TOKENS as u64)?
            .map_or(settings.tokens, |n| {
                usize::try_from(n).unwrap_or(MAX_TOKENS)
            });
        let cap = asked
            .max_tokens
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let (tokens, finish) = match cap {
            Some(cap) if cap < wanted => (cap, Finish::Length),
            _ => (wanted, Finish::Stop),
        };

        let ttft = header_number(headers, "x-mock-ttft-ms", MAX_DELAY_MS)?
            .map_or(settings.ttft, Duration::from_millis);
        let itl = header_number(headers, "x-mock-itl-ms", MAX_DELAY_MS)?
            .map_or(settings.itl, Duration::from_millis);

        Ok(Scenario {
            fault: Fault::for_model(&asked.model),
            model: asked.model,
            stream: asked.stream,
            include_usage: asked.include_usage,
            seed: asked.seed,
            tokens,
            finish,
            prompt_tokens: asked.prompt_tokens,
            ttft,
            itl,
        })
    }

    /// The completion id, `chatcmpl-mock-<16 hex digits of the seed>`.
    pub fn id(&self) -> String {
        format!("chatcmpl-mock-{:016x}", self.seed)
    }
}

/// The value of control header `name`: `None` when absent, else an integer from 0 to `max`.
/// `Err` names the header, the cap and (shortened) the value given.
fn header_number(headers: &HeaderMap, name: &str, max: u64) -> Result<Option<u64>, String> {
    /// Enough of a bad value to recognise it; the message never grows with the header.
    const SHOWN: usize = 32;
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    match value.to_str().ok().map(|s| s.trim().parse::<u64>()) {
        Some(Ok(n)) if n <= max => Ok(Some(n)),
        _ => {
            let text = String::from_utf8_lossy(value.as_bytes());
            let mut shown: String = text.chars().take(SHOWN).collect();
            if text.chars().nth(SHOWN).is_some() {
                shown.push_str("...");
            }
            Err(format!(
                "header '{name}' must be an integer from 0 to {max} (got {shown:?})"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(headers: &[(&'static str, &str)], body: &str) -> Result<Scenario, String> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Scenario::parse(&MockSettings::default(), &map, body.as_bytes())
    }

    #[test]
    fn defaults_and_overrides() {
        let s = parse(&[], r#"{"model":"mock","messages":[]}"#).unwrap();
        assert_eq!((s.tokens, s.finish, s.stream), (16, Finish::Stop, false));
        assert_eq!(s.ttft, Duration::from_millis(150));
        assert_eq!(s.itl, Duration::from_millis(15));
        assert_eq!(s.fault, Fault::None);

        let s = parse(
            &[("x-mock-tokens", "7"), ("x-mock-ttft-ms", "0"), ("x-mock-itl-ms", "3")],
            r#"{"model":"mock-stall","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
        )
        .unwrap();
        assert_eq!((s.tokens, s.stream, s.include_usage), (7, true, true));
        assert_eq!((s.ttft, s.itl), (Duration::ZERO, Duration::from_millis(3)));
        assert_eq!(s.fault, Fault::Stall);
    }

    #[test]
    fn max_tokens_caps_with_length() {
        let s = parse(&[], r#"{"max_tokens":5,"messages":[]}"#).unwrap();
        assert_eq!((s.tokens, s.finish), (5, Finish::Length));
        let s = parse(&[], r#"{"max_completion_tokens":16,"messages":[]}"#).unwrap();
        assert_eq!((s.tokens, s.finish), (16, Finish::Stop));
    }

    #[test]
    fn rejects_bad_requests() {
        assert!(parse(&[], "not json").is_err());
        assert!(parse(&[], r#"{"model":"mock"}"#).is_err());
        assert!(parse(&[], r#"{"model":1,"messages":[]}"#).is_err());
        assert!(parse(&[("x-mock-tokens", "lots")], r#"{"messages":[]}"#).is_err());
    }

    #[test]
    fn control_headers_are_capped() {
        let body = r#"{"messages":[]}"#;
        let s = parse(
            &[
                ("x-mock-tokens", "1000000"),
                ("x-mock-ttft-ms", "60000"),
                ("x-mock-itl-ms", "60000"),
            ],
            body,
        )
        .unwrap();
        assert_eq!(s.tokens, MAX_TOKENS);
        assert_eq!(
            (s.ttft, s.itl),
            (Duration::from_secs(60), Duration::from_secs(60))
        );
        assert_eq!(
            parse(&[("x-mock-tokens", "1000001")], body).unwrap_err(),
            "header 'x-mock-tokens' must be an integer from 0 to 1000000 (got \"1000001\")"
        );
        let long = "9".repeat(100);
        let err = parse(&[("x-mock-itl-ms", &long)], body).unwrap_err();
        assert_eq!(
            err,
            format!(
                "header 'x-mock-itl-ms' must be an integer from 0 to 60000 (got \"{}...\")",
                &long[..32]
            )
        );
    }

    #[test]
    fn settings_past_their_caps_are_read_as_the_caps() {
        let settings = MockSettings {
            tokens: usize::MAX,
            ttft: Duration::MAX,
            itl: Duration::MAX,
            fail_percent: 0,
        };
        let s = Scenario::parse(&settings, &HeaderMap::new(), br#"{"messages":[]}"#).unwrap();
        assert_eq!(s.tokens, MAX_TOKENS);
        assert_eq!(
            (s.ttft, s.itl),
            (Duration::from_secs(60), Duration::from_secs(60))
        );
    }
}
