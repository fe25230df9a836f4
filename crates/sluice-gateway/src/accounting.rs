//! What a request costs: the price of its provider's model and its billing currency (from
//! `sluice-pricing`: the built-in sheets, overridden by the config), applied exactly in
//! `rust_decimal` to the usage. The same figures go to the client's usage, the metrics and the
//! ledger.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_config::{Config, ProviderKind};
use sluice_pricing::{cost, Billing, Cost, Decimal, Price, PriceBook};
use sluice_relay::{PricedUsage, Usage, UsagePricer};

/// The price and billing of one (provider, provider model).
#[derive(Debug, Default)]
pub struct TargetPrice {
    /// `None` when nothing prices this model; such requests are recorded at zero cost.
    price: Option<Price>,
    billing: Billing,
}

impl TargetPrice {
    /// What `usage` costs (zero when the model has no price).
    pub fn cost(&self, usage: &Usage) -> Cost {
        match &self.price {
            Some(p) => cost(
                p,
                &self.billing,
                usage.prompt_tokens,
                usage.completion_tokens,
            ),
            None => Cost {
                usd: Decimal::ZERO,
                local: Decimal::ZERO,
                currency: self.billing.currency.clone(),
            },
        }
    }
}

impl UsagePricer for TargetPrice {
    fn price(&self, usage: &Usage) -> Option<PricedUsage> {
        let c = self.cost(usage);
        Some(PricedUsage {
            cost_usd: c.usd.normalize().to_string(),
            currency: c.currency,
            cost_local: c.local.normalize().to_string(),
        })
    }
}

/// Every route target's price, looked up once at start-up.
#[derive(Debug, Default)]
pub struct Prices {
    targets: HashMap<(String, String), Arc<TargetPrice>>,
    free: Arc<TargetPrice>,
}

impl Prices {
    pub fn new(config: &Config) -> Self {
        let book = PriceBook::with_config(config);
        let mut targets = HashMap::new();
        for target in config.routes.iter().flat_map(|r| &r.targets) {
            let key = (target.provider.clone(), target.model.clone());
            if targets.contains_key(&key) {
                continue;
            }
            let simulated = config
                .providers
                .get(&target.provider)
                .is_some_and(|p| p.kind == ProviderKind::Mock);
            let price = book.price(&target.provider, &target.model).cloned();
            if price.is_none() && !simulated {
                tracing::warn!(
                    provider = %target.provider,
                    model = %target.model,
                    "no price for this provider model: its requests are recorded at zero cost"
                );
            }
            let billing = book.billing(&target.provider);
            targets.insert(key, Arc::new(TargetPrice { price, billing }));
        }
        Prices {
            targets,
            free: Arc::default(),
        }
    }

    pub fn target(&self, provider: &str, model: &str) -> Arc<TargetPrice> {
        self.targets
            .get(&(provider.to_owned(), model.to_owned()))
            .cloned()
            .unwrap_or_else(|| self.free.clone())
    }
}
