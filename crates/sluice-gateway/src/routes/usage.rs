//! `GET /v1/usage?since=&until=&by=&currency=`: the ledger's usage report as JSON, the same
//! document as `sluice usage --json`. `since` and `until` are durations before now (`24h`,
//! `30d`) or unix milliseconds; `since` defaults to 30 days, `until` to now; `by` is `model`
//! (default), `provider`, `key` or `day`; `currency` defaults to the config's
//! `display_currency`.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sluice_ledger::{GroupBy, UsageQuery};
use sluice_pricing::{currency_code, PriceBook, UsageReport, Window};
use sluice_types::unix_ms;

use crate::accounting::usage_groups;
use crate::error::ApiError;
use crate::state::AppState;

/// The query parameters this route takes.
const PARAMS: [&str; 4] = ["since", "until", "by", "currency"];

pub async fn report(
    State(app): State<AppState>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    // Admin key check goes here once gateway keys exist (SPEC §3: `/v1/usage` needs an admin key).
    let params = match query {
        Ok(Query(params)) => params,
        Err(e) => return ApiError::bad_request(format!("Invalid query: {e}")).into_response(),
    };
    if let Some(unknown) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return ApiError::bad_request(format!(
            "Unknown parameter `{unknown}` (expected since, until, by or currency)."
        ))
        .into_response();
    }
    // An empty value (`?since=`) is the default.
    let param = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

    let now_ms = unix_ms();
    let window = match Window::parse(param("since"), param("until"), now_ms) {
        Ok(w) => w,
        Err(e) => {
            return ApiError::bad_request(format!("`{}`: {}", e.param, e.reason)).into_response()
        }
    };
    let by = match param("by").map(str::parse::<GroupBy>).transpose() {
        Ok(by) => by.unwrap_or_default(),
        Err(e) => return ApiError::bad_request(format!("`by`: {e}")).into_response(),
    };
    let currency = match param("currency") {
        None => app.config().display_currency.clone(),
        Some(c) => match currency_code(c) {
            Some(code) => code,
            None => {
                return ApiError::bad_request(format!(
                    "`currency`: {c:?} is not a currency code; expected three letters, e.g. JPY"
                ))
                .into_response()
            }
        },
    };

    let Some(accounts) = app.accounts() else {
        return unavailable("This gateway keeps no ledger, so it has no usage to report.");
    };
    let query = UsageQuery {
        since_ms: Some(window.since_ms),
        until_ms: window.until_ms,
        by,
        key_id: None,
    };
    let rows = match accounts.ledger.usage(query).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "usage report failed");
            return unavailable(&format!("The usage report failed: {e}"));
        }
    };
    let groups = usage_groups(rows);
    let book = PriceBook::with_config(app.config());
    let report = UsageReport::new(
        window.since_ms,
        window.end_ms(now_ms),
        by.as_str(),
        &currency,
        &book,
        groups,
    );
    Json(report).into_response()
}

/// 503 in OpenAI's error shape: the ledger is missing or not answering.
fn unavailable(message: &str) -> Response {
    ApiError::unavailable("ledger_unavailable", message).into_response()
}
