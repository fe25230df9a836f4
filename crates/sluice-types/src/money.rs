//! Prices, billings and costs, always as exact decimals: list prices are decimal USD per
//! million tokens, one request costs fractions of a micro-dollar, and sums of binary floats
//! drift (`0.1 + 0.2`). No amount anywhere in Sluice is an `f64`, except the one Prometheus
//! counter that can only be a float.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

/// The currency of list prices, and the default billing and display currency.
pub const DEFAULT_CURRENCY: &str = "USD";

/// A list price in USD per million tokens.
///
/// Prompt tokens read from or written to a provider's cache have their own rates where the
/// provider bills them apart (Anthropic and Google bill reads and writes differently from
/// plain input, OpenAI bills cached input at a discount). A rate left out is the one the
/// provider would otherwise charge: cache reads and writes at `input`, hour-long writes at
/// `cache_write` if set, else at `input` (see [`Price::cache_read_rate`] and the others).
/// Serialized only when set, so a price without them reads as it always did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Price {
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
    /// Prompt tokens read from the cache.
    #[serde(
        with = "rust_decimal::serde::str_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_read: Option<Decimal>,
    /// Prompt tokens written to the cache for five minutes (Anthropic's default).
    #[serde(
        with = "rust_decimal::serde::str_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write: Option<Decimal>,
    /// Prompt tokens written to the cache for an hour.
    #[serde(
        with = "rust_decimal::serde::str_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_1h: Option<Decimal>,
}

impl Price {
    /// `input` and `output`, with no cache rates of its own.
    pub fn new(input: Decimal, output: Decimal) -> Self {
        Price {
            input,
            output,
            cache_read: None,
            cache_write: None,
            cache_write_1h: None,
        }
    }

    /// What a cache read costs: `cache_read`, else `input`.
    pub fn cache_read_rate(&self) -> Decimal {
        self.cache_read.unwrap_or(self.input)
    }

    /// What a five-minute cache write costs: `cache_write`, else `input`.
    pub fn cache_write_rate(&self) -> Decimal {
        self.cache_write.unwrap_or(self.input)
    }

    /// What an hour-long cache write costs: `cache_write_1h`, else `cache_write`, else
    /// `input` (a provider that prices one kind of write prices them all so).
    pub fn cache_write_1h_rate(&self) -> Decimal {
        self.cache_write_1h
            .or(self.cache_write)
            .unwrap_or(self.input)
    }

    /// Whether any cache rate is set.
    pub fn has_cache_rates(&self) -> bool {
        self.cache_read.is_some() || self.cache_write.is_some() || self.cache_write_1h.is_some()
    }
}

/// What one USD of list price costs at a provider: `per_usd` units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Billing {
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Always > 0.
    #[serde(with = "rust_decimal::serde::str")]
    pub per_usd: Decimal,
}

impl Default for Billing {
    /// USD at list price.
    fn default() -> Self {
        Billing {
            currency: DEFAULT_CURRENCY.to_owned(),
            per_usd: Decimal::ONE,
        }
    }
}

/// What one request costs: USD at list price, and the amount in the provider's billing
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cost {
    #[serde(with = "rust_decimal::serde::str")]
    pub usd: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub local: Decimal,
    pub currency: String,
}

impl Cost {
    /// Nothing, in `currency`.
    pub fn zero(currency: &str) -> Self {
        Cost {
            usd: Decimal::ZERO,
            local: Decimal::ZERO,
            currency: currency.to_owned(),
        }
    }
}

/// The exact decimal a number in a TOML file was written as.
///
/// TOML numbers reach us as `f64`, and `0.27_f64` is really
/// 0.270000000000000017763568394002504646778106689453125. Rust prints an `f64` as the
/// shortest decimal that reads back to the same value (`0.27`, `1e-7` as `0.0000001`), which
/// is what the operator wrote whenever they wrote at most 15 significant digits, so that is
/// what this parses. Values with more than 28 decimal places are rounded to 28; values beyond
/// `Decimal`'s range (about 7.9e28) saturate to `Decimal::MAX`/`MIN`; NaN is zero (config
/// validation rejects all of these before they get here).
pub fn decimal_from_f64(value: f64) -> Decimal {
    if value.is_nan() {
        return Decimal::ZERO;
    }
    if let Ok(d) = Decimal::from_str(&value.to_string()) {
        return d;
    }
    // Too many decimal places for `from_str`: round the printed form to 28 places.
    if value.abs() < 1.0 {
        if let Ok(d) = Decimal::from_str(&format!("{value:.28}")) {
            return d;
        }
    }
    if value > 0.0 {
        Decimal::MAX
    } else {
        Decimal::MIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn config_numbers_are_the_decimals_written() {
        for (f, s) in [
            (0.27, "0.27"),
            (0.42, "0.42"),
            (2.5, "2.5"),
            (8.0, "8"),
            (1e-7, "0.0000001"),
            (0.1, "0.1"),
            (7.3, "7.3"),
            (15.0, "15"),
            (0.0, "0"),
            (123456.789, "123456.789"),
        ] {
            assert_eq!(decimal_from_f64(f), dec(s), "{f}");
        }
        // The naive conversion keeps the binary error.
        assert_ne!(Decimal::from_f64_retain(0.27).unwrap(), dec("0.27"));
    }

    #[test]
    fn cache_rates_left_out_are_what_the_provider_would_charge() {
        let plain = Price::new(dec("3.00"), dec("15.00"));
        assert!(!plain.has_cache_rates());
        assert_eq!(
            (
                plain.cache_read_rate(),
                plain.cache_write_rate(),
                plain.cache_write_1h_rate()
            ),
            (dec("3.00"), dec("3.00"), dec("3.00"))
        );
        let writes = Price {
            cache_read: Some(dec("0.30")),
            cache_write: Some(dec("3.75")),
            ..plain
        };
        assert!(writes.has_cache_rates());
        assert_eq!(
            (
                writes.cache_read_rate(),
                writes.cache_write_rate(),
                writes.cache_write_1h_rate()
            ),
            (dec("0.30"), dec("3.75"), dec("3.75"))
        );
        let hour = Price {
            cache_write_1h: Some(dec("6.00")),
            ..plain
        };
        assert_eq!(
            (
                hour.cache_read_rate(),
                hour.cache_write_rate(),
                hour.cache_write_1h_rate()
            ),
            (dec("3.00"), dec("3.00"), dec("6.00"))
        );
    }

    #[test]
    fn config_numbers_at_the_edges_do_not_panic() {
        assert_eq!(decimal_from_f64(f64::NAN), Decimal::ZERO);
        assert_eq!(decimal_from_f64(1e300), Decimal::MAX);
        assert_eq!(decimal_from_f64(f64::INFINITY), Decimal::MAX);
        assert_eq!(decimal_from_f64(-1e300), Decimal::MIN);
        // 1e-30 has more places than Decimal holds: rounded to 28 places, i.e. zero.
        assert_eq!(decimal_from_f64(1e-30), Decimal::ZERO);
        assert_eq!(
            decimal_from_f64(1.5e-28),
            dec("0.0000000000000000000000000002")
        );
    }

    #[test]
    fn amounts_serialise_as_exact_text() {
        let p = Price::new(dec("0.27"), dec("0.42"));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"input":"0.27","output":"0.42"}"#
        );
        let p = Price {
            cache_read: Some(dec("0.028")),
            cache_write_1h: Some(dec("6.00")),
            ..p
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"input":"0.27","output":"0.42","cache_read":"0.028","cache_write_1h":"6.00"}"#
        );
        assert_eq!(Cost::zero("JPY").currency, "JPY");
    }
}
