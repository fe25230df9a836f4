//! The resolved configuration types: plain data, validated, defaults filled in.
//!
//! Nothing here parses or reads anything; `resolve` and `builtin` build these values.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

// Amounts and the slow-client policy are the shared vocabulary's: the config resolves into
// them, so the gateway and the pricing crate take them as they are.
pub use sluice_types::{Billing, OnStoreError, Price, SlowClient, DEFAULT_CURRENCY};

/// Default `listen` address.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8080);
/// Default `ledger` URL (a relative path is relative to the working directory).
pub const DEFAULT_LEDGER: &str = "sqlite://sluice.db";
/// Default `max_body`: 10 MiB.
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;
/// Default `shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Default `[limits] default_max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A validated gateway configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address the gateway binds.
    pub listen: SocketAddr,
    /// Where requests are recorded: a ledger URL, or none.
    pub ledger: LedgerSetting,
    /// Redis URL for limits shared across replicas; `None` keeps limits in memory.
    pub redis: Option<String>,
    /// Currency reports are shown in (ISO 4217 code, upper case).
    pub display_currency: String,
    /// Providers that are usable; optional providers with an unset variable are not here.
    pub providers: BTreeMap<String, Provider>,
    /// Routes in file order; the first route matters (it is the default for tools).
    pub routes: Vec<Route>,
    /// Per-stream relay settings, gateway-wide; see [`Config::stream_for`] for one route's.
    pub stream: StreamSettings,
    /// `[stream.routes."<model>"]` overrides by route model name. Every key names a route in
    /// [`Config::routes`] (overrides for routes dropped with skipped providers are left out).
    pub stream_overrides: BTreeMap<String, StreamOverride>,
    /// CORS settings.
    pub cors: Cors,
    /// Upstream retry policy.
    pub retry: Retry,
    /// When a failing provider is skipped, and for how long.
    pub circuit_breaker: CircuitBreaker,
    /// Gateway API key policy.
    pub auth: Auth,
    /// How key limits are kept and reserved (`[limits]`).
    pub limits: Limits,
    /// How long `serve` waits for in-flight streams on shutdown.
    pub shutdown_grace: Duration,
    /// Largest accepted request body in bytes.
    pub max_body: u64,
    /// Limits on client connections and provider answers (`[server]`).
    pub server: Server,
    /// `[stream] send_buffer`: `SO_SNDBUF` for client connections, bounding what the kernel
    /// holds for a slow client so backpressure reaches the relay; `None` leaves the kernel's
    /// autotuning.
    pub send_buffer: Option<u64>,
    /// Where this configuration came from.
    pub origin: Origin,
    /// Optional providers left out because an environment variable was unset.
    pub skipped_providers: Vec<SkippedProvider>,
}

impl Config {
    /// The route for a requested model name, if any.
    pub fn route(&self, model: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.model == model)
    }

    /// The stream settings for a requested model name: the gateway-wide [`Config::stream`]
    /// with that route's override applied, or the gateway-wide settings when it has none.
    pub fn stream_for(&self, model: &str) -> StreamSettings {
        match self.stream_overrides.get(model) {
            Some(over) => over.apply(&self.stream),
            None => self.stream.clone(),
        }
    }
}

/// The `ledger` setting: where the gateway records one row per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerSetting {
    /// `ledger = "none"`: record nothing (benchmarks, or a deployment that bills elsewhere).
    None,
    /// A ledger URL: `sqlite://PATH`, `sqlite:PATH` or `postgres://...`; checked for its
    /// scheme only, the ledger reads the rest when it opens.
    Url(String),
}

impl LedgerSetting {
    /// The ledger URL; `None` when no ledger is kept.
    pub fn url(&self) -> Option<&str> {
        match self {
            LedgerSetting::None => None,
            LedgerSetting::Url(url) => Some(url),
        }
    }
}

impl fmt::Display for LedgerSetting {
    /// As written in `sluice.toml`: `none` or the URL (which may hold a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerSetting::None => f.write_str("none"),
            LedgerSetting::Url(url) => f.write_str(url),
        }
    }
}

/// Where a [`Config`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A config file (the path as given).
    File(PathBuf),
    /// No config file: the built-in configuration. `holysheep` says whether
    /// `HOLYSHEEP_API_KEY` was set, which adds the HolySheep provider.
    Builtin { holysheep: bool },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Builtin { holysheep: true } => {
                f.write_str("built-in (HolySheep from HOLYSHEEP_API_KEY, and mock)")
            }
            Origin::Builtin { holysheep: false } => {
                f.write_str("built-in (simulated model mock only)")
            }
        }
    }
}

/// An optional provider that was left out, and the variable that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedProvider {
    pub name: String,
    pub missing_var: String,
}

/// One upstream provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The key under `[providers]`.
    pub name: String,
    pub kind: ProviderKind,
    /// Base URL without a trailing `/`; empty for a `mock` provider given none.
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// What one USD of list price costs here (`per_usd` > 0).
    pub billing: Billing,
    pub timeouts: Timeouts,
    /// List prices by the provider's model name, USD per million tokens (each >= 0).
    pub prices: BTreeMap<String, Price>,
    /// The output allowance sent when a request names none (`default_max_tokens`, native
    /// providers only): Anthropic requires one ([`DEFAULT_ANTHROPIC_MAX_TOKENS`] when unset);
    /// Gemini gets the model's own limit when unset.
    pub default_max_tokens: Option<u64>,
    /// The provider also serves OpenAI's Responses API (`POST {base_url}/responses`;
    /// `responses = true`, `openai` providers only): a `/v1/responses` client's request is
    /// passed through to it instead of being translated to chat completions.
    pub responses: bool,
}

/// The `max_tokens` an `anthropic` provider sends when neither the request nor the config
/// gives one: Anthropic requires the field, and every current Claude model can write this much.
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u64 = 8192;

/// The wire protocol spoken to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI-compatible `/chat/completions` (`"openai"`).
    OpenAi,
    /// Anthropic's Messages API, `POST {base_url}/messages` (`"anthropic"`).
    Anthropic,
    /// Google's Gemini API, `{base_url}/models/{model}:streamGenerateContent` and
    /// `:generateContent` (`"gemini"`).
    Gemini,
    /// The built-in simulated provider (`"mock"`); needs no `base_url`.
    Mock,
}

impl ProviderKind {
    /// The name used in `sluice.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Mock => "mock",
        }
    }

    /// The base URL of the provider's official API, for kinds that have one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("https://api.anthropic.com/v1"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            ProviderKind::OpenAi | ProviderKind::Mock => None,
        }
    }

    /// A native (non-OpenAI) API, reached through translation.
    pub fn is_native(self) -> bool {
        matches!(self, ProviderKind::Anthropic | ProviderKind::Gemini)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Upstream timeouts; all non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_token: Duration,
    pub idle: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_token: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(600),
        }
    }
}

/// A requested model name and the targets tried in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub model: String,
    /// Never empty.
    pub targets: Vec<Target>,
}

/// One provider to try for a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A key of [`Config::providers`].
    pub provider: String,
    /// The provider's model name (the route name unless aliased).
    pub model: String,
}

/// Per-stream relay settings (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Queue length between upstream reader and client writer; >= 1.
    pub buffer_events: usize,
    pub slow_client: SlowClient,
    pub slow_client_timeout: Duration,
    /// Interval of SSE keep-alive comments; non-zero.
    pub keepalive: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            buffer_events: 64,
            slow_client: SlowClient::Coalesce,
            slow_client_timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(15),
        }
    }
}

/// One route's `[stream.routes."<model>"]` table: the keys it sets, each already checked
/// like its gateway-wide counterpart. `None` keeps the gateway-wide value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOverride {
    /// >= 1 when set.
    pub buffer_events: Option<usize>,
    pub slow_client: Option<SlowClient>,
    /// Non-zero when set.
    pub slow_client_timeout: Option<Duration>,
    /// Non-zero when set.
    pub keepalive: Option<Duration>,
}

impl StreamOverride {
    /// `base` with every key this override sets replaced.
    pub fn apply(&self, base: &StreamSettings) -> StreamSettings {
        StreamSettings {
            buffer_events: self.buffer_events.unwrap_or(base.buffer_events),
            slow_client: self.slow_client.unwrap_or(base.slow_client),
            slow_client_timeout: self.slow_client_timeout.unwrap_or(base.slow_client_timeout),
            keepalive: self.keepalive.unwrap_or(base.keepalive),
        }
    }

    /// Whether it sets no key at all (an empty table).
    pub fn is_empty(&self) -> bool {
        self == &StreamOverride::default()
    }
}

/// CORS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allow_origins: vec!["*".to_owned()],
        }
    }
}

/// Upstream retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
    /// The longest upstream `Retry-After` the gateway is willing to wait.
    pub max_retry_after: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 2,
            backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// The circuit breaker every provider gets (`[circuit_breaker]`): after `failures`
/// consecutive retryable failures a provider is skipped for `cooldown`, then one request is
/// let through to probe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Consecutive failures that open a provider's circuit; >= 1.
    pub failures: u32,
    /// How long an open circuit stays open before a probe; non-zero.
    pub cooldown: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            failures: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// Gateway API key policy (`[auth]`). The keys themselves live in the ledger database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Whether requests must carry a gateway API key even before the first key exists (once
    /// one exists they always must).
    pub required: bool,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
}

/// Who may read `/metrics` (`[auth] metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// Anyone who can reach the gateway, as Prometheus scrapers expect (`"open"`).
    #[default]
    Open,
    /// Only requests with an admin key (`"admin"`).
    Admin,
}

impl MetricsAccess {
    /// The name used in `sluice.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsAccess::Open => "open",
            MetricsAccess::Admin => "admin",
        }
    }
}

impl fmt::Display for MetricsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How key limits are kept and reserved (`[limits]`); where they are counted is
/// [`Config::redis`] (shared by replicas) or each replica's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// What to do while Redis cannot be reached.
    pub on_store_error: OnStoreError,
    /// The output tokens reserved for a request that sets no `max_tokens` or
    /// `max_completion_tokens`; >= 1.
    pub default_max_tokens: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            on_store_error: OnStoreError::default(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// Limits the gateway enforces on its client connections and on providers' answers
/// (`[server]`, SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host names (lower case, each optionally with `:port`) a request's `Host` must name,
    /// against DNS rebinding; empty allows any.
    pub allowed_hosts: Vec<String>,
    /// The whole request head must arrive within this; non-zero.
    pub header_timeout: Duration,
    /// The whole request body must arrive within this; non-zero.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this; non-zero.
    pub idle_timeout: Duration,
    /// Open client connections beyond which accepting waits; >= 1.
    pub max_connections: usize,
    /// Largest non-streaming provider answer in bytes; a larger one is a 502 `protocol` error.
    pub max_response_body: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            allowed_hosts: Vec::new(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_response_body: 8 * 1024 * 1024,
        }
    }
}

/// A secret string (API key). `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret in clear, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
