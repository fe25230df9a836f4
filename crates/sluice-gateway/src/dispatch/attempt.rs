//! One attempt at one provider: a stream handed to a relay, or a whole answer passed through.
//! Either resolves to the client's response, or to a [`Failed`] attempt that nothing has
//! reached the client of yet (the policy in `dispatch` decides whether another follows).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_openai::UsagePricer;
use sluice_relay::{Connect, Encoder, End, Outcome, RelayConfig, StreamError};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::ending::{Draft, Ending};
use crate::error::ApiError;
use crate::format::{pass_through, whole_passed_through, ClientFormat};
use crate::headers::{ACCEL_BUFFERING, ATTEMPTS, PROVIDER};
use crate::state::AppState;
use crate::upstream::{Api, Call, ProviderClient};

/// An attempt that failed before anything reached the client.
#[derive(Debug)]
pub(super) struct Failed {
    pub err: StreamError,
    pub provider: String,
    /// Its ending, not yet recorded (none if the relay ended without reporting).
    ending: Option<Ending>,
}

impl Failed {
    /// Records it as the request's ending.
    pub fn finish(self, app: &AppState) {
        if let Some(ending) = self.ending {
            ending.record(app);
        }
    }

    /// Another attempt follows: only the provider's failure is counted.
    pub fn discard(self) {
        if let Some(ending) = self.ending {
            ending.discard(&self.err);
        }
    }
}

/// One attempt's inputs.
pub(super) struct Attempt<'a> {
    pub app: &'a AppState,
    pub provider: &'a ProviderClient,
    /// The ending the attempt will have, less its result.
    pub draft: Draft,
    /// The API asked for: a stream is a chat completion, or the client's own API passed
    /// through.
    pub api: Api,
    /// The body for this provider.
    pub body: Bytes,
    /// The client's headers that are passed on (the simulated provider's controls).
    pub headers: HeaderMap,
    /// Headers of the provider's API the client sent for it (`anthropic-beta`).
    pub protocol: HeaderMap,
}

impl Attempt<'_> {
    /// Starts a relay and waits for its commit: `Ok` with the streaming response, or the
    /// failure that came before anything was sent. `request_total` bounds the whole request.
    pub async fn stream(
        self,
        format: &ClientFormat,
        request_total: Duration,
    ) -> Result<Response, Failed> {
        let app = self.app;
        let provider = self.provider;
        let draft = self.draft;
        let stream_cfg = app.config().stream_for(&draft.model);
        let timeouts = &provider.timeouts;
        // The relay's timers run from the request's arrival; a later attempt gets its full
        // first-token time from its own start, and the request's deadline bounds all.
        let offset = Instant::now().saturating_duration_since(draft.started);
        let pricer: Arc<dyn UsagePricer> = draft.price.clone();
        let cfg = RelayConfig {
            buffer_events: stream_cfg.buffer_events,
            keepalive: stream_cfg.keepalive,
            first_token: offset + timeouts.first_token,
            idle: timeouts.idle,
            total: timeouts.total.min(request_total),
            slow_client_timeout: stream_cfg.slow_client_timeout,
            slow_client: stream_cfg.slow_client,
            started: draft.started,
            encoder: match self.api {
                Api::Native(api) => Encoder::PassThrough(pass_through(api, Some(pricer))),
                _ => format.encoder(Some(pricer)).into(),
            },
            lifecycle: app.relays().clone(),
        };
        let attempts = draft.attempts;
        // Active from here until the outcome sink, which every started relay calls once.
        let active = draft.metrics.stream_started();
        let sent = Arc::new(OnceLock::new());
        let call = Call {
            api: self.api,
            model: draft.provider_model.clone(),
            request_id: draft.request_id.clone(),
            body: self.body,
            headers: self.headers,
            protocol: self.protocol,
        };
        let connect = mark_sent(provider.stream(call), sent.clone());
        let (handoff, failure) = Handoff::new(app.clone());
        let (commit, client_body) = sluice_relay::start(
            connect,
            cfg,
            Box::new(move |outcome| {
                let sent = sent.get().copied();
                handoff.deliver(draft, outcome, sent);
                drop(active);
            }),
        );
        match commit.await {
            Ok(()) => Ok(Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .header(ACCEL_BUFFERING, "no")
                .header(PROVIDER, provider_header(&provider.name))
                .header(ATTEMPTS, HeaderValue::from(attempts))
                .body(Body::from_stream(client_body))
                .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response())),
            Err(err) => {
                drop(client_body);
                Err(Failed {
                    err,
                    provider: provider.name.clone(),
                    ending: failure.await.ok(),
                })
            }
        }
    }

    /// Asks for a whole answer (a chat completion, or embeddings) within the request's deadline
    /// and passes it through, its usage priced; or the failure.
    pub async fn complete(
        self,
        format: &ClientFormat,
        deadline: Instant,
        request_total: Duration,
    ) -> Result<Response, Failed> {
        let sent = Instant::now();
        let provider = self.provider;
        let api = self.api;
        let price = self.draft.price.clone();
        let attempts = self.draft.attempts;
        let call = Call {
            api: self.api,
            model: self.draft.provider_model.clone(),
            request_id: self.draft.request_id.clone(),
            body: self.body,
            headers: self.headers,
            protocol: self.protocol,
        };
        // If the client leaves while the provider works, this future is dropped with the
        // provider's request: the guard records the request then.
        let mut pending = Abandoned {
            draft: Some(self.draft),
            app: self.app,
            sent,
        };
        let answer = tokio::time::timeout_at(deadline, provider.complete(call))
            .await
            .unwrap_or(Err(StreamError::TotalTimeout(request_total)));
        let draft = pending.draft.take().expect("taken once, here");
        let done = match answer {
            Ok(done) => done,
            Err(err) => {
                let ending = draft.whole_ended(sent, Err(&err));
                return Err(Failed {
                    err,
                    provider: provider.name.clone(),
                    ending: Some(ending),
                });
            }
        };
        let usage = match api {
            Api::Native(native) => native.whole_usage(&done.body),
            // One pass over the answer, without a JSON tree, as for a stream's chunks.
            _ => sluice_openai::inspect(&done.body)
                .ok()
                .and_then(|s| s.usage.or(s.vendor_usage)),
        };
        draft.whole_ended(sent, Ok(usage)).record(self.app);
        let whole = match api {
            Api::Native(native) => Ok(whole_passed_through(
                native,
                done.body,
                usage.as_ref(),
                &*price,
            )),
            _ => format.whole(done.body, usage.as_ref(), &*price),
        };
        let body = match whole {
            Ok(body) => body,
            // Recorded as served (the provider answered); the client's format cannot say it.
            Err(err) => {
                let err = match err {
                    sluice_native::ResponseError::Provider(body) => {
                        StreamError::ProviderEvent(body)
                    }
                    sluice_native::ResponseError::Protocol(p) => StreamError::Protocol(p.0),
                };
                return Ok(ApiError::from_stream(&err, &provider.name).into_response());
            }
        };
        let content_type = HeaderValue::from_str(&done.content_type)
            .unwrap_or(HeaderValue::from_static("application/json"));
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .header(PROVIDER, provider_header(&provider.name))
            .header(ATTEMPTS, HeaderValue::from(attempts))
            .body(Body::from(body))
            .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response()))
    }
}

/// A whole answer being waited for; dropped before it came (the client left), it records the
/// request as `client_closed`.
struct Abandoned<'a> {
    draft: Option<Draft>,
    app: &'a AppState,
    sent: Instant,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Some(draft) = self.draft.take() {
            draft.whole_abandoned(self.sent).record(self.app);
        }
    }
}

/// Where a stream's ending goes when its relay reports. A failure before the commit goes back
/// to the handler, which records it as the request's ending or discards it when another
/// attempt follows; if the handler is gone (the client left), it is recorded here. Any other
/// ending is recorded here.
struct Handoff {
    app: AppState,
    to_handler: oneshot::Sender<Ending>,
}

impl Handoff {
    fn new(app: AppState) -> (Self, oneshot::Receiver<Ending>) {
        let (to_handler, from_relay) = oneshot::channel();
        (Handoff { app, to_handler }, from_relay)
    }

    fn deliver(self, draft: Draft, outcome: Outcome, sent: Option<Instant>) {
        let before_commit = !outcome.committed && matches!(outcome.end, End::Failed(_));
        let ending = draft.stream_ended(outcome, sent);
        if before_commit {
            match self.to_handler.send(ending) {
                Ok(()) => {}
                Err(ending) => ending.record(&self.app),
            }
        } else {
            ending.record(&self.app);
        }
    }
}

/// Notes when the relay first polls the provider request, i.e. hands it to the provider client
/// (for the gateway's share of TTFT).
fn mark_sent(connect: Connect, sent: Arc<OnceLock<Instant>>) -> Connect {
    Box::pin(async move {
        let _ = sent.set(Instant::now());
        connect.await
    })
}

fn provider_header(name: &str) -> HeaderValue {
    HeaderValue::from_str(name).unwrap_or(HeaderValue::from_static("invalid"))
}
