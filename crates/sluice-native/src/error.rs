//! The crate's errors: a client request one provider cannot take (a 400 for the client), and
//! provider output that cannot be read (the provider's fault, never the client's).

use std::fmt;

use serde_json::Value;
use sluice_openai::ErrorBody;

/// A client request that cannot be translated for the provider without changing what it asks:
/// a field the provider has no equivalent for, or a value it cannot take. `param` names the
/// field (`messages[2].content[0].image_url.url`, `logit_bias`), as OpenAI's own 400s do, and
/// the message says why; the gateway answers 400 with [`TranslateError::to_error_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError {
    /// The request field at fault, as a path (`tools[0].function.strict`); empty when the
    /// body as a whole is at fault (not JSON), written then as `param: null`.
    pub param: String,
    /// One sentence naming the field and what is wrong with it.
    pub message: String,
}

impl TranslateError {
    pub(crate) fn new(param: impl Into<String>, message: impl fmt::Display) -> Self {
        let param = param.into();
        let message = if param.is_empty() {
            message.to_string()
        } else {
            format!("`{param}`: {message}")
        };
        TranslateError { param, message }
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

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TranslateError {}

/// Provider output that is not what its API publishes (not JSON, a required field missing or of
/// the wrong type, a stream cut before its end): the provider's fault, a `protocol` failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    pub(crate) fn json(what: &str, err: serde_json::Error) -> Self {
        ProtocolError(format!("unreadable {what}: {err}"))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Why a whole (non-streamed) answer could not be translated.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseError {
    /// The body is not the provider's published answer.
    Protocol(ProtocolError),
    /// The body is the provider's error object (sent with a success status).
    Provider(Box<ErrorBody>),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Protocol(err) => err.fmt(f),
            ResponseError::Provider(body) => write!(f, "provider error: {}", body.message),
        }
    }
}

impl std::error::Error for ResponseError {}

impl From<ProtocolError> for ResponseError {
    fn from(err: ProtocolError) -> Self {
        ResponseError::Protocol(err)
    }
}
