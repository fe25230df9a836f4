//! What every handler shares: the resolved config, a client per provider and the metrics,
//! built once at start-up.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_config::Config;
use sluice_limit::Limiter;
use sluice_relay::Lifecycle;

use crate::accounting::{Accounts, Prices};
use crate::auth::keyring::KeyRing;
use crate::breaker::Breakers;
use crate::dashboard::live::Live;
use crate::limits::spend::{LedgerSpend, NoSpend};
use crate::metrics::Metrics;
use crate::upstream::{MockHandle, ProviderClient};

/// The gateway could not be set up from its config.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The ledger could not be opened or read (the message names its URL, password masked).
    #[error(transparent)]
    Ledger(#[from] sluice_ledger::LedgerError),
    /// `[auth] required = true` with `ledger = "none"`: there is nowhere to keep keys.
    #[error("auth.required: keys live in the ledger, and ledger = \"none\" keeps none")]
    KeysWithoutLedger,
    /// The limits store could not be set up (e.g. an invalid `redis` URL).
    #[error("redis: {0}")]
    Limits(#[from] sluice_limit::LimitError),
    #[error("provider {provider}: cannot set up its client: {source}")]
    Client {
        provider: String,
        source: crate::upstream::ClientError,
    },
}

/// Cheap to clone: one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    providers: BTreeMap<String, ProviderClient>,
    /// The relay tasks: shutdown cancels and awaits them.
    relays: Lifecycle,
    /// Every route target's price.
    prices: Prices,
    /// The one metrics registry, served at `/metrics`.
    metrics: Metrics,
    /// The usage ledger (none in setups that keep no ledger).
    accounts: Option<Accounts>,
    /// A circuit breaker per provider (shared with the metrics, which show their states).
    breakers: Arc<Breakers>,
    /// The API keys, as last read from the ledger.
    keys: Arc<KeyRing>,
    /// The keys' limits.
    limiter: Arc<Limiter>,
    /// The dashboard's live counters and shared reads.
    live: Live,
}

/// The parts of the state that start-up builds around the config (tests build them too).
#[derive(Debug)]
pub struct Services {
    /// The ledger and its writer, when requests are recorded.
    pub accounts: Option<Accounts>,
    pub keys: Arc<KeyRing>,
    /// `None`: limits counted in memory, seeded from the ledger.
    pub limiter: Option<Arc<Limiter>>,
}

impl AppState {
    /// `accounts`: the ledger and its writer, when requests are to be recorded. No keys are
    /// known and limits are counted in memory (see [`AppState::with`]).
    pub fn new(
        config: Config,
        mock: MockHandle,
        accounts: Option<Accounts>,
    ) -> Result<Self, InitError> {
        let services = Services {
            accounts,
            keys: Arc::default(),
            limiter: None,
        };
        Self::with(config, mock, services)
    }

    pub fn with(config: Config, mock: MockHandle, services: Services) -> Result<Self, InitError> {
        let Services {
            accounts,
            keys,
            limiter,
        } = services;
        let mut providers = BTreeMap::new();
        for (name, provider) in &config.providers {
            let max_answer = usize::try_from(config.server.max_response_body).unwrap_or(usize::MAX);
            let client = ProviderClient::new(provider, &mock, max_answer).map_err(|source| {
                InitError::Client {
                    provider: name.clone(),
                    source,
                }
            })?;
            providers.insert(name.clone(), client);
        }
        let breakers = Arc::new(Breakers::new(
            config.providers.keys(),
            config.circuit_breaker.failures,
            config.circuit_breaker.cooldown,
        ));
        let metrics = Metrics::new(&config).with_breakers(breakers.clone());
        let prices = Prices::new(&config);
        let limiter = limiter.unwrap_or_else(|| {
            Arc::new(match &accounts {
                Some(a) => Limiter::in_memory(Arc::new(LedgerSpend {
                    ledger: a.ledger.clone(),
                    book: prices.book().clone(),
                })),
                None => Limiter::in_memory(Arc::new(NoSpend)),
            })
        });
        Ok(AppState(Arc::new(Inner {
            live: Live::new(&config),
            keys,
            limiter,
            config,
            providers,
            relays: Lifecycle::default(),
            metrics,
            prices,
            accounts,
            breakers,
        })))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub(crate) fn accounts(&self) -> Option<&Accounts> {
        self.0.accounts.as_ref()
    }

    pub(crate) fn prices(&self) -> &Prices {
        &self.0.prices
    }

    pub(crate) fn relays(&self) -> &Lifecycle {
        &self.0.relays
    }

    pub(crate) fn breakers(&self) -> &Breakers {
        &self.0.breakers
    }

    pub(crate) fn keys(&self) -> &KeyRing {
        &self.0.keys
    }

    pub(crate) fn limiter(&self) -> &Arc<Limiter> {
        &self.0.limiter
    }

    pub(crate) fn live(&self) -> &Live {
        &self.0.live
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub(crate) fn provider(&self, name: &str) -> Option<&ProviderClient> {
        self.0.providers.get(name)
    }
}
