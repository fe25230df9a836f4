//! `Raw*` serde types mirroring `sluice.toml` exactly: every table denies unknown fields,
//! almost everything is optional, and values stay strings until `resolve` checks them.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) listen: Option<String>,
    pub(crate) ledger: Option<String>,
    pub(crate) redis: Option<String>,
    pub(crate) display_currency: Option<String>,
    pub(crate) shutdown_grace: Option<String>,
    /// A string such as `"10MiB"` or an integer; checked in `resolve`.
    pub(crate) max_body: Option<toml::Value>,
    #[serde(default)]
    pub(crate) providers: Ordered<RawProvider>,
    #[serde(default)]
    pub(crate) routes: Ordered<Vec<RawTarget>>,
    #[serde(default)]
    pub(crate) stream: RawStream,
    #[serde(default)]
    pub(crate) cors: RawCors,
    #[serde(default)]
    pub(crate) retry: RawRetry,
    #[serde(default)]
    pub(crate) auth: RawAuth,
    #[serde(default)]
    pub(crate) limits: RawLimits,
    #[serde(default)]
    pub(crate) circuit_breaker: RawCircuitBreaker,
    #[serde(default)]
    pub(crate) server: RawServer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    pub(crate) kind: String,
    pub(crate) base_url: Option<String>,
    pub(crate) api_key: Option<String>,
    /// Read by `interpolate` on the untyped tree; kept here so the field is known.
    #[serde(default)]
    #[allow(dead_code)]
    pub(crate) optional: bool,
    #[serde(default)]
    pub(crate) billing: RawBilling,
    #[serde(default)]
    pub(crate) timeouts: RawTimeouts,
    #[serde(default)]
    pub(crate) prices: Ordered<RawPrice>,
    pub(crate) default_max_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) responses: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBilling {
    pub(crate) currency: Option<String>,
    pub(crate) per_usd: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub(crate) connect: Option<String>,
    pub(crate) first_token: Option<String>,
    pub(crate) idle: Option<String>,
    pub(crate) total: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrice {
    pub(crate) input: f64,
    pub(crate) output: f64,
    /// The cache rates, each optional (`sluice_types::Price` says what a missing one costs).
    #[serde(default)]
    pub(crate) cache_read: Option<f64>,
    #[serde(default)]
    pub(crate) cache_write: Option<f64>,
    #[serde(default)]
    pub(crate) cache_write_1h: Option<f64>,
}

/// A route entry: `"provider"` or `{ provider = "x", model = "y" }`.
#[derive(Debug)]
pub(crate) enum RawTarget {
    Name(String),
    Aliased(RawAlias),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlias {
    pub(crate) provider: String,
    pub(crate) model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStream {
    pub(crate) buffer_events: Option<usize>,
    pub(crate) slow_client: Option<String>,
    pub(crate) slow_client_timeout: Option<String>,
    pub(crate) keepalive: Option<String>,
    /// `SO_SNDBUF` for client connections (gateway-wide only: set when a connection is
    /// accepted, before any route is known).
    pub(crate) send_buffer: Option<toml::Value>,
    /// `[stream.routes."<model>"]`: per-route overrides, in file order.
    #[serde(default)]
    pub(crate) routes: Ordered<RawStreamOverride>,
}

/// The keys of `[stream]` that one route may override; every one optional. The same four
/// fields as [`RawStream`], repeated because `flatten` and `deny_unknown_fields` do not mix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStreamOverride {
    pub(crate) buffer_events: Option<usize>,
    pub(crate) slow_client: Option<String>,
    pub(crate) slow_client_timeout: Option<String>,
    pub(crate) keepalive: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCors {
    pub(crate) allow_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub(crate) attempts: Option<u32>,
    pub(crate) backoff: Option<String>,
    pub(crate) max_retry_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub(crate) required: Option<bool>,
    pub(crate) metrics: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub(crate) on_store_error: Option<String>,
    pub(crate) default_max_tokens: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCircuitBreaker {
    pub(crate) failures: Option<u32>,
    pub(crate) cooldown: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) allowed_hosts: Option<Vec<String>>,
    pub(crate) header_timeout: Option<String>,
    pub(crate) body_timeout: Option<String>,
    pub(crate) idle_timeout: Option<String>,
    pub(crate) max_connections: Option<usize>,
    /// A string such as `"8MiB"` or an integer, like `max_body`.
    pub(crate) max_response_body: Option<toml::Value>,
}

/// A TOML table kept in file order.
#[derive(Debug)]
pub(crate) struct Ordered<T>(pub(crate) Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
            type Value = Ordered<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, T>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }

        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for RawTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TargetVisitor;

        impl<'de> Visitor<'de> for TargetVisitor {
            type Value = RawTarget;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a provider name or { provider = "...", model = "..." }"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawTarget::Name(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawTarget::Name(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawAlias::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawTarget::Aliased)
            }
        }

        deserializer.deserialize_any(TargetVisitor)
    }
}
