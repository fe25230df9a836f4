//! `ApiError`: the one place where a failure becomes an HTTP response, always in OpenAI's error
//! shape `{"error":{"message","type","code"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sluice_relay::StreamError;

/// A request-level failure, rendered before any stream starts.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub struct ApiError {
    pub status: StatusCode,
    /// The whole error document, `{"error":{"message","type","code"}}`; a provider's own error
    /// keeps its message, type and code as given.
    body: Box<Value>,
    /// Seconds the client should wait before retrying (a provider's `Retry-After`).
    retry_after: Option<u64>,
    /// The provider the failure came from, for `x-sluice-provider`.
    provider: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, error_type: &str, code: &str, message: String) -> Self {
        ApiError {
            status,
            body: Box::new(json!({"error": {
                "message": message,
                "type": error_type,
                "code": code,
            }})),
            retry_after: None,
            provider: None,
        }
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message.into(),
        )
    }

    /// An error of `status` with `body` as its document (`{"error":{…}}`).
    pub fn with_body(status: u16, body: sluice_openai::ErrorBody) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            body: Box::new(body.to_json()),
            retry_after: None,
            provider: None,
        }
    }

    /// A field the route's provider API has no equivalent for: OpenAI's 400 naming it in
    /// `param`.
    pub fn untranslatable(err: &sluice_native::TranslateError) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: Box::new(err.to_error_body().to_json()),
            retry_after: None,
            provider: None,
        }
    }

    /// No target of the model's route serves embeddings (only OpenAI-compatible and simulated
    /// providers do): OpenAI's 400 naming `model`.
    pub fn no_embeddings(model: &str) -> Self {
        let mut err = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "model_not_supported",
            format!(
                "The model `{model}` has no provider that serves embeddings: only OpenAI-compatible providers serve /v1/embeddings, and this route's providers are Anthropic or Gemini ones."
            ),
        );
        err.body["error"]["param"] = Value::from("model");
        err
    }

    pub fn unknown_model(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("The model `{model}` does not exist or is not routed by this gateway."),
        )
    }

    /// 415: a POST whose body is not declared JSON.
    pub fn not_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json).".to_owned(),
        )
    }

    /// 408: the request's body did not arrive within `[server] body_timeout`.
    pub fn body_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            format!(
                "The request body did not arrive within {} s.",
                limit.as_secs_f64()
            ),
        )
    }

    pub fn body_too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    }

    /// 404: no API key has this id.
    pub fn unknown_key(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "key_not_found",
            format!("No API key has the id `{id}`."),
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            "No such route.".to_owned(),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method_not_allowed",
            "This route does not accept that method.".to_owned(),
        )
    }

    /// 401: no key, or not a valid one.
    pub fn unauthorized(message: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            message.to_owned(),
        )
    }

    /// 403: a valid key that may not do this.
    pub fn forbidden(message: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "forbidden",
            message.to_owned(),
        )
    }

    /// 403: the key's model allow-list does not hold this model.
    pub fn model_not_allowed(model: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "model_not_allowed",
            format!("This API key may not use the model `{model}`."),
        )
    }

    /// 429: over the key's requests or tokens per minute (`which`: `rpm` or `tpm`).
    pub fn rate_limited(which: &str) -> Self {
        let what = if which == "tpm" {
            "tokens per minute"
        } else {
            "requests per minute"
        };
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            format!("Rate limit reached for this API key's {what}; retry after the time given in Retry-After."),
        )
    }

    /// 429: one request asks for more tokens than the key's minute allows.
    pub fn too_large_for_limit() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            "This request may use more tokens than this API key's tokens-per-minute limit \
             allows; lower max_tokens or the prompt."
                .to_owned(),
        )
    }

    /// 429: the key's budget for its current window is spent (or reserved by requests in
    /// flight).
    pub fn over_budget() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "insufficient_quota",
            "insufficient_quota",
            "This API key's budget for its current window is used up; it renews when the \
             window does (see Retry-After)."
                .to_owned(),
        )
    }

    /// 503: a part the gateway needs (the ledger, a limits store) is not answering.
    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            code,
            message.into(),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal_error",
            message.into(),
        )
    }

    /// A stream that failed before anything was sent: the status its kind calls for.
    pub fn from_stream(err: &StreamError, provider: &str) -> Self {
        let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
        let retry_after = match err {
            StreamError::ProviderStatus { retry_after, .. } => {
                retry_after.map(|d| d.as_secs().max(1))
            }
            _ => None,
        };
        ApiError {
            status,
            body: Box::new(err.to_json()),
            retry_after,
            provider: Some(provider.to_owned()),
        }
    }

    pub fn to_json(&self) -> &Value {
        &self.body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(*self.body)).into_response();
        let headers = res.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(p) = self
            .provider
            .as_deref()
            .and_then(|p| HeaderValue::from_str(p).ok())
        {
            headers.insert(crate::headers::PROVIDER, p);
        }
        res
    }
}
