//! Error bodies: how providers describe a failure, and OpenAI's error shape
//! `{"error":{"message","type","code"}}` that clients get.

use serde_json::{Map, Value};

/// An error as OpenAI's shape carries it. A provider's own error keeps its message, type, code
/// and any other fields verbatim.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorBody {
    pub message: String,
    /// The error's `type`, if it has one (rendered as `upstream_error` when it has none).
    pub error_type: Option<String>,
    /// The error's `code`, as given (a string, a number or null).
    pub code: Value,
    /// Any other fields of the error object, relayed unchanged.
    pub extra: Map<String, Value>,
}

/// The `type` of a relayed provider error that named none.
pub const UPSTREAM_ERROR: &str = "upstream_error";

impl ErrorBody {
    /// Reads `{"error": {...}}`, `{"error": "text"}` or a bare error object.
    pub fn from_json(value: &Value) -> Self {
        let inner = value.get("error").unwrap_or(value);
        match inner {
            Value::Object(obj) => {
                let mut extra = obj.clone();
                let message = match extra.remove("message") {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => "provider reported an error".to_owned(),
                };
                let error_type = match extra.remove("type") {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                let code = extra.remove("code").unwrap_or(Value::Null);
                ErrorBody {
                    message,
                    error_type,
                    code,
                    extra,
                }
            }
            Value::String(s) => Self::from_message(s.clone()),
            other => Self::from_message(other.to_string()),
        }
    }

    /// The data of an upstream `event: error`, or of a chunk whose top-level `error` is set:
    /// its error object when it is JSON, its text otherwise.
    pub fn from_event_data(data: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(data) {
            Ok(value) => Self::from_json(&value),
            Err(_) => Self::from_message(String::from_utf8_lossy(data).into_owned()),
        }
    }

    /// An error whose only information is a text (a non-JSON error body or event).
    pub fn from_message(message: String) -> Self {
        ErrorBody {
            message,
            error_type: None,
            code: Value::Null,
            extra: Map::new(),
        }
    }

    /// An error of the gateway's own, with its type and code.
    pub fn new(message: String, error_type: &str, code: Value) -> Self {
        ErrorBody {
            message,
            error_type: Some(error_type.to_owned()),
            code,
            extra: Map::new(),
        }
    }

    /// The HTTP status the provider put in its error object (`status_code`, as Groq does, or
    /// a numeric `code`), if it is an error status.
    pub fn status_hint(&self) -> Option<u16> {
        self.extra
            .get("status_code")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .or_else(|| self.code.as_u64().and_then(|s| u16::try_from(s).ok()))
            .filter(|s| (400..600).contains(s))
    }

    /// OpenAI's error shape: `{"error":{"message","type","code",...extra}}`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("message".into(), Value::String(self.message.clone()));
        obj.insert(
            "type".into(),
            Value::String(
                self.error_type
                    .clone()
                    .unwrap_or_else(|| UPSTREAM_ERROR.to_owned()),
            ),
        );
        obj.insert("code".into(), self.code.clone());
        for (k, v) in &self.extra {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut root = Map::new();
        root.insert("error".into(), Value::Object(obj));
        Value::Object(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_message_type_code_and_extras() {
        let body = ErrorBody::from_json(&json!({"error": {
            "message": "Tool call validation failed", "type": "invalid_request_error",
            "code": "tool_use_failed", "status_code": 400}}));
        assert_eq!(body.status_hint(), Some(400));
        assert_eq!(
            body.to_json(),
            json!({"error": {"message": "Tool call validation failed",
                "type": "invalid_request_error", "code": "tool_use_failed", "status_code": 400}})
        );
    }

    #[test]
    fn without_type_is_upstream_error() {
        let body = ErrorBody::from_json(&json!({"error": {"message": "boom"}}));
        assert_eq!(body.to_json()["error"]["type"], "upstream_error");
        assert_eq!(body.status_hint(), None);
        let text = ErrorBody::from_event_data(b"overloaded, try later");
        assert_eq!(text.message, "overloaded, try later");
        assert_eq!(
            ErrorBody::from_json(&json!({"error": "plain"})).message,
            "plain"
        );
    }
}
