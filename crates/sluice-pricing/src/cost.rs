//! The cost of tokens at a price: exact, in USD and in the provider's billing currency.

use sluice_types::{Billing, Cost, Decimal, Price, Usage};

/// One millionth, exactly.
const PER_MILLION: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// The cost of plain tokens, with nothing read from or written to a cache:
/// `usd = (input * prompt_tokens + output * completion_tokens) / 1e6` and
/// `local = usd * per_usd`, both exact (13 prompt + 400 completion tokens at 0.27 / 0.42 is
/// 0.00017151 USD). Never rounded: round with [`crate::round_money`] to show it.
///
/// Amounts beyond `Decimal`'s range (about 7.9e28) saturate instead of panicking.
pub fn cost(price: &Price, billing: &Billing, prompt_tokens: u64, completion_tokens: u64) -> Cost {
    cost_usage(
        price,
        billing,
        &Usage::counted(prompt_tokens, completion_tokens),
    )
}

/// The cost of one request's usage, each part of its prompt at its own rate:
/// `usd = (uncached * input + cache reads * cache_read + five-minute writes * cache_write +
/// hour-long writes * cache_write_1h + completion * output) / 1e6`, where the prompt's parts
/// are [`Usage::prompt_parts`] (cache counts larger than the prompt clamped, so no part is
/// negative) and a cache rate the price leaves out is the one [`Price`] documents. Exact and
/// saturating, as [`cost`].
pub fn cost_usage(price: &Price, billing: &Billing, usage: &Usage) -> Cost {
    let parts = usage.prompt_parts();
    let per_mtok = [
        (price.input, parts.uncached),
        (price.cache_read_rate(), parts.cache_read),
        (price.cache_write_rate(), parts.cache_write_5m),
        (price.cache_write_1h_rate(), parts.cache_write_1h),
        (price.output, usage.completion_tokens),
    ]
    .into_iter()
    .fold(Decimal::ZERO, |sum, (rate, tokens)| {
        add(sum, mul(rate, Decimal::from(tokens)))
    });
    local(mul(per_mtok, PER_MILLION), billing)
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
        Price::new(dec(input), dec(output))
    }

    /// Claude Sonnet 4.5 at Anthropic's list prices.
    fn sonnet() -> Price {
        Price {
            cache_read: Some(dec("0.30")),
            cache_write: Some(dec("3.75")),
            cache_write_1h: Some(dec("6.00")),
            ..price("3.00", "15.00")
        }
    }

    fn usage(prompt: u64, completion: u64, read: u64, write: u64, write_1h: u64) -> Usage {
        Usage {
            cached_tokens: read,
            cache_write_tokens: write,
            cache_write_1h_tokens: write_1h,
            ..Usage::counted(prompt, completion)
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
    fn cache_reads_and_writes_cost_their_own_rates() {
        let usd = |price: &Price, u: Usage| cost_usage(price, &Billing::default(), &u).usd;
        // 10,000 prompt tokens: 6,000 read from the cache, 3,000 written (1,000 of them for
        // an hour), 1,000 plain; 500 completion tokens.
        // 1,000 * 3.00 + 6,000 * 0.30 + 2,000 * 3.75 + 1,000 * 6.00 + 500 * 15.00
        // = 3,000 + 1,800 + 7,500 + 6,000 + 7,500 = 25,800 per million = 0.0258 USD.
        let u = usage(10_000, 500, 6_000, 3_000, 1_000);
        assert_eq!(usd(&sonnet(), u), dec("0.0258"));
        let c = cost_usage(&sonnet(), &billing("JPY", "7.3"), &u);
        assert_eq!((c.local, c.currency.as_str()), (dec("0.18834"), "JPY"));
        // Without cache counts, a cached price costs what a plain one does.
        assert_eq!(
            usd(&sonnet(), Usage::counted(13, 400)),
            cost(&price("3.00", "15.00"), &Billing::default(), 13, 400).usd
        );
        assert_eq!(usd(&sonnet(), Usage::counted(13, 400)), dec("0.006039"));
        // OpenAI's gpt-4.1: reads at 0.50, no writes. 2,006 prompt tokens, 1,920 read, 300
        // completion: 86 * 2.00 + 1,920 * 0.50 + 300 * 8.00 = 172 + 960 + 2,400 = 3,532.
        let gpt = Price {
            cache_read: Some(dec("0.50")),
            ..price("2.00", "8.00")
        };
        assert_eq!(usd(&gpt, usage(2_006, 300, 1_920, 0, 0)), dec("0.003532"));
        // DeepSeek's reads at 0.028: 339 prompt tokens, 320 read, 83 completion:
        // 19 * 0.27 + 320 * 0.028 + 83 * 0.42 = 5.13 + 8.96 + 34.86 = 48.95.
        let deepseek = Price {
            cache_read: Some(dec("0.028")),
            ..price("0.27", "0.42")
        };
        assert_eq!(usd(&deepseek, usage(339, 83, 320, 0, 0)), dec("0.00004895"));
    }

    #[test]
    fn cache_rates_left_out_are_the_input_rate() {
        let usd = |price: &Price, u: Usage| cost_usage(price, &Billing::default(), &u).usd;
        let u = usage(10_000, 500, 6_000, 3_000, 1_000);
        // No cache rates: the whole prompt at input, 10,000 * 3 + 500 * 15 = 37,500.
        assert_eq!(usd(&price("3.00", "15.00"), u), dec("0.0375"));
        // Writes priced, hour-long writes not: they cost the five-minute rate.
        // 1,000 * 3 + 6,000 * 3 + 3,000 * 3.75 + 500 * 15 = 3,000 + 18,000 + 11,250 + 7,500.
        let writes = Price {
            cache_write: Some(dec("3.75")),
            ..price("3.00", "15.00")
        };
        assert_eq!(usd(&writes, u), dec("0.03975"));
        // Only hour-long writes priced: reads and five-minute writes at input.
        // 1,000 * 3 + 6,000 * 3 + 2,000 * 3 + 1,000 * 6 + 500 * 15 = 40,500.
        let hour = Price {
            cache_write_1h: Some(dec("6")),
            ..price("3.00", "15.00")
        };
        assert_eq!(usd(&hour, u), dec("0.0405"));
    }

    #[test]
    fn cache_counts_beyond_the_prompt_are_clamped() {
        let usd = |u: Usage| cost_usage(&sonnet(), &Billing::default(), &u).usd;
        // All 100 prompt tokens are reads: 100 * 0.30 + 10 * 15 = 180.
        assert_eq!(usd(usage(100, 10, 250, 40, 40)), dec("0.00018"));
        // 60 reads, the other 40 writes, all an hour long: 60 * 0.30 + 40 * 6 + 10 * 15 = 408.
        assert_eq!(usd(usage(100, 10, 60, 90, 400)), dec("0.000408"));
        // Hour-long writes beyond the writes: only the writes, 20 * 6; 80 plain at 3:
        // 240 + 120 + 150 = 510.
        assert_eq!(usd(usage(100, 10, 0, 20, 50)), dec("0.00051"));
        // Never below zero, never a panic.
        assert_eq!(
            usd(usage(0, 0, u64::MAX, u64::MAX, u64::MAX)),
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
        let huge = Decimal::MAX;
        let p = Price {
            cache_read: Some(huge),
            cache_write: Some(huge),
            cache_write_1h: Some(huge),
            ..Price::new(huge, huge)
        };
        let u = usage(u64::MAX, u64::MAX, u64::MAX / 4, u64::MAX / 2, u64::MAX / 4);
        let c = cost_usage(&p, &billing("JPY", "1000"), &u);
        assert_eq!(c.usd, (Decimal::MAX * PER_MILLION).normalize());
        assert_eq!(
            c.local,
            (Decimal::MAX * PER_MILLION * dec("1000")).normalize()
        );
        let big = Decimal::from_scientific("1e20").unwrap();
        let p = Price::new(big, Decimal::ZERO);
        let c = cost_mtok(&p, &billing("JPY", "1000000000"), big, Decimal::ZERO);
        assert_eq!(c.usd, Decimal::MAX);
        assert_eq!(c.local, Decimal::MAX);
    }
}
