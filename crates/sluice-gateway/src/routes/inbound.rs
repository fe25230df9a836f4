//! What the inbound API routes (`/v1/responses`, `/v1/messages`) share: reading the client's
//! body and turning it into the chat request the gateway routes, every refusal on the way
//! recorded.

use axum::body::Body;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_native::passthrough::NativeApi;
use sluice_openai::{ChatRequest, ErrorBody};

use super::chat::read_json;
use crate::dispatch::RequestCtx;
use crate::error::ApiError;
use crate::metrics::Refused;
use crate::state::AppState;

/// A client's request in the gateway's terms.
pub(super) struct Translated {
    /// The client's body as it sent it.
    pub raw: Bytes,
    /// The chat request it became.
    pub chat: ChatRequest,
    /// The model the client asked for.
    pub model: String,
}

/// What an inbound API's translation gives: the chat body, the model asked for, and the
/// fields it dropped (counted in `sluice_inbound_dropped_fields_total`).
pub(super) struct Translation {
    pub body: Vec<u8>,
    pub model: String,
    pub dropped: Vec<String>,
}

/// Reads the body of a request in `api` and translates it with `translate` (whose error is the
/// client's 400); a refusal is recorded and returned as the response.
pub(super) async fn read(
    app: &AppState,
    ctx: &RequestCtx,
    parts: &Parts,
    body: Body,
    api: NativeApi,
    translate: impl FnOnce(&[u8]) -> Result<Translation, Box<ErrorBody>>,
) -> Result<Translated, Response> {
    let raw = read_json(app, ctx, parts, body).await?;
    let translation = match translate(&raw) {
        Ok(t) => t,
        Err(e) => {
            let res = ApiError::with_body(400, *e).into_response();
            return Err(ctx.refuse(app, Refused::BadRequest, "-", res));
        }
    };
    // Nothing is dropped from a request its route's provider takes as it is.
    if !first_target_speaks(app, &translation.model, api) {
        let name = match api {
            NativeApi::Messages => "messages",
            NativeApi::Responses => "responses",
        };
        app.metrics().inbound_dropped(name, &translation.dropped);
    }
    match ChatRequest::parse(Bytes::from(translation.body)) {
        Ok(chat) => Ok(Translated {
            raw,
            chat,
            model: translation.model,
        }),
        Err(e) => {
            let res = ApiError::bad_request(e.0).into_response();
            Err(ctx.refuse(app, Refused::BadRequest, &translation.model, res))
        }
    }
}

/// Whether the first target of `model`'s route speaks `api` itself (the request will most
/// likely be passed through, untranslated).
fn first_target_speaks(app: &AppState, model: &str, api: NativeApi) -> bool {
    app.config()
        .route(model)
        .and_then(|route| route.targets.first())
        .and_then(|target| app.provider(&target.provider))
        .is_some_and(|provider| provider.speaks(api))
}
