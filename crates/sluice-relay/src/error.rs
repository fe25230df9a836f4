//! What can go wrong with one request to a provider, from connecting to the last byte, and how
//! each failure is described to a client (HTTP status before the stream starts, an error event
//! after, both from [`StreamError::body`]) and to metrics ([`StreamError::kind`]).

use std::time::Duration;

use serde_json::Value;
use sluice_openai::ErrorBody;
use sluice_types::StreamErrorKind;

/// Why a stream did not complete normally.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error("could not reach the provider: {0}")]
    Connect(String),
    #[error("provider answered HTTP {status}: {}", .body.message)]
    ProviderStatus {
        status: u16,
        body: Box<ErrorBody>,
        /// The provider's `Retry-After`, if any (for retries and the client's 429).
        retry_after: Option<Duration>,
    },
    #[error("{}", .0.message)]
    ProviderEvent(Box<ErrorBody>),
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
    #[error("the gateway is out of resources to reach the provider: {0}")]
    GatewayOverloaded(String),
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
            StreamError::Shutdown | StreamError::GatewayOverloaded(_) => 503,
            StreamError::Connect(_)
            | StreamError::Transport(_)
            | StreamError::PrematureEnd
            | StreamError::Protocol(_) => 502,
        }
    }

    /// Its kind: a short, bounded label for metrics, logs and the ledger.
    pub fn kind(&self) -> StreamErrorKind {
        match self {
            StreamError::Connect(_) => StreamErrorKind::Connect,
            StreamError::ProviderStatus { status: 429, .. } => StreamErrorKind::RateLimited,
            StreamError::ProviderStatus { status, .. } if *status >= 500 => {
                StreamErrorKind::Provider5xx
            }
            StreamError::ProviderStatus { .. } => StreamErrorKind::Provider4xx,
            StreamError::ProviderEvent(_) => StreamErrorKind::ProviderErrorEvent,
            StreamError::FirstTokenTimeout(_) => StreamErrorKind::FirstTokenTimeout,
            StreamError::IdleTimeout(_) => StreamErrorKind::IdleTimeout,
            StreamError::TotalTimeout(_) => StreamErrorKind::TotalTimeout,
            StreamError::Transport(_) => StreamErrorKind::Transport,
            StreamError::PrematureEnd => StreamErrorKind::PrematureEnd,
            StreamError::Protocol(_) => StreamErrorKind::Protocol,
            StreamError::SlowClient(_) => StreamErrorKind::SlowClient,
            StreamError::Shutdown => StreamErrorKind::Shutdown,
            StreamError::GatewayOverloaded(_) => StreamErrorKind::GatewayOverloaded,
        }
    }

    /// The provider's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            StreamError::ProviderStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether another attempt (at this or the next provider) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            StreamError::Connect(_) | StreamError::FirstTokenTimeout(_) => true,
            StreamError::ProviderStatus { status, .. } => retryable_status(*status),
            // An error event before anything reached the client (Anthropic sends an overload
            // as `event: error` after a 200) is retried when it says the same as those statuses.
            StreamError::ProviderEvent(body) => body.status_hint().is_some_and(retryable_status),
            _ => false,
        }
    }

    /// How the error is told to a client: a provider's own error keeps its message, type,
    /// code and other fields verbatim; the gateway's errors name their kind as the code.
    pub fn body(&self) -> ErrorBody {
        let code = || Value::from(self.kind().as_str());
        match self {
            StreamError::ProviderStatus { body, .. } | StreamError::ProviderEvent(body) => {
                (**body).clone()
            }
            StreamError::FirstTokenTimeout(_)
            | StreamError::IdleTimeout(_)
            | StreamError::TotalTimeout(_) => ErrorBody::new(self.to_string(), "timeout", code()),
            StreamError::SlowClient(_) => ErrorBody::new(self.to_string(), "slow_client", code()),
            StreamError::Shutdown | StreamError::GatewayOverloaded(_) => {
                ErrorBody::new(self.to_string(), "server_error", code())
            }
            _ => ErrorBody::new(
                self.to_string(),
                sluice_openai::error::UPSTREAM_ERROR,
                code(),
            ),
        }
    }

    /// [`body`](Self::body) in OpenAI's error shape.
    pub fn to_json(&self) -> Value {
        self.body().to_json()
    }
}

/// The HTTP statuses another attempt may fix: rate limits, server errors, overloads (Anthropic's
/// 529).
fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 529)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provider_error_keeps_message_type_code_and_extras() {
        let body = ErrorBody::from_json(&json!({"error": {
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
    fn an_error_event_is_retried_when_it_says_overloaded_or_rate_limited() {
        let event = |error: serde_json::Value| {
            StreamError::ProviderEvent(Box::new(ErrorBody::from_json(&json!({ "error": error }))))
        };
        // Anthropic's overload as an event: the status rides in `status_code`.
        assert!(
            event(json!({"type": "overloaded_error", "message": "Overloaded",
            "status_code": 529}))
            .retryable()
        );
        // Gemini's: the status is the error's `code`.
        assert!(event(json!({"code": 503, "message": "x", "status": "UNAVAILABLE"})).retryable());
        assert!(!event(json!({"message": "bad", "status_code": 400})).retryable());
        assert!(!event(json!({"message": "no status at all"})).retryable());
    }

    #[test]
    fn provider_error_without_type_is_upstream_error() {
        let err = StreamError::ProviderEvent(Box::new(ErrorBody::from_json(
            &json!({"error": {"message": "boom"}}),
        )));
        assert_eq!(err.to_json()["error"]["type"], "upstream_error");
        assert_eq!(err.http_status(), 502);
    }

    #[test]
    fn statuses() {
        let status = |s| StreamError::ProviderStatus {
            status: s,
            body: Box::new(ErrorBody::from_message("x".into())),
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
