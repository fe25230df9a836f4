//! `POST /v1/responses`: OpenAI's Responses API, served through chat completions. The request
//! is translated (`sluice_native::inbound::responses`; what it cannot carry is dropped and
//! counted in `sluice_inbound_dropped_fields_total`, never refused), routed and relayed like a
//! chat request, and written back as Responses events or a `response` object.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_native::inbound::responses::{self, ResponseMeta};
use sluice_openai::ChatRequest;
use tokio::time::Instant;

use super::chat::{is_json, read_body};
use crate::dispatch::{self, RequestCtx};
use crate::error::ApiError;
use crate::format::ClientFormat;
use crate::metrics::Refused;
use crate::state::AppState;

pub async fn create(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    if !is_json(&parts.headers) {
        let res = ApiError::not_json().into_response();
        return ctx.refuse(&app, Refused::BadRequest, "-", res);
    }
    let server = &app.config().server;
    let raw = match read_body(body, app.config().max_body, server.body_timeout).await {
        Ok(raw) => raw,
        Err(e) => return ctx.refuse(&app, Refused::BadRequest, "-", e.into_response()),
    };
    let inbound = match responses::request(&raw) {
        Ok(inbound) => inbound,
        Err(e) => {
            let res = ApiError::with_body(400, e.to_error_body()).into_response();
            return ctx.refuse(&app, Refused::BadRequest, "-", res);
        }
    };
    app.metrics().inbound_dropped("responses", &inbound.dropped);
    let chat = match ChatRequest::parse(Bytes::from(inbound.body)) {
        Ok(chat) => chat,
        Err(e) => {
            let res = ApiError::bad_request(e.0).into_response();
            return ctx.refuse(&app, Refused::BadRequest, &inbound.model, res);
        }
    };
    let meta = ResponseMeta {
        id: format!("resp_{}", ctx.id.as_str().replace('-', "")),
        model: inbound.model,
        created_at: u64::try_from(sluice_types::unix_ms() / 1000).unwrap_or(0),
    };
    dispatch::chat(&app, ctx, chat, ClientFormat::Responses(meta)).await
}
