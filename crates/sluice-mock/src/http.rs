//! The thin axum adapter: routes for `sluice mock-upstream`, delegating chat completions to
//! [`respond`](crate::respond).

use crate::encode::models_body;
use crate::{respond, MockResponse, MockSettings, Stats};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use std::sync::Arc;

/// Request bodies up to this size are accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

struct AppState {
    settings: MockSettings,
    stats: Stats,
}

/// `POST /v1/chat/completions`, `GET /v1/models`, `GET /stats`, `GET /healthz`.
pub fn router(settings: MockSettings, stats: Stats) -> Router {
    let state = Arc::new(AppState { settings, stats });
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(|| async { Json(models_body()) }))
        .route("/stats", get(stats_snapshot))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn stats_snapshot(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(state.stats.snapshot())
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mock = respond(&state.settings, &state.stats, &headers, &body);
    into_response(mock).await
}

/// Streams keep their headers immediate (data follows after ttft); a successful
/// non-streaming answer holds its headers back until its body is ready, as a real provider
/// does.
async fn into_response(mock: MockResponse) -> Response {
    let MockResponse {
        status,
        headers,
        mut body,
    } = mock;
    let is_json = headers
        .iter()
        .any(|(k, v)| *k == "content-type" && v == "application/json");
    let body = if status == StatusCode::OK && is_json {
        let first = body.next().await;
        Body::from_stream(futures_util::stream::iter(first).chain(body))
    } else {
        Body::from_stream(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let map = response.headers_mut();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            map.insert(name, value);
        }
    }
    if !map.contains_key(header::CONTENT_TYPE) {
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    response
}
