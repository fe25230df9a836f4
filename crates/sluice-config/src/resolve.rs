//! `RawConfig` -> `Config`: fills defaults, checks every value, drops skipped providers and
//! the route targets that name them. Problems are collected; the first one is reported.
//! Every duration, size and count is also held to its bound in `bounds`. One provider's table
//! is checked in `provider`, the `[server]` table in `server`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::bounds::{
    MAX_BREAKER_FAILURES, MAX_BUFFER_EVENTS, MAX_DEFAULT_MAX_TOKENS, MAX_DURATION,
    MAX_DURATION_TEXT, MAX_RETRY_ATTEMPTS, MAX_SIZE, MAX_SIZE_TEXT,
};
use crate::config::{
    Auth, CircuitBreaker, Config, Cors, LedgerSetting, Limits, MetricsAccess, OnStoreError, Origin,
    Retry, Route, SkippedProvider, SlowClient, StreamOverride, StreamSettings, Target,
    DEFAULT_CURRENCY, DEFAULT_LEDGER, DEFAULT_LISTEN, DEFAULT_MAX_BODY, DEFAULT_SHUTDOWN_GRACE,
};
use crate::error::{ConfigError, Problem, Problems};
use crate::path::{join, push_index};
use crate::raw::{
    RawAuth, RawCircuitBreaker, RawConfig, RawLimits, RawStream, RawStreamOverride, RawTarget,
};
use crate::units::{parse_size, read_duration, Unreadable};

mod provider;
mod server;

/// Validates `raw`. `skipped` are the optional providers `interpolate` left out.
pub(crate) fn resolve(
    raw: RawConfig,
    skipped: Vec<SkippedProvider>,
    origin: Origin,
    origin_name: &str,
) -> Result<Config, ConfigError> {
    let mut cx = Cx::default();

    let listen = match raw.listen {
        None => DEFAULT_LISTEN,
        Some(value) => value.trim().parse().unwrap_or_else(|_| {
            cx.push("listen".into(), Problem::Listen { value });
            DEFAULT_LISTEN
        }),
    };
    let ledger = match raw.ledger {
        None => LedgerSetting::Url(DEFAULT_LEDGER.to_owned()),
        // `none`: keep no ledger (benchmarks, or a deployment billing elsewhere).
        Some(value) if value == "none" => LedgerSetting::None,
        Some(value) => {
            let ok = ["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|scheme| value.len() > scheme.len() && value.starts_with(scheme));
            if !ok {
                cx.push(
                    "ledger".into(),
                    Problem::Ledger {
                        value: value.clone(),
                    },
                );
            }
            LedgerSetting::Url(value)
        }
    };
    let redis = raw.redis.filter(|value| !value.is_empty());
    if let Some(value) = &redis {
        let ok = ["redis://", "rediss://"]
            .iter()
            .any(|scheme| value.len() > scheme.len() && value.starts_with(scheme));
        if !ok {
            cx.push(
                "redis".into(),
                Problem::Redis {
                    value: value.clone(),
                },
            );
        }
    }
    let display_currency = cx.currency("display_currency".into(), raw.display_currency);
    let shutdown_grace = cx.duration(
        "shutdown_grace".into(),
        raw.shutdown_grace,
        DEFAULT_SHUTDOWN_GRACE,
        false,
    );
    let max_body = cx.max_body(raw.max_body);

    let skipped_names: BTreeSet<&str> = skipped.iter().map(|s| s.name.as_str()).collect();
    let declared: BTreeSet<String> = raw.providers.0.iter().map(|(n, _)| n.clone()).collect();
    let mut providers = BTreeMap::new();
    for (name, provider) in raw.providers.0 {
        if skipped_names.contains(name.as_str()) {
            continue;
        }
        if let Some(provider) = cx.provider(name, provider) {
            providers.insert(provider.name.clone(), provider);
        }
    }

    let declared_routes: BTreeSet<String> = raw.routes.0.iter().map(|(m, _)| m.clone()).collect();
    let mut routes = Vec::new();
    for (model, targets) in raw.routes.0 {
        let route_path = join("routes", &[&model]);
        if model.trim().is_empty() {
            cx.push(route_path.clone(), Problem::Empty);
        }
        if targets.is_empty() {
            cx.push(route_path.clone(), Problem::EmptyRoute);
            continue;
        }
        let mut resolved = Vec::new();
        for (idx, target) in targets.into_iter().enumerate() {
            let mut target_path = route_path.clone();
            push_index(&mut target_path, idx);
            let (provider, provider_path, target_model) = match target {
                RawTarget::Name(provider) => (provider, target_path, model.clone()),
                RawTarget::Aliased(alias) => {
                    let alias_model = alias.model.unwrap_or_else(|| model.clone());
                    if alias_model.trim().is_empty() {
                        cx.push(join(&target_path, &["model"]), Problem::Empty);
                    }
                    (
                        alias.provider,
                        join(&target_path, &["provider"]),
                        alias_model,
                    )
                }
            };
            if skipped_names.contains(provider.as_str()) {
                continue;
            }
            if !declared.contains(&provider) {
                cx.push(provider_path, Problem::UnknownProvider { name: provider });
                continue;
            }
            resolved.push(Target {
                provider,
                model: target_model,
            });
        }
        if !resolved.is_empty() {
            routes.push(Route {
                model,
                targets: resolved,
            });
        }
    }

    let mut raw_stream = raw.stream;
    let send_buffer = raw_stream
        .send_buffer
        .take()
        .map(|v| cx.size("stream.send_buffer".into(), Some(v), 0))
        .filter(|n| *n > 0);
    let (stream, stream_overrides) = cx.stream(raw_stream, &declared_routes, &routes);
    let cors = Cors {
        allow_origins: raw
            .cors
            .allow_origins
            .unwrap_or_else(|| Cors::default().allow_origins),
    };
    let retry_default = Retry::default();
    let retry = Retry {
        attempts: cx
            .count(
                "retry.attempts".into(),
                raw.retry.attempts,
                false,
                MAX_RETRY_ATTEMPTS,
            )
            .unwrap_or(retry_default.attempts),
        backoff: cx.duration(
            "retry.backoff".into(),
            raw.retry.backoff,
            retry_default.backoff,
            false,
        ),
        max_retry_after: cx.duration(
            "retry.max_retry_after".into(),
            raw.retry.max_retry_after,
            retry_default.max_retry_after,
            false,
        ),
    };
    let auth = cx.auth(raw.auth);
    let limits = cx.limits(raw.limits);
    let circuit_breaker = cx.circuit_breaker(raw.circuit_breaker);
    let server = cx.server(raw.server);

    cx.problems.finish(origin_name)?;
    Ok(Config {
        listen,
        ledger,
        redis,
        display_currency,
        providers,
        routes,
        stream,
        stream_overrides,
        send_buffer,
        cors,
        retry,
        circuit_breaker,
        auth,
        limits,
        shutdown_grace,
        max_body,
        server,
        origin,
        skipped_providers: skipped,
    })
}

#[derive(Default)]
struct Cx {
    problems: Problems,
}

impl Cx {
    fn push(&mut self, field: String, problem: Problem) {
        self.problems.push(field, problem);
    }

    fn duration(
        &mut self,
        field: String,
        value: Option<String>,
        default: Duration,
        non_zero: bool,
    ) -> Duration {
        self.opt_duration(field, value, non_zero).unwrap_or(default)
    }

    /// A checked duration, at most [`MAX_DURATION`]; `None` when absent or wrong (a problem
    /// is recorded for the latter).
    fn opt_duration(
        &mut self,
        field: String,
        value: Option<String>,
        non_zero: bool,
    ) -> Option<Duration> {
        let value = value?;
        match read_duration(&value) {
            Err(Unreadable::Invalid) => self.push(field, Problem::Duration { value }),
            Ok(d) if non_zero && d.is_zero() => self.push(field, Problem::ZeroDuration { value }),
            Ok(d) if d <= MAX_DURATION => return Some(d),
            Ok(_) | Err(Unreadable::Overflow) => self.push(
                field,
                Problem::TooLarge {
                    max: MAX_DURATION_TEXT.to_owned(),
                    value: format!("{value:?}"),
                },
            ),
        }
        None
    }

    /// A checked count, at most `max` and, with `at_least_one`, not zero; `None` when absent
    /// or wrong (a problem is recorded for the latter).
    fn count<T>(&mut self, field: String, value: Option<T>, at_least_one: bool, max: T) -> Option<T>
    where
        T: Copy + PartialOrd + fmt::Display + From<u8>,
    {
        let n = value?;
        if at_least_one && n < T::from(1) {
            self.push(field, Problem::TooSmall { value: 0 });
            return None;
        }
        if n > max {
            self.push(
                field,
                Problem::TooLarge {
                    max: max.to_string(),
                    value: n.to_string(),
                },
            );
            return None;
        }
        Some(n)
    }

    fn circuit_breaker(&mut self, raw: RawCircuitBreaker) -> CircuitBreaker {
        let default = CircuitBreaker::default();
        CircuitBreaker {
            failures: self
                .count(
                    "circuit_breaker.failures".into(),
                    raw.failures,
                    true,
                    MAX_BREAKER_FAILURES,
                )
                .unwrap_or(default.failures),
            cooldown: self.duration(
                "circuit_breaker.cooldown".into(),
                raw.cooldown,
                default.cooldown,
                true,
            ),
        }
    }

    fn auth(&mut self, raw: RawAuth) -> Auth {
        let metrics = match raw.metrics.as_deref() {
            None | Some("open") => MetricsAccess::Open,
            Some("admin") => MetricsAccess::Admin,
            Some(other) => {
                self.push(
                    "auth.metrics".into(),
                    Problem::MetricsAccess {
                        value: other.to_owned(),
                    },
                );
                MetricsAccess::default()
            }
        };
        Auth {
            required: raw.required.unwrap_or(false),
            metrics,
        }
    }

    fn limits(&mut self, raw: RawLimits) -> Limits {
        let default = Limits::default();
        let on_store_error = match raw.on_store_error.as_deref() {
            None | Some("closed") => OnStoreError::Closed,
            Some("open") => OnStoreError::Open,
            Some(other) => {
                self.push(
                    "limits.on_store_error".into(),
                    Problem::OnStoreError {
                        value: other.to_owned(),
                    },
                );
                default.on_store_error
            }
        };
        Limits {
            on_store_error,
            default_max_tokens: self
                .count(
                    "limits.default_max_tokens".into(),
                    raw.default_max_tokens,
                    true,
                    MAX_DEFAULT_MAX_TOKENS,
                )
                .unwrap_or(default.default_max_tokens),
        }
    }

    fn currency(&mut self, field: String, value: Option<String>) -> String {
        let Some(value) = value else {
            return DEFAULT_CURRENCY.to_owned();
        };
        let code = value.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            code
        } else {
            self.push(field, Problem::Currency { value });
            DEFAULT_CURRENCY.to_owned()
        }
    }

    fn max_body(&mut self, value: Option<toml::Value>) -> u64 {
        self.size("max_body".into(), value, DEFAULT_MAX_BODY)
    }

    /// A byte size: an integer or a string such as "10MiB"; must be > 0 and at most
    /// [`MAX_SIZE`].
    fn size(&mut self, field: String, value: Option<toml::Value>, default: u64) -> u64 {
        let Some(value) = value else {
            return default;
        };
        let parsed = match &value {
            toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| Unreadable::Invalid),
            toml::Value::String(s) => parse_size(s),
            _ => Err(Unreadable::Invalid),
        };
        let shown = match value {
            toml::Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        match parsed {
            Ok(n) if n > 0 && n <= MAX_SIZE => return n,
            Ok(0) | Err(Unreadable::Invalid) => self.push(field, Problem::Size { value: shown }),
            Ok(_) | Err(Unreadable::Overflow) => self.push(
                field,
                Problem::TooLarge {
                    max: MAX_SIZE_TEXT.to_owned(),
                    value: shown,
                },
            ),
        }
        default
    }

    /// The gateway-wide `[stream]` settings and the per-route `[stream.routes."<model>"]`
    /// overrides. `declared` are the route names in the file, `routes` those that survived:
    /// an override for a declared route that was dropped (all its providers optional and
    /// skipped) is checked and then left out; one for an undeclared route is a problem.
    fn stream(
        &mut self,
        raw: RawStream,
        declared: &BTreeSet<String>,
        routes: &[Route],
    ) -> (StreamSettings, BTreeMap<String, StreamOverride>) {
        let RawStream {
            buffer_events,
            slow_client,
            slow_client_timeout,
            keepalive,
            send_buffer: _,
            routes: raw_overrides,
        } = raw;
        let wide = RawStreamOverride {
            buffer_events,
            slow_client,
            slow_client_timeout,
            keepalive,
        };
        let stream = self
            .stream_keys("stream", wide)
            .apply(&StreamSettings::default());

        let mut overrides = BTreeMap::new();
        for (model, raw) in raw_overrides.0 {
            let path = join("stream", &["routes", &model]);
            if !declared.contains(&model) {
                self.push(
                    path.clone(),
                    Problem::UnknownRoute {
                        name: model.clone(),
                    },
                );
            }
            let over = self.stream_keys(&path, raw);
            if routes.iter().any(|route| route.model == model) {
                overrides.insert(model, over);
            }
        }
        (stream, overrides)
    }

    /// Checks the stream keys of the table at `base` (`stream` or `stream.routes.X`); a key
    /// that is absent or wrong comes back `None`.
    fn stream_keys(&mut self, base: &str, raw: RawStreamOverride) -> StreamOverride {
        let buffer_events = self.count(
            join(base, &["buffer_events"]),
            raw.buffer_events,
            true,
            MAX_BUFFER_EVENTS,
        );
        let slow_client = match raw.slow_client.as_deref() {
            None => None,
            Some("coalesce") => Some(SlowClient::Coalesce),
            Some("block") => Some(SlowClient::Block),
            Some(other) => {
                self.push(
                    join(base, &["slow_client"]),
                    Problem::SlowClient {
                        value: other.to_owned(),
                    },
                );
                None
            }
        };
        StreamOverride {
            buffer_events,
            slow_client,
            slow_client_timeout: self.opt_duration(
                join(base, &["slow_client_timeout"]),
                raw.slow_client_timeout,
                true,
            ),
            keepalive: self.opt_duration(join(base, &["keepalive"]), raw.keepalive, true),
        }
    }
}
