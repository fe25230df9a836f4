//! The HTTP/1.1 server of `sluice mock-upstream`: it owns accepting connections, routing
//! `POST /v1/chat/completions`, `POST /v1/embeddings`, `POST /v1/responses`, `POST
//! /v1/messages` and `/v1/messages/count_tokens` (Anthropic), `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (Gemini), `GET /v1/models`, `GET /stats` and `GET /healthz`,
//! writing a [`MockResponse`] to the wire, and the graceful shutdown. Completions are answered
//! by [`respond`](fn@crate::respond), [`embeddings::respond`], [`responses::respond`],
//! [`anthropic::respond`] and [`gemini::respond`]; this module only adapts their answers to
//! hyper. A query string never changes the route (`/v1/messages?beta=true` is
//! `/v1/messages`); Gemini's `alt=sse` is read by [`GeminiCall`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

use crate::encode::models_body;
use crate::gemini::GeminiCall;
use crate::{anthropic, embeddings, gemini, respond, responses, MockResponse, MockSettings, Stats};

/// Request bodies up to this size are accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// How long accepting pauses after an error that is not one client's (most likely the process
/// ran out of file descriptors, which only closing connections can cure).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Every response body: a fixed one or the mock's stream. An `Err` from the mock's stream
/// makes hyper abort the connection mid-body, which is what `mock-drop` asks for.
type Body = UnsyncBoxBody<Bytes, io::Error>;

struct State {
    settings: MockSettings,
    stats: Stats,
}

/// Serves the mock on `listener` over HTTP/1.1 with keep-alive until `shutdown` completes;
/// then it stops accepting and returns once every open connection has finished.
///
/// Settings past their caps are refused at once with an `InvalidInput` error naming the
/// setting and its cap ([`MockSettings::check`]), before anything is served.
///
/// Accept errors do not end the server: one client's failed handshake is skipped, and any
/// other error is logged and retried after a pause. So it returns `Ok(())` once shut down.
pub async fn serve(
    listener: TcpListener,
    settings: MockSettings,
    stats: Stats,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    settings
        .check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let state = Arc::new(State { settings, stats });
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            tcp = accept(&listener) => tcp,
            () = &mut shutdown => break,
        };
        // Stream chunks are small and timed; Nagle's algorithm would hold them back and
        // distort every latency the mock is used to measure. Failing to set it only costs
        // that precision, so the connection is served anyway.
        let _ = tcp.set_nodelay(true);
        let state = Arc::clone(&state);
        let service = service_fn(move |request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(route(&state, request).await) }
        });
        let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away, or a `mock-drop` abort, ends its connection with an
            // error; neither concerns the server.
            if let Err(e) = connection.await {
                tracing::trace!("mock connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The next accepted connection.
async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => return tcp,
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!("accept error: {e}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Errors that concern only the connection being accepted, not the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What a request's path names.
enum Route {
    ChatCompletions,
    Embeddings,
    Messages,
    CountTokens,
    Responses,
    Gemini(GeminiCall),
    Models,
    Stats,
    Health,
}

impl Route {
    fn of(request: &Request<Incoming>) -> Option<Route> {
        let uri = request.uri();
        Some(match uri.path() {
            "/v1/chat/completions" => Route::ChatCompletions,
            "/v1/embeddings" => Route::Embeddings,
            "/v1/messages" => Route::Messages,
            "/v1/messages/count_tokens" => Route::CountTokens,
            "/v1/responses" => Route::Responses,
            "/v1/models" => Route::Models,
            "/stats" => Route::Stats,
            "/healthz" => Route::Health,
            path => Route::Gemini(GeminiCall::from_uri(path, uri.query())?),
        })
    }

    /// A completion route, which takes POST; the others take GET and HEAD (answered like GET;
    /// hyper leaves the body out).
    fn posts(&self) -> bool {
        matches!(
            self,
            Route::ChatCompletions
                | Route::Embeddings
                | Route::Messages
                | Route::CountTokens
                | Route::Responses
                | Route::Gemini(_)
        )
    }
}

async fn route(state: &State, request: Request<Incoming>) -> Response<Body> {
    let Some(route) = Route::of(&request) else {
        return fixed(StatusCode::NOT_FOUND, Bytes::new());
    };
    let method = request.method();
    let (allowed, allow) = if route.posts() {
        (method == Method::POST, "POST")
    } else {
        (method == Method::GET || method == Method::HEAD, "GET,HEAD")
    };
    if !allowed {
        let mut response = fixed(StatusCode::METHOD_NOT_ALLOWED, Bytes::new());
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return response;
    }
    let (parts, body) = request.into_parts();
    let (settings, stats, headers) = (&state.settings, &state.stats, &parts.headers);
    match route {
        Route::Models => return json(&models_body()),
        Route::Stats => return json(&state.stats.snapshot()),
        Route::Health => return text(StatusCode::OK, "ok".to_owned()),
        Route::ChatCompletions
        | Route::Embeddings
        | Route::Messages
        | Route::CountTokens
        | Route::Responses
        | Route::Gemini(_) => {}
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    into_response(match route {
        Route::Embeddings => embeddings::respond(settings, stats, headers, &body),
        Route::Messages => anthropic::respond(settings, stats, headers, &body),
        Route::CountTokens => anthropic::count_tokens(stats, &body),
        Route::Responses => responses::respond(settings, stats, headers, &body),
        Route::Gemini(call) => gemini::respond(settings, stats, &call, headers, &body),
        // `Route::ChatCompletions`, the only route left.
        _ => respond(settings, stats, headers, &body),
    })
    .await
}

/// The whole request body, or the response refusing it.
async fn read_body(body: Incoming) -> Result<Bytes, Response<Body>> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let status = if e.is::<LengthLimitError>() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            Err(text(
                status,
                format!("Failed to buffer the request body: {e}"),
            ))
        }
    }
}

/// Streams keep their headers immediate (data follows after ttft); a successful
/// non-streaming answer holds its headers back until its body is ready, as a real provider
/// does.
async fn into_response(mock: MockResponse) -> Response<Body> {
    let MockResponse {
        status,
        headers,
        mut body,
    } = mock;
    let is_json = headers
        .iter()
        .any(|(k, v)| *k == "content-type" && v == "application/json");
    let first = if status == StatusCode::OK && is_json {
        body.next().await
    } else {
        None
    };
    let body = futures_util::stream::iter(first)
        .chain(body)
        .map(|chunk| chunk.map(Frame::data));
    let mut response = Response::new(StreamBody::new(body).boxed_unsync());
    *response.status_mut() = status;
    let map = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.insert(name, value);
        }
    }
    if !map.contains_key(header::CONTENT_TYPE) {
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    response
}

fn json(value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => full(StatusCode::OK, "application/json", bytes.into()),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to serialize response body: {e}"),
        ),
    }
}

fn text(status: StatusCode, text: String) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", text.into())
}

fn full(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = fixed(status, body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A response with a body known in full, so it goes out with its `content-length`.
fn fixed(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
}
