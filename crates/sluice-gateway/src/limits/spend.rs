//! Where the limiter learns what a key spent before it counted: the ledger.

use sluice_ledger::Ledger;
use sluice_limit::SpendSource;
use sluice_pricing::{charge_in, display_rate, Cost, PriceBook};
use sluice_types::{unix_ms, Decimal};
use std::sync::Arc;

/// What a key spent in a window, from the ledger, charged as its budget is.
pub struct LedgerSpend {
    pub ledger: Ledger,
    pub book: Arc<PriceBook>,
}

impl SpendSource for LedgerSpend {
    fn spent<'a>(
        &'a self,
        key_id: &'a str,
        since_ms: i64,
        currency: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Decimal, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let rows = self
                .ledger
                .key_spend(key_id, since_ms, unix_ms().saturating_add(1))
                .await
                .map_err(|e| e.to_string())?;
            let rate = display_rate(&self.book, currency);
            let mut total = Decimal::ZERO;
            for row in rows {
                let cost = Cost {
                    usd: row.cost_usd,
                    local: row.cost_local,
                    currency: row.currency,
                };
                // A cost that cannot be converted counts at nothing; `keys create` refuses a
                // budget currency without a rate, so this only happens if the config changed.
                total += charge_in(currency, &cost, rate.as_ref()).unwrap_or(Decimal::ZERO);
            }
            Ok(total)
        })
    }
}

/// A spend source for a gateway without a ledger: nothing was spent before it started.
pub struct NoSpend;

impl SpendSource for NoSpend {
    fn spent<'a>(
        &'a self,
        _key_id: &'a str,
        _since_ms: i64,
        _currency: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Decimal, String>> + Send + 'a>>
    {
        Box::pin(async { Ok(Decimal::ZERO) })
    }
}
