//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: config loaded, every
//! route has a provider client).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let config = app.config();
    let missing: Vec<&str> = config
        .routes
        .iter()
        .flat_map(|r| &r.targets)
        .filter(|t| app.provider(&t.provider).is_none())
        .map(|t| t.provider.as_str())
        .collect();
    // Ready only if the ledger answers and its writer is writing: a full disk or a read-only
    // file fails writes while reads still work.
    let ledger = match app.accounts() {
        None => "none".to_owned(),
        Some(a) => match a.ledger.ping().await {
            Ok(()) if a.writer.write_ok() => "ok".to_owned(),
            Ok(()) => "cannot write (rows are held and retried)".to_owned(),
            Err(e) => e.to_string(),
        },
    };
    // Each provider's circuit: closed, open or half_open (see `breaker`). An open circuit does
    // not make the gateway unready: routes fall back, and a probe goes through after the
    // cool-down.
    let circuits: serde_json::Map<String, Value> = app
        .breakers()
        .states(tokio::time::Instant::now())
        .map(|(p, s)| (p.to_owned(), Value::from(s.as_str())))
        .collect();
    let ready =
        !config.routes.is_empty() && missing.is_empty() && (ledger == "ok" || ledger == "none");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "routes": config.routes.len(),
            "providers": config.providers.keys().collect::<Vec<_>>(),
            "missing_providers": missing,
            "ledger": ledger,
            // Informative: a limits store that is down refuses keyed requests (or counts them
            // per replica) by policy; every replica shares it, so it does not make one unready.
            "limits": {"store": app.limiter().store_name(), "up": app.limiter().store_up()},
            "circuits": circuits,
        })),
    )
}
