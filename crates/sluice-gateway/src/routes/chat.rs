//! `POST /v1/chat/completions`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_openai::ChatRequest;
use tokio::time::Instant;

use crate::dispatch::{self, RequestCtx};
use crate::error::ApiError;
use crate::format::ClientFormat;
use crate::metrics::Refused;
use crate::state::AppState;

pub async fn chat_completions(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    let raw = match read_json(&app, &ctx, &parts, body).await {
        Ok(raw) => raw,
        Err(refused) => return refused,
    };
    let chat = match ChatRequest::parse(raw) {
        Ok(c) => c,
        Err(e) => {
            let res = ApiError::bad_request(e.0).into_response();
            return ctx.refuse(&app, Refused::BadRequest, "-", res);
        }
    };
    let format = ClientFormat::ChatCompletions {
        include_usage: chat.include_usage,
    };
    dispatch::chat(&app, ctx, chat, format).await
}

/// The body of a POST every `/v1/*` API route reads the same way: JSON ([`is_json`], else 415),
/// within the size and time limits ([`read_body`]); a refusal is recorded and returned as the
/// response.
pub async fn read_json(
    app: &AppState,
    ctx: &RequestCtx,
    parts: &Parts,
    body: Body,
) -> Result<Bytes, Response> {
    if !is_json(&parts.headers) {
        let res = ApiError::not_json().into_response();
        return Err(ctx.refuse(app, Refused::BadRequest, "-", res));
    }
    let server = &app.config().server;
    read_body(body, app.config().max_body, server.body_timeout)
        .await
        .map_err(|e| ctx.refuse(app, Refused::BadRequest, "-", e.into_response()))
}

/// Whether a POST may be read as JSON: it says `application/json` (or a `+json` type, with any
/// parameters), or says nothing (as some HTTP clients do). Any other type is refused with 415:
/// a page on another site can send a `text/plain` or form body to any address without a CORS
/// preflight — browsers always label those — and must not spend the gateway's provider keys
/// that way.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the whole body: more than `limit` bytes is 413, a body that does not arrive within
/// `timeout` is 408.
pub async fn read_body(
    body: Body,
    limit: u64,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit_usize)).await;
    match read {
        Err(_) => Err(ApiError::body_timeout(timeout)),
        Ok(Ok(b)) => Ok(b),
        Ok(Err(err)) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                Err(ApiError::body_too_large(limit))
            } else {
                Err(ApiError::bad_request(format!(
                    "could not read the request body: {err}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_bodies_are_taken() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/vnd.api+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(is_json(&HeaderMap::new()));
    }
}
