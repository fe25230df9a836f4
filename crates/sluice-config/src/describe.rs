//! `Config::describe`: the human summary `sluice check-config` prints. Never shows a secret.

use std::fmt::Write;
use std::time::Duration;

use sluice_types::Decimal;

use crate::config::{
    Config, LedgerSetting, Price, ProviderKind, StreamOverride, DEFAULT_ANTHROPIC_MAX_TOKENS,
};

impl Config {
    /// A multi-line summary: origin, addresses, routes (each with its stream override, if
    /// any), providers (without API keys), stream, retry, circuit breaker, keys and limits,
    /// and the `[server]` limits.
    /// Passwords inside ledger and redis URLs are masked.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_description(&mut out);
        out
    }

    fn write_description(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "config: {}", self.origin)?;
        writeln!(out, "listen: {}", self.listen)?;
        writeln!(out, "ledger: {}", mask_password(&self.ledger.to_string()))?;
        writeln!(out, "display currency: {}", self.display_currency)?;

        writeln!(out, "routes (model -> provider/model, tried in order):")?;
        if self.routes.is_empty() {
            writeln!(out, "  (none)")?;
        }
        for route in &self.routes {
            let targets: Vec<String> = route
                .targets
                .iter()
                .map(|t| format!("{}/{}", t.provider, t.model))
                .collect();
            writeln!(out, "  {} -> {}", route.model, targets.join(", "))?;
            if let Some(over) = self.stream_overrides.get(&route.model) {
                write_override(out, over)?;
            }
        }

        writeln!(out, "providers:")?;
        for provider in self.providers.values() {
            let url = if provider.base_url.is_empty() {
                "(built-in)"
            } else {
                &provider.base_url
            };
            writeln!(out, "  {}: {} {}", provider.name, provider.kind, url)?;
            let key = if provider.api_key.is_some() {
                "set"
            } else {
                "none"
            };
            writeln!(out, "    api key: {key}")?;
            let default_max_tokens = match provider.kind {
                ProviderKind::Anthropic => Some(
                    provider
                        .default_max_tokens
                        .unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS)
                        .to_string(),
                ),
                ProviderKind::Gemini => Some(
                    provider
                        .default_max_tokens
                        .map_or_else(|| "the model's own limit".to_owned(), |n| n.to_string()),
                ),
                ProviderKind::OpenAi | ProviderKind::Mock => None,
            };
            if let Some(n) = default_max_tokens {
                writeln!(out, "    max_tokens when a request sets none: {n}")?;
            }
            if provider.responses {
                writeln!(
                    out,
                    "    serves the Responses API: /v1/responses passed through"
                )?;
            }
            writeln!(
                out,
                "    billing: {} {} per USD",
                provider.billing.per_usd, provider.billing.currency
            )?;
            let t = &provider.timeouts;
            writeln!(
                out,
                "    timeouts: connect {}, first_token {}, idle {}, total {}",
                dur(t.connect),
                dur(t.first_token),
                dur(t.idle),
                dur(t.total)
            )?;
            if provider.prices.is_empty() {
                writeln!(out, "    prices: none configured")?;
            } else {
                writeln!(out, "    prices (USD per 1M tokens, input / output):")?;
                for (model, price) in &provider.prices {
                    writeln!(
                        out,
                        "      {model}: {} / {}{}",
                        two_places(price.input),
                        two_places(price.output),
                        cache_rates(price)
                    )?;
                }
            }
        }
        for skipped in &self.skipped_providers {
            writeln!(
                out,
                "  {}: skipped (optional; {} is not set)",
                skipped.name, skipped.missing_var
            )?;
        }

        let s = &self.stream;
        writeln!(
            out,
            "stream: buffer_events {}, slow_client {}, slow_client_timeout {}, keepalive {}",
            s.buffer_events,
            s.slow_client,
            dur(s.slow_client_timeout),
            dur(s.keepalive)
        )?;
        let r = &self.retry;
        writeln!(
            out,
            "retry: attempts {}, backoff {}, max_retry_after {}",
            r.attempts,
            dur(r.backoff),
            dur(r.max_retry_after)
        )?;
        let b = &self.circuit_breaker;
        writeln!(
            out,
            "circuit_breaker: failures {}, cooldown {}",
            b.failures,
            dur(b.cooldown)
        )?;
        writeln!(
            out,
            "cors: allow_origins {}",
            self.cors.allow_origins.join(", ")
        )?;
        self.write_keys(out)?;
        writeln!(out, "shutdown_grace: {}", dur(self.shutdown_grace))?;
        writeln!(out, "max_body: {} bytes", self.max_body)?;
        self.write_server(out)?;
        match self.send_buffer {
            Some(n) => writeln!(out, "stream send_buffer: {n} bytes"),
            None => writeln!(out, "stream send_buffer: kernel default"),
        }
    }
}

impl Config {
    /// Where API keys live, who must present one and who may read `/metrics`; where limits
    /// are counted, what happens when that store fails, and the default output reservation.
    fn write_keys(&self, out: &mut String) -> std::fmt::Result {
        let keys = match self.ledger {
            LedgerSetting::Url(_) => "keys in the ledger",
            LedgerSetting::None => "no keys (ledger = \"none\" keeps none)",
        };
        let required = if self.auth.required {
            "required on every request"
        } else {
            "required once any key exists"
        };
        writeln!(
            out,
            "auth: {required}, {keys}, metrics {}",
            self.auth.metrics
        )?;
        let store = match &self.redis {
            Some(url) => format!("redis {} (shared by replicas)", mask_password(url)),
            None => "memory (per replica)".to_owned(),
        };
        let l = &self.limits;
        writeln!(
            out,
            "limits: store {store}, on_store_error {}, default_max_tokens {}",
            l.on_store_error.as_str(),
            l.default_max_tokens
        )
    }
}

impl Config {
    /// The `[server]` limits on client connections and provider answers.
    fn write_server(&self, out: &mut String) -> std::fmt::Result {
        let s = &self.server;
        let hosts = if s.allowed_hosts.is_empty() {
            "any".to_owned()
        } else {
            s.allowed_hosts.join(", ")
        };
        writeln!(out, "server: allowed_hosts {hosts}")?;
        writeln!(
            out,
            "server limits: header_timeout {}, body_timeout {}, idle_timeout {}, \
             max_connections {}, max_response_body {} bytes",
            dur(s.header_timeout),
            dur(s.body_timeout),
            dur(s.idle_timeout),
            s.max_connections,
            s.max_response_body
        )
    }
}

/// One route's stream override, the keys it sets in `[stream]` order; nothing when empty.
fn write_override(out: &mut String, over: &StreamOverride) -> std::fmt::Result {
    let mut keys = Vec::new();
    if let Some(n) = over.buffer_events {
        keys.push(format!("buffer_events {n}"));
    }
    if let Some(mode) = over.slow_client {
        keys.push(format!("slow_client {mode}"));
    }
    if let Some(d) = over.slow_client_timeout {
        keys.push(format!("slow_client_timeout {}", dur(d)));
    }
    if let Some(d) = over.keepalive {
        keys.push(format!("keepalive {}", dur(d)));
    }
    if keys.is_empty() {
        return Ok(());
    }
    writeln!(out, "    stream override: {}", keys.join(", "))
}

/// A price to two places, as this summary has always shown it: rounded as the `f64` the
/// file's number reads as (`0.075` is just below it, so `0.07`). The decimal is the shortest
/// text of that `f64` (see `decimal_from_f64`), so it reads back as exactly that value.
/// `Decimal`'s own `{:.2}` truncates, which would show `0.129` as `0.12`.
fn two_places(price: Decimal) -> String {
    match price.to_string().parse::<f64>() {
        Ok(value) => format!("{value:.2}"),
        Err(_) => format!("{price:.2}"),
    }
}

/// The cache rates a price sets, exact (they are new to this summary, and the smallest, such
/// as 0.028, would not survive two places): `" (cache read 0.3, write 3.75, 1h write 6)"`, or
/// nothing when it sets none.
fn cache_rates(price: &Price) -> String {
    let rates: Vec<String> = [
        ("read", price.cache_read),
        ("write", price.cache_write),
        ("1h write", price.cache_write_1h),
    ]
    .into_iter()
    .filter_map(|(name, rate)| Some(format!("{name} {}", rate?.normalize())))
    .collect();
    if rates.is_empty() {
        String::new()
    } else {
        format!(" (cache {})", rates.join(", "))
    }
}

fn dur(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// `scheme://user:secret@host` -> `scheme://user:***@host`.
fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = rest[..at].find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &rest[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::{mask_password, two_places, Decimal};

    #[test]
    fn prices_show_to_two_places_as_their_f64_rounds() {
        for (price, shown) in [
            ("2", "2.00"),
            ("0.27", "0.27"),
            ("0.129", "0.13"),
            ("0.075", "0.07"),
            ("0.125", "0.12"),
            ("0.0000001", "0.00"),
            ("123456.789", "123456.79"),
        ] {
            let price = Decimal::from_str(price).unwrap();
            assert_eq!(two_places(price), shown, "{price}");
            assert_eq!(
                format!("{:.2}", price.to_string().parse::<f64>().unwrap()),
                shown
            );
        }
    }

    #[test]
    fn masks_url_passwords() {
        assert_eq!(
            mask_password("postgres://u:hunter2@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(mask_password("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(mask_password("sqlite://sluice.db"), "sqlite://sluice.db");
        assert_eq!(mask_password("redis://:pw@h:6379"), "redis://:***@h:6379");
    }
}
