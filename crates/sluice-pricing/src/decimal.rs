//! Conversions into [`Decimal`] and rounding for display.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// The exact decimal a config number was written as.
///
/// `sluice.toml` numbers reach us as `f64`, and `0.27_f64` is really
/// 0.270000000000000017763568394002504646778106689453125. Rust prints an `f64` as the
/// shortest decimal that reads back to the same value (`0.27`, `1e-7` as `0.0000001`), which
/// is what the operator wrote whenever they wrote at most 15 significant digits, so that is
/// what this parses. Values with more than 28 decimal places are rounded to 28; values beyond
/// `Decimal`'s range (about 7.9e28) saturate to `Decimal::MAX`/`MIN`; NaN is zero (the config
/// crate rejects all of these before they get here).
pub fn decimal_from_config(value: f64) -> Decimal {
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

/// `d` rounded to `places` decimal places, half away from zero (2.345 -> 2.35, -2.345 ->
/// -2.35) — for display only; amounts are kept and summed unrounded.
pub fn round_money(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
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
            assert_eq!(decimal_from_config(f), dec(s), "{f}");
        }
        // The naive conversion keeps the binary error.
        assert_ne!(Decimal::from_f64_retain(0.27).unwrap(), dec("0.27"));
    }

    #[test]
    fn config_numbers_at_the_edges_do_not_panic() {
        assert_eq!(decimal_from_config(f64::NAN), Decimal::ZERO);
        assert_eq!(decimal_from_config(1e300), Decimal::MAX);
        assert_eq!(decimal_from_config(f64::INFINITY), Decimal::MAX);
        assert_eq!(decimal_from_config(-1e300), Decimal::MIN);
        // 1e-30 has more places than Decimal holds: rounded to 28 places, i.e. zero.
        assert_eq!(decimal_from_config(1e-30), Decimal::ZERO);
        assert_eq!(
            decimal_from_config(1.5e-28),
            dec("0.0000000000000000000000000002")
        );
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_money(dec("2.345"), 2), dec("2.35"));
        assert_eq!(round_money(dec("2.355"), 2), dec("2.36"));
        assert_eq!(round_money(dec("-2.345"), 2), dec("-2.35"));
        assert_eq!(round_money(dec("0.5"), 0), dec("1"));
        assert_eq!(round_money(dec("2.5"), 0), dec("3"));
        assert_eq!(round_money(dec("2.344999"), 2), dec("2.34"));
        assert_eq!(round_money(dec("0.00017151"), 6), dec("0.000172"));
    }
}
