//! `POST /v1/chat/completions`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_openai::ChatRequest;
use tokio::time::Instant;

use crate::auth::Caller;
use crate::dispatch::{self, RequestCtx};
use crate::ending::Ending;
use crate::error::ApiError;
use crate::format::ClientFormat;
use crate::headers::RequestId;
use crate::metrics::Refused;
use crate::state::AppState;

pub async fn chat_completions(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let id = parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(|| RequestId(axum::http::HeaderValue::from_static("-")));
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Open);
    let chat = match read_body(body, app.config().max_body)
        .await
        .and_then(|raw| ChatRequest::parse(raw).map_err(|e| ApiError::bad_request(e.0)))
    {
        Ok(c) => c,
        Err(e) => {
            Ending::refused(
                Refused::BadRequest,
                id.as_str(),
                started,
                "-",
                e.status.as_u16(),
            )
            .with_key(caller.key_id())
            .record(&app);
            return e.into_response();
        }
    };
    let format = ClientFormat::ChatCompletions {
        include_usage: chat.include_usage,
    };
    let ctx = RequestCtx {
        id,
        started,
        client_headers: parts.headers,
        caller,
    };
    dispatch::chat(&app, ctx, chat, format).await
}

/// Reads the whole body, refusing more than `limit` bytes with 413.
async fn read_body(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match axum::body::to_bytes(body, limit_usize).await {
        Ok(b) => Ok(b),
        Err(err) => {
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
