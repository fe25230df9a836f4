//! A chat request's way from a route to a provider and back: choosing the target, shaping the
//! provider body, and either starting a relay (streams) or passing the whole answer through.
//! Each ending is logged and recorded in the metrics in one place, [`RequestLog`].
//!
//! **Retries and fallback.** The route's targets are tried in order. At each target the request
//! is tried once and then retried up to `retry.attempts` times (so `attempts = 2` allows three
//! tries per target), then the next target is tried. A failure is retried (or fallen back from)
//! only while nothing has been sent to the client — the relay's commit resolved to an error, or
//! a whole (non-streaming) answer failed — and only when it is retryable
//! ([`StreamError::retryable`]: connect errors, HTTP 429/500/502/503/504, first-token timeouts).
//! Any other failure is answered at once. Retries at one target wait an exponential backoff
//! from `retry.backoff` with full jitter, or the provider's `Retry-After` when it is at most
//! `retry.max_retry_after` (a longer one moves on to the next target at once); moving on to the
//! next target does not wait. All attempts share one deadline: the first target provider's
//! `timeouts.total`, from the request's arrival; no attempt starts that could not start before
//! it. Waiting happens in the handler's own future, so a client that leaves cancels everything.
//! A provider whose circuit is open ([`crate::breaker`]) is skipped; when every target's is,
//! the one whose cool-down ends first is tried as a probe.
//!
//! The request is recorded once (log line, `sluice_requests_total`, ledger row) under the
//! provider that served it or last failed, with the number of attempts; failed attempts before
//! it only count in `sluice_upstream_errors_total`, and each attempt after the first in
//! `sluice_retries_total`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sluice_config::Target;
use sluice_ledger::Row;
use sluice_openai::{ChatRequest, UsagePricer};
use sluice_relay::{Connect, End, Outcome, RelayConfig, StreamError};
use sluice_types::Usage;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::accounting::{Accounts, Estimate, TargetPrice};
use crate::breaker::{Admission, Permit};
use crate::error::ApiError;
use crate::format::ClientFormat;
use crate::headers::{RequestId, ACCEL_BUFFERING, ATTEMPTS, PROVIDER};
use crate::metrics::{Refused, RouteMetrics};
use crate::state::AppState;
use crate::upstream::{forwarded_headers, ProviderClient};

/// What is known of a request before it reaches a provider.
pub struct RequestCtx {
    pub id: RequestId,
    pub started: Instant,
    pub client_headers: HeaderMap,
}

/// Serves a chat request on its route.
pub async fn chat(
    app: &AppState,
    ctx: RequestCtx,
    chat: ChatRequest,
    format: ClientFormat,
) -> Response {
    let Some(route) = app.config().route(&chat.model) else {
        refused(app, Refused::NotFound, ctx.id.as_str(), &chat.model, 404);
        return ApiError::unknown_model(&chat.model).into_response();
    };
    let request_total = app.provider(&route.targets[0].provider).map_or_else(
        || sluice_config::Timeouts::default().total,
        |p| p.timeouts.total,
    );
    let mut run = Run {
        app,
        route_model: &route.model,
        chat: &chat,
        format,
        id: ctx.id.as_str().to_owned(),
        started: ctx.started,
        at_ms: unix_ms(),
        request_total,
        deadline: ctx.started + request_total,
        headers: forwarded_headers(&ctx.client_headers),
        attempts: 0,
        out_of_time: false,
        last: LastFailure(None),
        earlier: Vec::new(),
        jitter: Jitter::new(),
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
        // Every target's circuit is open: probe the one whose cool-down ends first.
        if let Some((_, target)) = denied.iter().min_by_key(|(until, _)| *until) {
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
    route_model: &'a str,
    chat: &'a ChatRequest,
    format: ClientFormat,
    id: String,
    started: Instant,
    at_ms: i64,
    /// The time limit of the whole request, all attempts included, and when it ends.
    request_total: Duration,
    deadline: Instant,
    headers: HeaderMap,
    /// Provider attempts made so far.
    attempts: u32,
    /// The deadline left no room for another attempt.
    out_of_time: bool,
    /// The last failed attempt, recorded as the request's ending unless another attempt follows.
    last: LastFailure,
    /// The failed attempts before the current one (`provider kind`), for the ledger row.
    earlier: Vec<String>,
    jitter: Jitter,
}

impl Run<'_> {
    /// Tries one target, with its retries. `Some`: the request's answer; `None`: move on to the
    /// next target (the failure is kept in `last`).
    async fn target(&mut self, target: &Target) -> Option<Response> {
        let app = self.app;
        let metrics = app.metrics().route(self.route_model, &target.provider);
        let Some(provider) = app.provider(&target.provider) else {
            metrics.refused(Refused::Internal);
            return Some(
                ApiError::internal(format!("provider {} is not set up", target.provider))
                    .into_response(),
            );
        };
        let body = match self.chat.body_for(&target.model) {
            Ok(b) => b,
            Err(e) => {
                metrics.refused(Refused::Internal);
                return Some(ApiError::internal(e.0).into_response());
            }
        };
        let mut permit = Permit::new(app.breakers(), &provider.name);
        let retry = &app.config().retry;
        for try_no in 0..=retry.attempts {
            if self.attempts > 0 {
                let delay = if try_no == 0 {
                    Duration::ZERO
                } else {
                    match self.last.retry_after() {
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
                if let Some(prev) = self.last.0.take() {
                    app.metrics()
                        .retry(&prev.provider, prev.err.kind().as_str());
                    self.earlier
                        .push(format!("{} {}", prev.provider, prev.err.kind()));
                    prev.discard();
                }
                if try_no == 0 {
                    app.metrics().fallback(&provider.name);
                }
            }
            self.attempts += 1;
            let log = RequestLog {
                id: self.id.clone(),
                model: self.chat.model.clone(),
                provider: provider.name.clone(),
                provider_model: target.model.clone(),
                started: self.started,
                metrics: metrics.clone(),
                price: app.prices().target(&target.provider, &target.model),
                accounts: app.accounts().cloned(),
                request_body: body.clone(),
                at_ms: self.at_ms,
                attempts: self.attempts,
                earlier_failures: (!self.earlier.is_empty()).then(|| self.earlier.join("; ")),
            };
            let result = if self.chat.stream {
                self.stream(log, provider, body.clone()).await
            } else {
                self.complete(log, provider, body.clone()).await
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
                    failed.finish();
                    return Some(res);
                }
                Err(failed) => {
                    let opened = permit.failure();
                    self.last.0 = Some(failed);
                    if opened {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// No attempt succeeded: the last failure is the answer.
    fn give_up(mut self) -> Response {
        match self.last.0.take() {
            Some(failed) => {
                let res = error_response(&failed.err, &failed.provider, self.attempts);
                failed.finish();
                res
            }
            None => ApiError::internal("no provider could be tried").into_response(),
        }
    }

    async fn stream(
        &self,
        log: RequestLog,
        provider: &ProviderClient,
        body: bytes::Bytes,
    ) -> Result<Response, Failed> {
        let app = self.app;
        let chat = self.chat;
        let stream_cfg = app.config().stream_for(&chat.model);
        let slow_client = match stream_cfg.slow_client {
            sluice_config::SlowClient::Coalesce => sluice_types::SlowClient::Coalesce,
            sluice_config::SlowClient::Block => sluice_types::SlowClient::Block,
        };
        let timeouts = &provider.timeouts;
        // The relay's timers run from the request's arrival; a later attempt gets its full
        // first-token time from its own start, and the request's deadline bounds all.
        let offset = Instant::now().saturating_duration_since(self.started);
        let cfg = RelayConfig {
            buffer_events: stream_cfg.buffer_events,
            keepalive: stream_cfg.keepalive,
            first_token: offset + timeouts.first_token,
            idle: timeouts.idle,
            total: timeouts.total.min(self.request_total),
            slow_client_timeout: stream_cfg.slow_client_timeout,
            slow_client,
            started: self.started,
            encoder: self.format.encoder(Some(log.price.clone())),
            lifecycle: app.relays().clone(),
        };
        let attempts = log.attempts;
        // Active from here until the outcome sink, which every started relay calls once.
        let active = log.metrics.stream_started();
        let sent = Arc::new(OnceLock::new());
        let connect = mark_sent(provider.stream(body, self.headers.clone()), sent.clone());
        // A failure before the commit comes back here, to be recorded as the request's ending
        // or discarded if another attempt follows; if this handler is gone, the sink records it.
        let (report_tx, report_rx) = oneshot::channel::<(RequestLog, Outcome, Option<Instant>)>();
        let (commit, client_body) = sluice_relay::start(
            connect,
            cfg,
            Box::new(move |outcome| {
                let sent = sent.get().copied();
                let (log, outcome, sent) =
                    if !outcome.committed && matches!(outcome.end, End::Failed(_)) {
                        match report_tx.send((log, outcome, sent)) {
                            Ok(()) => {
                                drop(active);
                                return;
                            }
                            Err(back) => back,
                        }
                    } else {
                        (log, outcome, sent)
                    };
                log.stream_finished(outcome, sent);
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
                let pending = report_rx
                    .await
                    .ok()
                    .map(|(log, outcome, sent)| Pending::Stream {
                        log,
                        outcome: Box::new(outcome),
                        sent,
                    });
                Err(Failed {
                    err,
                    provider: provider.name.clone(),
                    pending,
                })
            }
        }
    }

    async fn complete(
        &self,
        log: RequestLog,
        provider: &ProviderClient,
        body: bytes::Bytes,
    ) -> Result<Response, Failed> {
        let sent = Instant::now();
        let answer =
            tokio::time::timeout_at(self.deadline, provider.complete(body, self.headers.clone()))
                .await
                .unwrap_or(Err(StreamError::TotalTimeout(self.request_total)));
        match answer {
            Ok(done) => {
                let usage = serde_json::from_slice::<serde_json::Value>(&done.body)
                    .ok()
                    .and_then(|v| serde_json::from_value::<Usage>(v.get("usage")?.clone()).ok());
                log.completion_finished(sent, Ok(usage));
                // The client's usage carries the gateway's cost, as on the stream's usage chunk.
                let body = match usage.and_then(|u| log.price.price(&u)) {
                    Some(priced) => {
                        sluice_openai::pricing::price_usage_in_chunk(&done.body, &priced)
                            .map(bytes::Bytes::from)
                            .unwrap_or(done.body)
                    }
                    None => done.body,
                };
                let content_type = HeaderValue::from_str(&done.content_type)
                    .unwrap_or(HeaderValue::from_static("application/json"));
                Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, content_type)
                    .header(PROVIDER, provider_header(&provider.name))
                    .header(ATTEMPTS, HeaderValue::from(log.attempts))
                    .body(Body::from(body))
                    .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response()))
            }
            Err(err) => Err(Failed {
                provider: provider.name.clone(),
                pending: Some(Pending::Complete {
                    log,
                    sent,
                    err: err.clone(),
                }),
                err,
            }),
        }
    }
}

/// An attempt that failed before anything reached the client.
struct Failed {
    err: StreamError,
    provider: String,
    /// Its record, not yet written (none if the relay ended without reporting).
    pending: Option<Pending>,
}

enum Pending {
    Stream {
        log: RequestLog,
        outcome: Box<Outcome>,
        sent: Option<Instant>,
    },
    Complete {
        log: RequestLog,
        sent: Instant,
        err: StreamError,
    },
}

impl Failed {
    /// Records it as the request's ending.
    fn finish(self) {
        match self.pending {
            Some(Pending::Stream { log, outcome, sent }) => log.stream_finished(*outcome, sent),
            Some(Pending::Complete { log, sent, err }) => log.completion_finished(sent, Err(&err)),
            None => {}
        }
    }

    /// Another attempt follows: only the provider's failure is counted.
    fn discard(self) {
        match &self.pending {
            Some(Pending::Stream { log, .. } | Pending::Complete { log, .. }) => {
                log.metrics.attempt_failed(&self.err)
            }
            None => {}
        }
    }
}

/// The last failed attempt; if the request is dropped (the client left while it waited to
/// retry), it is recorded as the request's ending then.
struct LastFailure(Option<Failed>);

impl LastFailure {
    fn retry_after(&self) -> Option<Duration> {
        match self.0.as_ref().map(|f| &f.err) {
            Some(StreamError::ProviderStatus { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

impl Drop for LastFailure {
    fn drop(&mut self) {
        if let Some(failed) = self.0.take() {
            failed.finish();
        }
    }
}

/// Backoff with full jitter: a random wait in `[0, base * 2^(retry - 1)]`, from a small
/// xorshift generator seeded from the clock (no cryptographic quality needed).
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter(nanos | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// The wait before retry number `retry` (1 for the first retry).
    fn backoff(&mut self, base: Duration, retry: u32) -> Duration {
        let cap = base.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let cap_ns = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        if cap_ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next() % cap_ns.saturating_add(1))
    }
}

fn error_response(err: &StreamError, provider: &str, attempts: u32) -> Response {
    let mut res = ApiError::from_stream(err, provider).into_response();
    res.headers_mut()
        .insert(ATTEMPTS, HeaderValue::from(attempts));
    res
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

/// An error as it may be logged: a provider's own message can quote the request (validation
/// errors) or the answer, so only its status, type and code are kept.
fn loggable(err: &sluice_relay::StreamError) -> String {
    use sluice_relay::StreamError::{ProviderEvent, ProviderStatus};
    match err {
        ProviderStatus { status, body, .. } => format!(
            "provider answered HTTP {status} (type {}, code {})",
            body.error_type.as_deref().unwrap_or("-"),
            body.code
        ),
        ProviderEvent(body) => format!(
            "provider sent an error event (type {}, code {})",
            body.error_type.as_deref().unwrap_or("-"),
            body.code
        ),
        other => other.to_string(),
    }
}

/// The request's one log line and its metrics, written when it ends, whatever the ending. It
/// never holds the prompt, the answer or any key.
struct RequestLog {
    id: String,
    model: String,
    provider: String,
    provider_model: String,
    started: Instant,
    /// Unix milliseconds at arrival, for the ledger.
    at_ms: i64,
    metrics: Arc<RouteMetrics>,
    price: Arc<TargetPrice>,
    accounts: Option<Accounts>,
    /// The body sent to the provider, kept to count prompt tokens if it reports no usage.
    request_body: bytes::Bytes,
    /// Provider attempts the request made, this one included.
    attempts: u32,
    /// The failed attempts before this one, for the ledger row's error.
    earlier_failures: Option<String>,
}

impl RequestLog {
    /// `sent`: when the request was handed to the provider client, if it was.
    fn stream_finished(&self, mut outcome: Outcome, sent: Option<Instant>) {
        self.metrics.stream_finished(self.started, sent, &outcome);
        if let Some(usage) = &outcome.tally.usage {
            self.metrics
                .cost(f64::try_from(self.price.cost(usage).usd).unwrap_or(0.0));
        }
        let (status, error) = match &outcome.end {
            End::Completed => ("ok", None),
            End::ClientClosed => ("client_closed", None),
            End::Failed(e) => (e.kind().as_str(), Some(loggable(e))),
        };
        let usage = outcome.tally.usage.unwrap_or_default();
        let ttft_ms = outcome
            .first_token_at()
            .map(|t| (t - self.started).as_secs_f64() * 1000.0);
        tracing::info!(
            target: "sluice::request",
            request_id = %self.id,
            model = %self.model,
            provider = %self.provider,
            provider_model = %self.provider_model,
            stream = true,
            status,
            prompt_tokens = usage.prompt_tokens,
            completion_tokens = usage.completion_tokens,
            ttft_ms,
            duration_ms = (outcome.ended_at - self.started).as_secs_f64() * 1000.0,
            events = outcome.tally.events,
            queue_high_water = outcome.queue.high_water,
            coalesced = outcome.queue.coalesced,
            blocked_ms = outcome.tally.blocked.as_secs_f64() * 1000.0,
            attempts = self.attempts,
            error,
            "request finished"
        );
        let http_status = match &outcome.end {
            _ if outcome.committed => 200,
            End::Failed(e) => e.http_status(),
            // The client left before anything was sent (nginx's "client closed request").
            End::ClientClosed => 499,
            End::Completed => 200,
        };
        // Without the provider's usage, a request the provider accepted is counted with the
        // tokenizer: the prompt it read and the text it sent before the end.
        let estimate =
            (outcome.tally.usage.is_none() && outcome.tally.headers_at.is_some()).then(|| {
                Estimate {
                    model: self.provider_model.clone(),
                    request_body: self.request_body.clone(),
                    text: std::mem::take(&mut outcome.tally.text),
                }
            });
        let duration_ms = (outcome.ended_at - self.started).as_secs_f64() * 1000.0;
        self.record(
            true,
            status,
            http_status,
            outcome.tally.usage,
            estimate,
            ttft_ms,
            duration_ms,
            error,
        );
    }

    /// Writes the ledger row (off the request path: the writer batches it in the background).
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        stream: bool,
        status: &str,
        http_status: u16,
        usage: Option<Usage>,
        estimate: Option<Estimate>,
        ttft_ms: Option<f64>,
        duration_ms: f64,
        error: Option<String>,
    ) {
        let Some(accounts) = &self.accounts else {
            return;
        };
        let usage_or_zero = usage.unwrap_or_default();
        let cost = self.price.cost(&usage_or_zero);
        let error = match (error, &self.earlier_failures) {
            (Some(e), Some(earlier)) => Some(format!("{e} (earlier attempts: {earlier})")),
            (None, Some(earlier)) => Some(format!("earlier attempts: {earlier}")),
            (e, None) => e,
        };
        let row = Row {
            request_id: self.id.clone(),
            at_ms: self.at_ms,
            key_id: None,
            model: self.model.clone(),
            provider: Some(self.provider.clone()),
            provider_model: Some(self.provider_model.clone()),
            status: status.to_owned(),
            http_status,
            stream,
            prompt_tokens: usage_or_zero.prompt_tokens,
            completion_tokens: usage_or_zero.completion_tokens,
            estimated: false,
            cost_usd: cost.usd,
            cost_local: cost.local,
            currency: cost.currency,
            ttft_ms,
            duration_ms,
            attempts: self.attempts,
            error,
        };
        accounts.record(row, estimate, self.price.clone());
    }

    fn completion_finished(
        &self,
        sent: Instant,
        result: Result<Option<Usage>, &sluice_relay::StreamError>,
    ) {
        self.metrics.completion_finished(self.started, sent, result);
        if let Ok(Some(usage)) = &result {
            self.metrics
                .cost(f64::try_from(self.price.cost(usage).usd).unwrap_or(0.0));
        }
        let (status, usage, error) = match result {
            Ok(u) => ("ok", u.unwrap_or_default(), None),
            Err(e) => (e.kind().as_str(), Usage::default(), Some(loggable(e))),
        };
        let http_status = match result {
            Ok(_) => 200,
            Err(e) => e.http_status(),
        };
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let reported = result.ok().flatten();
        self.record(
            false,
            status,
            http_status,
            reported,
            None,
            None,
            duration_ms,
            error.clone(),
        );
        tracing::info!(
            target: "sluice::request",
            request_id = %self.id,
            model = %self.model,
            provider = %self.provider,
            provider_model = %self.provider_model,
            stream = false,
            status,
            prompt_tokens = usage.prompt_tokens,
            completion_tokens = usage.completion_tokens,
            duration_ms,
            attempts = self.attempts,
            error,
            "request finished"
        );
    }
}

/// Counts and records a request refused before any provider was chosen.
pub(crate) fn refused(
    app: &AppState,
    why: Refused,
    request_id: &str,
    model: &str,
    http_status: u16,
) {
    app.metrics().refused(why);
    if let Some(accounts) = app.accounts() {
        // The model as asked, bounded: for an unknown model it is the client's own text.
        let model: String = model.chars().take(128).collect();
        accounts.writer.record(Row {
            request_id: request_id.to_owned(),
            at_ms: unix_ms(),
            key_id: None,
            model,
            provider: None,
            provider_model: None,
            status: why.status().to_owned(),
            http_status,
            stream: false,
            prompt_tokens: 0,
            completion_tokens: 0,
            estimated: false,
            cost_usd: Default::default(),
            cost_local: Default::default(),
            currency: "USD".to_owned(),
            ttft_ms: None,
            duration_ms: 0.0,
            attempts: 0,
            error: None,
        });
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
