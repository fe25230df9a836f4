//! Currencies for display: a currency code as `sluice.toml` takes it, and the rate at which
//! USD amounts become amounts in a display currency (a provider's billing rate, not a market
//! exchange), with the sentence that says where it comes from.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::book::{PriceBook, Source};

/// A currency code as `sluice.toml` takes it: three ASCII letters, returned upper-cased.
pub fn currency_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// How USD amounts become amounts in a display currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Units of the display currency per USD.
    #[serde(with = "crate::json::number")]
    pub per_usd: Decimal,
    /// The provider whose billing rate this is (`None` for USD itself).
    pub provider: Option<String>,
    /// Whether that provider's billing is from the config or the built-in list.
    pub source: Option<Source>,
}

/// The USD → `currency` rate: 1 for USD; otherwise the `per_usd` of a provider that bills in
/// `currency` — configured providers first (they are what the gateway's traffic goes to),
/// then the built-in sheets, by provider name within each. `None` when no provider bills in
/// it. A provider's `per_usd` is what it charges per USD of list price, so the converted
/// amount is what that provider would charge, not a market exchange.
pub fn display_rate(book: &PriceBook, currency: &str) -> Option<Rate> {
    let code = currency.trim().to_ascii_uppercase();
    if code == sluice_types::DEFAULT_CURRENCY {
        return Some(Rate {
            per_usd: Decimal::ONE,
            provider: None,
            source: None,
        });
    }
    let billing_in = |wanted: Source| {
        book.providers()
            .find(|p| book.billing_source(p) == Some(wanted) && book.billing(p).currency == code)
    };
    let provider = billing_in(Source::Config).or_else(|| billing_in(Source::Builtin))?;
    Some(Rate {
        per_usd: book.billing(provider).per_usd.normalize(),
        provider: Some(provider.to_owned()),
        source: book.billing_source(provider),
    })
}

/// One sentence on the rate: which provider's, or that there is none.
pub fn rate_note(currency: &str, rate: Option<&Rate>) -> String {
    match rate {
        Some(Rate { provider: None, .. }) => format!("Amounts in {currency} are list prices."),
        Some(Rate {
            per_usd,
            provider: Some(p),
            source,
        }) => format!(
            "{currency} amounts are USD at {p}'s billing rate of {per_usd} {currency} per USD \
             ({}).",
            match source {
                Some(Source::Builtin) => "built-in price list",
                _ => "config",
            }
        ),
        None => format!(
            "No USD to {currency} rate is known (no configured or built-in provider bills in \
             {currency}), so amounts are in USD only."
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sluice_types::Billing;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn currency_codes() {
        assert_eq!(currency_code(" jpy ").as_deref(), Some("JPY"));
        for bad in ["", "JP", "JPYY", "J1Y", "¥"] {
            assert_eq!(currency_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_display_rate_prefers_configured_providers_then_names() {
        let book = PriceBook::builtin();
        let usd = display_rate(&book, "usd").unwrap();
        assert_eq!((usd.per_usd, usd.provider), (Decimal::ONE, None));
        // Built-in only: anthropic is the first by name billing in JPY.
        let jpy = display_rate(&book, "JPY").unwrap();
        assert_eq!(jpy.per_usd, dec("7.3"));
        assert_eq!(jpy.provider.as_deref(), Some("anthropic"));
        assert_eq!(jpy.source, Some(Source::Builtin));
        assert_eq!(display_rate(&book, "EUR"), None);
        // A configured provider billing in JPY wins over the built-in sheets.
        let mut book = PriceBook::builtin();
        book.set_billing(
            "zz-relay",
            Billing {
                currency: "JPY".into(),
                per_usd: dec("1.00"),
            },
        );
        let jpy = display_rate(&book, "JPY").unwrap();
        assert_eq!(jpy.per_usd, dec("1"));
        assert_eq!(jpy.provider.as_deref(), Some("zz-relay"));
        assert_eq!(jpy.source, Some(Source::Config));
    }
}
