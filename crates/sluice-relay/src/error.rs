//! What can go wrong with one stream, from connecting to the provider to the last byte, and how
//! each failure is described to a client (HTTP status before the stream starts, an error event
//! after) and to metrics.

use std::time::Duration;

use serde_json::{Map, Value};

/// An error as a provider described it, kept verbatim where it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderErrorBody {
    pub message: String,
    /// The provider's `type`, if it gave one.
    pub error_type: Option<String>,
    /// The provider's `code`, as given (a string or a number).
    pub code: Value,
    /// Any other fields of the provider's error object, relayed unchanged.
    pub extra: Map<String, Value>,
}

impl ProviderErrorBody {
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
                ProviderErrorBody {
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

    /// An error whose only information is a text (a non-JSON error body or event).
    pub fn from_message(message: String) -> Self {
        ProviderErrorBody {
            message,
            error_type: None,
            code: Value::Null,
            extra: Map::new(),
        }
    }

    /// The HTTP status the provider put in its error object (`status_code`, as Groq does).
    fn status_hint(&self) -> Option<u16> {
        self.extra
            .get("status_code")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .or_else(|| self.code.as_u64().and_then(|s| u16::try_from(s).ok()))
            .filter(|s| (400..600).contains(s))
    }
}

/// Why a stream did not complete normally.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error("could not reach the provider: {0}")]
    Connect(String),
    #[error("provider answered HTTP {status}: {}", .body.message)]
    ProviderStatus {
        status: u16,
        body: Box<ProviderErrorBody>,
        /// The provider's `Retry-After`, if any (for retries and the client's 429).
        retry_after: Option<Duration>,
    },
    #[error("{}", .0.message)]
    ProviderEvent(Box<ProviderErrorBody>),
    #[error("the provider sent no first token within {}", humanize(*.0))]
    FirstTokenTimeout(Duration),
    #[error("the provider sent nothing for {}", humanize(*.0))]
    IdleTimeout(Duration),
    #[error("the request exceeded its total time limit of {}", humanize(*.0))]
    TotalTimeout(Duration),
    #[error("the provider connection broke: {0}")]
    Transport(String),
    #[error("the provider ended the stream before it finished")]
    PrematureEnd,
    #[error("the provider sent invalid data: {0}")]
    Protocol(String),
    #[error("the client accepted no data for {}", humanize(*.0))]
    SlowClient(Duration),
    #[error("the gateway is shutting down")]
    Shutdown,
}

fn humanize(d: Duration) -> String {
    if d.as_millis() < 1000 || d.subsec_millis() != 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

impl StreamError {
    /// The status a client gets when this happens before the stream has started.
    pub fn http_status(&self) -> u16 {
        match self {
            StreamError::ProviderStatus { status, .. } => match *status {
                // The client's request was at fault: let it see that.
                400 | 404 | 413 | 422 => *status,
                429 => 429,
                408 | 504 => 504,
                // The gateway's own credentials or anything else: a provider problem.
                _ => 502,
            },
            StreamError::ProviderEvent(body) => body
                .status_hint()
                .filter(|s| matches!(s, 400 | 404 | 413 | 422 | 429))
                .unwrap_or(502),
            StreamError::FirstTokenTimeout(_)
            | StreamError::IdleTimeout(_)
            | StreamError::TotalTimeout(_) => 504,
            StreamError::SlowClient(_) => 408,
            StreamError::Shutdown => 503,
            StreamError::Connect(_)
            | StreamError::Transport(_)
            | StreamError::PrematureEnd
            | StreamError::Protocol(_) => 502,
        }
    }

    /// A short, bounded label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            StreamError::Connect(_) => "connect",
            StreamError::ProviderStatus { status: 429, .. } => "rate_limited",
            StreamError::ProviderStatus { status, .. } if *status >= 500 => "provider_5xx",
            StreamError::ProviderStatus { .. } => "provider_4xx",
            StreamError::ProviderEvent(_) => "provider_error_event",
            StreamError::FirstTokenTimeout(_) => "first_token_timeout",
            StreamError::IdleTimeout(_) => "idle_timeout",
            StreamError::TotalTimeout(_) => "total_timeout",
            StreamError::Transport(_) => "transport",
            StreamError::PrematureEnd => "premature_end",
            StreamError::Protocol(_) => "protocol",
            StreamError::SlowClient(_) => "slow_client",
            StreamError::Shutdown => "shutdown",
        }
    }

    /// Whether another attempt (at this or the next provider) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            StreamError::Connect(_) | StreamError::FirstTokenTimeout(_) => true,
            StreamError::ProviderStatus { status, .. } => {
                matches!(*status, 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// OpenAI's error shape: `{"error":{"message","type","code"}}`. A provider's own error keeps
    /// its message, type and code verbatim, and its other fields.
    pub fn to_json(&self) -> Value {
        let (error_type, code, extra) = match self {
            StreamError::ProviderStatus { body, .. } | StreamError::ProviderEvent(body) => (
                body.error_type
                    .clone()
                    .unwrap_or_else(|| "upstream_error".to_owned()),
                body.code.clone(),
                Some(&body.extra),
            ),
            StreamError::FirstTokenTimeout(_)
            | StreamError::IdleTimeout(_)
            | StreamError::TotalTimeout(_) => {
                ("timeout".to_owned(), Value::from(self.kind()), None)
            }
            StreamError::SlowClient(_) => {
                ("slow_client".to_owned(), Value::from(self.kind()), None)
            }
            StreamError::Shutdown => ("server_error".to_owned(), Value::from(self.kind()), None),
            _ => ("upstream_error".to_owned(), Value::from(self.kind()), None),
        };
        let message = match self {
            StreamError::ProviderEvent(body) | StreamError::ProviderStatus { body, .. } => {
                body.message.clone()
            }
            other => other.to_string(),
        };
        let mut obj = Map::new();
        obj.insert("message".into(), Value::String(message));
        obj.insert("type".into(), Value::String(error_type));
        obj.insert("code".into(), code);
        if let Some(extra) = extra {
            for (k, v) in extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
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
    fn provider_error_keeps_message_type_code_and_extras() {
        let body = ProviderErrorBody::from_json(&json!({"error": {
            "message": "Tool call validation failed", "type": "invalid_request_error",
            "code": "tool_use_failed", "status_code": 400}}));
        let err = StreamError::ProviderEvent(Box::new(body));
        assert_eq!(err.http_status(), 400);
        assert_eq!(
            err.to_json(),
            json!({"error": {"message": "Tool call validation failed",
                "type": "invalid_request_error", "code": "tool_use_failed", "status_code": 400}})
        );
    }

    #[test]
    fn provider_error_without_type_is_upstream_error() {
        let err = StreamError::ProviderEvent(Box::new(ProviderErrorBody::from_json(
            &json!({"error": {"message": "boom"}}),
        )));
        assert_eq!(err.to_json()["error"]["type"], "upstream_error");
        assert_eq!(err.http_status(), 502);
    }

    #[test]
    fn statuses() {
        let status = |s| StreamError::ProviderStatus {
            status: s,
            body: Box::new(ProviderErrorBody::from_message("x".into())),
            retry_after: None,
        };
        assert_eq!(status(429).http_status(), 429);
        assert_eq!(status(500).http_status(), 502);
        assert_eq!(status(401).http_status(), 502);
        assert_eq!(status(400).http_status(), 400);
        assert_eq!(
            StreamError::IdleTimeout(Duration::from_secs(1)).http_status(),
            504
        );
        assert_eq!(StreamError::Connect("refused".into()).http_status(), 502);
        assert!(status(503).retryable());
        assert!(!status(400).retryable());
    }
}
