//! The monthly cost comparison across providers (`sluice cost`), after the seed's
//! `compare_costs`: USD, local currency at each provider's rate, savings against the cheapest.
//! Also the monthly projection of measured traffic (`sluice cost --from-ledger`): a window's
//! tokens scaled to a 30-day month, and the comparison kept to the models that traffic used.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::book::{PriceBook, Source};
use crate::cost::{cost_mtok, mul};
use crate::window::MONTH_MS;

/// A monthly workload priced at every (provider, model) of a [`PriceBook`], cheapest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Million input (prompt) tokens per month.
    #[serde(with = "crate::json::number")]
    pub input_mtok: Decimal,
    /// Million output (completion) tokens per month.
    #[serde(with = "crate::json::number")]
    pub output_mtok: Decimal,
    /// The model the rows were filtered by, if any.
    pub model: Option<String>,
    /// The currency of the `display_*` amounts, if one was asked for (upper case).
    pub display_currency: Option<String>,
    /// Cheapest first: by USD; among equals, by the display amount (known ones first), then
    /// by local amount within a currency, then by provider and model.
    pub rows: Vec<ComparisonRow>,
}

impl Comparison {
    /// The cheapest row in USD, if any.
    pub fn cheapest(&self) -> Option<&ComparisonRow> {
        self.rows.first()
    }
}

/// One (provider, model) of a [`Comparison`]. Amounts are exact and per month unless named
/// `_year`; savings are what the cheapest row saves against this one (zero for the cheapest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComparisonRow {
    pub provider: String,
    /// The provider's model name.
    pub model: String,
    /// List price, USD per million input tokens.
    #[serde(with = "crate::json::number")]
    pub input_usd_per_mtok: Decimal,
    /// List price, USD per million output tokens.
    #[serde(with = "crate::json::number")]
    pub output_usd_per_mtok: Decimal,
    /// Whether the price is built in or from the config.
    pub price_source: Source,
    #[serde(with = "crate::json::number")]
    pub usd_month: Decimal,
    /// What the provider charges, in `currency`, at `per_usd`.
    #[serde(with = "crate::json::number")]
    pub local_month: Decimal,
    /// The provider's billing currency.
    pub currency: String,
    /// Units of `currency` per USD of list price at this provider.
    #[serde(with = "crate::json::number")]
    pub per_usd: Decimal,
    /// The cost in [`Comparison::display_currency`]: the local amount when the provider
    /// bills in it, the USD amount when it is USD, otherwise unknown (`None`): a provider's
    /// `per_usd` is its price, not an exchange rate, so it is not applied to other providers.
    #[serde(with = "crate::json::number_option")]
    pub display_month: Option<Decimal>,
    #[serde(with = "crate::json::number")]
    pub saving_usd_month_vs_cheapest: Decimal,
    #[serde(with = "crate::json::number")]
    pub saving_usd_year_vs_cheapest: Decimal,
    /// `display_month` less the smallest known `display_month` of the comparison: the saving
    /// against the cheapest row in the display currency (which need not be the cheapest in
    /// USD: a provider's rate can outweigh its list price).
    #[serde(with = "crate::json::number_option")]
    pub saving_display_month_vs_cheapest: Option<Decimal>,
    #[serde(with = "crate::json::number_option")]
    pub saving_display_year_vs_cheapest: Option<Decimal>,
}

const TWELVE: Decimal = Decimal::from_parts(12, 0, 0, false, 0);

/// Prices `input_mtok` + `output_mtok` million tokens a month at every priced (provider,
/// model) in `book` — only those of `model` when given — cheapest first in USD. Local amounts
/// are at each provider's own rate; with `display_currency`, each row also gets the amount in
/// that currency where it is known (see [`ComparisonRow::display_month`]).
pub fn compare(
    book: &PriceBook,
    input_mtok: Decimal,
    output_mtok: Decimal,
    model: Option<&str>,
    display_currency: Option<&str>,
) -> Comparison {
    let display_currency = display_currency.map(|c| c.trim().to_ascii_uppercase());
    let mut rows = Vec::new();
    for provider in book.providers() {
        let billing = book.billing(provider);
        for name in book.models(provider) {
            if model.is_some_and(|m| m != name) {
                continue;
            }
            let Some(price) = book.price(provider, name) else {
                continue;
            };
            let cost = cost_mtok(price, &billing, input_mtok, output_mtok);
            let display_month = display_currency.as_deref().and_then(|c| {
                if c == billing.currency {
                    Some(cost.local)
                } else if c == sluice_types::DEFAULT_CURRENCY {
                    Some(cost.usd)
                } else {
                    None
                }
            });
            rows.push(ComparisonRow {
                provider: provider.to_owned(),
                model: name.to_owned(),
                input_usd_per_mtok: price.input.normalize(),
                output_usd_per_mtok: price.output.normalize(),
                price_source: book.price_source(provider, name).unwrap_or(Source::Builtin),
                usd_month: cost.usd,
                local_month: cost.local,
                currency: cost.currency,
                per_usd: billing.per_usd.normalize(),
                display_month,
                saving_usd_month_vs_cheapest: Decimal::ZERO,
                saving_usd_year_vs_cheapest: Decimal::ZERO,
                saving_display_month_vs_cheapest: None,
                saving_display_year_vs_cheapest: None,
            });
        }
    }
    // Cheapest in USD first; among equals, the cheaper in the display currency (known
    // amounts first), then the cheaper locally within a currency, then by name.
    rows.sort_by(|a, b| {
        a.usd_month
            .cmp(&b.usd_month)
            .then_with(|| match (a.display_month, b.display_month) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| a.currency.cmp(&b.currency))
            .then_with(|| a.local_month.cmp(&b.local_month))
            .then_with(|| a.provider.cmp(&b.provider))
            .then_with(|| a.model.cmp(&b.model))
    });
    savings_vs_cheapest(&mut rows);
    Comparison {
        input_mtok: input_mtok.normalize(),
        output_mtok: output_mtok.normalize(),
        model: model.map(str::to_owned),
        display_currency,
        rows,
    }
}

/// Sets every row's savings against the cheapest: in USD against the first row (`rows` are
/// sorted cheapest first), in the display currency against the smallest known amount (none
/// where the row's own amount is unknown).
fn savings_vs_cheapest(rows: &mut [ComparisonRow]) {
    let cheapest_usd = rows.first().map(|r| r.usd_month);
    let cheapest_display = rows.iter().filter_map(|r| r.display_month).min();
    for row in rows {
        if let Some(cheapest) = cheapest_usd {
            let month = row.usd_month.saturating_sub(cheapest).normalize();
            row.saving_usd_month_vs_cheapest = month;
            row.saving_usd_year_vs_cheapest = mul(month, TWELVE).normalize();
        }
        row.saving_display_month_vs_cheapest = None;
        row.saving_display_year_vs_cheapest = None;
        if let (Some(mine), Some(cheapest)) = (row.display_month, cheapest_display) {
            let month = mine.saturating_sub(cheapest).normalize();
            row.saving_display_month_vs_cheapest = Some(month);
            row.saving_display_year_vs_cheapest = Some(mul(month, TWELVE).normalize());
        }
    }
}

/// Million tokens a (30-day) month, from `tokens` measured over `window_ms`:
/// `tokens × MONTH_MS / window_ms / 10⁶`, exact where the quotient terminates within
/// `Decimal`'s 28 places. A window of zero or less projects nothing.
pub fn monthly_mtok(tokens: u64, window_ms: i64) -> Decimal {
    if window_ms <= 0 {
        return Decimal::ZERO;
    }
    let numerator = Decimal::from(tokens).saturating_mul(Decimal::from(MONTH_MS));
    let denominator = Decimal::from(window_ms).saturating_mul(Decimal::from(1_000_000u32));
    numerator
        .checked_div(denominator)
        .unwrap_or(Decimal::MAX)
        .normalize()
}

/// The factor a measured window is scaled by to make a month: `MONTH_MS / window_ms`.
pub fn month_scale(window_ms: i64) -> Decimal {
    if window_ms <= 0 {
        return Decimal::ZERO;
    }
    Decimal::from(MONTH_MS)
        .checked_div(Decimal::from(window_ms))
        .unwrap_or(Decimal::MAX)
        .normalize()
}

/// `c` with only the rows of `models` (provider model names, e.g. those a ledger's traffic
/// used), its savings recomputed against the cheapest row left, as [`compare`] computes them.
pub fn restrict_models(mut c: Comparison, models: &BTreeSet<String>) -> Comparison {
    c.rows.retain(|r| models.contains(&r.model));
    savings_vs_cheapest(&mut c.rows);
    c
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sluice_types::{Billing, Price};

    use super::*;
    use crate::window::DAY_MS;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn row<'a>(c: &'a Comparison, provider: &str, model: &str) -> &'a ComparisonRow {
        c.rows
            .iter()
            .find(|r| r.provider == provider && r.model == model)
            .unwrap_or_else(|| panic!("no row {provider} {model}"))
    }

    #[test]
    fn the_seeds_three_plans_reproduce() {
        let book = PriceBook::builtin();
        let c = compare(&book, dec("1000"), dec("500"), None, Some("jpy"));
        assert_eq!(c.display_currency.as_deref(), Some("JPY"));

        let holysheep = row(&c, "holysheep", "deepseek-v3.2");
        assert_eq!(holysheep.usd_month, dec("480"));
        assert_eq!(holysheep.local_month, dec("480"));
        assert_eq!(holysheep.currency, "JPY");

        let official = row(&c, "openai", "gpt-4o");
        assert_eq!(official.usd_month, dec("7500"));
        assert_eq!(official.local_month, dec("54750"));
        // The seed: saving ¥54,270 a month, ¥651,240 a year.
        assert_eq!(
            official.saving_display_month_vs_cheapest,
            Some(dec("54270"))
        );
        assert_eq!(
            official.saving_display_year_vs_cheapest,
            Some(dec("651240"))
        );

        let relay = row(&c, "generic-relay", "gpt-4o");
        assert_eq!(relay.usd_month, dec("9000"));
        assert_eq!(relay.local_month, dec("54000"));
        assert_eq!(relay.saving_display_month_vs_cheapest, Some(dec("53520")));
        assert_eq!(relay.saving_display_year_vs_cheapest, Some(dec("642240")));

        // Cheapest first: DeepSeek V3.2 is 480 USD at two providers, and HolySheep's ¥480
        // beats DeepSeek's ¥3,504.
        assert!(c.rows.windows(2).all(|w| w[0].usd_month <= w[1].usd_month));
        let cheapest = c.cheapest().unwrap();
        assert_eq!(
            (cheapest.provider.as_str(), cheapest.model.as_str()),
            ("holysheep", "deepseek-v3.2")
        );
        assert_eq!(c.rows[1].provider, "deepseek");
        assert_eq!(c.rows[1].local_month, dec("3504"));
        assert_eq!(cheapest.saving_usd_month_vs_cheapest, Decimal::ZERO);
        assert_eq!(official.saving_usd_month_vs_cheapest, dec("7020"));
        assert_eq!(official.saving_usd_year_vs_cheapest, dec("84240"));
        assert_eq!(c.rows.len(), 11);
    }

    #[test]
    fn a_model_filter_keeps_only_that_model() {
        let book = PriceBook::builtin();
        let c = compare(&book, dec("1000"), dec("500"), Some("gpt-4o"), None);
        let names: Vec<_> = c.rows.iter().map(|r| r.provider.as_str()).collect();
        assert_eq!(names, ["holysheep", "openai", "generic-relay"]);
        assert!(c.rows.iter().all(|r| r.display_month.is_none()));
        assert_eq!(c.rows[2].saving_usd_month_vs_cheapest, dec("1500"));
        assert!(compare(&book, dec("1"), dec("1"), Some("nope"), None)
            .rows
            .is_empty());
        // Equal in USD and in the same currency: the cheaper locally first.
        let c = compare(&book, dec("1000"), dec("500"), Some("deepseek-v3.2"), None);
        let names: Vec<_> = c.rows.iter().map(|r| r.provider.as_str()).collect();
        assert_eq!(names, ["holysheep", "deepseek"]);
    }

    #[test]
    fn display_amounts_are_known_only_where_a_rate_is() {
        let mut book = PriceBook::empty();
        let p = Price::new(dec("1"), dec("1"));
        book.set_price("eu", "m", p);
        book.set_billing(
            "eu",
            Billing {
                currency: "EUR".into(),
                per_usd: dec("0.9"),
            },
        );
        book.set_price("us", "m", p);
        let c = compare(&book, dec("1"), dec("1"), None, Some("EUR"));
        assert_eq!(row(&c, "eu", "m").display_month, Some(dec("1.8")));
        assert_eq!(row(&c, "us", "m").display_month, None);
        assert_eq!(row(&c, "us", "m").saving_display_month_vs_cheapest, None);
        assert_eq!(
            row(&c, "eu", "m").saving_display_month_vs_cheapest,
            Some(Decimal::ZERO)
        );
        // USD is always known: the list price, or the local amount where billed in USD.
        book.set_price("us-plus", "m", p);
        book.set_billing(
            "us-plus",
            Billing {
                currency: "USD".into(),
                per_usd: dec("1.1"),
            },
        );
        let c = compare(&book, dec("1"), dec("1"), None, Some("usd"));
        assert_eq!(row(&c, "eu", "m").display_month, Some(dec("2")));
        assert_eq!(row(&c, "us", "m").display_month, Some(dec("2")));
        assert_eq!(row(&c, "us-plus", "m").display_month, Some(dec("2.2")));
        assert_eq!(
            row(&c, "us-plus", "m").saving_display_year_vs_cheapest,
            Some(dec("2.4"))
        );
    }

    #[test]
    fn amounts_serialize_as_exact_decimal_numbers() {
        let mut book = PriceBook::empty();
        book.set_price("p", "m", Price::new(dec("0.1"), dec("0.20")));
        let c = compare(&book, dec("3"), dec("3.0"), None, None);
        let text = serde_json::to_string(&c).unwrap();
        assert!(
            text.starts_with(r#"{"input_mtok":3,"output_mtok":3,"#),
            "{text}"
        );
        assert!(
            text.contains(r#""input_usd_per_mtok":0.1,"output_usd_per_mtok":0.2,"#),
            "{text}"
        );
        assert!(
            text.contains(r#""price_source":"config","usd_month":0.9,"#),
            "{text}"
        );
        assert!(
            text.contains(r#""per_usd":1,"display_month":null,"#),
            "{text}"
        );
    }

    #[test]
    fn monthly_projection() {
        assert_eq!(monthly_mtok(1_000_000, MONTH_MS), dec("1"));
        assert_eq!(monthly_mtok(39, MONTH_MS), dec("0.000039"));
        assert_eq!(monthly_mtok(1_000_000, DAY_MS), dec("30"));
        assert_eq!(monthly_mtok(5, 0), Decimal::ZERO);
        assert_eq!(month_scale(MONTH_MS), dec("1"));
        assert_eq!(month_scale(DAY_MS), dec("30"));
        // Far past any real traffic, still no panic.
        assert_eq!(
            monthly_mtok(u64::MAX, 1),
            Decimal::from(u64::MAX) * Decimal::from(2592u32)
        );
    }

    #[test]
    fn restricting_a_comparison_recomputes_its_savings() {
        let mut book = PriceBook::empty();
        let p = |i: &str, o: &str| Price::new(dec(i), dec(o));
        book.set_price("a", "cheap", p("1", "1"));
        book.set_price("a", "mid", p("2", "2"));
        book.set_price("b", "mid", p("3", "3"));
        let c = compare(&book, dec("1"), dec("1"), None, Some("USD"));
        assert_eq!(c.rows[2].saving_usd_month_vs_cheapest, dec("4"));
        let models = BTreeSet::from(["mid".to_owned()]);
        let c = restrict_models(c, &models);
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].saving_usd_month_vs_cheapest, Decimal::ZERO);
        assert_eq!(c.rows[1].saving_usd_month_vs_cheapest, dec("2"));
        assert_eq!(c.rows[1].saving_usd_year_vs_cheapest, dec("24"));
        assert_eq!(c.rows[1].saving_display_month_vs_cheapest, Some(dec("2")));
        assert!(restrict_models(c, &BTreeSet::new()).rows.is_empty());
    }
}
