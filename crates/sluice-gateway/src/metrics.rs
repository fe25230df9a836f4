//! Prometheus metrics (SPEC §5), served at `GET /metrics` in the OpenMetrics text format.
//!
//! Metrics are touched only when a request starts and when it ends, never per chunk. The label
//! sets of every route and provider are built once at start-up into a [`RouteMetrics`]; a
//! request takes a handle on its route's (an `Arc` clone) and records its ending in one place,
//! the request's log in `dispatch`.
//!
//! Labels stay bounded: `model` is a configured route name (a model no route matches is counted
//! as `unknown`), `provider` a configured provider name (`none` before one was chosen), and
//! `status`/`kind` come from fixed sets ([`StreamError::kind`], [`Refused`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sluice_config::Config;
use sluice_relay::{End, Outcome, StreamError};
use sluice_types::{StreamErrorKind, Usage};
use tokio::time::Instant;

use crate::breaker::{Breakers, CircuitState};

/// The exposition's content type in the OpenMetrics format (what the encoder writes).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text format's content type, served unless OpenMetrics is asked for.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Turns the encoder's OpenMetrics text into the classic Prometheus text format (0.0.4), which
/// every scraper and parser reads: a counter's `# HELP`/`# TYPE` name its `_total` series, and
/// the `# UNIT` and `# EOF` lines go. Samples are the same in both formats.
pub fn to_classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Buckets for latencies of LLM requests, in seconds: from sub-millisecond gateway work to
/// five-minute generations.
const LATENCY_BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// Buckets for the time per output token, in seconds.
const TPOT_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
];

/// Buckets for the most frames a stream's queue held, in events.
const QUEUE_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// The `model` label of a request no route matched (the raw name is never a label).
const UNKNOWN_MODEL: &str = "unknown";
/// The `provider` label of a request refused before a provider was chosen.
const NO_PROVIDER: &str = "none";

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn tpot_histogram() -> Histogram {
    Histogram::new(TPOT_BUCKETS)
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;
/// A counter of fractional amounts (seconds, dollars).
type FloatCounter = Counter<f64, AtomicU64>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    model: Arc<str>,
    provider: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    model: Arc<str>,
    provider: Arc<str>,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TokenLabels {
    model: Arc<str>,
    provider: Arc<str>,
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UpstreamErrorLabels {
    provider: Arc<str>,
    kind: &'static str,
}

/// Why a request was answered before reaching a provider (its `status` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// 400 or 413: the request could not be read.
    BadRequest,
    /// 404: no route for the model.
    NotFound,
    /// 401 or 429 from the gateway itself (auth, rate limits, budgets).
    #[expect(
        dead_code,
        reason = "auth and rate limits, which refuse requests, are not built yet"
    )]
    Rejected,
    /// 500: the gateway could not serve a route it has.
    Internal,
}

impl Refused {
    pub fn status(self) -> &'static str {
        match self {
            Refused::BadRequest => "bad_request",
            Refused::NotFound => "not_found",
            Refused::Rejected => "rejected",
            Refused::Internal => "internal_error",
        }
    }
}

/// The gateway's registry and the metrics in it. Built once, from the config.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Handles by route name, then provider name.
    routes: HashMap<String, HashMap<String, Arc<RouteMetrics>>>,
    families: Arc<Families>,
    /// The labels of requests that matched no route.
    unrouted: RouteLabels,
    /// The providers' circuit breakers, read into `sluice_circuit_open` at each rendering.
    breakers: Option<Arc<Breakers>>,
}

/// The metric families, and the metrics without labels.
#[derive(Debug)]
struct Families {
    requests: Family<RequestLabels, Counter>,
    ttft: HistogramFamily,
    tpot: HistogramFamily,
    duration: HistogramFamily,
    upstream_headers: HistogramFamily,
    upstream_first_byte: HistogramFamily,
    overhead: HistogramFamily,
    tokens: Family<TokenLabels, Counter>,
    cost_usd: Family<RouteLabels, FloatCounter>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    active_streams: Gauge,
    /// The ledger writer's figures, read when the exposition is rendered.
    ledger_dropped: Gauge,
    ledger_pending: Gauge,
    client_disconnects: Counter,
    slow_client_disconnects: Counter,
    coalesced_events: Counter,
    backpressure_seconds: FloatCounter,
    queue_high_water: Histogram,
    retries: Family<RetryLabels, Counter>,
    fallbacks: Family<ProviderLabels, Counter>,
    circuit_open: Family<ProviderLabels, Gauge>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: Arc<str>,
}

/// A retry: the provider whose attempt failed, and why (a bounded error kind).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    provider: Arc<str>,
    reason: &'static str,
}

impl Metrics {
    /// Registers every metric, with the label sets of every route and provider of `config`.
    pub fn new(config: &Config) -> Self {
        let families = Arc::new(Families {
            requests: Family::default(),
            ttft: Family::new_with_constructor(latency_histogram),
            tpot: Family::new_with_constructor(tpot_histogram),
            duration: Family::new_with_constructor(latency_histogram),
            upstream_headers: Family::new_with_constructor(latency_histogram),
            upstream_first_byte: Family::new_with_constructor(latency_histogram),
            overhead: Family::new_with_constructor(latency_histogram),
            tokens: Family::default(),
            cost_usd: Family::default(),
            upstream_errors: Family::default(),
            active_streams: Gauge::default(),
            ledger_dropped: Gauge::default(),
            ledger_pending: Gauge::default(),
            client_disconnects: Counter::default(),
            slow_client_disconnects: Counter::default(),
            coalesced_events: Counter::default(),
            backpressure_seconds: FloatCounter::default(),
            queue_high_water: Histogram::new(QUEUE_BUCKETS),
            retries: Family::default(),
            fallbacks: Family::default(),
            circuit_open: Family::default(),
        });
        let f = &families;
        let mut r = Registry::default();
        // Counters get their `_total` suffix, and metrics with a unit their `_seconds`, from
        // the encoder.
        r.register(
            "sluice_requests",
            "Requests by route, provider and how they ended: ok, client_closed, an error kind, \
             or bad_request, not_found, rejected, internal_error when refused before a provider",
            f.requests.clone(),
        );
        r.register_with_unit(
            "sluice_ttft",
            "Time from the request's arrival to the first content chunk queued for the client",
            Unit::Seconds,
            f.ttft.clone(),
        );
        r.register_with_unit(
            "sluice_tpot",
            "Time per output token after the first: (last content - first content) / \
             (completion tokens - 1)",
            Unit::Seconds,
            f.tpot.clone(),
        );
        r.register_with_unit(
            "sluice_request_duration",
            "Time from the request's arrival to its end",
            Unit::Seconds,
            f.duration.clone(),
        );
        r.register_with_unit(
            "sluice_upstream_headers",
            "Time from the request's arrival to the provider's success response headers",
            Unit::Seconds,
            f.upstream_headers.clone(),
        );
        r.register_with_unit(
            "sluice_upstream_first_byte",
            "Time from the request's arrival to the provider's first body byte",
            Unit::Seconds,
            f.upstream_first_byte.clone(),
        );
        r.register_with_unit(
            "sluice_gateway_overhead",
            "The gateway's share of TTFT: time from the request's arrival to its being handed \
             to the provider client (TTFT minus the provider's time from then to first content)",
            Unit::Seconds,
            f.overhead.clone(),
        );
        r.register(
            "sluice_tokens",
            "Tokens as the provider reported them, kind prompt or completion",
            f.tokens.clone(),
        );
        // Nothing adds to it yet: prices and exact (decimal) cost come with the ledger work.
        r.register(
            "sluice_cost_usd",
            "Cost at list price, in US dollars",
            f.cost_usd.clone(),
        );
        r.register(
            "sluice_active_streams",
            "Streams being relayed now",
            f.active_streams.clone(),
        );
        r.register(
            "sluice_ledger_dropped_rows",
            "Ledger rows dropped because the write queue was full (should stay 0)",
            f.ledger_dropped.clone(),
        );
        r.register(
            "sluice_ledger_pending_rows",
            "Ledger rows recorded and not yet written",
            f.ledger_pending.clone(),
        );
        r.register(
            "sluice_upstream_errors",
            "Provider failures (connect, HTTP status, error event, timeouts, broken streams)",
            f.upstream_errors.clone(),
        );
        r.register(
            "sluice_retries",
            "Provider attempts after the first (retries at the same provider and fallbacks)",
            f.retries.clone(),
        );
        r.register(
            "sluice_fallbacks",
            "Requests moved on to a route's next target, by the provider moved to",
            f.fallbacks.clone(),
        );
        r.register(
            "sluice_circuit_open",
            "Whether a provider's circuit breaker is open (1) or not (0: closed or half-open)",
            f.circuit_open.clone(),
        );
        r.register(
            "sluice_client_disconnects",
            "Streams the client closed before their end",
            f.client_disconnects.clone(),
        );
        r.register(
            "sluice_slow_client_disconnects",
            "Streams cut off because the client accepted nothing for slow_client_timeout",
            f.slow_client_disconnects.clone(),
        );
        r.register(
            "sluice_stream_coalesced_events",
            "Provider chunks merged into a queued one because the client was behind",
            f.coalesced_events.clone(),
        );
        r.register_with_unit(
            "sluice_stream_backpressure",
            "Time relays spent waiting for room in a full client queue",
            Unit::Seconds,
            f.backpressure_seconds.clone(),
        );
        r.register(
            "sluice_stream_queue_high_water",
            "The most events a stream's client queue held at once",
            f.queue_high_water.clone(),
        );

        // Every provider's error series show (at 0) from the start.
        for provider in config.providers.keys() {
            let provider: Arc<str> = provider.as_str().into();
            drop(f.fallbacks.get_or_create(&ProviderLabels {
                provider: provider.clone(),
            }));
            // The failures that are retried (see `StreamError::retryable`).
            for reason in StreamErrorKind::ALL
                .into_iter()
                .filter(|k| k.may_be_retried())
            {
                drop(f.retries.get_or_create(&RetryLabels {
                    provider: provider.clone(),
                    reason: reason.as_str(),
                }));
            }
            drop(f.circuit_open.get_or_create(&ProviderLabels {
                provider: provider.clone(),
            }));
            for kind in upstream_error_kinds() {
                drop(f.upstream_errors.get_or_create(&UpstreamErrorLabels {
                    provider: provider.clone(),
                    kind,
                }));
            }
        }
        let mut routes: HashMap<String, HashMap<String, Arc<RouteMetrics>>> = HashMap::new();
        for route in &config.routes {
            for target in &route.targets {
                routes
                    .entry(route.model.clone())
                    .or_default()
                    .entry(target.provider.clone())
                    .or_insert_with(|| {
                        Arc::new(RouteMetrics::new(&families, &route.model, &target.provider))
                    });
            }
        }
        Metrics {
            registry: r,
            routes,
            families,
            unrouted: RouteLabels {
                model: UNKNOWN_MODEL.into(),
                provider: NO_PROVIDER.into(),
            },
            breakers: None,
        }
    }

    /// Shows these breakers' states as `sluice_circuit_open`.
    pub fn with_breakers(mut self, breakers: Arc<Breakers>) -> Self {
        self.breakers = Some(breakers);
        self
    }

    /// Counts a provider attempt after the request's first, by the provider whose attempt
    /// failed and the kind of failure.
    pub fn retry(&self, failed_provider: &str, reason: &'static str) {
        self.families
            .retries
            .get_or_create(&RetryLabels {
                provider: failed_provider.into(),
                reason,
            })
            .inc();
    }

    /// Counts a request moving on to a route target at `provider`.
    pub fn fallback(&self, provider: &str) {
        self.families
            .fallbacks
            .get_or_create(&ProviderLabels {
                provider: provider.into(),
            })
            .inc();
    }

    /// The handle for a route (by its configured name) served by a provider.
    pub fn route(&self, model: &str, provider: &str) -> Arc<RouteMetrics> {
        match self.routes.get(model).and_then(|p| p.get(provider)) {
            Some(m) => m.clone(),
            // Every route and target of the config has one; this only serves a caller that
            // passed something else.
            None => Arc::new(RouteMetrics::new(&self.families, model, provider)),
        }
    }

    /// Counts a request refused before its model matched a route.
    pub fn refused(&self, why: Refused) {
        self.families
            .requests
            .get_or_create(&RequestLabels {
                model: self.unrouted.model.clone(),
                provider: self.unrouted.provider.clone(),
                status: why.status(),
            })
            .inc();
    }

    /// The exposition, in the OpenMetrics text format.
    /// The exposition; `ledger` supplies the writer's current figures.
    pub fn render(&self, ledger: Option<&sluice_ledger::LedgerHandle>) -> String {
        if let Some(l) = ledger {
            self.families
                .ledger_dropped
                .set(i64::try_from(l.dropped()).unwrap_or(i64::MAX));
            self.families
                .ledger_pending
                .set(i64::try_from(l.pending()).unwrap_or(i64::MAX));
        }
        if let Some(b) = &self.breakers {
            for (provider, state) in b.states(Instant::now()) {
                self.families
                    .circuit_open
                    .get_or_create(&ProviderLabels {
                        provider: provider.into(),
                    })
                    .set(i64::from(state == CircuitState::Open));
            }
        }
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The metrics of one route served by one provider: every label set built once.
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
    fn new(families: &Arc<Families>, model: &str, provider: &str) -> Self {
        let labels = RouteLabels {
            model: model.into(),
            provider: provider.into(),
        };
        let tokens = |kind| TokenLabels {
            model: labels.model.clone(),
            provider: labels.provider.clone(),
            kind,
        };
        // The cost series shows (at 0) until the ledger work adds to it.
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

    /// Records a stream's ending. `sent` is when the request was handed to the provider client.
    pub fn stream_finished(&self, started: Instant, sent: Option<Instant>, outcome: &Outcome) {
        let f = &*self.families;
        let status = match &outcome.end {
            End::Completed => "ok",
            End::ClientClosed => {
                f.client_disconnects.inc();
                "client_closed"
            }
            End::Failed(err) => {
                if matches!(err, StreamError::SlowClient(_)) {
                    f.slow_client_disconnects.inc();
                }
                self.upstream_error(err);
                err.kind().as_str()
            }
        };
        self.count(status);
        self.duration.observe(secs(outcome.ended_at - started));
        if let Some(t) = outcome.tally.headers_at {
            self.upstream_headers.observe(secs(t - started));
        }
        if let Some(t) = outcome.tally.first_byte_at {
            self.upstream_first_byte.observe(secs(t - started));
        }
        if let Some(t) = sent {
            self.overhead.observe(secs(t - started));
        }
        if let Some(first_token) = outcome.first_token_at() {
            self.ttft.observe(secs(first_token - started));
        }
        if let Some(first) = outcome.tally.first_content_at {
            if let (Some(last), Some(usage)) = (outcome.tally.last_content_at, outcome.tally.usage)
            {
                if usage.completion_tokens >= 2 {
                    let gaps = (usage.completion_tokens - 1) as f64;
                    self.tpot.observe(secs(last - first) / gaps);
                }
            }
        }
        if let Some(usage) = outcome.tally.usage {
            self.tokens(&usage);
        }
        f.coalesced_events.inc_by(outcome.queue.coalesced);
        f.backpressure_seconds.inc_by(secs(outcome.tally.blocked));
        f.queue_high_water.observe(outcome.queue.high_water as f64);
    }

    /// Records the ending of a request answered in one piece (not streamed).
    pub fn completion_finished(
        &self,
        started: Instant,
        sent: Instant,
        result: Result<Option<Usage>, &StreamError>,
    ) {
        let status = match result {
            Ok(usage) => {
                if let Some(usage) = usage {
                    self.tokens(&usage);
                }
                "ok"
            }
            Err(err) => {
                self.upstream_error(err);
                err.kind().as_str()
            }
        };
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
    pub fn attempt_failed(&self, err: &StreamError) {
        self.upstream_error(err);
    }

    fn upstream_error(&self, err: &StreamError) {
        let kind = err.kind();
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

/// The kinds of failure counted in `sluice_upstream_errors_total`.
fn upstream_error_kinds() -> impl Iterator<Item = &'static str> {
    StreamErrorKind::ALL
        .into_iter()
        .filter(|k| k.is_upstream())
        .map(StreamErrorKind::as_str)
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

#[cfg(test)]
mod tests {
    #[test]
    fn classic_text_names_counters_by_their_total_series() {
        let om = "# HELP sluice_requests Requests.\n# TYPE sluice_requests counter\nsluice_requests_total{a=\"b\"} 5\n# HELP sluice_ttft_seconds TTFT.\n# TYPE sluice_ttft_seconds histogram\n# UNIT sluice_ttft_seconds seconds\nsluice_ttft_seconds_count 1\n# EOF\n";
        assert_eq!(
            super::to_classic_text(om),
            "# HELP sluice_requests_total Requests.\n# TYPE sluice_requests_total counter\nsluice_requests_total{a=\"b\"} 5\n# HELP sluice_ttft_seconds TTFT.\n# TYPE sluice_ttft_seconds histogram\nsluice_ttft_seconds_count 1\n"
        );
    }

    use super::*;

    fn config() -> Config {
        let toml = r#"
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "k"

[routes]
"m" = ["up"]
"#;
        sluice_config::parse(toml, "sluice.toml", &|_| None).expect("config")
    }

    #[test]
    fn route_series_exist_before_any_request_and_refusals_use_fixed_labels() {
        let m = Metrics::new(&config());
        let text = m.render(None);
        assert!(text.contains(r#"sluice_ttft_seconds_count{model="m",provider="up"} 0"#));
        assert!(text.contains(r#"sluice_cost_usd_total{model="m",provider="up"} 0"#));
        assert!(text.contains("sluice_active_streams 0"));
        assert!(text.ends_with("# EOF\n"));
        m.refused(Refused::NotFound);
        let text = m.render(None);
        assert!(text.contains(
            r#"sluice_requests_total{model="unknown",provider="none",status="not_found"} 1"#
        ));
        assert!(!text.contains(r#"sluice_ttft_seconds_count{model="unknown""#));
        assert!(text.contains(r#"sluice_requests_total{model="m",provider="up",status="ok"} 0"#));
        assert!(
            text.contains(r#"sluice_upstream_errors_total{provider="up",kind="provider_5xx"} 0"#)
        );
    }

    #[test]
    fn every_upstream_error_kind_is_listed_once() {
        let kinds: Vec<_> = upstream_error_kinds().collect();
        let unique: std::collections::BTreeSet<_> = kinds.iter().collect();
        assert_eq!(kinds.len(), 11);
        assert_eq!(unique.len(), kinds.len());
        assert!(!kinds.contains(&"slow_client") && !kinds.contains(&"shutdown"));
    }

    #[test]
    fn active_stream_guard_returns_the_gauge_to_zero() {
        let m = Metrics::new(&config());
        let r = m.route("m", "up");
        let a = r.stream_started();
        let b = r.stream_started();
        assert!(m.render(None).contains("sluice_active_streams 2"));
        drop(a);
        drop(b);
        assert!(m.render(None).contains("sluice_active_streams 0"));
    }
}
