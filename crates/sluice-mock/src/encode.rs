//! Byte encodings of everything the mock sends: SSE chunk events, the non-streaming body,
//! error bodies and the model list. Chunks are written straight into a `BytesMut` from a
//! precomputed envelope; tokens come from a plain-ASCII vocabulary and need no escaping.

use crate::generator::{Tokens, LONGEST_TOKEN};
use crate::scenario::{Finish, Scenario};
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use std::fmt::Write as _;

pub(crate) const FINGERPRINT: &str = "fp_sluice_mock";

/// The model names the mock answers to in `GET /v1/models`.
pub const MODELS: [&str; 5] = ["mock", "mock-500", "mock-429", "mock-stall", "mock-drop"];

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `s` as a JSON string literal, quotes included.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// `"id":..,"object":<object>,"created":..,"model":..,"system_fingerprint":..` (no braces).
fn envelope(scenario: &Scenario, object: &str, created: u64) -> String {
    let mut s = String::with_capacity(160);
    let _ = write!(
        s,
        r#""id":"{}","object":"{object}","created":{created},"model":{},"system_fingerprint":"{FINGERPRINT}""#,
        scenario.id(),
        json_string(&scenario.model),
    );
    s
}

/// Encodes the SSE events of one streaming response.
#[derive(Debug)]
pub(crate) struct ChunkEncoder {
    /// `data: {<envelope>,"choices":[`
    prefix: Bytes,
}

const CHOICE_OPEN: &[u8] = br#"{"index":0,"delta":{"#;
const CHOICE_OPEN_CLOSE: &[u8] = br#"},"logprobs":null,"finish_reason":"#;
const EVENT_END: &[u8] = b"}\n\n";

impl ChunkEncoder {
    pub(crate) fn new(scenario: &Scenario, created: u64) -> Self {
        let env = envelope(scenario, "chat.completion.chunk", created);
        let mut prefix = BytesMut::with_capacity(env.len() + 24);
        prefix.put_slice(b"data: {");
        prefix.put_slice(env.as_bytes());
        prefix.put_slice(br#","choices":["#);
        Self {
            prefix: prefix.freeze(),
        }
    }

    fn choice(&self, buf: &mut BytesMut, delta: &[&[u8]], finish: Option<Finish>) {
        buf.reserve(self.prefix.len() + 96);
        buf.put_slice(&self.prefix);
        buf.put_slice(CHOICE_OPEN);
        for part in delta {
            buf.put_slice(part);
        }
        buf.put_slice(CHOICE_OPEN_CLOSE);
        match finish {
            None => buf.put_slice(b"null"),
            Some(f) => {
                buf.put_u8(b'"');
                buf.put_slice(f.as_str().as_bytes());
                buf.put_u8(b'"');
            }
        }
        buf.put_slice(b"}]");
        buf.put_slice(EVENT_END);
    }

    /// The first event: `delta: {"role":"assistant","content":""}`.
    pub(crate) fn role(&self, buf: &mut BytesMut) {
        self.choice(buf, &[br#""role":"assistant","content":"""#], None);
    }

    /// A content event for one token (plain ASCII from the vocabulary).
    pub(crate) fn content(&self, buf: &mut BytesMut, token: &str) {
        self.choice(buf, &[br#""content":""#, token.as_bytes(), b"\""], None);
    }

    /// The finish event: empty delta and a finish reason.
    pub(crate) fn finish(&self, buf: &mut BytesMut, finish: Finish) {
        self.choice(buf, &[], Some(finish));
    }

    /// The usage-only event (`choices: []`).
    pub(crate) fn usage(&self, buf: &mut BytesMut, prompt: u64, completion: u64) {
        buf.reserve(self.prefix.len() + 96);
        buf.put_slice(&self.prefix);
        buf.put_slice(b"],");
        put_usage(buf, prompt, completion);
        buf.put_slice(EVENT_END);
    }

    pub(crate) fn done(buf: &mut BytesMut) {
        buf.put_slice(b"data: [DONE]\n\n");
    }
}

fn put_usage(buf: &mut BytesMut, prompt: u64, completion: u64) {
    let mut s = String::with_capacity(80);
    let _ = write!(
        s,
        r#""usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{}}}"#,
        prompt + completion
    );
    buf.put_slice(s.as_bytes());
}

/// The whole non-streaming `chat.completion` body, its content made of `tokens`. Each token
/// is written once, straight into a buffer sized for all of them (tokens are plain ASCII and
/// need no escaping), so even an answer of `MAX_TOKENS` is one linear pass and one allocation.
pub(crate) fn completion_body(scenario: &Scenario, created: u64, tokens: Tokens) -> Bytes {
    let env = envelope(scenario, "chat.completion", created);
    let mut buf = BytesMut::with_capacity(env.len() + tokens.len() * LONGEST_TOKEN + 256);
    buf.put_u8(b'{');
    buf.put_slice(env.as_bytes());
    buf.put_slice(br#","choices":[{"index":0,"message":{"role":"assistant","content":""#);
    for token in tokens {
        buf.put_slice(token.as_bytes());
    }
    buf.put_slice(br#""},"logprobs":null,"finish_reason":""#);
    buf.put_slice(scenario.finish.as_str().as_bytes());
    buf.put_slice(br#""}],"#);
    put_usage(&mut buf, scenario.prompt_tokens, scenario.tokens as u64);
    buf.put_u8(b'}');
    buf.freeze()
}

/// OpenAI's error shape: `{"error":{"message","type","code"}}`.
pub(crate) fn error_body(message: &str, kind: &str, code: Option<&str>) -> Bytes {
    let body = json!({"error": {"message": message, "type": kind, "code": code}});
    Bytes::from(body.to_string())
}

/// `GET /v1/models`.
pub fn models_body() -> serde_json::Value {
    let data: Vec<_> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "sluice"}))
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{completion_text, generate};
    use crate::MockSettings;
    use serde_json::Value;

    fn scenario() -> Scenario {
        Scenario::parse(
            &MockSettings::default(),
            &http::HeaderMap::new(),
            br#"{"model":"m\"x","messages":[{"role":"user","content":"hi there"}]}"#,
        )
        .unwrap()
    }

    fn event_json(buf: &[u8]) -> Value {
        let s = std::str::from_utf8(buf).unwrap();
        let data = s
            .strip_prefix("data: ")
            .unwrap()
            .strip_suffix("\n\n")
            .unwrap();
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn chunk_events_are_valid_json() {
        let sc = scenario();
        let enc = ChunkEncoder::new(&sc, 1234);
        let mut buf = BytesMut::new();
        enc.role(&mut buf);
        let v = event_json(&buf);
        assert_eq!(v["id"], sc.id());
        assert_eq!(v["model"], "m\"x");
        assert_eq!(v["created"], 1234);
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["system_fingerprint"], FINGERPRINT);
        assert_eq!(v["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(v["choices"][0]["delta"]["content"], "");
        assert!(v["choices"][0]["finish_reason"].is_null());
        assert!(v["choices"][0]["logprobs"].is_null());

        buf.clear();
        enc.content(&mut buf, " word");
        let v = event_json(&buf);
        assert_eq!(v["choices"][0]["delta"], json!({"content": " word"}));

        buf.clear();
        enc.finish(&mut buf, Finish::Length);
        let v = event_json(&buf);
        assert_eq!(v["choices"][0]["delta"], json!({}));
        assert_eq!(v["choices"][0]["finish_reason"], "length");

        buf.clear();
        enc.usage(&mut buf, 3, 4);
        let v = event_json(&buf);
        assert_eq!(v["choices"], json!([]));
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens":3,"completion_tokens":4,"total_tokens":7})
        );
    }

    #[test]
    fn completion_body_is_valid_json() {
        let sc = scenario();
        let body = completion_body(&sc, 5, generate(sc.seed, sc.tokens));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            completion_text(sc.seed, sc.tokens)
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["prompt_tokens"], 6);
        assert_eq!(v["usage"]["completion_tokens"], 16);
        assert_eq!(v["usage"]["total_tokens"], 22);
    }
}
