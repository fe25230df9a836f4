//! The HTTP server: the router with its layers, and serving until a shutdown signal.
//!
//! Layer order, outermost first: CORS (answers preflights, tags every response) → request id
//! → auth (a gateway key on `/v1/*` and `/stream/*`: `crate::auth`) → the route's handler.
//! Nothing here compresses: SSE must leave as soon as it is written.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::http::{header, HeaderValue, Method};
use axum::middleware;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::headers::{self, ATTEMPTS, PROVIDER, REQUEST_ID};
use crate::routes::{chat, health, metrics, models, stream_chat};
use crate::state::AppState;

/// The gateway's router; tests can serve it on any listener.
pub fn app(state: AppState) -> Router {
    let cors = cors_layer(&state.config().cors.allow_origins);
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(models::list))
        .route("/v1/usage", get(crate::routes::usage::report))
        .route("/stream/chat", get(stream_chat::stream_chat))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(middleware::from_fn(headers::request_id))
        .layer(cors)
        .with_state(state)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([REQUEST_ID, PROVIDER, ATTEMPTS])
        .max_age(Duration::from_secs(600))
}

/// Serves until `shutdown` resolves, then stops accepting and waits for open connections to
/// close. The shutdown's timing and what follows it belong to [`crate::runtime`].
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let send_buffer = state
        .config()
        .send_buffer
        .and_then(|n| usize::try_from(n).ok());
    let router = app(state);
    // Every accepted socket gets TCP_NODELAY: small SSE writes must not wait for ACKs. With
    // `[stream] send_buffer`, its kernel send buffer is bounded too, so a slow client's backlog
    // reaches the relay's queue (and its slow-client policy) instead of piling up in the kernel.
    let listener = listener.tap_io(move |tcp| {
        let _ = tcp.set_nodelay(true);
        if let Some(size) = send_buffer {
            let _ = socket2::SockRef::from(&*tcp).set_send_buffer_size(size);
        }
    });
    // `into_make_service` hands each connection a clone of the router (an `Arc`); serving the
    // router directly would rebuild its route table per connection (~7 KiB each, measured).
    axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(shutdown)
        .into_future()
        .await
}
