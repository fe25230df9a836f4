//! The cost of tokens at a price: exact, in USD and in the provider's billing currency.

use sluice_types::{Billing, Cost, Decimal, Price};

/// One millionth, exactly.
const PER_MILLION: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// The cost of one request: `usd = (input * prompt_tokens + output * completion_tokens) / 1e6`
/// and `local = usd * per_usd`, both exact (13 prompt + 400 completion tokens at 0.27 / 0.42
/// is 0.00017151 USD). Never rounded: round with [`crate::round_money`] to show it.
///
/// Amounts beyond `Decimal`'s range (about 7.9e28) saturate instead of panicking.
pub fn cost(price: &Price, billing: &Billing, prompt_tokens: u64, completion_tokens: u64) -> Cost {
    let usd = mul(
        add(
            mul(price.input, Decimal::from(prompt_tokens)),
            mul(price.output, Decimal::from(completion_tokens)),
        ),
        PER_MILLION,
    );
    local(usd, billing)
}

/// The cost of `input_mtok` and `output_mtok` million tokens (a monthly workload):
/// `usd = input * input_mtok + output * output_mtok`, `local = usd * per_usd`, exact.
pub fn cost_mtok(
    price: &Price,
    billing: &Billing,
    input_mtok: Decimal,
    output_mtok: Decimal,
) -> Cost {
    let usd = add(mul(price.input, input_mtok), mul(price.output, output_mtok));
    local(usd, billing)
}

/// Amounts are normalized (`480`, not `480.00`): equal either way, tidier when shown.
fn local(usd: Decimal, billing: &Billing) -> Cost {
    Cost {
        usd: usd.normalize(),
        local: mul(usd, billing.per_usd).normalize(),
        currency: billing.currency.clone(),
    }
}

/// Exact where the result fits (Decimal keeps 28 decimal places and 96 bits of digits, far
/// past any bill); saturating beyond that rather than panicking.
pub(crate) fn mul(a: Decimal, b: Decimal) -> Decimal {
    a.saturating_mul(b)
}

pub(crate) fn add(a: Decimal, b: Decimal) -> Decimal {
    a.saturating_add(b)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn price(input: &str, output: &str) -> Price {
        Price {
            input: dec(input),
            output: dec(output),
        }
    }

    fn billing(currency: &str, per_usd: &str) -> Billing {
        Billing {
            currency: currency.into(),
            per_usd: dec(per_usd),
        }
    }

    #[test]
    fn one_request_costs_exactly() {
        let c = cost(&price("0.27", "0.42"), &billing("JPY", "1"), 13, 400);
        assert_eq!(c.usd, dec("0.00017151"));
        assert_eq!(c.local, dec("0.00017151"));
        assert_eq!(c.currency, "JPY");
        let c = cost(&price("2.50", "10.00"), &billing("JPY", "7.3"), 13, 400);
        assert_eq!(c.usd, dec("0.0040325"));
        assert_eq!(c.local, dec("0.02943725"));
        assert_eq!(
            cost(&price("1", "1"), &Billing::default(), 0, 0).usd,
            Decimal::ZERO
        );
    }

    #[test]
    fn a_million_small_requests_sum_exactly() {
        let p = price("0.1", "0.2");
        let b = billing("JPY", "7.3");
        let (mut usd, mut local) = (Decimal::ZERO, Decimal::ZERO);
        let (mut usd_f64, mut local_f64) = (0.0_f64, 0.0_f64);
        for _ in 0..1_000_000 {
            let c = cost(&p, &b, 3, 3);
            usd += c.usd;
            local += c.local;
            let f = (0.1 * 3.0 + 0.2 * 3.0) / 1e6;
            usd_f64 += f;
            local_f64 += f * 7.3;
        }
        assert_eq!(usd, dec("0.9"));
        assert_eq!(local, dec("6.57"));
        // The same sums in f64 are off, which is why money is Decimal here.
        assert_ne!(usd_f64, 0.9);
        assert_ne!(local_f64, 6.57);
    }

    #[test]
    fn a_monthly_workload_costs_exactly() {
        // The seed's workload: 1,000 MTok in, 500 MTok out.
        let (input, output) = (dec("1000"), dec("500"));
        let holysheep = cost_mtok(
            &price("0.27", "0.42"),
            &billing("JPY", "1.0"),
            input,
            output,
        );
        assert_eq!((holysheep.usd, holysheep.local), (dec("480"), dec("480")));
        let official = cost_mtok(
            &price("2.50", "10.00"),
            &billing("JPY", "7.3"),
            input,
            output,
        );
        assert_eq!((official.usd, official.local), (dec("7500"), dec("54750")));
        let relay = cost_mtok(
            &price("3.00", "12.00"),
            &billing("JPY", "6.0"),
            input,
            output,
        );
        assert_eq!((relay.usd, relay.local), (dec("9000"), dec("54000")));
    }

    #[test]
    fn huge_amounts_saturate() {
        let c = cost(
            &price("79228162514264337593543950335", "0"),
            &Billing::default(),
            u64::MAX,
            0,
        );
        assert_eq!(c.usd, (Decimal::MAX * PER_MILLION).normalize());
        let big = Decimal::from_scientific("1e20").unwrap();
        let p = Price {
            input: big,
            output: Decimal::ZERO,
        };
        let c = cost_mtok(&p, &billing("JPY", "1000000000"), big, Decimal::ZERO);
        assert_eq!(c.usd, Decimal::MAX);
        assert_eq!(c.local, Decimal::MAX);
    }
}
