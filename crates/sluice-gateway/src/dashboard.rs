//! The dashboard (SPEC §3, `docs/dashboard-api.md`): the page itself, served from the binary
//! (`page`), the admin-only data it is drawn from (`api`, under `/v1/dashboard/`), and this
//! replica's live counters that data reads (`live`).

mod api;
pub(crate) mod live;
mod page;

use axum::Router;

use crate::state::AppState;

/// The dashboard's routes: `GET /`, its static files under `/dashboard/`, and its data API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(page::routes()).merge(api::routes())
}
