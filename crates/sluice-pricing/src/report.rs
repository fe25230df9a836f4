//! Usage reports in money (`sluice usage`, `GET /v1/usage`, `sluice cost --from-ledger`): the
//! report window, the USD → display-currency rate, the report document both the command and
//! the HTTP route print, and the monthly projection of measured traffic. Pure: the callers
//! read the ledger and pass its numbers in.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::book::{PriceBook, Source};
use crate::compare::Comparison;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// The month of a monthly projection: 30 days, in milliseconds.
pub const MONTH_MS: i64 = 30 * DAY_MS;
/// The window of a report when none is given: the last 30 days.
pub const DEFAULT_SINCE: &str = "30d";

/// A duration in milliseconds, in the product's one duration grammar
/// ([`sluice_types::parse_duration`], humantime's): `30d`, `24h`, `90m`, `1h30m`, `1h 30m`,
/// `45s`, `250ms`, `2w`, `1.5h`. Every number needs a unit; units are case-sensitive (`m` is
/// minutes, `M` months). `None` for anything else, and for a duration beyond `i64`
/// milliseconds; parts below a millisecond are dropped.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let duration = sluice_types::parse_duration(text)?;
    i64::try_from(duration.as_millis()).ok()
}

/// A bound of a report window: a duration meaning "that long before `now_ms`" (`24h`, `30d`)
/// or a point in time in unix milliseconds (`1767225600000`). The error says what is
/// expected, for the caller to prefix with the parameter's name.
pub fn parse_time_bound(text: &str, now_ms: i64) -> Result<i64, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| format!("{text:?} is out of range as unix milliseconds"));
    }
    parse_duration_ms(t)
        .map(|d| now_ms.saturating_sub(d))
        .ok_or_else(|| {
            format!("{text:?} is neither a duration (e.g. 24h, 30d, 90m) nor unix milliseconds")
        })
}

/// Which requests a report covers: `since_ms` inclusive, `until_ms` exclusive; `until` is
/// `None` when not asked for (up to now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since_ms: i64,
    pub until_ms: Option<i64>,
}

/// Which parameter of a window is at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowError {
    /// `since` or `until`.
    pub param: &'static str,
    pub reason: String,
}

impl std::fmt::Display for WindowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.param, self.reason)
    }
}

impl std::error::Error for WindowError {}

impl Window {
    /// The window from `since` (default [`DEFAULT_SINCE`]) and `until` (default: now), as
    /// [`parse_time_bound`] reads them. An empty window (since at or after until) is an error.
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        now_ms: i64,
    ) -> Result<Window, WindowError> {
        let since_ms =
            parse_time_bound(since.unwrap_or(DEFAULT_SINCE), now_ms).map_err(|reason| {
                WindowError {
                    param: "since",
                    reason,
                }
            })?;
        let until_ms = until
            .map(|u| parse_time_bound(u, now_ms))
            .transpose()
            .map_err(|reason| WindowError {
                param: "until",
                reason,
            })?;
        let end = until_ms.unwrap_or(now_ms);
        if since_ms >= end {
            return Err(WindowError {
                param: if until_ms.is_some() { "until" } else { "since" },
                reason: format!(
                    "the window is empty: it starts at {since_ms} and ends at {end} (unix ms)"
                ),
            });
        }
        Ok(Window { since_ms, until_ms })
    }

    /// The end of the window: `until_ms`, or `now_ms` when it has none.
    pub fn end_ms(&self, now_ms: i64) -> i64 {
        self.until_ms.unwrap_or(now_ms)
    }
}

/// A currency code as `sluice.toml` takes it: three ASCII letters, returned upper-cased.
pub fn currency_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// How USD amounts become amounts in a display currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Units of the display currency per USD.
    #[serde(with = "rust_decimal::serde::str")]
    pub per_usd: Decimal,
    /// The provider whose billing rate this is (`None` for USD itself).
    pub provider: Option<String>,
    /// Whether that provider's billing is from the config or the built-in list.
    pub source: Option<Source>,
}

/// The USD → `currency` rate: 1 for USD; otherwise the `per_usd` of a provider that bills in
/// `currency` — configured providers first (they are what the gateway's traffic goes to),
/// then the built-in sheets, by provider name within each. `None` when no provider bills in
/// it. A provider's `per_usd` is what it charges per USD of list price, so the converted
/// amount is what that provider would charge, not a market exchange.
pub fn display_rate(book: &PriceBook, currency: &str) -> Option<Rate> {
    let code = currency.trim().to_ascii_uppercase();
    if code == sluice_types::DEFAULT_CURRENCY {
        return Some(Rate {
            per_usd: Decimal::ONE,
            provider: None,
            source: None,
        });
    }
    let billing_in = |wanted: Source| {
        book.providers()
            .find(|p| book.billing_source(p) == Some(wanted) && book.billing(p).currency == code)
    };
    let provider = billing_in(Source::Config).or_else(|| billing_in(Source::Builtin))?;
    Some(Rate {
        per_usd: book.billing(provider).per_usd.normalize(),
        provider: Some(provider.to_owned()),
        source: book.billing_source(provider),
    })
}

/// What the ledger holds for one group of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageTotals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: Decimal,
    /// Requests whose tokens the gateway estimated.
    pub estimated_requests: u64,
    /// Requests whose status is not `ok`.
    pub errors: u64,
}

impl UsageTotals {
    fn add(&mut self, other: &UsageTotals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.cost_usd = self.cost_usd.saturating_add(other.cost_usd);
        self.estimated_requests = self
            .estimated_requests
            .saturating_add(other.estimated_requests);
        self.errors = self.errors.saturating_add(other.errors);
    }
}

/// One line of a [`UsageReport`]: a group, or the total (no `group`). Money is exact:
/// `cost_usd` as summed, `local` = `cost_usd` × the report's rate (`None` without a rate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_usd: Decimal,
    /// The cost in the report's `currency`.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub local: Option<Decimal>,
    pub estimated_requests: u64,
    pub errors: u64,
}

impl UsageLine {
    fn new(group: Option<String>, t: &UsageTotals, rate: Option<&Rate>) -> UsageLine {
        let cost_usd = t.cost_usd.normalize();
        UsageLine {
            group,
            requests: t.requests,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            total_tokens: t.prompt_tokens.saturating_add(t.completion_tokens),
            cost_usd,
            local: rate.map(|r| cost_usd.saturating_mul(r.per_usd).normalize()),
            estimated_requests: t.estimated_requests,
            errors: t.errors,
        }
    }
}

/// The usage report document: `{"since_ms","until_ms","by","currency","rate","note","rows",
/// "total"}`, the same from `sluice usage --json` and `GET /v1/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// The start of the window (inclusive), unix ms.
    pub since_ms: i64,
    /// The end of the window (exclusive), unix ms: the time of the report unless an end was
    /// asked for.
    pub until_ms: i64,
    /// What the rows are grouped by: `model`, `provider`, `key` or `day`.
    pub by: String,
    /// The display currency of `local` amounts (upper case).
    pub currency: String,
    /// The USD → `currency` rate used, `None` when none is known (then every `local` is null).
    pub rate: Option<Rate>,
    /// Where the rate comes from, or why there is none, in one sentence.
    pub note: String,
    /// Highest cost first (by day: oldest day first).
    pub rows: Vec<UsageLine>,
    pub total: UsageLine,
}

impl UsageReport {
    /// The report of `groups` (as the ledger returned them) over `since_ms..until_ms`, with
    /// amounts in `currency` at [`display_rate`]. Grouped `by` `day`, the rows are sorted by
    /// date ascending; otherwise they keep the ledger's order (highest cost first).
    pub fn new(
        since_ms: i64,
        until_ms: i64,
        by: &str,
        currency: &str,
        book: &PriceBook,
        groups: Vec<(String, UsageTotals)>,
    ) -> UsageReport {
        let currency = currency.trim().to_ascii_uppercase();
        let rate = display_rate(book, &currency);
        let mut groups = groups;
        if by == "day" {
            groups.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut total = UsageTotals::default();
        for (_, t) in &groups {
            total.add(t);
        }
        let rows = groups
            .into_iter()
            .map(|(g, t)| UsageLine::new(Some(g), &t, rate.as_ref()))
            .collect();
        let total = UsageLine::new(None, &total, rate.as_ref());
        let note = rate_note(&currency, rate.as_ref());
        UsageReport {
            since_ms,
            until_ms,
            by: by.to_owned(),
            currency,
            rate,
            note,
            rows,
            total,
        }
    }
}

/// One sentence on the rate: which provider's, or that there is none.
pub fn rate_note(currency: &str, rate: Option<&Rate>) -> String {
    match rate {
        Some(Rate { provider: None, .. }) => format!("Amounts in {currency} are list prices."),
        Some(Rate {
            per_usd,
            provider: Some(p),
            source,
        }) => format!(
            "{currency} amounts are USD at {p}'s billing rate of {per_usd} {currency} per USD \
             ({}).",
            match source {
                Some(Source::Builtin) => "built-in price list",
                _ => "config",
            }
        ),
        None => format!(
            "No USD to {currency} rate is known (no configured or built-in provider bills in \
             {currency}), so amounts are in USD only."
        ),
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

/// `c` with only the rows of `models`, its savings recomputed against the cheapest row left
/// (as [`crate::compare`] computes them).
pub fn restrict_models(mut c: Comparison, models: &BTreeSet<String>) -> Comparison {
    const TWELVE: Decimal = Decimal::from_parts(12, 0, 0, false, 0);
    c.rows.retain(|r| models.contains(&r.model));
    let cheapest_usd = c.rows.first().map(|r| r.usd_month);
    let cheapest_display = c.rows.iter().filter_map(|r| r.display_month).min();
    for row in &mut c.rows {
        if let Some(cheapest) = cheapest_usd {
            let month = row.usd_month.saturating_sub(cheapest).normalize();
            row.saving_usd_month_vs_cheapest = month;
            row.saving_usd_year_vs_cheapest = month.saturating_mul(TWELVE).normalize();
        }
        row.saving_display_month_vs_cheapest = None;
        row.saving_display_year_vs_cheapest = None;
        if let (Some(mine), Some(cheapest)) = (row.display_month, cheapest_display) {
            let month = mine.saturating_sub(cheapest).normalize();
            row.saving_display_month_vs_cheapest = Some(month);
            row.saving_display_year_vs_cheapest = Some(month.saturating_mul(TWELVE).normalize());
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::compare::compare;
    use sluice_types::{Billing, Price};

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30d"), Some(30 * DAY_MS));
        assert_eq!(parse_duration_ms("24h"), Some(DAY_MS));
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("1h 30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("2w"), Some(14 * DAY_MS));
        assert_eq!(parse_duration_ms(" 7 days "), Some(7 * DAY_MS));
        assert_eq!(parse_duration_ms("0s"), Some(0));
        // humantime's grammar, as in sluice.toml: a fraction is exact where it is whole
        // milliseconds, `M` is a month (30.44 days) and a sub-millisecond part is dropped.
        assert_eq!(parse_duration_ms("1.5h"), Some(5_400_000));
        assert_eq!(parse_duration_ms("1M"), Some(2_630_016_000));
        assert_eq!(parse_duration_ms("1500us"), Some(1));
        for bad in [
            "",
            "30",
            "d",
            "10x",
            "-1d",
            "99999999999999999999d",
            "1d x",
            "1.5",
            "30D",
            "1h 30",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad:?}");
        }
        // Representable as a Duration but not as i64 milliseconds: None, not a panic.
        assert_eq!(
            parse_duration_ms("9223372036854775s"),
            Some(9_223_372_036_854_775_000)
        );
        assert_eq!(parse_duration_ms("9223372036854776s"), None);
        assert_eq!(parse_duration_ms("10000000000000000s"), None);
    }

    #[test]
    fn time_bounds_are_durations_ago_or_unix_ms() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time_bound("24h", now), Ok(now - DAY_MS));
        assert_eq!(
            parse_time_bound("1700000000000", now),
            Ok(1_700_000_000_000)
        );
        assert!(parse_time_bound("yesterday", now)
            .unwrap_err()
            .contains("neither a duration"));
        assert!(parse_time_bound("99999999999999999999", now).is_err());
    }

    #[test]
    fn windows() {
        let now = 1_800_000_000_000;
        let w = Window::parse(None, None, now).unwrap();
        assert_eq!(w.since_ms, now - MONTH_MS);
        assert_eq!(w.until_ms, None);
        assert_eq!(w.end_ms(now), now);
        let w = Window::parse(Some("7d"), Some("1d"), now).unwrap();
        assert_eq!(
            (w.since_ms, w.until_ms),
            (now - 7 * DAY_MS, Some(now - DAY_MS))
        );
        assert_eq!(
            Window::parse(Some("x"), None, now).unwrap_err().param,
            "since"
        );
        assert_eq!(
            Window::parse(None, Some("x"), now).unwrap_err().param,
            "until"
        );
        let e = Window::parse(Some("1d"), Some("2d"), now).unwrap_err();
        assert_eq!(e.param, "until");
        assert!(e.reason.contains("empty"), "{}", e.reason);
        assert_eq!(
            Window::parse(Some("0s"), None, now).unwrap_err().param,
            "since"
        );
    }

    #[test]
    fn currency_codes() {
        assert_eq!(currency_code(" jpy ").as_deref(), Some("JPY"));
        for bad in ["", "JP", "JPYY", "J1Y", "¥"] {
            assert_eq!(currency_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_display_rate_prefers_configured_providers_then_names() {
        let book = PriceBook::builtin();
        let usd = display_rate(&book, "usd").unwrap();
        assert_eq!((usd.per_usd, usd.provider), (Decimal::ONE, None));
        // Built-in only: anthropic is the first by name billing in JPY.
        let jpy = display_rate(&book, "JPY").unwrap();
        assert_eq!(jpy.per_usd, dec("7.3"));
        assert_eq!(jpy.provider.as_deref(), Some("anthropic"));
        assert_eq!(jpy.source, Some(Source::Builtin));
        assert_eq!(display_rate(&book, "EUR"), None);
        // A configured provider billing in JPY wins over the built-in sheets.
        let mut book = PriceBook::builtin();
        book.set_billing(
            "zz-relay",
            Billing {
                currency: "JPY".into(),
                per_usd: dec("1.00"),
            },
        );
        let jpy = display_rate(&book, "JPY").unwrap();
        assert_eq!(jpy.per_usd, dec("1"));
        assert_eq!(jpy.provider.as_deref(), Some("zz-relay"));
        assert_eq!(jpy.source, Some(Source::Config));
    }

    fn totals(requests: u64, p: u64, c: u64, cost: &str) -> UsageTotals {
        UsageTotals {
            requests,
            prompt_tokens: p,
            completion_tokens: c,
            cost_usd: dec(cost),
            estimated_requests: 0,
            errors: 1,
        }
    }

    #[test]
    fn reports_total_exactly_and_convert_at_the_rate() {
        let book = PriceBook::builtin();
        let r = UsageReport::new(
            1,
            2,
            "model",
            "jpy",
            &book,
            vec![
                ("b".into(), totals(2, 26, 800, "0.00034302")),
                ("a".into(), totals(1, 13, 400, "0.00017151")),
            ],
        );
        assert_eq!(r.currency, "JPY");
        assert_eq!(r.rows[0].group.as_deref(), Some("b"));
        assert_eq!(r.total.requests, 3);
        assert_eq!(r.total.total_tokens, 1239);
        assert_eq!(r.total.cost_usd, dec("0.00051453"));
        assert_eq!(r.total.local, Some(dec("0.003756069")));
        assert_eq!(r.total.errors, 2);
        assert!(r.note.contains("anthropic"), "{}", r.note);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["total"]["cost_usd"], "0.00051453");
        assert_eq!(json["rows"][1]["local"], "0.001252023");
        assert_eq!(json["rate"]["per_usd"], "7.3");
        assert_eq!(json["rate"]["source"], "builtin");
        assert!(json["total"].get("group").is_none());

        let r = UsageReport::new(
            1,
            2,
            "day",
            "EUR",
            &book,
            vec![
                ("2026-01-02".into(), totals(1, 1, 1, "2")),
                ("2026-01-01".into(), totals(1, 1, 1, "1")),
            ],
        );
        let days: Vec<_> = r.rows.iter().map(|l| l.group.clone().unwrap()).collect();
        assert_eq!(days, ["2026-01-01", "2026-01-02"]);
        assert_eq!(r.rate, None);
        assert_eq!(r.total.local, None);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["total"]["local"], serde_json::Value::Null);
        assert_eq!(json["rate"], serde_json::Value::Null);
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
        let p = |i: &str, o: &str| Price {
            input: dec(i),
            output: dec(o),
        };
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
