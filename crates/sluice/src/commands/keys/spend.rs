//! A key's spend as `keys list` shows it: what its requests in the budget's current window
//! were charged in the budget's currency (through `sluice_pricing::charge_in`, as the gateway
//! charges them), or for a key without a budget, this calendar month in USD.

use sluice_ledger::{ApiKey, KeySpend, Ledger};
use sluice_pricing::{charge_in, display_rate, Cost, Decimal, PriceBook, Rate};
use sluice_types::{BudgetWindow, DEFAULT_CURRENCY};

use crate::Failure;

/// What a key spent in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Spend {
    /// In `currency`, exact; `None` when part of it was billed in a currency that has no rate
    /// to this one any more (the config changed since the budget was set).
    pub amount: Option<Decimal>,
    pub currency: String,
    pub window: BudgetWindow,
    /// The window: its start (inclusive) and end (exclusive), unix ms.
    pub since_ms: i64,
    pub until_ms: i64,
    pub requests: u64,
}

/// The spend of `key` in the window holding `now_ms`.
pub(super) async fn spend(
    ledger: &Ledger,
    key: &ApiKey,
    book: &PriceBook,
    now_ms: i64,
) -> Result<Spend, Failure> {
    let (currency, window) = match &key.limits.budget {
        Some(b) => (b.currency.clone(), b.window),
        None => (DEFAULT_CURRENCY.to_owned(), BudgetWindow::Month),
    };
    let (since_ms, until_ms) = window.bounds(now_ms);
    let parts = ledger
        .key_spend(&key.id, since_ms, until_ms)
        .await
        .map_err(|e| Failure::Runtime(e.into()))?;
    let rate = display_rate(book, &currency);
    Ok(Spend {
        amount: charged(&currency, &parts, rate.as_ref()),
        requests: parts.iter().map(|p| p.requests).sum(),
        currency,
        window,
        since_ms,
        until_ms,
    })
}

/// The sum of `parts` (a key's spend per billing currency) charged in `currency`. Charging is
/// linear, so each currency's sum is charged once.
fn charged(currency: &str, parts: &[KeySpend], rate: Option<&Rate>) -> Option<Decimal> {
    parts
        .iter()
        .try_fold(Decimal::ZERO, |sum, p| {
            let cost = Cost {
                usd: p.cost_usd,
                local: p.cost_local,
                currency: p.currency.clone(),
            };
            charge_in(currency, &cost, rate).map(|c| sum.saturating_add(c))
        })
        .map(|d| d.normalize())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn part(currency: &str, usd: &str, local: &str) -> KeySpend {
        KeySpend {
            currency: currency.into(),
            cost_usd: dec(usd),
            cost_local: dec(local),
            requests: 1,
        }
    }

    #[test]
    fn each_billing_currency_is_charged_as_billed_or_at_the_rate() {
        let rate = Rate {
            per_usd: dec("150"),
            provider: Some("relay".into()),
            source: None,
        };
        let parts = [
            part("JPY", "0.2", "0.30017151"),
            part("USD", "0.0040325", "0.0040325"),
        ];
        assert_eq!(charged("JPY", &parts, Some(&rate)), Some(dec("0.90504651")));
        // Without a rate the USD-billed part cannot be charged in yen.
        assert_eq!(charged("JPY", &parts, None), None);
        let usd = Rate {
            per_usd: Decimal::ONE,
            provider: None,
            source: None,
        };
        assert_eq!(charged("USD", &parts, Some(&usd)), Some(dec("0.2040325")));
        assert_eq!(charged("USD", &[], None), Some(Decimal::ZERO));
    }
}
