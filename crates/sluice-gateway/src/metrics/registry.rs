//! The metric families (SPEC §5 and the gateway's own), created and registered once.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::labels::{
    DroppedLabels, LimitedLabels, ProviderLabels, ReasonLabels, RequestLabels, RetryLabels,
    RouteLabels, TokenLabels, UpstreamErrorLabels,
};

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

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn tpot_histogram() -> Histogram {
    Histogram::new(TPOT_BUCKETS)
}

pub(super) type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;
/// A counter of fractional amounts (seconds, dollars).
pub(super) type FloatCounter = Counter<f64, AtomicU64>;

/// The metric families, and the metrics without labels.
#[derive(Debug)]
pub(super) struct Families {
    pub requests: Family<RequestLabels, Counter>,
    pub ttft: HistogramFamily,
    pub tpot: HistogramFamily,
    pub duration: HistogramFamily,
    pub upstream_headers: HistogramFamily,
    pub upstream_first_byte: HistogramFamily,
    pub overhead: HistogramFamily,
    pub tokens: Family<TokenLabels, Counter>,
    pub cost_usd: Family<RouteLabels, FloatCounter>,
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub active_streams: Gauge,
    /// The ledger writer's figures, brought up to date when the exposition is rendered.
    pub ledger_dropped: Counter,
    pub ledger_pending: Gauge,
    pub client_disconnects: Counter,
    pub slow_client_disconnects: Counter,
    pub coalesced_events: Counter,
    pub backpressure_seconds: FloatCounter,
    pub queue_high_water: Histogram,
    pub retries: Family<RetryLabels, Counter>,
    pub fallbacks: Family<ProviderLabels, Counter>,
    pub circuit_open: Family<ProviderLabels, Gauge>,
    pub limited: Family<LimitedLabels, Counter>,
    pub inbound_dropped: Family<DroppedLabels, Counter>,
    /// The `field` labels of `inbound_dropped` so far: a client can name fields, so their
    /// number is bounded (see `Metrics::inbound_dropped`).
    pub inbound_dropped_fields: std::sync::Mutex<std::collections::HashSet<Arc<str>>>,
    pub auth_failures: Family<ReasonLabels, Counter>,
    /// The limiter's figures, brought up to date when the exposition is rendered.
    pub limit_store_up: Gauge,
    pub limit_store_errors: Counter,
    pub limit_settlements_dropped: Counter,
}

impl Families {
    pub fn new() -> Self {
        Families {
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
            ledger_dropped: Counter::default(),
            ledger_pending: Gauge::default(),
            client_disconnects: Counter::default(),
            slow_client_disconnects: Counter::default(),
            coalesced_events: Counter::default(),
            backpressure_seconds: FloatCounter::default(),
            queue_high_water: Histogram::new(QUEUE_BUCKETS),
            retries: Family::default(),
            fallbacks: Family::default(),
            circuit_open: Family::default(),
            limited: Family::default(),
            inbound_dropped: Family::default(),
            inbound_dropped_fields: Default::default(),
            auth_failures: Family::default(),
            limit_store_up: Gauge::default(),
            limit_store_errors: Counter::default(),
            limit_settlements_dropped: Counter::default(),
        }
    }

    /// Registers every family. Counters get their `_total` suffix, and metrics with a unit
    /// their `_seconds`, from the encoder.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "sluice_requests",
            "Requests by route, provider and how they ended: ok, client_closed, an error kind, \
             or when refused before a provider: bad_request, not_found, unauthorized, \
             forbidden, over_limit, over_budget, limits_unavailable, internal_error",
            self.requests.clone(),
        );
        r.register_with_unit(
            "sluice_ttft",
            "Time from the request's arrival to the first content chunk queued for the client",
            Unit::Seconds,
            self.ttft.clone(),
        );
        r.register_with_unit(
            "sluice_tpot",
            "Time per output token after the first: (last content - first content) / \
             (completion tokens - 1)",
            Unit::Seconds,
            self.tpot.clone(),
        );
        r.register_with_unit(
            "sluice_request_duration",
            "Time from the request's arrival to its end",
            Unit::Seconds,
            self.duration.clone(),
        );
        r.register_with_unit(
            "sluice_upstream_headers",
            "Time from the request's arrival to the provider's success response headers",
            Unit::Seconds,
            self.upstream_headers.clone(),
        );
        r.register_with_unit(
            "sluice_upstream_first_byte",
            "Time from the request's arrival to the provider's first body byte",
            Unit::Seconds,
            self.upstream_first_byte.clone(),
        );
        r.register_with_unit(
            "sluice_gateway_overhead",
            "The gateway's share of TTFT: time from the request's arrival to its being handed \
             to the provider client (TTFT minus the provider's time from then to first content)",
            Unit::Seconds,
            self.overhead.clone(),
        );
        r.register(
            "sluice_tokens",
            "Tokens as the provider reported them, kind prompt or completion",
            self.tokens.clone(),
        );
        r.register(
            "sluice_cost_usd",
            "Cost at list price, in US dollars",
            self.cost_usd.clone(),
        );
        r.register(
            "sluice_active_streams",
            "Streams being relayed now",
            self.active_streams.clone(),
        );
        r.register(
            "sluice_ledger_dropped_rows",
            "Ledger rows dropped because the write queue was full (should stay 0)",
            self.ledger_dropped.clone(),
        );
        r.register(
            "sluice_ledger_pending_rows",
            "Ledger rows recorded and not yet written",
            self.ledger_pending.clone(),
        );
        r.register(
            "sluice_upstream_errors",
            "Provider failures (connect, HTTP status, error event, timeouts, broken streams)",
            self.upstream_errors.clone(),
        );
        r.register(
            "sluice_retries",
            "Provider attempts after the first (retries at the same provider and fallbacks)",
            self.retries.clone(),
        );
        r.register(
            "sluice_fallbacks",
            "Requests moved on to a route's next target, by the provider moved to",
            self.fallbacks.clone(),
        );
        r.register(
            "sluice_circuit_open",
            "Whether a provider's circuit breaker is open (1) or not (0: closed or half-open)",
            self.circuit_open.clone(),
        );
        r.register(
            "sluice_client_disconnects",
            "Streams the client closed before their end",
            self.client_disconnects.clone(),
        );
        r.register(
            "sluice_slow_client_disconnects",
            "Streams cut off because the client accepted nothing for slow_client_timeout",
            self.slow_client_disconnects.clone(),
        );
        r.register(
            "sluice_stream_coalesced_events",
            "Provider chunks merged into a queued one because the client was behind",
            self.coalesced_events.clone(),
        );
        r.register_with_unit(
            "sluice_stream_backpressure",
            "Time relays spent waiting for room in a full client queue",
            Unit::Seconds,
            self.backpressure_seconds.clone(),
        );
        r.register(
            "sluice_limited_requests",
            "Requests refused by their key's limits, by key id and limit: rpm, tpm, too_large, \
             budget, model (not on the key's allow-list), unavailable (limits not checkable)",
            self.limited.clone(),
        );
        r.register(
            "sluice_inbound_dropped_fields",
            "Request fields and tool types an inbound API's translation to chat completions \
             could not carry and dropped, by API (responses, messages) and field",
            self.inbound_dropped.clone(),
        );
        r.register(
            "sluice_auth_failures",
            "Requests refused for their key: missing, malformed, wrong, revoked, expired",
            self.auth_failures.clone(),
        );
        r.register(
            "sluice_limit_store_up",
            "Whether the store that holds limits across replicas answers (1; always 1 in memory)",
            self.limit_store_up.clone(),
        );
        r.register(
            "sluice_limit_store_errors",
            "Calls to the limits store (Redis) that failed",
            self.limit_store_errors.clone(),
        );
        r.register(
            "sluice_limit_settlements_dropped",
            "Settlements of reservations dropped because their queue was full (they expire)",
            self.limit_settlements_dropped.clone(),
        );
        r.register(
            "sluice_stream_queue_high_water",
            "The most events a stream's client queue held at once",
            self.queue_high_water.clone(),
        );
    }
}
