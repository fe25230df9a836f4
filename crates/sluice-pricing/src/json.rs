//! Amounts in JSON documents (`sluice cost --json`, `sluice usage --json`, `GET /v1/usage`,
//! `sluice keys`): a [`Decimal`] written as a JSON *number* with exactly its digits
//! (`0.00017151`, `12.50`, `54750`), so clients can add amounts up without parsing strings,
//! and nothing goes through a float on the way (no `1.7151e-4`, no `0.30000000000000004`).
//!
//! The number is emitted as a raw token through `serde_json::value::RawValue`. That keeps
//! serde_json's `arbitrary_precision` feature off: it would change every crate's `Value`
//! (rust_decimal's `serde-with-arbitrary-precision` turns it on for the whole workspace).
//! The digits survive `serde_json::to_string`/`to_writer` (and axum's `Json`); a
//! `serde_json::Value` made with `to_value` holds the number as an `f64`, so documents with
//! amounts are written straight to text, never through a `Value`.
//!
//! Use on a field: `#[serde(with = "sluice_pricing::json::number")]`, or
//! `sluice_pricing::json::number_option` for an `Option<Decimal>` (`None` is `null`).

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A [`Decimal`] as a JSON number with exactly its digits.
pub mod number {
    use super::*;

    /// `Decimal`'s text has no exponent and no `+`, so it is always a valid JSON number.
    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(d.to_string())
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// An `Option<Decimal>` as a JSON number with exactly its digits, or `null`.
pub mod number_option {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => number::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}

/// A [`Decimal`] that serialises as a JSON number with exactly its digits, for documents
/// built from values rather than structs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number(pub Decimal);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        number::serialize(&self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[derive(Serialize)]
    struct Doc {
        #[serde(with = "number")]
        a: Decimal,
        #[serde(with = "number_option")]
        b: Option<Decimal>,
        #[serde(with = "number_option")]
        c: Option<Decimal>,
        d: Vec<Number>,
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_are_numbers_with_exactly_their_digits() {
        let doc = Doc {
            a: dec("0.00017151"),
            b: Some(dec("12.50")),
            c: None,
            d: [
                "0.0000001",
                "-3.10",
                "54750",
                "0.1",
                "79228162514264337593543950335",
            ]
            .into_iter()
            .map(|t| Number(dec(t)))
            .collect(),
        };
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(
            text,
            r#"{"a":0.00017151,"b":12.50,"c":null,"d":[0.0000001,-3.10,54750,0.1,79228162514264337593543950335]}"#
        );
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        assert!(pretty.contains("\"a\": 0.00017151,"), "{pretty}");
        // Still one valid JSON document, with numbers where the amounts are.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(value["a"].is_number() && value["d"][4].is_number());
    }

    /// Why documents with amounts are never made through a `Value`, and why readers take a
    /// number's text rather than `Number::to_string`: without `arbitrary_precision` a
    /// fractional number becomes an `f64`, which keeps neither trailing zeros nor the plain
    /// notation of small amounts, nor more than 17 significant digits.
    #[test]
    fn a_float_round_trip_would_lose_the_digits() {
        let value = serde_json::to_value(Number(dec("0.0000001"))).unwrap();
        assert_eq!(value.to_string(), "1e-7");
        let value: serde_json::Value = serde_json::from_str("12.50").unwrap();
        assert_eq!(value.to_string(), "12.5");
    }
}
