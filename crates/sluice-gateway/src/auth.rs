//! Who is calling. Once any key exists in the ledger (revoked ones count), or with
//! `[auth] required = true`, every `/v1/*` and `/stream/*` request needs a gateway key
//! (`Authorization: Bearer sk-sluice-...`, or `x-api-key` as Anthropic's clients send it), and
//! `/metrics` too with `[auth] metrics = "admin"`. A missing, malformed, wrong, revoked or
//! expired key gets 401 in OpenAI's shape; CORS preflights never reach this layer (the CORS
//! layer answers them). The layer puts a [`Caller`] in the request's extensions for the
//! handlers: the key's limits are reserved later, where the model is known (`crate::limits`).

pub mod keyring;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_config::MetricsAccess;
use sluice_ledger::ApiKey;
use sluice_types::unix_ms;
use tokio::time::Instant;

pub use self::keyring::AuthFailure;
use crate::ending::Ending;
use crate::error::ApiError;
use crate::headers::{ClientRequestId, RequestId};
use crate::metrics::Refused;
use crate::state::AppState;

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The caller of a request, as the auth layer found it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The gateway needs no key (none exists and `[auth] required` is false): full access.
    Open,
    /// A valid key.
    Key(Arc<ApiKey>),
}

impl Caller {
    /// The key's public id, when the request came with one.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Caller::Open => None,
            Caller::Key(k) => Some(&k.id),
        }
    }

    /// Whether the caller may read everything (an open gateway, or an admin key).
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::Open => true,
            Caller::Key(k) => k.admin,
        }
    }
}

/// Whether requests must carry a key now.
pub fn keys_required(app: &AppState) -> bool {
    app.config().auth.required || app.keys().any()
}

/// The auth layer (see the module docs).
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let guarded = path.starts_with("/v1/")
        || path.starts_with("/stream/")
        || (path == "/metrics" && app.config().auth.metrics == MetricsAccess::Admin);
    if !guarded {
        return next.run(req).await;
    }
    let caller = if keys_required(&app) {
        match app.keys().check(presented(req.headers()), unix_ms()) {
            Ok(key) => Caller::Key(key),
            Err(failure) => return refuse(&app, &req, failure),
        }
    } else {
        Caller::Open
    };
    if req.uri().path() == "/metrics" && !caller.is_admin() {
        return ApiError::forbidden("Reading the metrics needs an admin key.").into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The key a request presents: `Authorization: Bearer <key>`, else `x-api-key: <key>`.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        });
    bearer.or_else(|| {
        headers
            .get(X_API_KEY)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

/// 401 in OpenAI's shape; a billable request is recorded like every other refusal.
fn refuse(app: &AppState, req: &Request, failure: AuthFailure) -> Response {
    app.metrics().auth_failure(failure.as_str());
    if is_billable(req.uri().path()) {
        let ext = req.extensions();
        let id = ext.get::<RequestId>().map_or("-", RequestId::as_str);
        Ending::refused(Refused::Unauthorized, id, Instant::now(), "-", 401)
            .with_client_id(ext.get::<ClientRequestId>())
            .record(app);
    }
    ApiError::unauthorized(failure.message()).into_response()
}

/// Routes whose requests reach a provider and are billed, so their refusals have ledger rows.
fn is_billable(path: &str) -> bool {
    matches!(
        path,
        "/v1/chat/completions" | "/v1/embeddings" | "/stream/chat"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comes_from_bearer_or_x_api_key() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert("x-api-key", "sk-a".parse().unwrap());
        assert_eq!(presented(&h), Some("sk-a"));
        h.insert("authorization", "Bearer  sk-b ".parse().unwrap());
        assert_eq!(presented(&h), Some("sk-b"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented(&h), Some("sk-a"));
    }
}
