//! Header names the gateway sets, the request-id layer and the allowed-hosts layer.

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The provider that served (or failed) the request.
pub const PROVIDER: HeaderName = HeaderName::from_static("x-sluice-provider");
/// How many provider attempts the request took.
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-sluice-attempts");
pub const ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The gateway's own id for a request (the ledger's key), on every answer.
pub const SLUICE_REQUEST_ID: HeaderName = HeaderName::from_static("x-sluice-request-id");

/// The gateway's own id for a request: new for every request, whatever the client sends, so
/// no client can make two requests share a ledger row.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }

    fn new() -> Self {
        let id = uuid::Uuid::new_v4().to_string();
        RequestId(HeaderValue::from_str(&id).expect("a uuid is a valid header value"))
    }
}

/// The client's own `x-request-id`, when it sent a sane one (at most 128 visible ASCII
/// characters): kept beside the gateway's id, searchable in the ledger.
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub HeaderValue);

impl ClientRequestId {
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }
}

/// Gives each request its id and keeps the client's. The answer carries the gateway's id in
/// `x-sluice-request-id`, and in `x-request-id` the client's own id when it sent one (as
/// proxies echo it), the gateway's otherwise.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = RequestId::new();
    let client = req
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            v.len() <= 128
                && v.to_str()
                    .is_ok_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
        })
        .cloned()
        .map(ClientRequestId);
    req.extensions_mut().insert(id.clone());
    if let Some(c) = &client {
        req.extensions_mut().insert(c.clone());
    }
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(REQUEST_ID, client.map_or_else(|| id.0.clone(), |c| c.0));
    headers.insert(SLUICE_REQUEST_ID, id.0);
    res
}

/// `[server] allowed_hosts`: a request whose `Host` is not listed gets 403 (a page on another
/// site that resolves its own name to this gateway — DNS rebinding — cannot read or spend
/// through it). An empty list allows any host.
pub async fn allowed_host(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let allowed = &app.config().server.allowed_hosts;
    if allowed.is_empty() {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .map(str::to_ascii_lowercase);
    let ok = host.as_deref().is_some_and(|h| host_allowed(allowed, h));
    if ok {
        next.run(req).await
    } else {
        ApiError::forbidden("This gateway does not answer for that host name.").into_response()
    }
}

/// Whether `host` (`name` or `name:port`, lower case) matches an entry: an entry with a port
/// must match exactly, one without matches the name on any port.
fn host_allowed(allowed: &[String], host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8080`, `localhost:8080`; a bare IPv6 literal has more colons.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    allowed.iter().any(|a| a == host || a == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_or_name_and_port() {
        let allowed = vec!["localhost".to_owned(), "127.0.0.1:8080".to_owned()];
        assert!(host_allowed(&allowed, "localhost"));
        assert!(host_allowed(&allowed, "localhost:9999"));
        assert!(host_allowed(&allowed, "127.0.0.1:8080"));
        assert!(!host_allowed(&allowed, "127.0.0.1:8081"));
        assert!(!host_allowed(&allowed, "evil.example"));
        assert!(!host_allowed(&allowed, "localhost.evil.example"));
    }
}
