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
use crate::routes::chat::read_json;
use crate::state::AppState;

pub async fn embeddings(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    let raw = match read_json(&app, &ctx, &parts, body).await {
        Ok(raw) => raw,
        Err(refused) => return refused,
    };
    let request = match EmbeddingsRequest::parse(raw) {
        Ok(r) => r,
        Err(e) => {
            let res = ApiError::bad_request(e.0).into_response();
            return ctx.refuse(&app, Refused::BadRequest, "-", res);
        }
    };
    dispatch::embeddings(&app, ctx, request).await
}
