//! Why a Responses request cannot be translated at all.

use std::fmt;

use serde_json::Value;
use sluice_openai::ErrorBody;

/// A Responses request the gateway answers with a 400 in OpenAI's shape
/// ([`InboundError::to_error_body`]): malformed (not JSON, no `model` or `input`, a field of
/// the wrong type), or asking for state the gateway does not keep. A field that is well
/// formed but has no chat-completions counterpart is never an error: it is dropped and named
/// in [`Inbound::dropped`](super::Inbound::dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundError {
    pub kind: InboundErrorKind,
    /// The field at fault as a path (`input[2].call_id`); empty for the body as a whole.
    pub param: String,
    /// One sentence naming the field and what is wrong with it.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundErrorKind {
    /// The body is not a Responses request.
    Malformed,
    /// The request continues a stored response or conversation (`previous_response_id`,
    /// `conversation`): only a provider that serves Responses natively can answer it.
    Stateful,
}

impl InboundError {
    pub(crate) fn malformed(param: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::new(InboundErrorKind::Malformed, param.into(), message)
    }

    pub(crate) fn stateful(param: &str) -> Self {
        Self::new(
            InboundErrorKind::Stateful,
            param.to_owned(),
            "continues a stored response, which this gateway does not keep; send the whole \
             conversation in `input` (with `store: false`), or use a route to a provider that \
             serves the Responses API",
        )
    }

    fn new(kind: InboundErrorKind, param: String, message: impl fmt::Display) -> Self {
        let message = if param.is_empty() {
            message.to_string()
        } else {
            format!("`{param}`: {message}")
        };
        InboundError {
            kind,
            param,
            message,
        }
    }

    /// OpenAI's 400 body: `{"error":{"message","type":"invalid_request_error","code":null,
    /// "param"}}`.
    pub fn to_error_body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(self.message.clone(), "invalid_request_error", Value::Null);
        let param = match self.param.as_str() {
            "" => Value::Null,
            param => Value::String(param.to_owned()),
        };
        body.extra.insert("param".into(), param);
        body
    }
}

impl fmt::Display for InboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InboundError {}

/// The names of what a translation could not carry (fields, tool types, item types), each
/// once, for the gateway's metric: low-cardinality names such as `include`,
/// `tools.web_search` or `input.reasoning.encrypted_content`, never a value from the request.
#[derive(Debug, Default)]
pub(crate) struct Dropped(pub Vec<String>);

impl Dropped {
    pub fn add(&mut self, name: impl AsRef<str>) {
        let name = name.as_ref();
        if !self.0.iter().any(|n| n == name) {
            self.0.push(name.to_owned());
        }
    }
}
