//! What a request costs: the price of its provider's model and its billing currency (from
//! `sluice-pricing`: the built-in sheets, overridden by the config), applied exactly in
//! `rust_decimal` to the usage. The same figures go to the client's usage, the metrics and the
//! ledger.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_config::{Config, ProviderKind};
use sluice_ledger::{Ledger, LedgerHandle, Row};
use sluice_openai::{PricedUsage, UsagePricer};
use sluice_pricing::{
    cost_usage, display_rate, Billing, Cost, Decimal, Price, PriceBook, Rate, UsageTotals,
};
use sluice_types::Usage;

use crate::estimate::{count_prompt, count_text};
use crate::estimator::Estimator;
use crate::limits::hold::Hold;

/// The ledger: queries go to `ledger`, rows to `writer`, a background batching task that never
/// makes a request wait.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub ledger: Ledger,
    pub writer: LedgerHandle,
    /// Rows waiting for a tokenizer count: shutdown waits for them before the writer's last
    /// flush, so an estimated row is not lost on SIGTERM.
    estimates: Estimator,
}

impl Accounts {
    pub fn new(ledger: Ledger, writer: LedgerHandle) -> Self {
        Accounts {
            ledger,
            writer,
            estimates: Estimator::start(),
        }
    }

    /// The gateway is draining: from now on, counts do not wait for tokenizer tables to load.
    pub fn begin_drain(&self) {
        self.estimates.begin_drain();
    }

    /// Waits for the rows still being counted to reach the writer.
    pub async fn finish_estimates(&self) {
        self.estimates.finish().await;
    }

    /// Records a row; when tokens must be counted with the tokenizer first (`estimate`), that
    /// is done on the counting threads (`crate::estimator`), off the runtime's. The row, once final, settles
    /// the request's hold on its key's limits.
    pub fn record(
        &self,
        mut row: Row,
        estimate: Option<Estimate>,
        price: Arc<TargetPrice>,
        hold: Option<Hold>,
    ) {
        let writer = self.writer.clone();
        match estimate {
            None => {
                if let Some(hold) = hold {
                    hold.settle(&row);
                }
                writer.record(row)
            }
            Some(est) => {
                self.estimates.submit(move |tables| {
                    row.prompt_tokens = count_prompt(&est.model, &est.request_body, tables);
                    row.completion_tokens = count_text(&est.model, &est.text, tables);
                    row.estimated = true;
                    let usage = Usage::counted(row.prompt_tokens, row.completion_tokens);
                    let c = price.cost(&usage);
                    row.cost_usd = c.usd;
                    row.cost_local = c.local;
                    if let Some(hold) = hold {
                        hold.settle(&row);
                    }
                    writer.record(row);
                });
            }
        }
    }
}

/// What the tokenizer needs to count a request the provider reported no usage for.
#[derive(Debug)]
pub struct Estimate {
    /// The provider's model name (it picks the tokenizer).
    pub model: String,
    /// The client's chat request (its messages are the prompt).
    pub request_body: bytes::Bytes,
    /// The text relayed before the stream ended.
    pub text: String,
}

/// The price and billing of one (provider, provider model).
#[derive(Debug, Default)]
pub struct TargetPrice {
    /// `None` when nothing prices this model; such requests are recorded at zero cost.
    price: Option<Price>,
    billing: Billing,
}

impl TargetPrice {
    /// What `usage` costs (zero when the model has no price), its cache reads and writes at
    /// their own rates.
    pub fn cost(&self, usage: &Usage) -> Cost {
        match &self.price {
            Some(p) => cost_usage(p, &self.billing, usage),
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

/// Every route target's price, looked up once at start-up, and the book they came from.
#[derive(Debug)]
pub struct Prices {
    targets: HashMap<(String, String), Arc<TargetPrice>>,
    free: Arc<TargetPrice>,
    book: Arc<PriceBook>,
}

impl Prices {
    pub fn new(config: &Config) -> Self {
        let book = Arc::new(PriceBook::with_config(config));
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
            book,
        }
    }

    /// The price book: the built-in sheets with the config's prices over them.
    pub fn book(&self) -> &Arc<PriceBook> {
        &self.book
    }

    /// USD to `currency`, as reports and budgets convert (`sluice_pricing::display_rate`).
    pub fn rate(&self, currency: &str) -> Option<Rate> {
        display_rate(&self.book, currency)
    }

    pub fn target(&self, provider: &str, model: &str) -> Arc<TargetPrice> {
        self.targets
            .get(&(provider.to_owned(), model.to_owned()))
            .cloned()
            .unwrap_or_else(|| self.free.clone())
    }
}

/// The ledger's report rows as the pricing crate's report takes them (shared by `GET /v1/usage`
/// and `sluice usage`).
pub fn usage_groups(rows: Vec<sluice_ledger::UsageRow>) -> Vec<(String, UsageTotals)> {
    rows.into_iter()
        .map(|r| {
            let totals = UsageTotals {
                requests: r.requests,
                prompt_tokens: r.prompt_tokens,
                completion_tokens: r.completion_tokens,
                cost_usd: r.cost_usd,
                estimated_requests: r.estimated_requests,
                errors: r.errors,
            };
            (r.group, totals)
        })
        .collect()
}
