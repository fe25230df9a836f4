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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Price {
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
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
        let p = Price {
            input: dec("0.27"),
            output: dec("0.42"),
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"input":"0.27","output":"0.42"}"#
        );
        assert_eq!(Cost::zero("JPY").currency, "JPY");
    }
}
