//! `/v1/dashboard/*`: the dashboard's data, admin keys only (`docs/dashboard-api.md`).
//!
//! The auth layer has already answered 401 to a missing, wrong or revoked key and put the
//! [`Caller`] in the request; [`admin_only`] answers 403 to an ordinary key, so on an open
//! gateway everyone passes. Money leaves as exact decimal text ([`money`]), times as unix
//! milliseconds.
//!
//! Layout: `session` here; `live` (the snapshots over SSE), `spend` (spend today or this month
//! from the ledger's rollups, in USD and the display currency), `requests` (finished
//! requests, newest first), `keys` (list, create, revoke).

mod keys;
mod live;
mod requests;
mod spend;

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use sluice_types::Decimal;

use crate::accounting::Accounts;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/dashboard/session", get(session))
        .route("/v1/dashboard/live", get(live::stream))
        .route("/v1/dashboard/spend", get(spend::report))
        .route("/v1/dashboard/requests", get(requests::list))
        .route("/v1/dashboard/keys", get(keys::list).post(keys::create))
        .route("/v1/dashboard/keys/{id}/revoke", post(keys::revoke))
        .route_layer(middleware::from_fn(admin_only))
}

/// 403 in OpenAI's shape for a caller that is not an admin (the auth layer has found the
/// caller; an open gateway's is one).
async fn admin_only(caller: Option<Extension<Caller>>, req: Request, next: Next) -> Response {
    match caller {
        Some(Extension(c)) if c.is_admin() => next.run(req).await,
        _ => ApiError::forbidden("The dashboard's data needs an admin key.").into_response(),
    }
}

/// `GET /v1/dashboard/session`: who is signed in, and what the page needs to know first.
async fn session(State(app): State<AppState>, caller: Option<Extension<Caller>>) -> Json<Value> {
    let key = match caller.map(|Extension(c)| c) {
        Some(Caller::Key(k)) => json!({"id": k.id, "name": k.name, "admin": k.admin}),
        _ => Value::Null,
    };
    Json(json!({
        "open": key.is_null(),
        "key": key,
        "display_currency": app.config().display_currency,
        "ledger": app.accounts().map_or("none", |a| a.ledger.backend()),
        "replica": app.live().replica,
    }))
}

/// An amount as the dashboard's JSON carries it: the exact decimal as text.
pub(super) fn money(d: Decimal) -> String {
    d.normalize().to_string()
}

/// The ledger, or 503 when this gateway keeps none.
fn accounts(app: &AppState) -> Result<&Accounts, ApiError> {
    app.accounts().ok_or_else(|| {
        ApiError::unavailable(
            "ledger_unavailable",
            "This gateway keeps no ledger (ledger = \"none\"), so it has no such data.",
        )
    })
}

/// 503 for a ledger that did not answer; the cause is logged, the message names the ledger.
fn ledger_failed(e: &sluice_ledger::LedgerError) -> ApiError {
    tracing::warn!(error = %e, "dashboard: ledger query failed");
    ApiError::unavailable(
        "ledger_unavailable",
        format!("The ledger did not answer: {e}"),
    )
}

/// The query's parameters, refusing any this route does not take.
fn params(
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::bad_request(format!("Invalid query: {e}")))?;
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown parameter `{unknown}` (expected {}).",
            allowed.join(", ")
        )));
    }
    Ok(params)
}
