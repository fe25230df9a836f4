//! `sluice cost`: the seed's monthly cost comparison for a workload, at every priced
//! (provider, model) of the built-in price list and the config, as a table or one JSON
//! document. Amounts are exact decimals; the table rounds them for display only, the JSON
//! gives them as JSON numbers with their exact digits (`54750`, `0.00017151`).
//!
//! With `--from-ledger`, the workload is the traffic the config's ledger recorded over the
//! `--since` window (default 30 days), scaled to a 30-day month, and the comparison keeps the
//! models that traffic used (every provider pricing them).
//!
//! This file checks the flags and runs the comparison; `measure` reads the ledger's workload,
//! `output` writes the table or the JSON document.

mod measure;
mod output;

use std::str::FromStr;

use sluice_pricing::{compare, currency_code, restrict_models, Decimal, PriceBook, Window};

use crate::cli::CostArgs;
use crate::Failure;

/// The seed's workload: 1,000 MTok input and 500 MTok output a month.
const DEFAULT_INPUT_MTOK: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
const DEFAULT_OUTPUT_MTOK: Decimal = Decimal::from_parts(500, 0, 0, false, 0);
/// The largest workload accepted: a million million MTok (1e18 tokens) a month.
const MAX_MTOK: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);

pub async fn run(args: CostArgs) -> Result<(), Failure> {
    let now = sluice_types::unix_ms();
    // Every flag is checked before the ledger is opened.
    let window = if args.from_ledger {
        let window = Window::parse(args.since.as_deref(), None, now)
            .map_err(|e| Failure::Usage(format!("--{}: {}", e.param, e.reason)))?;
        Some(window)
    } else {
        None
    };
    let input_mtok = mtok(
        "--input-mtok",
        args.input_mtok.as_deref(),
        DEFAULT_INPUT_MTOK,
    )?;
    let output_mtok = mtok(
        "--output-mtok",
        args.output_mtok.as_deref(),
        DEFAULT_OUTPUT_MTOK,
    )?;
    let explicit_currency = args.currency.as_deref().map(currency).transpose()?;

    let config = super::load_config(args.config.as_deref())?;
    let book = PriceBook::with_config(&config);
    let display_currency = explicit_currency.or_else(|| {
        (config.display_currency != sluice_config::DEFAULT_CURRENCY)
            .then(|| config.display_currency.clone())
    });

    // A provider's own id for a listed model (`claude-sonnet-4-5`) asks for that model.
    let model = args.model.as_deref().map(|m| book.canonical(m).to_owned());
    let measured = match window {
        Some(window) => {
            Some(measure::measure(&config, &book, window, now, model.as_deref()).await?)
        }
        None => None,
    };
    let (input_mtok, output_mtok) = match &measured {
        Some(m) => (m.input_mtok, m.output_mtok),
        None => (input_mtok, output_mtok),
    };

    let mut comparison = compare(
        &book,
        input_mtok,
        output_mtok,
        model.as_deref(),
        display_currency.as_deref(),
    );
    if let (Some(m), None) = (&measured, &model) {
        comparison = restrict_models(comparison, &m.models);
    }
    if let (Some(model), true) = (&args.model, comparison.rows.is_empty()) {
        return Err(Failure::Usage(format!(
            "--model: no price for {model:?} (priced models: {})",
            priced_models(&book).join(", ")
        )));
    }

    let config_name = args.config.as_ref().map(|p| p.display().to_string());
    let text = if args.json {
        output::json(&comparison, config_name.as_deref(), measured.as_ref())?
    } else {
        output::table(&comparison, config_name.as_deref(), measured.as_ref())
    };
    print!("{text}");
    Ok(())
}

/// A non-negative number of million tokens: a plain decimal (`1000`, `2.5`) or scientific
/// notation (`1e3`).
fn mtok(flag: &str, value: Option<&str>, default: Decimal) -> Result<Decimal, Failure> {
    let Some(raw) = value else {
        return Ok(default);
    };
    let text = raw.trim();
    let parsed = Decimal::from_str(text).ok().or_else(|| {
        text.contains(['e', 'E'])
            .then(|| Decimal::from_scientific(text).ok())
            .flatten()
    });
    match parsed {
        Some(d) if d.is_sign_negative() && !d.is_zero() => Err(Failure::Usage(format!(
            "{flag}: {raw:?} is negative; expected million tokens a month, e.g. 1000 or 2.5"
        ))),
        Some(d) if d > MAX_MTOK => Err(Failure::Usage(format!(
            "{flag}: {raw:?} is too large; at most {MAX_MTOK} million tokens a month"
        ))),
        Some(d) => Ok(d.abs()),
        None => Err(Failure::Usage(format!(
            "{flag}: {raw:?} is not a number (or out of range); expected million tokens a \
             month, e.g. 1000 or 2.5"
        ))),
    }
}

/// A currency code as in `sluice.toml`: three letters, upper-cased.
fn currency(value: &str) -> Result<String, Failure> {
    currency_code(value).ok_or_else(|| {
        Failure::Usage(format!(
            "--currency: {value:?} is not a currency code; expected three letters, e.g. JPY"
        ))
    })
}

fn priced_models(book: &PriceBook) -> Vec<String> {
    let mut models: Vec<String> = book
        .providers()
        .flat_map(|p| book.models(p))
        .map(str::to_owned)
        .collect();
    models.sort();
    models.dedup();
    models
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn workloads_parse_or_name_the_flag() {
        assert_eq!(mtok("--x", None, dec("7")).ok(), Some(dec("7")));
        assert_eq!(mtok("--x", Some("2.5"), dec("7")).ok(), Some(dec("2.5")));
        assert_eq!(mtok("--x", Some("1e3"), dec("7")).ok(), Some(dec("1000")));
        assert_eq!(mtok("--x", Some("-0"), dec("7")).ok(), Some(dec("0")));
        for bad in ["abc", "-1", "", "1,000", "NaN", "inf", "1e40"] {
            match mtok("--x", Some(bad), dec("7")) {
                Err(Failure::Usage(line)) => assert!(line.starts_with("--x: "), "{line}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
