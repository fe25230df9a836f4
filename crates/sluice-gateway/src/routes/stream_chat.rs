//! `GET /stream/chat?message=M[&model=X]`: the seed's simple endpoint, for `EventSource`.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use sluice_openai::ChatRequest;
use tokio::time::Instant;

use crate::dispatch::{self, RequestCtx};
use crate::error::ApiError;
use crate::format::ClientFormat;
use crate::metrics::Refused;
use crate::state::AppState;

pub async fn stream_chat(
    State(app): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (parts, _) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    let bad = |message: &str| ApiError::bad_request(message).into_response();
    let Some(message) = params.get("message").filter(|m| !m.is_empty()) else {
        let res = bad("The `message` query parameter is required.");
        return ctx.refuse(&app, Refused::BadRequest, "-", res);
    };
    let model = match params.get("model") {
        Some(m) => m.clone(),
        None => match app.config().routes.first() {
            Some(route) => route.model.clone(),
            None => {
                let res = bad("No model is routed by this gateway.");
                return ctx.refuse(&app, Refused::BadRequest, "-", res);
            }
        },
    };
    let chat = ChatRequest::from_message(&model, message);
    dispatch::chat(&app, ctx, chat, ClientFormat::SimpleChat).await
}
