//! `/v1/dashboard/*`: the dashboard's data, admin keys only (`docs/dashboard-api.md`).

use axum::Router;

use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
