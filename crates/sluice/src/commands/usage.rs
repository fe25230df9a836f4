//! `sluice usage`: spend and tokens from the config's ledger, grouped by model, provider, key
//! or UTC day, as a table or one JSON document — the same document `GET /v1/usage` serves.
//! Costs are exact decimals summed by the ledger; the table rounds them for display only.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sluice_config::LedgerSetting;
use sluice_ledger::{GroupBy, Ledger, UsageQuery};
use sluice_pricing::{currency_code, PriceBook, UsageLine, UsageReport, Window};

use super::cost::{grouped, money};
use crate::cli::{UsageArgs, UsageBy};
use crate::Failure;

pub async fn run(args: UsageArgs) -> Result<(), Failure> {
    let now = now_ms();
    let window = Window::parse(args.since.as_deref(), args.until.as_deref(), now)
        .map_err(|e| Failure::Usage(format!("--{}: {}", e.param, e.reason)))?;
    let explicit_currency = args
        .currency
        .as_deref()
        .map(|c| {
            currency_code(c).ok_or_else(|| {
                Failure::Usage(format!(
                    "--currency: {c:?} is not a currency code; expected three letters, e.g. JPY"
                ))
            })
        })
        .transpose()?;
    let by = match args.by {
        UsageBy::Model => GroupBy::Model,
        UsageBy::Provider => GroupBy::Provider,
        UsageBy::Key => GroupBy::Key,
        UsageBy::Day => GroupBy::Day,
    };

    let config = super::load_config(args.config.as_deref())?;
    let currency = explicit_currency.unwrap_or_else(|| config.display_currency.clone());
    let ledger = open_ledger(&config.ledger).await?;
    let rows = ledger
        .usage(UsageQuery {
            since_ms: Some(window.since_ms),
            until_ms: window.until_ms,
            by,
        })
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
    let groups = sluice_gateway::usage_groups(rows);
    let book = PriceBook::with_config(&config);
    let report = UsageReport::new(
        window.since_ms,
        window.end_ms(now),
        by.as_str(),
        &currency,
        &book,
        groups,
    );

    let text = if args.json {
        let mut text =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?;
        text.push('\n');
        text
    } else {
        table(&report, ledger.url())
    };
    print!("{text}");
    Ok(())
}

/// Opens the config's ledger for reading. A SQLite file that does not exist is an error, not
/// a new empty ledger: it almost always means the wrong working directory or config.
pub(crate) async fn open_ledger(setting: &LedgerSetting) -> Result<Ledger, Failure> {
    let LedgerSetting::Url(url) = setting else {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "ledger: the config keeps no ledger (ledger = \"none\"), so there is no usage to \
             report"
        )));
    };
    if let Some(path) = sqlite_path(url) {
        if !path.exists() {
            let shown = std::env::current_dir()
                .map(|cwd| cwd.join(path))
                .unwrap_or_else(|_| path.to_path_buf());
            return Err(Failure::Runtime(anyhow::anyhow!(
                "ledger {}: no such file {} (the gateway creates it when it starts: run this \
                 where `sluice serve` runs, or give the config whose `ledger` names it)",
                sluice_ledger::redact_url(url),
                shown.display()
            )));
        }
    }
    Ledger::open(url)
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))
}

/// The file of a `sqlite://` ledger URL, as the ledger reads it.
fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    (!rest.is_empty() && !rest.contains('?') && rest != ":memory:").then(|| Path::new(rest))
}

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A unix-milliseconds time as RFC 3339 UTC to the second (`2026-01-31T12:00:00Z`).
pub(crate) fn utc(ms: i64) -> String {
    let time = u64::try_from(ms)
        .ok()
        .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)));
    match time {
        Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
        None => format!("{ms} (unix ms)"),
    }
}

fn table(r: &UsageReport, ledger: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Usage by {} from {} to {} (ledger {ledger})",
        r.by,
        utc(r.since_ms),
        utc(r.until_ms)
    );
    let _ = writeln!(out);
    if r.rows.is_empty() {
        let _ = writeln!(out, "No requests recorded in this window.");
        return out;
    }
    // The display currency's column, when it is not USD and its rate is known.
    let local = (r.currency != "USD" && r.rate.is_some()).then_some(r.currency.as_str());
    let mut header = vec![
        r.by.to_ascii_uppercase(),
        "REQUESTS".to_owned(),
        "PROMPT TOKENS".to_owned(),
        "COMPLETION TOKENS".to_owned(),
        "COST USD".to_owned(),
    ];
    if let Some(c) = local {
        header.push(format!("COST {c}"));
    }
    header.extend(["ESTIMATED".to_owned(), "ERRORS".to_owned()]);
    let mut lines = vec![header];
    for row in &r.rows {
        lines.push(cells(row, local));
    }
    lines.push(cells(&r.total, local));
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let render = |line: &[String]| {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                text.push_str("  ");
            }
            // The group left-aligned, the numbers right-aligned.
            if i == 0 {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            } else {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            }
        }
        text.trim_end().to_owned()
    };
    let total_at = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        if i == total_at {
            let rule: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(rule));
        }
        let _ = writeln!(out, "{}", render(line));
    }
    let mut notes = Vec::new();
    if r.currency != "USD" {
        notes.push(r.note.clone());
    }
    if r.total.estimated_requests > 0 {
        notes.push(
            "ESTIMATED: requests whose tokens the gateway counted itself (the provider reported \
             no usage)."
                .to_owned(),
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
    }
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    out
}

fn cells(line: &UsageLine, local: Option<&str>) -> Vec<String> {
    let count = |n: u64| grouped(&n.to_string());
    let mut cells = vec![
        line.group.clone().unwrap_or_else(|| "TOTAL".to_owned()),
        count(line.requests),
        count(line.prompt_tokens),
        count(line.completion_tokens),
        money(line.cost_usd, "USD"),
    ];
    if let Some(c) = local {
        cells.push(line.local.map_or_else(|| "-".to_owned(), |a| money(a, c)));
    }
    cells.extend([count(line.estimated_requests), count(line.errors)]);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_as_the_ledger_reads_them() {
        assert_eq!(
            sqlite_path("sqlite://sluice.db"),
            Some(Path::new("sluice.db"))
        );
        assert_eq!(sqlite_path("sqlite:///a/b.db"), Some(Path::new("/a/b.db")));
        assert_eq!(sqlite_path("sqlite:x.db"), Some(Path::new("x.db")));
        assert_eq!(sqlite_path("sqlite://"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn times_show_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(utc(-5), "-5 (unix ms)");
    }
}
