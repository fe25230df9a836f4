//! The HTTP server: the router with its layers, and serving until a shutdown signal.
//!
//! Layer order, outermost first: request id → allowed hosts (`[server] allowed_hosts`, against
//! DNS rebinding) → CORS (by route: `Cors`) → Anthropic-shaped errors on `/v1/messages*` →
//! auth (a gateway key on `/v1/*` and `/stream/*`: `crate::auth`) → the route's handler. Connections are accepted and timed in `listen` and
//! `conn`.
//! Nothing here compresses: SSE must leave as soon as it is written.

mod conn;
mod listen;

use std::future::Future;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

use self::conn::ConnLimits;
use self::listen::ListenConfig;
use crate::error::ApiError;
use crate::headers::{self, ATTEMPTS, PROVIDER, REQUEST_ID, SLUICE_REQUEST_ID};
use crate::routes::{chat, embeddings, health, metrics, models, stream_chat};
use crate::state::AppState;

/// The gateway's router; tests can serve it on any listener.
pub fn app(state: AppState) -> Router<()> {
    let cors = Cors::new(&state.config().cors.allow_origins);
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/responses", post(crate::routes::responses::create))
        .route("/v1/messages", post(crate::routes::messages::create))
        .route(
            "/v1/messages/count_tokens",
            post(crate::routes::messages::count_tokens),
        )
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/models", get(models::list))
        .route("/v1/usage", get(crate::routes::usage::report))
        .route("/stream/chat", get(stream_chat::stream_chat))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(crate::dashboard::routes())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(middleware::from_fn(
            crate::routes::messages::anthropic_errors,
        ))
        .layer(middleware::from_fn_with_state(cors, Cors::apply))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::allowed_host,
        ))
        .layer(middleware::from_fn(headers::request_id))
        .with_state(state)
}

/// CORS by route: the routes browsers call (`/v1/*`, `/stream/*`) answer the origins of
/// `[cors] allow_origins`; the operations routes (`/metrics`, `/readyz`, `/healthz`) answer no
/// page of another origin at all. CORS sits outside auth, so a page can read even a 401.
#[derive(Clone)]
struct Cors(CorsLayer);

impl Cors {
    fn new(origins: &[String]) -> Self {
        let allow = if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        };
        Cors(cors_layer(allow))
    }

    async fn apply(State(cors): State<Cors>, req: Request, next: Next) -> Response {
        let path = req.uri().path();
        if path.starts_with("/v1/") || path.starts_with("/stream/") {
            match cors.0.layer(next).oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            }
        } else {
            next.run(req).await
        }
    }
}

fn cors_layer(allow_origin: AllowOrigin) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID,
            HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([REQUEST_ID, SLUICE_REQUEST_ID, PROVIDER, ATTEMPTS])
        .max_age(Duration::from_secs(600))
}

/// Serves until `shutdown` resolves, then stops accepting and waits for open connections to
/// close. The shutdown's timing and what follows it belong to [`crate::runtime`].
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.config();
    let cfg = ListenConfig {
        max_connections: config.server.max_connections,
        limits: ConnLimits {
            header_timeout: config.server.header_timeout,
            idle_timeout: config.server.idle_timeout,
        },
        send_buffer: config.send_buffer.and_then(|n| usize::try_from(n).ok()),
    };
    listen::serve(listener, app(state), cfg, shutdown).await
}
