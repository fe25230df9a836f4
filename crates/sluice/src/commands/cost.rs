//! `sluice cost`: the seed's monthly cost comparison for a workload, at every priced
//! (provider, model) of the built-in price list and the config, as a table or one JSON
//! document. Amounts are exact decimals; the table rounds them for display only, the JSON
//! gives them as exact decimal strings (`"54750"`, `"0.00017151"`).
//!
//! With `--from-ledger`, the workload is the traffic the config's ledger recorded over the
//! `--since` window (default 30 days), scaled to a 30-day month, and the comparison keeps the
//! models that traffic used (every provider pricing them).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::str::FromStr;

use sluice_pricing::{
    compare, month_scale, monthly_mtok, restrict_models, round_money, Comparison, ComparisonRow,
    Decimal, PriceBook, Window, BUILTIN_PRICES_AS_OF,
};

use super::usage::{now_ms, open_ledger, utc};
use crate::cli::CostArgs;
use crate::Failure;

/// The seed's workload: 1,000 MTok input and 500 MTok output a month.
const DEFAULT_INPUT_MTOK: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
const DEFAULT_OUTPUT_MTOK: Decimal = Decimal::from_parts(500, 0, 0, false, 0);
/// The largest workload accepted: a million million MTok (1e18 tokens) a month.
const MAX_MTOK: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);

pub async fn run(args: CostArgs) -> Result<(), Failure> {
    let now = now_ms();
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

    let measured = match window {
        Some(window) => Some(measure(&config, &book, window, now, args.model.as_deref()).await?),
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
        args.model.as_deref(),
        display_currency.as_deref(),
    );
    if let (Some(m), None) = (&measured, &args.model) {
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
        json(&comparison, config_name.as_deref(), measured.as_ref())?
    } else {
        table(&comparison, config_name.as_deref(), measured.as_ref())
    };
    print!("{text}");
    Ok(())
}

/// The traffic a ledger recorded over a window, and the monthly workload it makes.
struct Measured {
    /// The ledger's URL (password masked).
    ledger: String,
    since_ms: i64,
    until_ms: i64,
    /// `MONTH_MS / (until_ms - since_ms)`: what the window's tokens are multiplied by.
    scale: Decimal,
    prompt_tokens: u64,
    completion_tokens: u64,
    input_mtok: Decimal,
    output_mtok: Decimal,
    /// Per route model and provider, as recorded (those with tokens).
    traffic: Vec<Traffic>,
    /// The provider model names the traffic used.
    models: BTreeSet<String>,
    /// Those of `models` that no provider prices.
    unpriced: Vec<String>,
}

#[derive(serde::Serialize)]
struct Traffic {
    /// The model asked for (the route name).
    model: String,
    provider: String,
    /// The model name at the provider, from the config's route (the route name when the
    /// config no longer routes it there).
    provider_model: String,
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// Reads the ledger's traffic since `window.since_ms` (only that of `model`, the provider's
/// model name, when given) and scales it to a 30-day month.
async fn measure(
    config: &sluice_config::Config,
    book: &PriceBook,
    window: Window,
    now: i64,
    model: Option<&str>,
) -> Result<Measured, Failure> {
    let ledger = open_ledger(&config.ledger).await?;
    let totals = ledger
        .totals_by_model_provider(Some(window.since_ms))
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
    let traffic: Vec<Traffic> = totals
        .into_iter()
        .map(|(route, provider, prompt_tokens, completion_tokens)| {
            let provider_model = config
                .route(&route)
                .and_then(|r| r.targets.iter().find(|t| t.provider == provider))
                .map_or_else(|| route.clone(), |t| t.model.clone());
            Traffic {
                model: route,
                provider,
                provider_model,
                prompt_tokens,
                completion_tokens,
            }
        })
        // Requests that failed before any token (a provider error) add nothing to a workload.
        .filter(|t| t.prompt_tokens > 0 || t.completion_tokens > 0)
        .filter(|t| model.is_none_or(|m| t.provider_model == m))
        .collect();
    let prompt_tokens = traffic
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.prompt_tokens));
    let completion_tokens = traffic
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.completion_tokens));
    let models: BTreeSet<String> = traffic.iter().map(|t| t.provider_model.clone()).collect();
    let unpriced = models
        .iter()
        .filter(|m| !book.providers().any(|p| book.price(p, m).is_some()))
        .cloned()
        .collect();
    let until_ms = window.end_ms(now);
    let window_ms = until_ms - window.since_ms;
    Ok(Measured {
        ledger: ledger.url().to_owned(),
        since_ms: window.since_ms,
        until_ms,
        scale: month_scale(window_ms),
        prompt_tokens,
        completion_tokens,
        input_mtok: monthly_mtok(prompt_tokens, window_ms),
        output_mtok: monthly_mtok(completion_tokens, window_ms),
        traffic,
        models,
        unpriced,
    })
}

/// The window's length in words: `30 days`, `36 hours`, `90 minutes`, or milliseconds.
fn window_words(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (sluice_pricing::DAY_MS, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1_000, "second"),
    ];
    for (unit, name) in UNITS {
        if ms >= unit && ms % unit == 0 {
            let n = ms / unit;
            return format!("{n} {name}{}", if n == 1 { "" } else { "s" });
        }
    }
    format!("{ms} ms")
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
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Failure::Usage(format!(
            "--currency: {value:?} is not a currency code; expected three letters, e.g. JPY"
        )))
    }
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

fn json(
    c: &Comparison,
    config: Option<&str>,
    measured: Option<&Measured>,
) -> Result<String, Failure> {
    let rows = serde_json::to_value(&c.rows).map_err(|e| Failure::Runtime(e.into()))?;
    let mut doc = serde_json::json!({
        "input_mtok": c.input_mtok.to_string(),
        "output_mtok": c.output_mtok.to_string(),
        "model": c.model,
        "display_currency": c.display_currency,
        "prices_as_of": BUILTIN_PRICES_AS_OF,
        "config": config,
        "cheapest": c.cheapest().map(|r| serde_json::json!({
            "provider": r.provider,
            "model": r.model,
        })),
        "rows": rows,
    });
    if let Some(m) = measured {
        doc["from_ledger"] = serde_json::json!({
            "ledger": m.ledger,
            "since_ms": m.since_ms,
            "until_ms": m.until_ms,
            "window_ms": m.until_ms - m.since_ms,
            "month_days": 30,
            "scale": m.scale.to_string(),
            "prompt_tokens": m.prompt_tokens,
            "completion_tokens": m.completion_tokens,
            "traffic": m.traffic,
            "models": m.models,
            "unpriced_models": m.unpriced,
        });
    }
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| Failure::Runtime(e.into()))?;
    text.push('\n');
    Ok(text)
}

fn table(c: &Comparison, config: Option<&str>, measured: Option<&Measured>) -> String {
    let mut out = String::new();
    // A measured workload is a quotient with up to 28 places: shown to the token.
    let shown = |mtok: Decimal| match measured {
        Some(_) => grouped(&round_money(mtok, 6).normalize().to_string()),
        None => grouped(&mtok.to_string()),
    };
    let _ = writeln!(
        out,
        "Monthly cost of {} MTok input + {} MTok output{}",
        shown(c.input_mtok),
        shown(c.output_mtok),
        c.model
            .as_deref()
            .map(|m| format!(", model {m}"))
            .unwrap_or_default()
    );
    if let Some(m) = measured {
        let _ = writeln!(
            out,
            "Measured in ledger {}: {} prompt + {} completion tokens over {} ({} to {}), \
             scaled x{} to a 30-day month",
            m.ledger,
            grouped(&m.prompt_tokens.to_string()),
            grouped(&m.completion_tokens.to_string()),
            window_words(m.until_ms - m.since_ms),
            utc(m.since_ms),
            utc(m.until_ms),
            round_money(m.scale, 4).normalize(),
        );
        if m.models.is_empty() {
            let _ = writeln!(out, "No traffic recorded in this window.");
        } else {
            let _ = writeln!(
                out,
                "Models seen: {}",
                m.models.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if !m.unpriced.is_empty() {
            let _ = writeln!(
                out,
                "No provider prices {} (their tokens are in the workload above).",
                m.unpriced.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "List prices in USD per million tokens (built-in list as of {BUILTIN_PRICES_AS_OF}{})",
        config
            .map(|path| format!(", and {path}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out);

    // The display currency's columns, when one was asked for and is not USD already.
    let display = c.display_currency.as_deref().filter(|&d| d != "USD");
    let mut header = vec![
        "PROVIDER".to_owned(),
        "MODEL".to_owned(),
        "IN/MTOK".to_owned(),
        "OUT/MTOK".to_owned(),
        "USD/MONTH".to_owned(),
        "LOCAL/MONTH".to_owned(),
        "SAVING USD/MONTH".to_owned(),
        "SAVING USD/YEAR".to_owned(),
    ];
    if let Some(d) = display {
        header.extend([
            format!("{d}/MONTH"),
            format!("SAVING {d}/MONTH"),
            format!("SAVING {d}/YEAR"),
        ]);
    }
    let mut lines = vec![header];
    for row in &c.rows {
        lines.push(cells(row, display));
    }
    // Left-align the names, right-align the amounts.
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                text.push_str("  ");
            }
            if i < 2 {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            } else {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    }

    if let Some(cheapest) = c.cheapest() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Saving: how much less the cheapest ({} {}) costs than each row{}.",
            cheapest.provider,
            cheapest.model,
            display
                .map(|d| format!("; in {d}, the cheapest of those billing in {d}"))
                .unwrap_or_default()
        );
        if let Some(d) = display {
            if c.rows.iter().any(|r| r.display_month.is_none()) {
                let _ = writeln!(
                    out,
                    "{d} amounts are shown only for providers that bill in {d}."
                );
            }
        }
    }
    out
}

fn cells(row: &ComparisonRow, display: Option<&str>) -> Vec<String> {
    let mut cells = vec![
        row.provider.clone(),
        row.model.clone(),
        money(row.input_usd_per_mtok, "USD"),
        money(row.output_usd_per_mtok, "USD"),
        money(row.usd_month, "USD"),
        format!("{} {}", money(row.local_month, &row.currency), row.currency),
        money(row.saving_usd_month_vs_cheapest, "USD"),
        money(row.saving_usd_year_vs_cheapest, "USD"),
    ];
    if let Some(d) = display {
        let show = |amount: Option<Decimal>| amount.map_or_else(|| "-".to_owned(), |a| money(a, d));
        cells.extend([
            show(row.display_month),
            show(row.saving_display_month_vs_cheapest),
            show(row.saving_display_year_vs_cheapest),
        ]);
    }
    cells
}

/// An amount for the table: rounded half away from zero to the currency's minor unit (JPY
/// has none), with thousands separators. A non-zero amount that would show as zero gets the
/// places it needs, up to eight.
pub(crate) fn money(amount: Decimal, currency: &str) -> String {
    let mut places = minor_units(currency);
    let mut rounded = round_money(amount, places);
    while rounded.is_zero() && !amount.is_zero() && places < 8 {
        places += 1;
        rounded = round_money(amount, places);
    }
    grouped(&format!("{rounded:.prec$}", prec = places as usize))
}

/// Decimal places of a currency's minor unit.
fn minor_units(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "PYG" | "UGX" | "XAF" | "XOF" => 0,
        _ => 2,
    }
}

/// `1234567.5` -> `1,234,567.5`.
pub(crate) fn grouped(number: &str) -> String {
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
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
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
