//! A request's way from its route to a provider and back: which targets are tried, in which
//! order, how often and when ([`attempt`] does one try; [`backoff`] says how long to wait
//! before the next). Chat completions ([`chat`]) and embeddings ([`embeddings`]) take the same
//! way; a [`Job`] says what differs between them.
//!
//! **Retries and fallback.** The route's targets are tried in order. At each target the request
//! is tried once and then retried up to `retry.attempts` times (so `attempts = 2` allows three
//! tries per target), then the next target is tried. A failure is retried (or fallen back from)
//! only while nothing has been sent to the client — the relay's commit resolved to an error, or
//! a whole (non-streaming) answer failed — and only when it is retryable
//! ([`StreamError::retryable`]: connect errors, HTTP 429/500/502/503/504 and Anthropic's 529,
//! an error event saying one of those, first-token timeouts). Any other failure is answered at once. Retries at one target wait an
//! exponential backoff from `retry.backoff` with full jitter, or the provider's `Retry-After`
//! when it is at most `retry.max_retry_after` (a longer one moves on to the next target at
//! once); moving on to the next target does not wait. All attempts share one deadline: the
//! first target provider's `timeouts.total`, from the request's arrival; no attempt starts that
//! could not start before it. Waiting happens in the handler's own future, so a client that
//! leaves cancels everything. A provider whose circuit is open ([`crate::breaker`]) is skipped;
//! when every target's is, the one whose cool-down ends first is tried as a probe.
//!
//! **One ending.** The request is recorded once ([`crate::ending`]) under the provider that
//! served it or last failed, with the number of attempts; failed attempts before it only count
//! in `sluice_upstream_errors_total`, and each attempt after the first in
//! `sluice_retries_total`. The last failure waits in [`Run`] until it is known whether another
//! attempt follows; a request dropped meanwhile (the client left during a backoff) records it
//! then.

mod attempt;
mod backoff;
mod job;

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use sluice_config::Target;
use sluice_native::passthrough::NativeApi;
use sluice_openai::{ChatRequest, EmbeddingsRequest};
use sluice_relay::StreamError;
use sluice_types::unix_ms;
use tokio::time::Instant;

use self::attempt::{Attempt, Failed};
use self::backoff::Jitter;
use self::job::Job;
use crate::auth::Caller;
use crate::breaker::{Admission, Permit};
use crate::ending::{Draft, Ending};
use crate::error::ApiError;
use crate::format::ClientFormat;
use crate::headers::{ClientRequestId, RequestId, ATTEMPTS};
use crate::limits::{self, Hold};
use crate::metrics::Refused;
use crate::state::AppState;
use crate::upstream::{forwarded_headers, BodyError};

/// What is known of a request before it reaches a provider.
pub struct RequestCtx {
    pub id: RequestId,
    /// The client's own `x-request-id`, kept beside the gateway's.
    pub client_id: Option<ClientRequestId>,
    pub started: Instant,
    pub client_headers: HeaderMap,
    /// Who is calling (see `crate::auth`).
    pub caller: Caller,
}

impl RequestCtx {
    /// What the layers put on a request: its ids and caller; `started` is its arrival.
    pub fn from_parts(parts: &axum::http::request::Parts, started: Instant) -> Self {
        let ext = &parts.extensions;
        RequestCtx {
            id: ext
                .get::<RequestId>()
                .cloned()
                .unwrap_or_else(|| RequestId(HeaderValue::from_static("-"))),
            client_id: ext.get::<ClientRequestId>().cloned(),
            started,
            client_headers: parts.headers.clone(),
            caller: ext.get::<Caller>().cloned().unwrap_or(Caller::Open),
        }
    }

    /// Records the request as refused before any provider (`model` as asked) and returns
    /// `response`.
    pub fn refuse(
        &self,
        app: &AppState,
        why: Refused,
        model: &str,
        response: Response,
    ) -> Response {
        Ending::refused(
            why,
            self.id.as_str(),
            self.started,
            model,
            response.status().as_u16(),
        )
        .with_key(self.caller.key_id())
        .with_client_id(self.client_id.as_ref())
        .record(app);
        response
    }
}

/// Serves a chat request on its route.
pub async fn chat(
    app: &AppState,
    ctx: RequestCtx,
    chat: ChatRequest,
    format: ClientFormat,
) -> Response {
    let job = Job::Chat {
        request: &chat,
        format,
    };
    serve(app, ctx, job).await
}

/// Serves an embeddings request on its route: its targets that serve embeddings, with the
/// retries, fallback and breakers of a whole chat answer.
pub async fn embeddings(app: &AppState, ctx: RequestCtx, request: EmbeddingsRequest) -> Response {
    serve(app, ctx, Job::Embeddings(&request)).await
}

async fn serve(app: &AppState, ctx: RequestCtx, job: Job<'_>) -> Response {
    let Some(route) = app.config().route(job.model()) else {
        Ending::refused(
            Refused::NotFound,
            ctx.id.as_str(),
            ctx.started,
            job.model(),
            404,
        )
        .with_key(ctx.caller.key_id())
        .with_client_id(ctx.client_id.as_ref())
        .record(app);
        return ApiError::unknown_model(job.model()).into_response();
    };
    let request_total = app.provider(&route.targets[0].provider).map_or_else(
        || sluice_config::Timeouts::default().total,
        |p| p.timeouts.total,
    );
    // The one admission point of a key's limits: the model is known, no provider tried yet.
    let tokens = job.reserve(app.config().limits.default_max_tokens);
    let hold = match limits::admit(app, &ctx.caller, &route.model, tokens, request_total).await {
        Ok(hold) => hold,
        Err(refusing) => {
            let status = refusing.response.status().as_u16();
            Ending::refused(
                refusing.why,
                ctx.id.as_str(),
                ctx.started,
                job.model(),
                status,
            )
            .with_key(ctx.caller.key_id())
            .with_client_id(ctx.client_id.as_ref())
            .record(app);
            return refusing.response;
        }
    };
    let messages = matches!(job.native(), Some((NativeApi::Messages, _)));
    let protocol = protocol_headers(&ctx.client_headers, messages);
    let mut run = Run {
        app,
        job,
        id: ctx.id.as_str().to_owned(),
        started: ctx.started,
        at_ms: unix_ms(),
        request_total,
        deadline: ctx.started + request_total,
        protocol,
        headers: forwarded_headers(&ctx.client_headers),
        attempts: 0,
        out_of_time: false,
        last: None,
        earlier: Vec::new(),
        jitter: Jitter::new(),
        key_id: ctx.caller.key_id().map(str::to_owned),
        client_id: ctx.client_id.clone(),
        hold,
        unservable: None,
    };
    let breakers = app.breakers();
    let mut denied: Vec<(Instant, &Target)> = Vec::new();
    for target in &route.targets {
        if run.out_of_time {
            break;
        }
        match breakers.admit(&target.provider, Instant::now()) {
            Admission::Admitted => {
                if let Some(res) = run.target(target).await {
                    return res;
                }
            }
            Admission::Denied(until) => denied.push((until, target)),
        }
    }
    if run.attempts == 0 {
        // Every target's circuit is open: probe the one whose cool-down ends first, among
        // those that serve the request's API if any does.
        let api = run.job.api();
        let serves = |t: &Target| app.provider(&t.provider).is_some_and(|p| p.serves(api));
        if let Some((_, target)) = denied.iter().min_by_key(|(until, t)| (!serves(t), *until)) {
            breakers.force_probe(&target.provider);
            if let Some(res) = run.target(target).await {
                return res;
            }
        }
    }
    run.give_up()
}

/// One request's attempts across its route's targets.
struct Run<'a> {
    app: &'a AppState,
    job: Job<'a>,
    id: String,
    started: Instant,
    at_ms: i64,
    /// The time limit of the whole request, all attempts included, and when it ends.
    request_total: Duration,
    deadline: Instant,
    headers: HeaderMap,
    /// Headers of a native API the client sent for its provider (`anthropic-beta`).
    protocol: HeaderMap,
    /// Provider attempts made so far.
    attempts: u32,
    /// The deadline left no room for another attempt.
    out_of_time: bool,
    /// The last failed attempt: the request's ending unless another attempt follows.
    last: Option<Failed>,
    /// The failed attempts before the current one (`provider kind`), for the ledger row.
    earlier: Vec<String>,
    jitter: Jitter,
    key_id: Option<String>,
    client_id: Option<ClientRequestId>,
    /// The request's reservation of its key's limits, handed to every attempt's ending.
    hold: Option<Hold>,
    /// The first target whose API could not take the request said why: the client's 400 if
    /// no target was tried.
    unservable: Option<ApiError>,
}

impl Run<'_> {
    /// Tries one target, with its retries. `Some`: the request's answer; `None`: move on to the
    /// next target (the failure is kept in `last`).
    async fn target(&mut self, target: &Target) -> Option<Response> {
        let app = self.app;
        let metrics = app.metrics().route(self.job.model(), &target.provider);
        let Some(provider) = app.provider(&target.provider) else {
            self.refuse_internal(format!("provider {} is not set up", target.provider));
            return Some(
                ApiError::internal(format!("provider {} is not set up", target.provider))
                    .into_response(),
            );
        };
        // Held from here: a target refused below releases its breaker's probe slot when the
        // permit drops.
        let mut permit = Permit::new(app.breakers(), &provider.name);
        let (body, api) = match self.job.body(provider, &target.model) {
            Ok(prepared) => prepared,
            // This target cannot take the request; another of the route may.
            Err(BodyError::Untranslatable(e)) => {
                tracing::debug!(request_id = %self.id, provider = %provider.name, "{e}");
                self.unservable
                    .get_or_insert_with(|| ApiError::untranslatable(&e));
                return None;
            }
            Err(BodyError::NoEmbeddings) => {
                let model = self.job.model();
                self.unservable
                    .get_or_insert_with(|| ApiError::no_embeddings(model));
                return None;
            }
            Err(BodyError::Rewrite(e)) => {
                self.refuse_internal(e.0.clone());
                return Some(ApiError::internal(e.0).into_response());
            }
        };
        let retry = &app.config().retry;
        for try_no in 0..=retry.attempts {
            if self.attempts > 0 {
                let delay = if try_no == 0 {
                    Duration::ZERO
                } else {
                    match self.last.as_ref().and_then(|f| f.err.retry_after()) {
                        Some(after) if after > retry.max_retry_after => return None,
                        Some(after) => after,
                        None => self.jitter.backoff(retry.backoff, try_no),
                    }
                };
                if Instant::now() + delay >= self.deadline {
                    self.out_of_time = true;
                    return None;
                }
                if !delay.is_zero() {
                    // In this future: a client that leaves drops it, and the wait with it.
                    tokio::time::sleep(delay).await;
                }
                // Another attempt follows: the previous failure is not the request's ending,
                // but the ledger row keeps its kind.
                if let Some(prev) = self.last.take() {
                    app.metrics().retry(&prev.provider, prev.err.kind());
                    self.earlier
                        .push(format!("{} {}", prev.provider, prev.err.kind()));
                    prev.discard();
                }
                if try_no == 0 {
                    app.metrics().fallback(&provider.name);
                }
            }
            self.attempts += 1;
            let attempt = Attempt {
                app,
                provider,
                draft: Draft {
                    request_id: self.id.clone(),
                    at_ms: self.at_ms,
                    started: self.started,
                    model: self.job.model().to_owned(),
                    provider: provider.name.clone(),
                    provider_model: target.model.clone(),
                    metrics: metrics.clone(),
                    price: app.prices().target(&target.provider, &target.model),
                    request_body: self.job.raw().clone(),
                    attempts: self.attempts,
                    earlier_failures: (!self.earlier.is_empty()).then(|| self.earlier.join("; ")),
                    key_id: self.key_id.clone(),
                    client_request_id: self.client_id.as_ref().map(|c| c.as_str().to_owned()),
                    hold: self.hold.clone(),
                },
                api,
                body: body.clone(),
                headers: self.headers.clone(),
                protocol: self.protocol.clone(),
            };
            let result = match self.job.streamed() {
                Some(format) => attempt.stream(format, self.request_total).await,
                None => {
                    let format = self.job.whole_format();
                    attempt
                        .complete(format, self.deadline, self.request_total)
                        .await
                }
            };
            match result {
                Ok(res) => {
                    permit.success();
                    return Some(res);
                }
                Err(failed) if !failed.err.retryable() => {
                    // Not the provider's trouble (or not one another attempt would fix): the
                    // permit is dropped unsettled.
                    let res = error_response(&failed.err, &provider.name, self.attempts);
                    failed.finish(app);
                    return Some(res);
                }
                Err(failed) => {
                    let opened = permit.failure();
                    self.last = Some(failed);
                    if opened {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// The gateway cannot serve a target of its own route (a provider without a client, a
    /// body it cannot rewrite): recorded as refused with an internal error.
    fn refuse_internal(&self, why: String) {
        tracing::error!(request_id = %self.id, "{why}");
        Ending::refused(
            Refused::Internal,
            &self.id,
            self.started,
            self.job.model(),
            500,
        )
        .with_key(self.key_id.as_deref())
        .with_client_id(self.client_id.as_ref())
        .record(self.app);
    }

    /// No attempt succeeded: the last failure is the answer, or why no target could take the
    /// request.
    fn give_up(mut self) -> Response {
        match self.last.take() {
            Some(failed) => {
                let res = error_response(&failed.err, &failed.provider, self.attempts);
                failed.finish(self.app);
                res
            }
            None if self.unservable.is_some() => {
                let err = self.unservable.take().expect("checked just above");
                let res = err.into_response();
                Ending::refused(
                    Refused::BadRequest,
                    &self.id,
                    self.started,
                    self.job.model(),
                    400,
                )
                .with_key(self.key_id.as_deref())
                .with_client_id(self.client_id.as_ref())
                .record(self.app);
                res
            }
            None => {
                let why = "no provider could be tried";
                self.refuse_internal(why.to_owned());
                ApiError::internal(why).into_response()
            }
        }
    }
}

impl Drop for Run<'_> {
    /// The client left while the request waited to retry: the last failure is its ending.
    fn drop(&mut self) {
        if let Some(failed) = self.last.take() {
            failed.finish(self.app);
        }
    }
}

#[cfg(test)]
mod tests;

/// A Messages client's `anthropic-beta` flags, for an Anthropic provider its request is passed
/// through to.
fn protocol_headers(client: &HeaderMap, messages: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    if messages {
        for value in client.get_all("anthropic-beta") {
            out.append("anthropic-beta", value.clone());
        }
    }
    out
}

fn error_response(err: &StreamError, provider: &str, attempts: u32) -> Response {
    let mut res = ApiError::from_stream(err, provider).into_response();
    res.headers_mut()
        .insert(ATTEMPTS, HeaderValue::from(attempts));
    res
}
