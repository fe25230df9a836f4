//! The client's chat request: the few fields the gateway routes on are read, everything else
//! is kept byte for byte and passed to the provider untouched.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::rewrite::set_top_level;

/// A request the gateway cannot take: the message says what is wrong with it, for a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

fn bad(message: impl Into<String>) -> RequestError {
    RequestError(message.into())
}

/// A validated chat-completions request.
#[derive(Debug)]
pub struct ChatRequest {
    /// The body as the client sent it.
    raw: Bytes,
    pub model: String,
    pub stream: bool,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The client's `stream_options` as it wrote them, to add `include_usage` to.
    stream_options: Option<Bytes>,
    /// The output the client allows: `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct View<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<Value>,
    #[serde(borrow, default)]
    stream_options: Option<&'a RawValue>,
    #[serde(default)]
    max_tokens: Option<Value>,
    #[serde(default)]
    max_completion_tokens: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Reads a request body as `T`: only a JSON object in UTF-8 is a request.
pub(crate) fn read_object<'a, T: Deserialize<'a>>(raw: &'a [u8]) -> Result<T, RequestError> {
    // serde would also read a struct from a JSON array; only an object is a request.
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bad("The request body is not a valid JSON object."));
    }
    // JSON is UTF-8, but serde skips the fields it does not read without checking them;
    // a body that is not would only fail later, when it is rewritten for the provider.
    if std::str::from_utf8(raw).is_err() {
        return Err(bad(
            "The request body is not a valid JSON object: it is not UTF-8.",
        ));
    }
    serde_json::from_slice(raw)
        .map_err(|e| bad(format!("The request body is not a valid JSON object: {e}")))
}

/// The `model` field: a non-empty string.
pub(crate) fn read_model(model: Option<&RawValue>) -> Result<String, RequestError> {
    match model.map(|m| serde_json::from_str::<Value>(m.get())) {
        None => Err(bad("The `model` field is required.")),
        Some(Ok(Value::String(s))) if !s.is_empty() => Ok(s),
        Some(_) => Err(bad("The `model` field must be a non-empty string.")),
    }
}

/// `body` with its top-level `model` set to `model`, every other byte kept.
pub(crate) fn with_model(body: &[u8], model: &str) -> Result<Vec<u8>, RequestError> {
    let model = Value::String(model.to_owned()).to_string();
    set_top_level(body, "model", Some(&model))
        .map_err(|e| bad(format!("rewriting the request: {e}")))
}

impl ChatRequest {
    pub fn parse(raw: Bytes) -> Result<Self, RequestError> {
        let view: View<'_> = read_object(&raw)?;
        let model = read_model(view.model)?;
        match view.messages.map(|m| m.get().trim_start().starts_with('[')) {
            None => return Err(bad("The `messages` field is required.")),
            Some(false) => return Err(bad("The `messages` field must be an array.")),
            Some(true) => {}
        }
        let stream = match view.stream {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(bad("The `stream` field must be a boolean.")),
        };
        let (stream_options, include_usage) = match view.stream_options.map(RawValue::get) {
            None | Some("null") => (None, false),
            Some(raw) if raw.trim_start().starts_with('{') => {
                let options: StreamOptions = serde_json::from_str(raw)
                    .map_err(|e| bad(format!("The `stream_options` field is invalid: {e}")))?;
                let include_usage = options.include_usage.unwrap_or(false);
                (Some(Bytes::copy_from_slice(raw.as_bytes())), include_usage)
            }
            Some(_) => return Err(bad("The `stream_options` field must be an object.")),
        };
        // Read leniently: a malformed value is the provider's to refuse.
        let max_tokens = view
            .max_completion_tokens
            .and_then(|v| v.as_u64())
            .or_else(|| view.max_tokens.and_then(|v| v.as_u64()));
        Ok(ChatRequest {
            raw,
            model,
            stream,
            include_usage,
            stream_options,
            max_tokens,
        })
    }

    /// The body as the client sent it (for translating it to a native provider's API).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// A request built by the gateway itself (the seed's `/stream/chat`).
    pub fn from_message(model: &str, message: &str) -> Self {
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": message}],
            "stream": true,
        });
        ChatRequest {
            raw: Bytes::from(body.to_string()),
            model: model.to_owned(),
            stream: true,
            include_usage: false,
            stream_options: None,
            max_tokens: None,
        }
    }

    /// An upper estimate of the prompt's tokens, without a tokenizer (for reserving a key's
    /// limits before the provider counts): a token per three bytes of message text (English
    /// runs about four bytes a token, Japanese or Chinese about three), plus OpenAI's framing of
    /// four tokens a message and three to prime the reply. Image parts count nothing here; the
    /// provider's usage settles the difference.
    pub fn prompt_estimate(&self) -> u64 {
        #[derive(Deserialize)]
        struct Body<'a> {
            #[serde(borrow, default)]
            messages: Vec<Message<'a>>,
        }
        #[derive(Deserialize)]
        struct Message<'a> {
            #[serde(borrow, default)]
            content: Option<Content<'a>>,
            #[serde(borrow, default)]
            name: Option<std::borrow::Cow<'a, str>>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Content<'a> {
            Text(#[serde(borrow)] std::borrow::Cow<'a, str>),
            Parts(#[serde(borrow)] Vec<Part<'a>>),
            Other(serde::de::IgnoredAny),
        }
        #[derive(Deserialize)]
        struct Part<'a> {
            #[serde(borrow, default)]
            text: Option<std::borrow::Cow<'a, str>>,
        }
        let Ok(body) = serde_json::from_slice::<Body<'_>>(&self.raw) else {
            // Parsed once already; a body that will not parse again counts by its size.
            return (self.raw.len() as u64).div_ceil(3);
        };
        let mut bytes = 0usize;
        for m in &body.messages {
            bytes += m.name.as_ref().map_or(0, |n| n.len());
            match &m.content {
                Some(Content::Text(t)) => bytes += t.len(),
                Some(Content::Parts(parts)) => {
                    bytes += parts
                        .iter()
                        .filter_map(|p| p.text.as_ref())
                        .map(|t| t.len())
                        .sum::<usize>()
                }
                Some(Content::Other(_)) | None => {}
            }
        }
        (bytes as u64).div_ceil(3) + 4 * body.messages.len() as u64 + 3
    }

    /// The body for a provider: the provider's model name, and for streams
    /// `stream_options.include_usage = true`, so every request can be billed. Nothing else
    /// changes.
    /// It fails only if the request's own bytes, already parsed once, cannot be rewritten.
    pub fn body_for(&self, provider_model: &str) -> Result<Bytes, RequestError> {
        let to_err = |e: serde_json::Error| bad(format!("rewriting the request: {e}"));
        let mut body = self.raw.to_vec();
        if provider_model != self.model {
            body = with_model(&body, provider_model)?;
        }
        if self.stream && !self.include_usage {
            let options = match &self.stream_options {
                Some(raw) => set_top_level(raw, "include_usage", Some("true")).map_err(to_err)?,
                None => br#"{"include_usage":true}"#.to_vec(),
            };
            let options = String::from_utf8(options).map_err(|e| bad(e.to_string()))?;
            body = set_top_level(&body, "stream_options", Some(&options)).map_err(to_err)?;
        }
        Ok(Bytes::from(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ChatRequest, RequestError> {
        ChatRequest::parse(Bytes::from(s.to_owned()))
    }

    #[test]
    fn reads_routing_fields() {
        let r = parse(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert_eq!(
            (r.model.as_str(), r.stream, r.include_usage),
            ("m", true, true)
        );
    }

    #[test]
    fn rejects_bad_requests_with_clear_messages() {
        for (body, needle) in [
            ("not json", "not a valid JSON"),
            ("[1]", "not a valid JSON"),
            (r#"{"messages":[]}"#, "`model` field is required"),
            (r#"{"model":3,"messages":[]}"#, "non-empty string"),
            (r#"{"model":"m"}"#, "`messages` field is required"),
            (r#"{"model":"m","messages":"hi"}"#, "must be an array"),
            (r#"{"model":"m","messages":[],"stream":"yes"}"#, "boolean"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.0.contains(needle), "{body}: {err}");
        }
        // A body that is not UTF-8 is refused up front, even where only a field the gateway
        // does not read holds the bad bytes.
        let body = b"{\"model\":\"m\",\"messages\":[],\"stream\":true,\"x\":\"\xff\"}";
        let err = ChatRequest::parse(Bytes::from_static(body)).unwrap_err();
        assert!(err.0.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn provider_body_keeps_unknown_fields_verbatim() {
        let r = parse(r#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"temperature":0.70,"x_custom":{"a":[1,2]},"stream":true,"stream_options":{"foo":1e2}}"#).unwrap();
        let body = String::from_utf8(r.body_for("mock-1").unwrap().to_vec()).unwrap();
        assert_eq!(
            body,
            r#"{"model":"mock-1","messages":[{"role":"user","content":"hi"}],"temperature":0.70,"x_custom":{"a":[1,2]},"stream":true,"stream_options":{"foo":1e2,"include_usage":true}}"#
        );
    }

    #[test]
    fn reads_the_output_allowance_and_estimates_the_prompt() {
        let r = parse(r#"{"model":"m","messages":[{"role":"user","content":"hello world!"}],"max_tokens":50}"#).unwrap();
        assert_eq!(r.max_tokens, Some(50));
        // 12 bytes of text: 4 tokens, 4 for the message, 3 for the reply.
        assert_eq!(r.prompt_estimate(), 11);
        let r = parse(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"abc"},{"type":"image_url","image_url":{"url":"data:x"}}]}],"max_tokens":50,"max_completion_tokens":70}"#).unwrap();
        assert_eq!(r.max_tokens, Some(70));
        assert_eq!(r.prompt_estimate(), 1 + 4 + 3);
        let r = parse(r#"{"model":"m","messages":[],"max_tokens":"lots"}"#).unwrap();
        assert_eq!(r.max_tokens, None);
        assert_eq!(r.prompt_estimate(), 3);
    }

    #[test]
    fn non_streaming_body_is_untouched_without_alias() {
        let raw = r#"{"model":"m","messages":[],"n":2}"#;
        let r = parse(raw).unwrap();
        assert_eq!(r.body_for("m").unwrap(), raw.as_bytes());
    }
}
