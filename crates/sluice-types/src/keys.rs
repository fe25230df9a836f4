//! What a gateway API key may do: its limits and budget. Shared by the key store (the ledger
//! database), the limiter and the command line; how keys are checked is `sluice-limit`'s.

use std::fmt;

use rust_decimal::Decimal;

const DAY_MS: i64 = 86_400_000;

/// What the gateway does when the store that holds limits across replicas (Redis) cannot be
/// reached (`[limits] on_store_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStoreError {
    /// Refuse requests that need a limit with 503 until the store answers again (`"closed"`).
    #[default]
    Closed,
    /// Keep serving with limits counted by this replica alone (`"open"`).
    Open,
}

impl OnStoreError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnStoreError::Closed => "closed",
            OnStoreError::Open => "open",
        }
    }
}

/// A key's limits; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLimits {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt and completion).
    pub tpm: Option<u64>,
    /// Spend allowed per window.
    pub budget: Option<Budget>,
    /// The models (route names) the key may use; `None` is every model.
    pub models: Option<Vec<String>>,
}

impl KeyLimits {
    /// Whether the key may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|m| m.iter().any(|allowed| allowed == model))
    }
}

/// A spend limit per window, in a currency: requests are charged in it as billed (the
/// provider's own amount when it bills in that currency, USD at the configured rate otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub amount: Decimal,
    /// ISO 4217 code, upper case.
    pub currency: String,
    pub window: BudgetWindow,
}

/// The period a budget renews over. Windows are fixed periods in UTC, so every replica and
/// the ledger agree on when one starts: a day; an ISO week (from Monday 00:00); 30-day
/// periods counted from 1970-01-01; a calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetWindow {
    /// `1d`
    Day,
    /// `7d`
    Week,
    /// `30d`
    Days30,
    /// `month` (the default)
    #[default]
    Month,
}

impl BudgetWindow {
    pub const ALL: [BudgetWindow; 4] = [
        BudgetWindow::Day,
        BudgetWindow::Week,
        BudgetWindow::Days30,
        BudgetWindow::Month,
    ];

    /// The name on the command line and in the key store.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetWindow::Day => "1d",
            BudgetWindow::Week => "7d",
            BudgetWindow::Days30 => "30d",
            BudgetWindow::Month => "month",
        }
    }

    pub fn parse(text: &str) -> Option<BudgetWindow> {
        Self::ALL
            .into_iter()
            .find(|w| w.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The window holding `at_ms` (Unix milliseconds): its start, inclusive, and its end,
    /// exclusive.
    pub fn bounds(self, at_ms: i64) -> (i64, i64) {
        let day = at_ms.div_euclid(DAY_MS);
        match self {
            BudgetWindow::Day => (day * DAY_MS, (day + 1) * DAY_MS),
            BudgetWindow::Week => {
                // 1970-01-01 was a Thursday: Monday is three days later.
                let monday = (day - 4).div_euclid(7) * 7 + 4;
                (monday * DAY_MS, (monday + 7) * DAY_MS)
            }
            BudgetWindow::Days30 => {
                let start = day.div_euclid(30) * 30;
                (start * DAY_MS, (start + 30) * DAY_MS)
            }
            BudgetWindow::Month => {
                let (y, m, _) = civil_from_days(day);
                let start = days_from_civil(y, m, 1);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (start * DAY_MS, days_from_civil(ny, nm, 1) * DAY_MS)
            }
        }
    }
}

impl fmt::Display for BudgetWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01: (year, month 1–12, day 1–31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06 10:00:00 UTC, a Sunday.
    const AT: i64 = 1_796_551_200_000;

    fn day(y: i64, m: i64, d: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_MS
    }

    #[test]
    fn windows_are_fixed_utc_periods() {
        assert_eq!(
            BudgetWindow::Day.bounds(AT),
            (day(2026, 12, 6), day(2026, 12, 7))
        );
        // The ISO week of Sunday 6 December 2026 began on Monday 30 November.
        assert_eq!(
            BudgetWindow::Week.bounds(AT),
            (day(2026, 11, 30), day(2026, 12, 7))
        );
        assert_eq!(
            BudgetWindow::Month.bounds(AT),
            (day(2026, 12, 1), day(2027, 1, 1))
        );
        let (s, e) = BudgetWindow::Days30.bounds(AT);
        assert!(s <= AT && AT < e && e - s == 30 * DAY_MS && s % (30 * DAY_MS) == 0);
        // February in a leap year.
        assert_eq!(
            BudgetWindow::Month.bounds(day(2028, 2, 29) + 5),
            (day(2028, 2, 1), day(2028, 3, 1))
        );
        assert_eq!(day(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2026, 12, 6)), (2026, 12, 6));
    }

    #[test]
    fn window_names_and_model_lists() {
        for w in BudgetWindow::ALL {
            assert_eq!(BudgetWindow::parse(w.as_str()), Some(w));
        }
        assert_eq!(BudgetWindow::parse("MONTH"), Some(BudgetWindow::Month));
        assert_eq!(BudgetWindow::parse("2d"), None);
        let open = KeyLimits::default();
        assert!(open.allows("anything"));
        let only = KeyLimits {
            models: Some(vec!["mock".into()]),
            ..KeyLimits::default()
        };
        assert!(only.allows("mock") && !only.allows("gpt-4.1"));
    }
}
