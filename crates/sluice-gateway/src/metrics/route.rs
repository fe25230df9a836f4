//! The metrics of one route served by one provider: every label set built once at start-up,
//! so recording a request's ending touches only atomics (and, for a rare status, one map
//! lookup).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use sluice_relay::{End, Outcome, StreamError};
use sluice_types::{StreamErrorKind, Usage};
use tokio::time::Instant;

use super::labels::{Refused, RequestLabels, RouteLabels, TokenLabels, UpstreamErrorLabels};
use super::registry::Families;

/// A route's handle: cheap to share (an `Arc`), one per (route, provider).
#[derive(Debug)]
pub struct RouteMetrics {
    families: Arc<Families>,
    model: Arc<str>,
    provider: Arc<str>,
    /// `sluice_requests_total{status="ok"}`, the common ending.
    ok: Counter,
    ttft: Histogram,
    tpot: Histogram,
    duration: Histogram,
    upstream_headers: Histogram,
    upstream_first_byte: Histogram,
    overhead: Histogram,
    prompt_tokens: Counter,
    completion_tokens: Counter,
}

impl RouteMetrics {
    /// Creates the route's series, so that they appear (at zero) before its first request.
    pub(super) fn new(families: &Arc<Families>, model: &str, provider: &str) -> Self {
        let labels = RouteLabels {
            model: model.into(),
            provider: provider.into(),
        };
        let tokens = |kind| TokenLabels {
            model: labels.model.clone(),
            provider: labels.provider.clone(),
            kind,
        };
        drop(families.cost_usd.get_or_create(&labels));
        RouteMetrics {
            ok: families.requests.get_or_create_owned(&RequestLabels {
                model: labels.model.clone(),
                provider: labels.provider.clone(),
                status: "ok",
            }),
            ttft: families.ttft.get_or_create_owned(&labels),
            tpot: families.tpot.get_or_create_owned(&labels),
            duration: families.duration.get_or_create_owned(&labels),
            upstream_headers: families.upstream_headers.get_or_create_owned(&labels),
            upstream_first_byte: families.upstream_first_byte.get_or_create_owned(&labels),
            overhead: families.overhead.get_or_create_owned(&labels),
            prompt_tokens: families.tokens.get_or_create_owned(&tokens("prompt")),
            completion_tokens: families.tokens.get_or_create_owned(&tokens("completion")),
            families: families.clone(),
            model: labels.model,
            provider: labels.provider,
        }
    }

    /// Counts a request on this route refused before it reached the provider.
    pub fn refused(&self, why: Refused) {
        self.count(why.status());
    }

    /// A stream is starting: it counts as active until the returned guard is dropped (by the
    /// outcome sink, which every started relay calls once).
    pub fn stream_started(&self) -> ActiveStream {
        self.families.active_streams.inc();
        ActiveStream(self.families.active_streams.clone())
    }

    /// Records a stream's ending under `status`. `sent` is when the request was handed to the
    /// provider client.
    pub fn stream_finished(
        &self,
        status: &'static str,
        started: Instant,
        sent: Option<Instant>,
        outcome: &Outcome,
    ) {
        let f = &*self.families;
        match &outcome.end {
            End::Completed => {}
            End::ClientClosed => {
                f.client_disconnects.inc();
            }
            End::Failed(err) => {
                if matches!(err, StreamError::SlowClient(_)) {
                    f.slow_client_disconnects.inc();
                }
                self.upstream_error(err.kind());
            }
        }
        self.count(status);
        let tally = &outcome.tally;
        self.duration.observe(secs(outcome.ended_at - started));
        if let Some(t) = tally.headers_at {
            self.upstream_headers.observe(secs(t - started));
        }
        if let Some(t) = tally.first_byte_at {
            self.upstream_first_byte.observe(secs(t - started));
        }
        if let Some(t) = sent {
            self.overhead.observe(secs(t - started));
        }
        if let Some(first_token) = outcome.first_token_at() {
            self.ttft.observe(secs(first_token - started));
        }
        if let (Some(first), Some(last), Some(usage)) =
            (tally.first_content_at, tally.last_content_at, tally.usage)
        {
            if usage.completion_tokens >= 2 {
                let gaps = (usage.completion_tokens - 1) as f64;
                self.tpot.observe(secs(last - first) / gaps);
            }
        }
        if let Some(usage) = tally.usage {
            self.tokens(&usage);
        }
        f.coalesced_events.inc_by(outcome.queue.coalesced);
        f.backpressure_seconds.inc_by(secs(tally.blocked));
        f.queue_high_water.observe(outcome.queue.high_water as f64);
    }

    /// Records the ending of a request answered in one piece (not streamed).
    pub fn completion_finished(
        &self,
        status: &'static str,
        started: Instant,
        sent: Instant,
        result: Result<Option<Usage>, StreamErrorKind>,
    ) {
        match result {
            Ok(Some(usage)) => self.tokens(&usage),
            Ok(None) => {}
            Err(kind) => self.upstream_error(kind),
        }
        self.count(status);
        self.overhead.observe(secs(sent - started));
        self.duration.observe(secs(started.elapsed()));
    }

    fn count(&self, status: &'static str) {
        if status == "ok" {
            self.ok.inc();
            return;
        }
        self.families
            .requests
            .get_or_create(&RequestLabels {
                model: self.model.clone(),
                provider: self.provider.clone(),
                status,
            })
            .inc();
    }

    /// Adds a request's cost. Prometheus counters are floats; the exact decimal amount is in
    /// the ledger.
    pub fn cost(&self, usd: f64) {
        self.families
            .cost_usd
            .get_or_create(&RouteLabels {
                model: self.model.clone(),
                provider: self.provider.clone(),
            })
            .inc_by(usd);
    }

    fn tokens(&self, usage: &Usage) {
        self.prompt_tokens.inc_by(usage.prompt_tokens);
        self.completion_tokens.inc_by(usage.completion_tokens);
    }

    /// Records a failed attempt that was retried or fallen back from (the request itself is
    /// counted once, at its end, under the provider that served or last failed).
    pub fn attempt_failed(&self, kind: StreamErrorKind) {
        self.upstream_error(kind);
    }

    fn upstream_error(&self, kind: StreamErrorKind) {
        if kind.is_upstream() {
            self.families
                .upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    provider: self.provider.clone(),
                    kind: kind.as_str(),
                })
                .inc();
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// One open stream in `sluice_active_streams`; dropping it ends it, so the gauge returns to
/// zero even if an outcome sink were dropped without being called.
#[derive(Debug)]
pub struct ActiveStream(Gauge);

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}
