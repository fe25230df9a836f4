//! Amounts as people read them: rounded half away from zero to a currency's minor unit, with
//! thousands separators. This is the last step before text (the `sluice cost` and `sluice
//! usage` tables, and any other screen that shows money); amounts are kept and summed
//! unrounded everywhere else.

use rust_decimal::{Decimal, RoundingStrategy};

/// `d` rounded to `places` decimal places, half away from zero (2.345 -> 2.35, -2.345 ->
/// -2.35) — for display only; amounts are kept and summed unrounded.
pub fn round_money(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
}

/// An amount for a table: rounded half away from zero to the currency's minor unit (JPY
/// has none), with thousands separators. A non-zero amount that would show as zero gets the
/// places it needs, up to eight.
pub fn money(amount: Decimal, currency: &str) -> String {
    let mut places = minor_units(currency);
    let mut rounded = round_money(amount, places);
    while rounded.is_zero() && !amount.is_zero() && places < 8 {
        places += 1;
        rounded = round_money(amount, places);
    }
    grouped(&format!("{rounded:.prec$}", prec = places as usize))
}

/// Decimal places of a currency's minor unit: none for the currencies that have no minor
/// unit in use (ISO 4217 exponent 0), two for every other.
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "PYG" | "UGX" | "XAF" | "XOF" => 0,
        _ => 2,
    }
}

/// A plain decimal number with thousands separators in its integer part: `1234567.5` ->
/// `1,234,567.5`, `-1234` -> `-1,234`.
pub fn grouped(number: &str) -> String {
    let (sign, rest) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (rest, None),
    };
    let mut out = String::from(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
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

    #[test]
    fn amounts_show_rounded_with_separators() {
        assert_eq!(money(dec("54750"), "JPY"), "54,750");
        assert_eq!(money(dec("54749.5"), "JPY"), "54,750");
        assert_eq!(money(dec("7500"), "USD"), "7,500.00");
        assert_eq!(money(dec("1234567.125"), "USD"), "1,234,567.13");
        assert_eq!(money(dec("0.00017151"), "USD"), "0.0002");
        assert_eq!(money(dec("0"), "USD"), "0.00");
        assert_eq!(grouped("-1234.5"), "-1,234.5");
        assert_eq!(grouped("123"), "123");
    }

    #[test]
    fn small_and_negative_amounts() {
        // Too small for the minor unit: as many places as it takes, up to eight.
        assert_eq!(money(dec("0.3"), "JPY"), "0.3");
        assert_eq!(money(dec("0.000000001"), "USD"), "0.00000000");
        assert_eq!(money(dec("-1234.565"), "EUR"), "-1,234.57");
        assert_eq!(money(dec("2.5"), "USD"), "2.50");
        assert_eq!(minor_units("KRW"), 0);
        assert_eq!(minor_units("EUR"), 2);
        assert_eq!(grouped("1000000"), "1,000,000");
        assert_eq!(grouped("-100"), "-100");
        assert_eq!(grouped("0.000172"), "0.000172");
    }
}
