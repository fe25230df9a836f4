//! `GET /stream/chat?message=M[&model=X]`: the seed's simple endpoint, for `EventSource`.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
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

pub async fn stream_chat(
    State(app): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (parts, _) = req.into_parts();
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
    let refused = |app: &AppState| {
        Ending::refused(Refused::BadRequest, id.as_str(), started, "-", 400)
            .with_key(caller.key_id())
            .record(app)
    };
    let Some(message) = params.get("message").filter(|m| !m.is_empty()) else {
        refused(&app);
        return ApiError::bad_request("The `message` query parameter is required.").into_response();
    };
    let model = match params.get("model") {
        Some(m) => m.clone(),
        None => match app.config().routes.first() {
            Some(route) => route.model.clone(),
            None => {
                refused(&app);
                return ApiError::bad_request("No model is routed by this gateway.")
                    .into_response();
            }
        },
    };
    let ctx = RequestCtx {
        id,
        started,
        client_headers: parts.headers,
        caller,
    };
    let chat = ChatRequest::from_message(&model, message);
    dispatch::chat(&app, ctx, chat, ClientFormat::SimpleChat).await
}
