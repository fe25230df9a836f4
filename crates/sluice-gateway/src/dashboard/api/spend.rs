//! Spend today and this month (UTC: the config has no time zone setting), read from the
//! ledger's rollups (all replicas' requests) and shown in USD and in the display currency,
//! converted as `GET /v1/usage` converts (`sluice_pricing::UsageReport`: USD at the display
//! rate, `display_rate`), so the two never disagree.
//!
//! `GET /v1/dashboard/spend?period=today|month`, and the `spend` part of the live snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sluice_ledger::{SpendRow, NO_GROUP};
use sluice_pricing::{UsageLine, UsageReport, UsageTotals};
use sluice_types::{unix_ms, BudgetWindow};

use super::{accounts, ledger_failed, money, params};
use crate::dashboard::live::SPEND_MAX_AGE;
use crate::error::ApiError;
use crate::state::AppState;

/// A period the dashboard shows spend for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Period {
    Today,
    Month,
}

impl Period {
    fn parse(text: &str) -> Option<Period> {
        match text {
            "today" => Some(Period::Today),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Period::Today => "today",
            Period::Month => "month",
        }
    }

    /// Where the period holding `now_ms` starts (UTC midnight, or the first of the month),
    /// as budgets count their days and months.
    pub(super) fn start(self, now_ms: i64) -> i64 {
        let window = match self {
            Period::Today => BudgetWindow::Day,
            Period::Month => BudgetWindow::Month,
        };
        window.bounds(now_ms).0
    }
}

/// `GET /v1/dashboard/spend`.
pub(super) async fn report(
    State(app): State<AppState>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let params = match params(query, &["period"]) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let period = match params.get("period").map(|p| p.trim()) {
        None | Some("") => Period::Today,
        Some(p) => match Period::parse(p) {
            Some(p) => p,
            None => {
                return ApiError::bad_request(format!(
                    "`period`: {p:?} is not a period (expected today or month)."
                ))
                .into_response()
            }
        },
    };
    let accounts = match accounts(&app) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let now = unix_ms();
    let since = period.start(now);
    let rows = match accounts.ledger.spend(since, None).await {
        Ok(rows) => rows,
        Err(e) => return ledger_failed(&e).into_response(),
    };
    let report = |by: &str, name: &dyn Fn(&SpendRow) -> String| {
        UsageReport::new(
            since,
            now,
            by,
            &app.config().display_currency,
            app.prices().book(),
            groups(&rows, name),
        )
    };
    let by_model = report("model", &|r| r.model.clone());
    let by_provider = report("provider", &|r| {
        r.provider.clone().unwrap_or_else(|| NO_GROUP.to_owned())
    });
    let by_key = report("key", &|r| {
        r.key_id.clone().unwrap_or_else(|| NO_GROUP.to_owned())
    });
    let names = app.keys().names();
    let keys: Vec<Value> = by_key
        .rows
        .iter()
        .map(|l| {
            let id = l.group.as_deref().filter(|g| *g != NO_GROUP);
            let mut v = line(l);
            let name = id.map_or(NO_GROUP, |id| names.get(id).map_or(id, String::as_str));
            v.insert("name".into(), name.into());
            v.insert("id".into(), id.into());
            Value::Object(v)
        })
        .collect();
    Json(json!({
        "period": period.as_str(),
        "since": since,
        "currency": by_model.currency,
        "rate": by_model.rate.as_ref().map(|r| money(r.per_usd)),
        "note": by_model.note,
        "total": Value::Object(line(&by_model.total)),
        "by_model": named(&by_model),
        "by_provider": named(&by_provider),
        "by_key": keys,
    }))
    .into_response()
}

/// The spend part of the live snapshot: today's and this month's totals, read at most once
/// per [`SPEND_MAX_AGE`] however many dashboards are open; `null` without a ledger (or
/// before the ledger first answered).
pub(super) async fn live(app: &AppState) -> Value {
    let Some(accounts) = app.accounts() else {
        return Value::Null;
    };
    let read = || async {
        let now = unix_ms();
        let month_start = Period::Month.start(now);
        let today_start = Period::Today.start(now);
        let (month, today) = tokio::join!(
            accounts.ledger.spend(month_start, None),
            accounts.ledger.spend(today_start, None)
        );
        let (month, today) = match (month, today) {
            (Ok(m), Ok(t)) => (m, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "dashboard: spend not read; showing the last read");
                return None;
            }
        };
        let total = |rows: &[SpendRow], since: i64| {
            let r = UsageReport::new(
                since,
                now,
                "model",
                &app.config().display_currency,
                app.prices().book(),
                groups(rows, &|_| String::new()),
            );
            json!({
                "usd": money(r.total.cost_usd),
                "local": r.total.local.map(money),
                "currency": r.currency,
                "requests": r.total.requests,
                "since": since,
            })
        };
        Some(Arc::new(json!({
            "today": total(&today, today_start),
            "month": total(&month, month_start),
        })))
    };
    match app.live().spend.get(SPEND_MAX_AGE, read).await {
        Some(v) => (*v).clone(),
        None => Value::Null,
    }
}

/// The rows summed per `name` (across billing currencies: the report converts USD), highest
/// cost first, then by name.
fn groups(rows: &[SpendRow], name: &dyn Fn(&SpendRow) -> String) -> Vec<(String, UsageTotals)> {
    let mut by: BTreeMap<String, UsageTotals> = BTreeMap::new();
    for r in rows {
        let t = by.entry(name(r)).or_default();
        t.requests = t.requests.saturating_add(r.requests);
        t.prompt_tokens = t.prompt_tokens.saturating_add(r.prompt_tokens);
        t.completion_tokens = t.completion_tokens.saturating_add(r.completion_tokens);
        t.cost_usd = t.cost_usd.saturating_add(r.cost_usd);
    }
    let mut out: Vec<(String, UsageTotals)> = by.into_iter().collect();
    out.sort_by(|a, b| b.1.cost_usd.cmp(&a.1.cost_usd).then_with(|| a.0.cmp(&b.0)));
    out
}

/// One line of spend: USD, the display currency (`null` without a rate), requests, tokens.
fn line(l: &UsageLine) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("usd".into(), money(l.cost_usd).into());
    m.insert("local".into(), l.local.map(money).into());
    m.insert("requests".into(), l.requests.into());
    m.insert("prompt_tokens".into(), l.prompt_tokens.into());
    m.insert("completion_tokens".into(), l.completion_tokens.into());
    m
}

/// A report's rows as `{"name", ...line}`.
fn named(report: &UsageReport) -> Vec<Value> {
    report
        .rows
        .iter()
        .map(|l| {
            let mut v = line(l);
            v.insert("name".into(), l.group.clone().into());
            Value::Object(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        let now = 1_765_000_000_000; // 2025-12-06T05:46:40Z
        assert_eq!(Period::Today.start(now), 1_764_979_200_000);
        assert_eq!(Period::Month.start(now), 1_764_547_200_000); // 2025-12-01
        assert_eq!(Period::parse("week"), None);
    }
}
