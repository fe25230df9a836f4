//! The gateway's API keys from the dashboard: `GET /v1/dashboard/keys` (every key with what it
//! spent), `POST /v1/dashboard/keys` (a new key: its secret is in this one answer, and only its
//! hash is stored), `POST /v1/dashboard/keys/{id}/revoke`.
//!
//! A new key's settings are checked by `sluice_limit::settings`, as `sluice keys create`
//! checks its flags; a key created or revoked here is in this replica's key ring before the
//! answer leaves (other replicas read it within seconds, as for `sluice keys`).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_ledger::{ApiKey, Ledger, LedgerError};
use sluice_limit::settings::{self, KeyFields, LimitEdits, Mode, SettingError};
use sluice_pricing::{charge_in, display_rate, Cost, Decimal, PriceBook};
use sluice_types::{unix_ms, BudgetWindow, KeyLimits, DEFAULT_CURRENCY};

use super::{accounts, ledger_failed, money};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest body a new key's settings may take.
const MAX_BODY: usize = 64 * 1024;

/// `GET /v1/dashboard/keys`.
pub(super) async fn list(State(app): State<AppState>) -> Response {
    let accounts = match accounts(&app) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let now = unix_ms();
    let result = async {
        let keys = accounts.ledger.keys().await?;
        let spent = spent(&accounts.ledger, &keys, app.prices().book(), now).await?;
        Ok::<_, LedgerError>((keys, spent))
    };
    match result.await {
        Ok((keys, spent)) => {
            let shown: Vec<Value> = keys
                .iter()
                .map(|k| key_json(k, spent.get(k.id.as_str()).copied().flatten(), now))
                .collect();
            Json(json!({"keys": shown})).into_response()
        }
        Err(e) => ledger_failed(&e).into_response(),
    }
}

/// A new key's settings, as `sluice keys create` takes them. Amounts and counts may be JSON
/// numbers or text; `models` a list or comma-separated text; `budget` without `currency` is
/// in USD.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    #[serde(default)]
    admin: bool,
    budget: Option<Text>,
    budget_usd: Option<Text>,
    currency: Option<String>,
    window: Option<String>,
    rpm: Option<Text>,
    tpm: Option<Text>,
    models: Option<Models>,
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Text {
    Text(String),
    Number(serde_json::Number),
}

impl Text {
    fn to_text(&self) -> String {
        match self {
            Text::Text(s) => s.clone(),
            Text::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Models {
    List(Vec<String>),
    Text(String),
}

/// `POST /v1/dashboard/keys`: 201 with the key and its secret.
pub(super) async fn create(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Response {
    let accounts = match accounts(&app) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let bad = |m: String| ApiError::bad_request(m).into_response();
    if body.len() > MAX_BODY {
        return bad(format!("The body exceeds {MAX_BODY} bytes."));
    }
    let new: NewKey = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => return bad(format!("Invalid body: {e}")),
    };
    let fields = match fields(&new) {
        Ok(f) => f,
        Err(m) => return bad(m),
    };
    let (name, edits) = match settings_of(&new.name, fields, app.prices().book()) {
        Ok(s) => s,
        Err(e) => return bad(format!("`{}`: {}", e.field(), e.problem)),
    };
    let generated = match sluice_limit::key::generate() {
        Ok(k) => k,
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let now = unix_ms();
    let mut key = ApiKey {
        id: generated.id,
        name,
        secret_hash: generated.secret_hash,
        admin: new.admin,
        limits: KeyLimits::default(),
        created_ms: now,
        expires_ms: None,
        revoked_ms: None,
        last_used_ms: None,
        updated_ms: now,
    };
    if let Err(e) = edits.apply(&mut key.limits, &mut key.expires_ms, &key.id, now) {
        return bad(format!("`{}`: {}", e.field(), e.problem));
    }
    if let Err(e) = accounts.ledger.insert_key(&key).await {
        return ledger_failed(&e).into_response();
    }
    tracing::info!(key = %key.id, admin = key.admin, by = caller_id(&caller), "API key created from the dashboard");
    reload(&app, &accounts.ledger).await;
    let body = json!({
        "key": key_json(&key, Some(Decimal::ZERO), now),
        "secret": generated.token,
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `POST /v1/dashboard/keys/{id}/revoke`: 200 with the key, 404 for an unknown id. Revoking
/// a revoked key keeps its first revocation time.
pub(super) async fn revoke(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Response {
    let accounts = match accounts(&app) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let shown_id: String = id.chars().take(64).collect();
    let ledger = &accounts.ledger;
    let now = unix_ms();
    match ledger.revoke_key(&id, now).await {
        Ok(true) => {}
        Ok(false) => return ApiError::unknown_key(&shown_id).into_response(),
        Err(e) => return ledger_failed(&e).into_response(),
    }
    tracing::info!(key = %shown_id, by = caller_id(&caller), "API key revoked from the dashboard");
    reload(&app, ledger).await;
    let found = async {
        let key = ledger.key(&id).await?;
        let spent = match &key {
            Some(k) => spent(ledger, std::slice::from_ref(k), app.prices().book(), now).await?,
            None => HashMap::new(),
        };
        Ok::<_, LedgerError>((key, spent))
    };
    match found.await {
        Ok((Some(key), spent)) => {
            let spent = spent.get(key.id.as_str()).copied().flatten();
            Json(json!({"key": key_json(&key, spent, now)})).into_response()
        }
        Ok((None, _)) => ApiError::unknown_key(&shown_id).into_response(),
        Err(e) => ledger_failed(&e).into_response(),
    }
}

/// The key settings as the shared checks take them.
fn fields(new: &NewKey) -> Result<KeyFields, String> {
    let text = |t: &Option<Text>| t.as_ref().map(Text::to_text);
    let models = match &new.models {
        None => None,
        Some(Models::Text(t)) => Some(t.clone()),
        Some(Models::List(names)) => {
            if let Some(odd) = names.iter().find(|n| n.contains(',')) {
                return Err(format!("`models`: {odd:?}: a model name holds no comma"));
            }
            Some(names.join(","))
        }
    };
    let mut f = KeyFields {
        rpm: text(&new.rpm),
        tpm: text(&new.tpm),
        budget_usd: text(&new.budget_usd),
        budget: text(&new.budget),
        currency: new.currency.clone(),
        window: new.window.clone(),
        models,
        expires: new.expires.clone(),
    };
    // A budget without a currency is in USD.
    if f.currency.is_none() && f.budget_usd.is_none() {
        f.budget_usd = f.budget.take();
    }
    Ok(f)
}

/// The name and limits of a new key, checked.
fn settings_of(
    name: &str,
    fields: KeyFields,
    book: &PriceBook,
) -> Result<(String, LimitEdits), SettingError> {
    let name = settings::name(name)?;
    let rate_known = |code: &str| display_rate(book, code).is_some();
    let edits = LimitEdits::parse(&fields, Mode::Create, &rate_known)?;
    Ok((name, edits))
}

/// Reads the keys into this replica's key ring now, so the change holds for the next request.
async fn reload(app: &AppState, ledger: &Ledger) {
    if let Err(e) = app.keys().refresh(ledger).await {
        tracing::warn!(error = %e, "could not read the API keys again; the next refresh will");
    }
}

fn caller_id(caller: &Option<Extension<Caller>>) -> &str {
    caller
        .as_ref()
        .and_then(|Extension(c)| c.key_id())
        .unwrap_or("-")
}

/// What each key spent in its budget's current window, in the budget's currency (or this
/// month in USD without a budget), charged as the gateway charges requests
/// (`sluice_pricing::charge_in`), from the ledger's rollups: one read per distinct window.
/// `None` for a key whose spend cannot be charged in its currency (no rate any more).
async fn spent(
    ledger: &Ledger,
    keys: &[ApiKey],
    book: &PriceBook,
    now_ms: i64,
) -> Result<HashMap<String, Option<Decimal>>, LedgerError> {
    let mut windows: BTreeMap<(i64, i64), Vec<&ApiKey>> = BTreeMap::new();
    for k in keys {
        windows.entry(window(k).bounds(now_ms)).or_default().push(k);
    }
    let mut out = HashMap::new();
    for ((since, until), keys) in windows {
        let rows = ledger.spend(since, Some(until)).await?;
        for k in keys {
            let currency = spend_currency(k);
            let rate = display_rate(book, currency);
            let mut by_currency: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.key_id.as_deref() == Some(&k.id)) {
                let sums = by_currency.entry(&r.currency).or_default();
                sums.0 = sums.0.saturating_add(r.cost_usd);
                sums.1 = sums.1.saturating_add(r.cost_local);
            }
            let charged =
                by_currency
                    .into_iter()
                    .try_fold(Decimal::ZERO, |sum, (billed, (usd, local))| {
                        let cost = Cost {
                            usd,
                            local,
                            currency: billed.to_owned(),
                        };
                        charge_in(currency, &cost, rate.as_ref()).map(|c| sum.saturating_add(c))
                    });
            out.insert(k.id.clone(), charged);
        }
    }
    Ok(out)
}

fn window(k: &ApiKey) -> BudgetWindow {
    k.limits
        .budget
        .as_ref()
        .map_or(BudgetWindow::Month, |b| b.window)
}

fn spend_currency(k: &ApiKey) -> &str {
    k.limits
        .budget
        .as_ref()
        .map_or(DEFAULT_CURRENCY, |b| b.currency.as_str())
}

/// A key as the dashboard shows it: never its secret or hash.
fn key_json(k: &ApiKey, spent: Option<Decimal>, now_ms: i64) -> Value {
    let status = if k.revoked_ms.is_some() {
        "revoked"
    } else if k.is_active(now_ms) {
        "active"
    } else {
        "expired"
    };
    let l = &k.limits;
    json!({
        "id": k.id,
        "name": k.name,
        "admin": k.admin,
        "status": status,
        "created_ms": k.created_ms,
        "revoked_ms": k.revoked_ms,
        "expires_ms": k.expires_ms,
        "last_used_ms": k.last_used_ms,
        "budget": l.budget.as_ref().map(|b| json!({
            "amount": money(b.amount),
            "currency": b.currency,
            "window": b.window.as_str(),
        })),
        "spent": spent.map(money),
        "spent_currency": spend_currency(k),
        "spent_since": window(k).bounds(now_ms).0,
        "rpm": l.rpm,
        "tpm": l.tpm,
        "models": l.models,
    })
}
