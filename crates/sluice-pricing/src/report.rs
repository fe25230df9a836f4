//! The usage report document (`sluice usage --json`, `GET /v1/usage`): the ledger's groups
//! of requests with their tokens and exact costs, in USD and in a display currency, and their
//! total. Pure: the callers read the ledger and pass its numbers in. A report grouped by key
//! shows keys by name once the caller hands it the key names ([`UsageReport::label_keys`]).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::book::PriceBook;
use crate::currency::{display_rate, rate_note, Rate};

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
    /// Grouped by key: the key's id, when `group` shows its name instead
    /// ([`UsageReport::label_keys`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(with = "crate::json::number")]
    pub cost_usd: Decimal,
    /// The cost in the report's `currency`.
    #[serde(with = "crate::json::number_option")]
    pub local: Option<Decimal>,
    pub estimated_requests: u64,
    pub errors: u64,
}

impl UsageLine {
    fn new(group: Option<String>, t: &UsageTotals, rate: Option<&Rate>) -> UsageLine {
        let cost_usd = t.cost_usd.normalize();
        UsageLine {
            group,
            key_id: None,
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

impl UsageReport {
    /// Shows keys by their names in a report grouped by key (`by` = `key`; other reports are
    /// left alone): each row whose group is a key id in `names` (id → name, as
    /// `Ledger::key_names` returns them) gets the name as its `group` and keeps the id in
    /// `key_id`. Requests without a key and ids `names` does not hold keep their group as it
    /// is. `sluice usage --by key` and `GET /v1/usage?by=key` both label through this.
    pub fn label_keys(&mut self, names: &BTreeMap<String, String>) {
        if self.by != "key" {
            return;
        }
        for line in &mut self.rows {
            let Some(id) = line.group.take() else {
                continue;
            };
            match names.get(&id) {
                Some(name) => {
                    line.group = Some(name.clone());
                    line.key_id = Some(id);
                }
                None => line.group = Some(id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
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
        // Amounts are JSON numbers with exactly their digits.
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.contains(r#""cost_usd":0.00051453,"local":0.003756069,"#),
            "{text}"
        );
        assert!(text.contains(r#""local":0.001252023,"#), "{text}");
        assert!(text.contains(r#""rate":{"per_usd":7.3,"#), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["total"]["cost_usd"].is_number());
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
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(json["total"]["local"], serde_json::Value::Null);
        assert_eq!(json["rate"], serde_json::Value::Null);
    }

    #[test]
    fn keys_are_shown_by_name_and_keep_their_id() {
        let book = PriceBook::builtin();
        let groups = || {
            vec![
                ("k1".into(), totals(2, 1, 1, "0.5")),
                ("-".into(), totals(1, 1, 1, "0.2")),
                ("gone".into(), totals(1, 1, 1, "0.1")),
            ]
        };
        let names = BTreeMap::from([
            ("k1".to_owned(), "ci runner".to_owned()),
            ("k2".to_owned(), "unused".to_owned()),
        ]);
        let mut r = UsageReport::new(1, 2, "key", "USD", &book, groups());
        r.label_keys(&names);
        let shown: Vec<_> = r
            .rows
            .iter()
            .map(|l| (l.group.as_deref().unwrap(), l.key_id.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [("ci runner", Some("k1")), ("-", None), ("gone", None)]
        );
        assert_eq!(r.total.key_id, None);
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(json["rows"][0]["group"], "ci runner");
        assert_eq!(json["rows"][0]["key_id"], "k1");
        assert!(json["rows"][1].get("key_id").is_none());
        assert!(json["total"].get("key_id").is_none());

        // Grouped by anything else, a group that happens to equal a key id stays.
        let mut r = UsageReport::new(1, 2, "model", "USD", &book, groups());
        r.label_keys(&names);
        assert_eq!(r.rows[0].group.as_deref(), Some("k1"));
        assert_eq!(r.rows[0].key_id, None);
    }
}
