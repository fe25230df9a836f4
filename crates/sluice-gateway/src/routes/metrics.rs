//! `GET /metrics`: the Prometheus exposition, with no key (SPEC §3). The classic text format
//! by default; OpenMetrics when the scraper asks for it in `Accept` (as Prometheus does).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use crate::metrics::{to_classic_text, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
use crate::state::AppState;

pub async fn render(State(app): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let text = app
        .metrics()
        .render(app.accounts().map(|a| &a.writer), Some(app.limiter()));
    if openmetrics {
        ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text)
    } else {
        (
            [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
            to_classic_text(&text),
        )
    }
}
