//! The [`PriceBook`]: provider -> (billing, model -> price), built in from `prices.toml` and
//! extended or overridden by a config's providers.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sluice_types::{decimal_from_f64, Billing, Decimal, Price};

/// The date of the built-in price list (`as_of` in `prices.toml`).
pub const BUILTIN_PRICES_AS_OF: &str = "2026-11-28";

/// The built-in price list, compiled in.
const PRICES_TOML: &str = include_str!("prices.toml");

/// Where a price or a billing came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The built-in price list (`prices.toml`).
    Builtin,
    /// The config file.
    Config,
}

#[derive(Debug, Clone, PartialEq)]
struct Sheet {
    billing: Billing,
    billing_source: Source,
    prices: BTreeMap<String, (Price, Source)>,
    /// Other names of a priced model (a provider's own id and its dated snapshots, beside the
    /// name the seed compares): priced like it, but not listed as models of their own.
    aliases: BTreeMap<String, String>,
}

/// Prices and billing by provider name, then model name (the provider's model name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceBook {
    sheets: BTreeMap<String, Sheet>,
}

impl PriceBook {
    /// A book with no provider at all.
    pub fn empty() -> PriceBook {
        PriceBook::default()
    }

    /// The built-in price sheets (`prices.toml`): HolySheep, the official providers
    /// (`openai`, `anthropic`, `google`, `deepseek`) and the seed's `generic-relay`.
    pub fn builtin() -> PriceBook {
        static BUILTIN: OnceLock<PriceBook> = OnceLock::new();
        BUILTIN
            .get_or_init(|| parse_builtin(PRICES_TOML).expect("built-in prices.toml is valid"))
            .clone()
    }

    /// The built-in sheets, then every configured provider on top: its billing replaces the
    /// sheet's, and its prices replace the sheet's price for the same model (whole: a
    /// configured price without cache rates bills cache tokens at its input rate, whatever
    /// the built-in price said) and add the others; built-in models the config does not
    /// price stay. So a configured provider with no prices of its own inherits the built-in
    /// sheet of the same name, if any.
    ///
    /// The config always has a billing for a provider (USD at 1 when the file gives none),
    /// and that is what the gateway bills at, so it wins here too.
    pub fn with_config(config: &sluice_config::Config) -> PriceBook {
        let mut book = PriceBook::builtin();
        for (name, provider) in &config.providers {
            book.set_billing(name, provider.billing.clone());
            for (model, price) in &provider.prices {
                book.set_price(name, model, *price);
            }
        }
        book
    }

    /// Sets a provider's billing (adding the provider if new), as from a config.
    pub fn set_billing(&mut self, provider: &str, billing: Billing) {
        let sheet = self.sheet_mut(provider);
        sheet.billing = billing;
        sheet.billing_source = Source::Config;
    }

    /// Sets one model's price at a provider (adding the provider if new), as from a config.
    pub fn set_price(&mut self, provider: &str, model: &str, price: Price) {
        self.sheet_mut(provider)
            .prices
            .insert(model.to_owned(), (price, Source::Config));
    }

    fn sheet_mut(&mut self, provider: &str) -> &mut Sheet {
        self.sheets
            .entry(provider.to_owned())
            .or_insert_with(|| Sheet {
                billing: Billing::default(),
                billing_source: Source::Config,
                prices: BTreeMap::new(),
                aliases: BTreeMap::new(),
            })
    }

    /// The list price of `model` (or of the model it is another name of) at `provider`.
    pub fn price(&self, provider: &str, model: &str) -> Option<&Price> {
        self.sheets.get(provider)?.lookup(model).map(|(p, _)| p)
    }

    /// The name `model` is listed and compared under: the model it is another name of (an
    /// alias in any sheet, such as Anthropic's `claude-sonnet-4-5` for `claude-sonnet-4.5`),
    /// else itself.
    pub fn canonical<'a>(&'a self, model: &'a str) -> &'a str {
        self.sheets
            .values()
            .find_map(|s| s.aliases.get(model))
            .map_or(model, String::as_str)
    }

    /// Where the price of `model` at `provider` came from.
    pub fn price_source(&self, provider: &str, model: &str) -> Option<Source> {
        self.sheets.get(provider)?.lookup(model).map(|&(_, s)| s)
    }

    /// A provider's billing; USD at 1 for a provider the book does not know.
    pub fn billing(&self, provider: &str) -> Billing {
        self.sheets
            .get(provider)
            .map_or_else(Billing::default, |s| s.billing.clone())
    }

    /// Where a provider's billing came from (`None` for an unknown provider).
    pub fn billing_source(&self, provider: &str) -> Option<Source> {
        self.sheets.get(provider).map(|s| s.billing_source)
    }

    /// Every provider, by name.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.sheets.keys().map(String::as_str)
    }

    /// The priced models of a provider, by name (none for an unknown provider).
    pub fn models(&self, provider: &str) -> impl Iterator<Item = &str> {
        self.sheets
            .get(provider)
            .into_iter()
            .flat_map(|s| s.prices.keys().map(String::as_str))
    }
}

impl Sheet {
    /// A model's own price, else the price of the model it is another name of.
    fn lookup(&self, model: &str) -> Option<&(Price, Source)> {
        self.prices.get(model).or_else(|| {
            self.aliases
                .get(model)
                .and_then(|name| self.prices.get(name))
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    as_of: String,
    sheets: BTreeMap<String, RawSheet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSheet {
    billing: RawBilling,
    prices: BTreeMap<String, RawPrice>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBilling {
    currency: String,
    per_usd: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    input: f64,
    output: f64,
    #[serde(default)]
    cache_read: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    cache_write_1h: Option<f64>,
}

/// Parses and checks a price list in the `prices.toml` format.
fn parse_builtin(text: &str) -> Result<PriceBook, String> {
    let raw: RawList = toml::from_str(text).map_err(|e| e.to_string())?;
    if raw.as_of != BUILTIN_PRICES_AS_OF {
        return Err(format!(
            "as_of {:?} is not BUILTIN_PRICES_AS_OF {BUILTIN_PRICES_AS_OF:?}",
            raw.as_of
        ));
    }
    let mut sheets = BTreeMap::new();
    for (name, sheet) in raw.sheets {
        let currency = &sheet.billing.currency;
        if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(format!("sheets.{name}.billing.currency: {currency:?}"));
        }
        let per_usd = decimal_from_f64(sheet.billing.per_usd);
        if per_usd <= Decimal::ZERO {
            return Err(format!("sheets.{name}.billing.per_usd: {per_usd}"));
        }
        let mut prices = BTreeMap::new();
        for (model, p) in sheet.prices {
            let rate = |r: Option<f64>| r.map(decimal_from_f64);
            let price = Price {
                cache_read: rate(p.cache_read),
                cache_write: rate(p.cache_write),
                cache_write_1h: rate(p.cache_write_1h),
                ..Price::new(decimal_from_f64(p.input), decimal_from_f64(p.output))
            };
            let mut rates = [price.input, price.output]
                .into_iter()
                .chain(price.cache_read)
                .chain(price.cache_write)
                .chain(price.cache_write_1h);
            if rates.any(|r| r < Decimal::ZERO) {
                return Err(format!("sheets.{name}.prices.{model}: negative"));
            }
            prices.insert(model, (price, Source::Builtin));
        }
        for (alias, model) in &sheet.aliases {
            if !prices.contains_key(model) || prices.contains_key(alias) {
                return Err(format!(
                    "sheets.{name}.aliases.{alias}: {model:?} must be a priced model, and the alias not one"
                ));
            }
        }
        let billing = Billing {
            currency: sheet.billing.currency,
            per_usd,
        };
        sheets.insert(
            name,
            Sheet {
                billing,
                billing_source: Source::Builtin,
                prices,
                aliases: sheet.aliases,
            },
        );
    }
    Ok(PriceBook { sheets })
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

    /// A price with cache rates: reads, five-minute writes and hour-long writes.
    fn cached(
        input: &str,
        output: &str,
        read: &str,
        write: Option<&str>,
        write_1h: Option<&str>,
    ) -> Price {
        Price {
            cache_read: Some(dec(read)),
            cache_write: write.map(dec),
            cache_write_1h: write_1h.map(dec),
            ..price(input, output)
        }
    }

    fn jpy(per_usd: &str) -> Billing {
        Billing {
            currency: "JPY".into(),
            per_usd: dec(per_usd),
        }
    }

    #[test]
    fn the_builtin_list_parses_and_holds_the_seed_prices() {
        let book = parse_builtin(PRICES_TOML).unwrap();
        assert_eq!(book, PriceBook::builtin());
        let plain = |input, output| price(input, output);
        let read = |input, output, read| cached(input, output, read, None, None);
        let claude = |input, output, read, write, write_1h| {
            cached(input, output, read, Some(write), Some(write_1h))
        };
        let sonnet = claude("3.00", "15.00", "0.30", "3.75", "6.00");
        let expected = [
            ("holysheep", "gpt-4.1", plain("2.00", "8.00")),
            ("holysheep", "claude-sonnet-4.5", plain("3.00", "15.00")),
            ("holysheep", "gemini-2.5-flash", plain("0.30", "2.50")),
            ("holysheep", "deepseek-v3.2", plain("0.27", "0.42")),
            ("holysheep", "gpt-4o", plain("2.50", "10.00")),
            ("openai", "gpt-4.1", read("2.00", "8.00", "0.50")),
            ("openai", "gpt-4o", read("2.50", "10.00", "1.25")),
            ("anthropic", "claude-sonnet-4.5", sonnet),
            ("google", "gemini-2.5-flash", read("0.30", "2.50", "0.03")),
            ("deepseek", "deepseek-v3.2", read("0.27", "0.42", "0.028")),
            ("generic-relay", "gpt-4o", plain("3.00", "12.00")),
        ];
        for (provider, model, want) in expected {
            assert_eq!(
                book.price(provider, model),
                Some(&want),
                "{provider} {model}"
            );
            assert_eq!(book.price_source(provider, model), Some(Source::Builtin));
        }
        // HolySheep publishes no cache pricing.
        assert!(book.models("holysheep").all(|m| book
            .price("holysheep", m)
            .is_some_and(|p| !p.has_cache_rates())));
        let priced: usize = book.providers().map(|p| book.models(p).count()).sum();
        assert_eq!(priced, expected.len());
        // Anthropic's own ids for the seed's Sonnet 4.5 are priced like it, not listed apart.
        for id in ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"] {
            assert_eq!(book.price("anthropic", id), Some(&sonnet), "{id}");
            assert_eq!(book.price_source("anthropic", id), Some(Source::Builtin));
        }
        assert_eq!(book.price("holysheep", "claude-sonnet-4-5"), None);
        assert_eq!(book.canonical("claude-sonnet-4-5"), "claude-sonnet-4.5");
        assert_eq!(book.canonical("gpt-4.1"), "gpt-4.1");
        assert_eq!(book.billing("holysheep"), jpy("1"));
        for official in ["openai", "anthropic", "google", "deepseek"] {
            assert_eq!(book.billing(official), jpy("7.3"), "{official}");
        }
        assert_eq!(book.billing("generic-relay"), jpy("6"));
        assert_eq!(book.billing("nobody"), Billing::default());
        assert_eq!(book.billing_source("nobody"), None);
        assert_eq!(book.price("holysheep", "nope"), None);
        assert_eq!(book.models("nobody").count(), 0);
    }

    #[test]
    fn a_bad_price_list_is_refused() {
        let head = "as_of = \"2026-11-28\"\n[sheets.x]\n";
        for bad in [
            "billing = { currency = \"jpy\", per_usd = 1.0 }\nprices = {}\n",
            "billing = { currency = \"JPY\", per_usd = 0.0 }\nprices = {}\n",
            "billing = { currency = \"JPY\", per_usd = 1.0 }\nprices = { m = { input = -1.0, output = 1.0 } }\n",
            "billing = { currency = \"JPY\", per_usd = 1.0 }\nprices = { m = { input = 1.0, output = 1.0, cache_read = -0.1 } }\n",
            "billing = { currency = \"JPY\", per_usd = 1.0 }\nprices = { m = { input = 1.0, output = 1.0, cache_write = -0.1 } }\n",
            "billing = { currency = \"JPY\", per_usd = 1.0 }\nprices = { m = { input = 1.0, output = 1.0, cache_write_1h = -0.1 } }\n",
            "billing = { currency = \"JPY\", per_usd = 1.0 }\nprices = { m = { input = 1.0, output = 1.0, cache_hit = 0.1 } }\n",
            "billing = { currency = \"JPY\", per_usd = 1.0 }\nprices = {}\nextra = 1\n",
        ] {
            assert!(parse_builtin(&format!("{head}{bad}")).is_err(), "{bad}");
        }
        assert!(parse_builtin("as_of = \"2000-01-01\"\n[sheets]\n").is_err());
    }

    fn config(text: &str) -> sluice_config::Config {
        sluice_config::parse(text, "test.toml", &|_| None).unwrap()
    }

    #[test]
    fn config_providers_override_and_extend_the_builtin_sheets() {
        let cfg = config(
            r#"
[providers.holysheep]
kind = "openai"
base_url = "https://api.holysheep.ai/v1"
billing = { currency = "JPY", per_usd = 1.05 }
[providers.holysheep.prices]
"deepseek-v3.2" = { input = 0.25, output = 0.40 }
"qwen3-max" = { input = 1.2, output = 6, cache_read = 0.24 }

[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
billing = { currency = "EUR", per_usd = 0.86 }

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:9000/v1"
[providers.local.prices]
"mock-1" = { input = 0.1, output = 0.2 }
"#,
        );
        let book = PriceBook::with_config(&cfg);
        // Config prices win, new models are added, the rest of the sheet stays.
        assert_eq!(
            book.price("holysheep", "deepseek-v3.2"),
            Some(&price("0.25", "0.40"))
        );
        assert_eq!(
            book.price_source("holysheep", "deepseek-v3.2"),
            Some(Source::Config)
        );
        assert_eq!(
            book.price("holysheep", "qwen3-max"),
            Some(&cached("1.2", "6", "0.24", None, None))
        );
        assert_eq!(book.price("holysheep", "gpt-4.1"), Some(&price("2", "8")));
        assert_eq!(
            book.price_source("holysheep", "gpt-4.1"),
            Some(Source::Builtin)
        );
        assert_eq!(book.billing("holysheep"), jpy("1.05"));
        assert_eq!(book.billing_source("holysheep"), Some(Source::Config));
        // No prices of its own: the built-in sheet of the same name, at the config's billing.
        assert_eq!(
            book.price("openai", "gpt-4o"),
            Some(&cached("2.5", "10", "1.25", None, None))
        );
        assert_eq!(
            book.billing("openai"),
            Billing {
                currency: "EUR".into(),
                per_usd: dec("0.86")
            }
        );
        // A provider the built-in list does not know.
        assert_eq!(book.price("local", "mock-1"), Some(&price("0.1", "0.2")));
        assert_eq!(book.billing("local"), Billing::default());
        // Untouched built-in sheets are still there.
        assert_eq!(book.billing("generic-relay"), jpy("6"));
        assert_eq!(
            book.providers().collect::<Vec<_>>(),
            [
                "anthropic",
                "deepseek",
                "generic-relay",
                "google",
                "holysheep",
                "local",
                "openai"
            ]
        );
    }
}
