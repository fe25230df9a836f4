//! A chat request's way from a route to a provider and back: choosing the target, shaping the
//! provider body, and either starting a relay (streams) or passing the whole answer through.
//! Each ending is logged and recorded in the metrics in one place, [`RequestLog`].

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sluice_ledger::Row;
use sluice_relay::{Connect, End, Framing, Outcome, RelayConfig, Usage, UsagePricer};
use tokio::time::Instant;

use crate::accounting::{Accounts, Estimate, TargetPrice};
use crate::error::ApiError;
use crate::headers::{RequestId, ACCEL_BUFFERING, ATTEMPTS, PROVIDER};
use crate::metrics::{Refused, RouteMetrics};
use crate::request::ChatRequest;
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
    framing: Framing,
) -> Response {
    let Some(route) = app.config().route(&chat.model) else {
        refused(app, Refused::NotFound, ctx.id.as_str(), &chat.model, 404);
        return ApiError::unknown_model(&chat.model).into_response();
    };
    // Retries and fallback across the route's targets come with the resilience work; for now
    // the first target serves.
    let target = &route.targets[0];
    let metrics = app.metrics().route(&route.model, &target.provider);
    let Some(provider) = app.provider(&target.provider) else {
        metrics.refused(Refused::Internal);
        return ApiError::internal(format!("provider {} is not set up", target.provider))
            .into_response();
    };
    let body = match chat.body_for(&target.model) {
        Ok(b) => b,
        Err(e) => {
            metrics.refused(Refused::Internal);
            return e.into_response();
        }
    };
    let headers = forwarded_headers(&ctx.client_headers);
    let log = RequestLog {
        id: ctx.id.as_str().to_owned(),
        model: chat.model.clone(),
        provider: provider.name.clone(),
        provider_model: target.model.clone(),
        started: ctx.started,
        metrics,
        price: app.prices().target(&target.provider, &target.model),
        accounts: app.accounts().cloned(),
        request_body: body.clone(),
        at_ms: unix_ms(),
    };
    if chat.stream {
        stream(app, log, &chat, provider, body, headers, framing).await
    } else {
        complete(log, provider, body, headers).await
    }
}

async fn stream(
    app: &AppState,
    log: RequestLog,
    chat: &ChatRequest,
    provider: &ProviderClient,
    body: bytes::Bytes,
    headers: HeaderMap,
    framing: Framing,
) -> Response {
    let stream_cfg = app.config().stream_for(&chat.model);
    let slow_client = match stream_cfg.slow_client {
        sluice_config::SlowClient::Coalesce => sluice_relay::SlowClient::Coalesce,
        sluice_config::SlowClient::Block => sluice_relay::SlowClient::Block,
    };
    let timeouts = &provider.timeouts;
    let cfg = RelayConfig {
        buffer_events: stream_cfg.buffer_events,
        keepalive: stream_cfg.keepalive,
        first_token: timeouts.first_token,
        idle: timeouts.idle,
        total: timeouts.total,
        slow_client_timeout: stream_cfg.slow_client_timeout,
        slow_client,
        started: log.started,
        framing,
        lifecycle: app.relays().clone(),
        pricer: Some(log.price.clone()),
    };
    // Active from here until the outcome sink, which every started relay calls once.
    let active = log.metrics.stream_started();
    let sent = Arc::new(OnceLock::new());
    let connect = mark_sent(provider.stream(body, headers), sent.clone());
    let (commit, client_body) = sluice_relay::start(
        connect,
        cfg,
        Box::new(move |outcome| {
            log.stream_finished(outcome, sent.get().copied());
            drop(active);
        }),
    );
    match commit.await {
        Ok(()) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .header(ACCEL_BUFFERING, "no")
            .header(PROVIDER, provider_header(&provider.name))
            .header(ATTEMPTS, HeaderValue::from(1u32))
            .body(Body::from_stream(client_body))
            .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response()),
        Err(err) => with_attempts(ApiError::from_stream(&err, &provider.name).into_response()),
    }
}

async fn complete(
    log: RequestLog,
    provider: &ProviderClient,
    body: bytes::Bytes,
    headers: HeaderMap,
) -> Response {
    let sent = Instant::now();
    match provider.complete(body, headers).await {
        Ok(done) => {
            let usage = serde_json::from_slice::<serde_json::Value>(&done.body)
                .ok()
                .and_then(|v| serde_json::from_value::<Usage>(v.get("usage")?.clone()).ok());
            log.completion_finished(sent, Ok(usage));
            // The client's usage carries the gateway's cost, as on the stream's usage chunk.
            let body = match usage.and_then(|u| log.price.price(&u)) {
                Some(priced) => sluice_relay::pricing::price_usage_in_chunk(&done.body, &priced)
                    .map(bytes::Bytes::from)
                    .unwrap_or(done.body),
                None => done.body,
            };
            let content_type = HeaderValue::from_str(&done.content_type)
                .unwrap_or(HeaderValue::from_static("application/json"));
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .header(PROVIDER, provider_header(&provider.name))
                .header(ATTEMPTS, HeaderValue::from(1u32))
                .body(Body::from(body))
                .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response())
        }
        Err(err) => {
            log.completion_finished(sent, Err(&err));
            with_attempts(ApiError::from_stream(&err, &provider.name).into_response())
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

fn with_attempts(mut res: Response) -> Response {
    res.headers_mut().insert(ATTEMPTS, HeaderValue::from(1u32));
    res
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
}

impl RequestLog {
    /// `sent`: when the request was handed to the provider client, if it was.
    fn stream_finished(&self, mut outcome: Outcome, sent: Option<Instant>) {
        self.metrics.stream_finished(self.started, sent, &outcome);
        if let Some(usage) = &outcome.usage {
            self.metrics
                .cost(f64::try_from(self.price.cost(usage).usd).unwrap_or(0.0));
        }
        let (status, error) = match &outcome.end {
            End::Completed => ("ok", None),
            End::ClientClosed => ("client_closed", None),
            End::Failed(e) => (e.kind(), Some(loggable(e))),
        };
        let usage = outcome.usage.unwrap_or_default();
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
            events = outcome.events,
            queue_high_water = outcome.queue.high_water,
            coalesced = outcome.queue.coalesced,
            blocked_ms = outcome.blocked.as_secs_f64() * 1000.0,
            attempts = 1,
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
            (outcome.usage.is_none() && outcome.headers_at.is_some()).then(|| Estimate {
                model: self.provider_model.clone(),
                request_body: self.request_body.clone(),
                text: std::mem::take(&mut outcome.text),
            });
        let duration_ms = (outcome.ended_at - self.started).as_secs_f64() * 1000.0;
        self.record(
            true,
            status,
            http_status,
            outcome.usage,
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
            attempts: 1,
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
            Err(e) => (e.kind(), Usage::default(), Some(loggable(e))),
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
            attempts = 1,
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
