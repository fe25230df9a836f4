//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API, as
//! Claude Code speaks it. A route target that speaks Messages (`kind = "anthropic"`) gets the
//! client's own body (its model renamed) and `anthropic-beta` flags; any other gets the request
//! translated to chat completions (`sluice_native::inbound::messages`: what cannot be carried
//! is dropped and counted in `sluice_inbound_dropped_fields_total`, never refused). Either way
//! the answer comes back through the relay as Anthropic's events (or a `message`), and every
//! error in Anthropic's shape ([`anthropic_errors`], which also covers the auth layer's).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sluice_native::inbound::messages;
use sluice_native::passthrough::NativeApi;
use sluice_openai::ErrorBody;
use tokio::time::Instant;

use super::chat::{is_json, read_body};
use super::inbound::{self, Translation};
use crate::dispatch::{self, RequestCtx};
use crate::error::ApiError;
use crate::estimate::{count_prompt, Tables};
use crate::format::ClientFormat;
use crate::state::AppState;

/// The longest error document reshaped; a longer one is replaced by its status's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn create(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    let read = inbound::read(&app, &ctx, &parts, body, NativeApi::Messages, |raw| {
        let m = messages::request(raw).map_err(|e| Box::new(e.to_error_body()))?;
        Ok(Translation {
            body: m.body,
            model: m.model,
            dropped: m.dropped,
        })
    });
    let request = match read.await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let format = ClientFormat::Messages {
        model: request.model,
        id: format!("msg_{}", ctx.id.as_str().replace('-', "")),
        raw: request.raw,
    };
    dispatch::chat(&app, ctx, request.chat, format).await
}

/// The prompt's tokens. When the route's first provider is Anthropic, Anthropic counts them
/// (`/messages/count_tokens`, the client's body with the provider's model name): exact.
/// Otherwise, or if Anthropic does not answer with a count, the gateway counts them with the
/// route's first provider model's tokenizer (tiktoken's: an estimate, as the ledger's counts of
/// requests with no usage are). The request is read as `/v1/messages` reads it.
pub async fn count_tokens(State(app): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if !is_json(&parts.headers) {
        return ApiError::not_json().into_response();
    }
    let server = &app.config().server;
    let raw = match read_body(body, app.config().max_body, server.body_timeout).await {
        Ok(raw) => raw,
        Err(e) => return e.into_response(),
    };
    let inbound = match messages::count_tokens_body(&raw) {
        Ok(inbound) => inbound,
        Err(e) => return ApiError::with_body(400, e.to_error_body()).into_response(),
    };
    let Some(route) = app.config().route(&inbound.model) else {
        return ApiError::unknown_model(&inbound.model).into_response();
    };
    let target = &route.targets[0];
    if let Some(provider) = app.provider(&target.provider) {
        let mut protocol = HeaderMap::new();
        for value in parts.headers.get_all("anthropic-beta") {
            protocol.append("anthropic-beta", value.clone());
        }
        if let Some(n) = provider.count_tokens(&raw, &target.model, protocol).await {
            return axum::Json(json!({ "input_tokens": n })).into_response();
        }
    }
    let model = target.model.clone();
    let counted =
        tokio::task::spawn_blocking(move || count_prompt(&model, &inbound.body, Tables::Load))
            .await;
    match counted {
        Ok(n) => axum::Json(json!({ "input_tokens": n })).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// Writes every error answer on the Messages routes in Anthropic's shape
/// (`{"type":"error","error":{"type","message"}}`, the type from the status unless the error
/// already has one of Anthropic's), so the Anthropic SDK raises its own exception types.
/// Sits outside the auth layer, so a wrong key's 401 is Anthropic's too.
pub async fn anthropic_errors(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/v1/messages") {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let err = serde_json::from_slice::<serde_json::Value>(&bytes)
        .map(|v| ErrorBody::from_json(&v))
        .unwrap_or_else(|_| {
            ErrorBody::from_message(
                status
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_owned(),
            )
        });
    // OpenAI calls most refusals `invalid_request_error` (a wrong key, an unknown model);
    // Anthropic names them by their status.
    let mut err = err;
    if status.as_u16() != 400 && err.error_type.as_deref() == Some("invalid_request_error") {
        err.error_type = None;
    }
    let doc = messages::error_json(status.as_u16(), &err);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(doc))
}
