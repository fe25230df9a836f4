//! Rounding for display.

use rust_decimal::{Decimal, RoundingStrategy};

/// `d` rounded to `places` decimal places, half away from zero (2.345 -> 2.35, -2.345 ->
/// -2.35) — for display only; amounts are kept and summed unrounded.
pub fn round_money(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
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
