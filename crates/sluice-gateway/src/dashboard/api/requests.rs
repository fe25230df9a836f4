//! `GET /v1/dashboard/requests?limit=&before=&model=&provider=&key=&status=`: finished
//! requests from the ledger (every replica's), newest first by when they finished, a page at
//! a time. `next` is an opaque cursor (the last row's finish time and id) that `before` takes
//! back: pages neither overlap nor skip rows.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sluice_ledger::{Finished, TailCursor, TailQuery, TAIL_MAX_ROWS};

use super::{accounts, ledger_failed, money, params};
use crate::error::ApiError;
use crate::state::AppState;

const PARAMS: [&str; 6] = ["limit", "before", "model", "provider", "key", "status"];
/// Rows per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;
/// The longest filter value or request id a query may carry (ids and names are far shorter).
const MAX_TEXT: usize = 256;

pub(super) async fn list(
    State(app): State<AppState>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let q = match params(query, &PARAMS).and_then(|p| tail_query(&p)) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let accounts = match accounts(&app) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let page = match accounts.ledger.tail(&q).await {
        Ok(page) => page,
        Err(e) => return ledger_failed(&e).into_response(),
    };
    let next = (page.len() == q.limit)
        .then(|| page.last().map(|f| cursor(&f.cursor())))
        .flatten();
    let keys = app.keys();
    let rows: Vec<Value> = page
        .iter()
        .map(|f| {
            let name = f
                .row
                .key_id
                .as_deref()
                .and_then(|id| keys.get(id))
                .map(|k| k.name.clone());
            row(f, name)
        })
        .collect();
    Json(json!({"rows": rows, "next": next})).into_response()
}

fn tail_query(p: &BTreeMap<String, String>) -> Result<TailQuery, ApiError> {
    let bad = |m: String| ApiError::bad_request(m);
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match p.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(v) if v.len() > MAX_TEXT => {
                Err(bad(format!("`{name}`: longer than {MAX_TEXT} bytes.")))
            }
            v => Ok(v.map(str::to_owned)),
        }
    };
    let limit = match text("limit")? {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=TAIL_MAX_ROWS).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "`limit`: {l:?} is not a whole number from 1 to {TAIL_MAX_ROWS}."
                )))
            }
        },
    };
    let before = match text("before")? {
        None => None,
        Some(c) => Some(parse_cursor(&c).ok_or_else(|| {
            bad("`before`: not a cursor (pass the `next` of the previous page as it is).".into())
        })?),
    };
    Ok(TailQuery {
        limit,
        before,
        model: text("model")?,
        provider: text("provider")?,
        key_id: text("key")?,
        status: text("status")?,
    })
}

/// A cursor as text: the finish time, `_`, and the request id in hex (ids are the gateway's
/// own, but any text must survive a URL unchanged).
fn cursor(c: &TailCursor) -> String {
    let mut out = format!("{}_", c.finished_ms);
    for b in c.request_id.bytes() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

fn parse_cursor(text: &str) -> Option<TailCursor> {
    let (at, hex) = text.split_once('_')?;
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * MAX_TEXT {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(TailCursor {
        finished_ms: at.parse().ok()?,
        request_id: String::from_utf8(bytes).ok()?,
    })
}

/// One finished request as the list shows it.
fn row(f: &Finished, key_name: Option<String>) -> Value {
    let r = &f.row;
    json!({
        "request_id": r.request_id,
        "finished_ms": f.finished_ms,
        "started_ms": r.at_ms,
        "status": r.status,
        "http_status": r.http_status,
        "model": r.model,
        "provider": r.provider,
        "key_id": r.key_id,
        "key_name": key_name,
        "stream": r.stream,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "estimated": r.estimated,
        "cost_usd": money(r.cost_usd),
        "cost_local": money(r.cost_local),
        "currency": r.currency,
        "ttft_ms": r.ttft_ms,
        "duration_ms": r.duration_ms,
        "attempts": r.attempts,
        "error": r.error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = TailCursor {
            finished_ms: 1_765_000_000_123,
            request_id: "6f1c-x/é".into(),
        };
        let text = cursor(&c);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(parse_cursor(&text), Some(c));
        for bad in ["", "12", "12_", "x_41", "12_4", "12_zz", "12_ff", "_41"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
