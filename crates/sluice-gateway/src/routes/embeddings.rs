//! `POST /v1/embeddings`: read like a chat request (JSON content type, body size and time
//! limits, OpenAI's 400 for a body that is not an embeddings request), then served by
//! `dispatch::embeddings`.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use sluice_openai::EmbeddingsRequest;
use tokio::time::Instant;

use crate::dispatch::{self, RequestCtx};
use crate::error::ApiError;
use crate::metrics::Refused;
use crate::routes::chat::{is_json, read_body};
use crate::state::AppState;

pub async fn embeddings(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    if !is_json(&parts.headers) {
        return ctx.refuse(
            &app,
            Refused::BadRequest,
            "-",
            ApiError::not_json().into_response(),
        );
    }
    let server = &app.config().server;
    let read = read_body(body, app.config().max_body, server.body_timeout).await;
    let request = match read
        .and_then(|raw| EmbeddingsRequest::parse(raw).map_err(|e| ApiError::bad_request(e.0)))
    {
        Ok(r) => r,
        Err(e) => return ctx.refuse(&app, Refused::BadRequest, "-", e.into_response()),
    };
    dispatch::embeddings(&app, ctx, request).await
}
