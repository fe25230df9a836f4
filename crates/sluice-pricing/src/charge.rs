//! What a request is charged against a key's budget: its cost in the budget's currency. The
//! gateway (when it settles a request) and `sluice keys list` (when it shows a key's spend)
//! both charge through [`charge_in`], so they agree to the last digit.

use sluice_types::{Cost, Decimal};

use crate::currency::Rate;

/// The amount of `cost` in `currency` (an ISO code; case does not matter): the provider's own
/// amount (`cost.local`) when it billed the request in that currency, otherwise `cost.usd` at
/// `rate`, which is [`display_rate`](crate::display_rate)`(book, currency)`. `None` when the
/// request was billed in another currency and no rate is known. Exact: never rounded.
///
/// Charging is linear, so a sum of costs billed in one currency (a key's
/// spend per billing currency from the ledger) can be charged as one `Cost`.
pub fn charge_in(currency: &str, cost: &Cost, rate: Option<&Rate>) -> Option<Decimal> {
    if cost.currency.trim().eq_ignore_ascii_case(currency.trim()) {
        return Some(cost.local);
    }
    rate.map(|r| cost.usd.saturating_mul(r.per_usd).normalize())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::book::PriceBook;
    use crate::currency::display_rate;
    use sluice_types::Billing;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn cost(usd: &str, local: &str, currency: &str) -> Cost {
        Cost {
            usd: dec(usd),
            local: dec(local),
            currency: currency.into(),
        }
    }

    /// A book where a configured provider bills in JPY at 150 per USD.
    fn book() -> PriceBook {
        let mut book = PriceBook::builtin();
        book.set_billing(
            "relay",
            Billing {
                currency: "JPY".into(),
                per_usd: dec("150"),
            },
        );
        book
    }

    #[test]
    fn a_request_billed_in_the_budget_currency_is_charged_what_it_was_billed() {
        let book = book();
        let jpy = display_rate(&book, "JPY");
        // HolySheep bills 1 JPY per USD of list price: the yen billed, not USD × 150.
        let billed = cost("0.00017151", "0.00017151", "JPY");
        assert_eq!(
            charge_in("JPY", &billed, jpy.as_ref()),
            Some(dec("0.00017151"))
        );
        assert_eq!(charge_in("jpy", &billed, None), Some(dec("0.00017151")));
    }

    #[test]
    fn a_request_billed_in_usd_is_charged_at_the_configured_rate() {
        let book = book();
        let jpy = display_rate(&book, "JPY");
        let billed = cost("0.0040325", "0.0040325", "USD");
        assert_eq!(
            charge_in("JPY", &billed, jpy.as_ref()),
            Some(dec("0.604875"))
        );
        // No rate known: it cannot be charged in that currency.
        assert_eq!(charge_in("EUR", &billed, None), None);
        assert_eq!(display_rate(&book, "EUR"), None);
    }

    #[test]
    fn a_usd_budget_is_charged_list_price_in_usd() {
        let book = book();
        let usd = display_rate(&book, "USD");
        // Billed in yen at 7.3 per USD: a USD budget counts the USD list price.
        let billed = cost("0.0040325", "0.02943725", "JPY");
        assert_eq!(
            charge_in("USD", &billed, usd.as_ref()),
            Some(dec("0.0040325"))
        );
        let billed = cost("0.1", "0.1", "USD");
        assert_eq!(charge_in("USD", &billed, None), Some(dec("0.1")));
    }
}
