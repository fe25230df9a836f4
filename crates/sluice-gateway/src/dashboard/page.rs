//! `GET /` and `/dashboard/*`: the page and its static files, embedded in the binary.

use axum::Router;

use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
