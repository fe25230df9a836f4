//! What `sluice cost` prints: the comparison as a table (amounts rounded for display) or as
//! one JSON document (amounts as JSON numbers with their exact digits), each with the
//! measured workload when it came from the ledger.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use sluice_pricing::display::{grouped, money};
use sluice_pricing::{round_money, Comparison, ComparisonRow, Decimal, BUILTIN_PRICES_AS_OF};

use super::measure::{Measured, Traffic};
use crate::commands::render::{utc, Table};
use crate::Failure;

/// The JSON document. It is written straight to text: a `serde_json::Value` would hold the
/// amounts as floats and lose their digits.
#[derive(Serialize)]
struct Doc<'a> {
    #[serde(with = "sluice_pricing::json::number")]
    input_mtok: Decimal,
    #[serde(with = "sluice_pricing::json::number")]
    output_mtok: Decimal,
    model: Option<&'a str>,
    display_currency: Option<&'a str>,
    prices_as_of: &'static str,
    config: Option<&'a str>,
    cheapest: Option<Cheapest<'a>>,
    rows: &'a [ComparisonRow],
    #[serde(skip_serializing_if = "Option::is_none")]
    from_ledger: Option<FromLedger<'a>>,
}

#[derive(Serialize)]
struct Cheapest<'a> {
    provider: &'a str,
    model: &'a str,
}

/// The measured workload: the window, its tokens and the factor that made them a month.
#[derive(Serialize)]
struct FromLedger<'a> {
    ledger: &'a str,
    since_ms: i64,
    until_ms: i64,
    window_ms: i64,
    month_days: u32,
    #[serde(with = "sluice_pricing::json::number")]
    scale: Decimal,
    prompt_tokens: u64,
    completion_tokens: u64,
    traffic: &'a [Traffic],
    models: &'a BTreeSet<String>,
    unpriced_models: &'a [String],
}

/// The comparison as one JSON document, with a `from_ledger` section for a measured workload.
pub(super) fn json(
    c: &Comparison,
    config: Option<&str>,
    measured: Option<&Measured>,
) -> Result<String, Failure> {
    let doc = Doc {
        input_mtok: c.input_mtok,
        output_mtok: c.output_mtok,
        model: c.model.as_deref(),
        display_currency: c.display_currency.as_deref(),
        prices_as_of: BUILTIN_PRICES_AS_OF,
        config,
        cheapest: c.cheapest().map(|r| Cheapest {
            provider: &r.provider,
            model: &r.model,
        }),
        rows: &c.rows,
        from_ledger: measured.map(|m| FromLedger {
            ledger: &m.ledger,
            since_ms: m.since_ms,
            until_ms: m.until_ms,
            window_ms: m.until_ms - m.since_ms,
            month_days: 30,
            scale: m.scale,
            prompt_tokens: m.prompt_tokens,
            completion_tokens: m.completion_tokens,
            traffic: &m.traffic,
            models: &m.models,
            unpriced_models: &m.unpriced,
        }),
    };
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| Failure::Runtime(e.into()))?;
    text.push('\n');
    Ok(text)
}

/// The comparison as a table under a heading that says what workload it prices, with a note
/// on the savings below.
pub(super) fn table(c: &Comparison, config: Option<&str>, measured: Option<&Measured>) -> String {
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
    // Left-align the names, right-align the amounts.
    let mut table = Table::new(header, 2);
    for row in &c.rows {
        table.row(cells(row, display));
    }
    table.write(&mut out);

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

#[cfg(test)]
mod tests {
    use super::window_words;

    #[test]
    fn windows_in_the_largest_whole_unit() {
        assert_eq!(window_words(30 * 86_400_000), "30 days");
        assert_eq!(window_words(86_400_000), "1 day");
        assert_eq!(window_words(36 * 3_600_000), "36 hours");
        assert_eq!(window_words(90 * 60_000), "90 minutes");
        assert_eq!(window_words(1_000), "1 second");
        assert_eq!(window_words(1_500), "1500 ms");
    }
}
