//! `POST /v1/responses`: OpenAI's Responses API. To a provider that serves it (`responses =
//! true`) the request is passed through as the client wrote it, `previous_response_id`
//! included; to any other it is translated (`sluice_native::inbound::responses`; what it
//! cannot carry is dropped and counted in `sluice_inbound_dropped_fields_total`, never
//! refused), routed and relayed like a chat request, and written back as Responses events or a
//! `response` object.

use axum::extract::{Request, State};
use axum::response::Response;
use sluice_native::inbound::responses::{self, ResponseMeta};
use sluice_native::passthrough::NativeApi;
use sluice_native::TranslateError;
use tokio::time::Instant;

use super::inbound::{self, Translation};
use crate::dispatch::{self, RequestCtx};
use crate::format::ClientFormat;
use crate::state::AppState;

pub async fn create(State(app): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestCtx::from_parts(&parts, started);
    let mut stateful = None;
    let read = inbound::read(&app, &ctx, &parts, body, NativeApi::Responses, |raw| {
        let r = responses::request(raw).map_err(|e| Box::new(e.to_error_body()))?;
        stateful = r.stateful.map(|e| TranslateError {
            param: e.param,
            message: e.message,
        });
        Ok(Translation {
            body: r.body,
            model: r.model,
            dropped: r.dropped,
        })
    });
    let request = match read.await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let meta = ResponseMeta {
        id: format!("resp_{}", ctx.id.as_str().replace('-', "")),
        model: request.model,
        created_at: u64::try_from(sluice_types::unix_ms() / 1000).unwrap_or(0),
    };
    let format = ClientFormat::Responses {
        meta,
        raw: request.raw,
        stateful,
    };
    dispatch::chat(&app, ctx, request.chat, format).await
}
