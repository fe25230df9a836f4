//! Budget amounts as integers: nano-units of the budget's currency. Stores add and compare
//! them atomically (Redis counts integers exactly; its floats would drift). A cost is rounded
//! up to the next nano-unit, so a budget is never undercounted; the ledger keeps the exact
//! amounts.

use sluice_types::Decimal;

/// Nano-units in one unit of a currency.
const SCALE: i64 = 1_000_000_000;

/// `amount` in nano-units, rounded up; saturating at the ends of `i64` (nine billion units).
pub fn to_nanos(amount: Decimal) -> i64 {
    let scaled = (amount * Decimal::from(SCALE)).ceil();
    i64::try_from(scaled).unwrap_or(if amount.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Nano-units back to an amount.
pub fn from_nanos(nanos: i64) -> Decimal {
    Decimal::from(nanos) / Decimal::from(SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn exact_to_nine_places_and_rounded_up_beyond() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(to_nanos(d("0.00017151")), 171_510);
        assert_eq!(to_nanos(d("0.0000000001")), 1);
        assert_eq!(to_nanos(d("1000")), 1_000_000_000_000);
        assert_eq!(from_nanos(171_510), d("0.00017151"));
        assert_eq!(to_nanos(d("100000000000")), i64::MAX);
    }
}
