//! `sluice usage`: spend and tokens from the config's ledger, grouped by model, provider, key
//! or UTC day, as a table or one JSON document — the same document `GET /v1/usage` serves.
//! Costs are exact decimals summed by the ledger; the table rounds them for display only, the
//! JSON gives them as JSON numbers with their exact digits.
//! By key, rows show the key's name (`UsageReport::label_keys`), and the JSON keeps its id in
//! `key_id`.

use std::fmt::Write as _;

use sluice_ledger::{GroupBy, UsageQuery};
use sluice_pricing::display::{grouped, money};
use sluice_pricing::{currency_code, PriceBook, UsageLine, UsageReport, Window};

use super::ledger::open_ledger;
use super::render::{utc, Table};
use crate::cli::{UsageArgs, UsageBy};
use crate::Failure;

pub async fn run(args: UsageArgs) -> Result<(), Failure> {
    let now = sluice_types::unix_ms();
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
            key_id: None,
        })
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
    let groups = sluice_gateway::usage_groups(rows);
    let book = PriceBook::with_config(&config);
    let mut report = UsageReport::new(
        window.since_ms,
        window.end_ms(now),
        by.as_str(),
        &currency,
        &book,
        groups,
    );
    if by == GroupBy::Key {
        let names = ledger
            .key_names()
            .await
            .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
        report.label_keys(&names);
    }

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
    // The group left-aligned, the numbers right-aligned, the total under a rule.
    let mut table = Table::new(header, 1);
    for row in &r.rows {
        table.row(cells(row, local));
    }
    table.rule();
    table.row(cells(&r.total, local));
    table.write(&mut out);
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
