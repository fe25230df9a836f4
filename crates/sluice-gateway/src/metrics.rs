//! Prometheus metrics (SPEC §5), served at `GET /metrics`.
//!
//! Metrics are touched only when a request starts and when it ends, never per chunk. The label
//! sets of every route and provider are built once at start-up into a [`RouteMetrics`]; a
//! request takes a handle on its route's (an `Arc` clone) and its ending records itself there
//! (`crate::ending`).
//!
//! Labels stay bounded: `model` is a configured route name (a model no route matches is counted
//! as `unknown`), `provider` a configured provider name (`none` before one was chosen), and
//! `status`/`kind` come from fixed sets ([`StreamErrorKind`], [`Refused`]).
//!
//! Layout: `registry` (the families and their registration), `route` (one route's handle),
//! `labels` (the label sets), `exposition` (the text formats).

mod exposition;
mod labels;
mod registry;
mod route;

use std::collections::HashMap;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use sluice_config::Config;
use sluice_types::StreamErrorKind;
use tokio::time::Instant;

use self::labels::{
    DroppedLabels, LimitedLabels, ProviderLabels, ReasonLabels, RequestLabels, RetryLabels,
    RouteLabels, UpstreamErrorLabels, NO_PROVIDER, UNKNOWN_MODEL,
};
use self::registry::Families;
use crate::breaker::{Breakers, CircuitState};

pub use self::exposition::{to_classic_text, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use self::labels::Refused;
pub use self::route::RouteMetrics;

/// The gateway's registry and the metrics in it. Built once, from the config.
/// The most distinct field names `sluice_inbound_dropped_fields_total` labels.
pub const MAX_DROPPED_FIELDS: usize = 256;

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

impl Metrics {
    /// Registers every metric, with the label sets of every route and provider of `config`.
    pub fn new(config: &Config) -> Self {
        let families = Arc::new(Families::new());
        let mut registry = Registry::default();
        families.register(&mut registry);
        let f = &families;
        // Every provider's error series show (at 0) from the start.
        for provider in config.providers.keys() {
            let provider: Arc<str> = provider.as_str().into();
            let labels = ProviderLabels {
                provider: provider.clone(),
            };
            drop(f.fallbacks.get_or_create(&labels));
            drop(f.circuit_open.get_or_create(&labels));
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
            for kind in StreamErrorKind::ALL.into_iter().filter(|k| k.is_upstream()) {
                drop(f.upstream_errors.get_or_create(&UpstreamErrorLabels {
                    provider: provider.clone(),
                    kind: kind.as_str(),
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
            registry,
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
    pub fn retry(&self, failed_provider: &str, reason: StreamErrorKind) {
        self.families
            .retries
            .get_or_create(&RetryLabels {
                provider: failed_provider.into(),
                reason: reason.as_str(),
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

    /// Counts a request refused by key `key_id`'s limit `reason`.
    pub fn limited(&self, key_id: &str, reason: &'static str) {
        self.families
            .limited
            .get_or_create(&LimitedLabels {
                key: key_id.into(),
                reason,
            })
            .inc();
    }

    /// Counts the fields an inbound API's request had that its translation dropped. A client
    /// can name any field, so a name is a label only if it is short and plain, and only the
    /// first [`MAX_DROPPED_FIELDS`] names get labels of their own: any other is `other`.
    pub fn inbound_dropped(&self, api: &'static str, fields: &[String]) {
        if fields.is_empty() {
            return;
        }
        let mut seen = self
            .families
            .inbound_dropped_fields
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for field in fields {
            let plain = field.len() <= 64
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:-[]".contains(&b));
            let field: Arc<str> = match seen.get(field.as_str()) {
                Some(known) => known.clone(),
                None if plain && seen.len() < MAX_DROPPED_FIELDS => {
                    let name: Arc<str> = field.as_str().into();
                    seen.insert(name.clone());
                    name
                }
                None => "other".into(),
            };
            self.families
                .inbound_dropped
                .get_or_create(&DroppedLabels { api, field })
                .inc();
        }
    }

    /// Streams being relayed now (`sluice_active_streams`).
    pub fn active_streams(&self) -> i64 {
        self.families.active_streams.get()
    }

    /// Counts a request refused for its key.
    pub fn auth_failure(&self, reason: &'static str) {
        self.families
            .auth_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
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

    /// The exposition, in the OpenMetrics text format; `ledger` and `limiter` supply their
    /// current figures.
    pub fn render(
        &self,
        ledger: Option<&sluice_ledger::LedgerHandle>,
        limiter: Option<&sluice_limit::Limiter>,
    ) -> String {
        if let Some(l) = limiter {
            let f = &self.families;
            f.limit_store_up.set(i64::from(l.store_up()));
            let counted = f.limit_store_errors.get();
            f.limit_store_errors
                .inc_by(l.store_errors().saturating_sub(counted));
            let counted = f.limit_settlements_dropped.get();
            f.limit_settlements_dropped
                .inc_by(l.dropped_settlements().saturating_sub(counted));
        }
        if let Some(l) = ledger {
            let f = &self.families;
            // The writer counts its drops; the counter catches up with it.
            let counted = f.ledger_dropped.get();
            f.ledger_dropped.inc_by(l.dropped().saturating_sub(counted));
            f.ledger_pending
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

#[cfg(test)]
mod tests {
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
    fn dropped_fields_have_bounded_labels() {
        let m = Metrics::new(&config());
        m.inbound_dropped("messages", &["top_k".into(), "top_k".into()]);
        m.inbound_dropped("responses", &["tools.web_search".into()]);
        // A name a client made up that is not plain is `other`.
        m.inbound_dropped("messages", &["a\"b{c}".into(), "x".repeat(200)]);
        for i in 0..MAX_DROPPED_FIELDS + 10 {
            m.inbound_dropped("messages", &[format!("f{i}")]);
        }
        let text = m.render(None, None);
        let line = |api: &str, field: &str| {
            format!(r#"sluice_inbound_dropped_fields_total{{api="{api}",field="{field}"}}"#)
        };
        assert!(
            text.contains(&format!("{} 2", line("messages", "top_k"))),
            "{text}"
        );
        assert!(text.contains(&format!("{} 1", line("responses", "tools.web_search"))));
        assert!(text.contains(&line("messages", "f0")));
        // 2 names above, then 254 of the f-names; the rest and the odd ones are `other`.
        assert!(!text.contains(&line("messages", &format!("f{}", MAX_DROPPED_FIELDS))));
        assert!(
            text.contains(&format!("{} 14", line("messages", "other"))),
            "{text}"
        );
    }

    #[test]
    fn route_series_exist_before_any_request_and_refusals_use_fixed_labels() {
        let m = Metrics::new(&config());
        let text = m.render(None, None);
        assert!(text.contains(r#"sluice_ttft_seconds_count{model="m",provider="up"} 0"#));
        assert!(text.contains(r#"sluice_cost_usd_total{model="m",provider="up"} 0"#));
        assert!(text.contains("sluice_active_streams 0"));
        assert!(text.ends_with("# EOF\n"));
        m.refused(Refused::NotFound);
        let text = m.render(None, None);
        assert!(text.contains(
            r#"sluice_requests_total{model="unknown",provider="none",status="not_found"} 1"#
        ));
        assert!(!text.contains(r#"sluice_ttft_seconds_count{model="unknown""#));
        assert!(text.contains(r#"sluice_requests_total{model="m",provider="up",status="ok"} 0"#));
        assert!(
            text.contains(r#"sluice_upstream_errors_total{provider="up",kind="provider_5xx"} 0"#)
        );
        assert!(!text.contains(r#"sluice_upstream_errors_total{provider="up",kind="slow_client"}"#));
        assert!(
            text.contains(r#"sluice_retries_total{provider="up",reason="first_token_timeout"} 0"#)
        );
    }

    #[test]
    fn the_dropped_rows_counter_follows_the_writer() {
        let m = Metrics::new(&config());
        let text = m.render(None, None);
        assert!(
            text.contains("# TYPE sluice_ledger_dropped_rows counter"),
            "{text}"
        );
        assert!(
            text.contains("sluice_ledger_dropped_rows_total 0"),
            "{text}"
        );
    }

    #[test]
    fn active_stream_guard_returns_the_gauge_to_zero() {
        let m = Metrics::new(&config());
        let r = m.route("m", "up");
        let a = r.stream_started();
        let b = r.stream_started();
        assert!(m.render(None, None).contains("sluice_active_streams 2"));
        drop(a);
        drop(b);
        assert!(m.render(None, None).contains("sluice_active_streams 0"));
    }
}
