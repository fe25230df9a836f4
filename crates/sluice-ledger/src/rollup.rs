//! Spend rollups: requests, tokens and exact cost summed per minute and per UTC day, by
//! (model, provider, key, billing currency), so that "spend since" reads a few hundred rollup
//! rows instead of every request row.
//!
//! Both tables (`ledger_rollup_minutes`, `ledger_rollup_days`, migration 5) are maintained in
//! the transaction that inserts the request rows, counting only rows actually inserted (a
//! request id stored before is skipped, as the rows are), so the rollups always equal the sums
//! of the rows. The migration backfills them from the rows already stored.
//!
//! A query since a time reads the minutes up to the next day boundary and whole days after
//! it ([`plan`]); bounds are rounded down to their minute, the rollups' grain.
//! This module holds the shared parts: bucket arithmetic, the batch aggregation the SQLite
//! backend upserts, and the query plan. The SQL is each backend's.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::row::Row;

/// One minute, the grain of the minute rollups, in milliseconds.
pub(crate) const MINUTE_MS: i64 = 60_000;
/// One day, the grain of the day rollups, in milliseconds (UTC days).
pub(crate) const DAY_MS: i64 = 86_400_000;

/// What the rollups store for a request without a provider or a key (a NULL cannot be part of
/// a primary key).
pub(crate) const ABSENT: &str = "";

/// The start of the bucket of width `width_ms` holding `at_ms`. Integer division truncates
/// toward zero in Rust, SQLite and Postgres alike, so all three agree on every bucket.
pub(crate) fn bucket(at_ms: i64, width_ms: i64) -> i64 {
    (at_ms / width_ms) * width_ms
}

/// What the ledger's requests cost in one group over a span: requests, tokens and exact
/// cost, in USD and in the group's billing currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRow {
    /// The model asked for (route name).
    pub model: String,
    /// `None` for requests that reached no provider.
    pub provider: Option<String>,
    /// `None` for requests made without a key.
    pub key_id: Option<String>,
    /// The billing currency of `cost_local`.
    pub currency: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: Decimal,
    pub cost_local: Decimal,
}

impl SpendRow {
    /// A row read back: the rollups' empty text is "none".
    pub(crate) fn from_stored(
        model: String,
        provider: String,
        key_id: String,
        currency: String,
        sums: Sums,
    ) -> SpendRow {
        let present = |s: String| (s != ABSENT).then_some(s);
        SpendRow {
            model,
            provider: present(provider),
            key_id: present(key_id),
            currency,
            requests: sums.requests,
            prompt_tokens: sums.prompt_tokens,
            completion_tokens: sums.completion_tokens,
            cost_usd: sums.cost_usd.normalize(),
            cost_local: sums.cost_local.normalize(),
        }
    }
}

/// The order spend rows come in: by model, provider, key, then currency.
pub(crate) fn sort(rows: &mut [SpendRow]) {
    rows.sort_by(|a, b| {
        (&a.model, &a.provider, &a.key_id, &a.currency).cmp(&(
            &b.model,
            &b.provider,
            &b.key_id,
            &b.currency,
        ))
    });
}

/// One rollup row's identity: its bucket's start and its group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BucketKey<'a> {
    pub start_ms: i64,
    pub model: &'a str,
    pub provider: &'a str,
    pub key_id: &'a str,
    pub currency: &'a str,
}

/// One rollup row's sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Sums {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: Decimal,
    pub cost_local: Decimal,
}

impl Sums {
    fn add_row(&mut self, r: &Row) {
        self.requests = self.requests.saturating_add(1);
        self.prompt_tokens = self.prompt_tokens.saturating_add(r.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(r.completion_tokens);
        self.cost_usd = self.cost_usd.saturating_add(r.cost_usd);
        self.cost_local = self.cost_local.saturating_add(r.cost_local);
    }
}

/// The rollup rows a batch of inserted request rows adds, per bucket of `width_ms`, in key
/// order (so concurrent writers upsert in the same order).
pub(crate) fn aggregate<'a>(
    rows: impl IntoIterator<Item = &'a Row>,
    width_ms: i64,
) -> BTreeMap<BucketKey<'a>, Sums> {
    let mut out: BTreeMap<BucketKey<'a>, Sums> = BTreeMap::new();
    for r in rows {
        let key = BucketKey {
            start_ms: bucket(r.at_ms, width_ms),
            model: &r.model,
            provider: r.provider.as_deref().unwrap_or(ABSENT),
            key_id: r.key_id.as_deref().unwrap_or(ABSENT),
            currency: &r.currency,
        };
        out.entry(key).or_default().add_row(r);
    }
    out
}

/// Which rollup rows answer a span: minute buckets in `minutes` (each `start..end`, unix ms)
/// and day buckets in `days` (`start..end`, `None` end: every day from `start`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    pub minutes: Vec<(i64, i64)>,
    pub days: Option<(i64, Option<i64>)>,
}

/// The plan for requests that started in `since_ms..until_ms` (`None`: no end), both rounded
/// down to their minute; times before 1970 count as 1970.
pub(crate) fn plan(since_ms: i64, until_ms: Option<i64>) -> Plan {
    let since = bucket(since_ms.max(0), MINUTE_MS);
    let until = until_ms.map(|u| bucket(u.max(0), MINUTE_MS));
    let mut p = Plan::default();
    if until.is_some_and(|u| u <= since) {
        return p;
    }
    // The first whole day at or after `since`.
    let first_day = match bucket(since, DAY_MS) {
        d if d == since => d,
        d => d + DAY_MS,
    };
    let head_end = until.map_or(first_day, |u| u.min(first_day));
    if since < head_end {
        p.minutes.push((since, head_end));
    }
    match until {
        None => p.days = Some((first_day, None)),
        Some(u) if u > first_day => {
            let last_day = bucket(u, DAY_MS);
            if last_day > first_day {
                p.days = Some((first_day, Some(last_day)));
            }
            if last_day < u {
                p.minutes.push((last_day, u));
            }
        }
        Some(_) => {}
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_765_000_000_000; // 2025-12-06T05:46:40Z
    const DAY0: i64 = 1_764_979_200_000; // that day's midnight

    #[test]
    fn buckets_truncate() {
        assert_eq!(bucket(T, MINUTE_MS), 1_764_999_960_000);
        assert_eq!(bucket(T, DAY_MS), DAY0);
        assert_eq!(bucket(DAY0, DAY_MS), DAY0);
    }

    #[test]
    fn plans_read_minutes_up_to_a_day_boundary_then_days() {
        // A day-aligned start reads days only.
        assert_eq!(
            plan(DAY0, None),
            Plan {
                minutes: vec![],
                days: Some((DAY0, None))
            }
        );
        // Mid-day: that day's remaining minutes, then days.
        let since = bucket(T, MINUTE_MS);
        assert_eq!(
            plan(T, None),
            Plan {
                minutes: vec![(since, DAY0 + DAY_MS)],
                days: Some((DAY0 + DAY_MS, None))
            }
        );
        // Within one day: minutes only.
        assert_eq!(
            plan(T, Some(T + 3 * MINUTE_MS + 5)),
            Plan {
                minutes: vec![(since, since + 3 * MINUTE_MS)],
                days: None
            }
        );
        // Across days: head minutes, whole days, tail minutes.
        let until = DAY0 + 3 * DAY_MS + 90 * MINUTE_MS;
        assert_eq!(
            plan(T, Some(until)),
            Plan {
                minutes: vec![(since, DAY0 + DAY_MS), (DAY0 + 3 * DAY_MS, until)],
                days: Some((DAY0 + DAY_MS, Some(DAY0 + 3 * DAY_MS)))
            }
        );
        // Day-aligned both ends: days only.
        assert_eq!(
            plan(DAY0, Some(DAY0 + DAY_MS)),
            Plan {
                minutes: vec![],
                days: Some((DAY0, Some(DAY0 + DAY_MS)))
            }
        );
        // Empty spans.
        assert_eq!(plan(T, Some(T)), Plan::default());
        assert_eq!(plan(T, Some(T - DAY_MS)), Plan::default());
    }

    #[test]
    fn a_batch_aggregates_per_bucket_and_group() {
        let mut a = Row::new("a", T, "m", "ok", 200);
        a.provider = Some("p".into());
        a.cost_usd = "0.1".parse().unwrap();
        a.prompt_tokens = 3;
        let mut b = a.clone();
        b.request_id = "b".into();
        b.cost_usd = "0.2".parse().unwrap();
        let mut c = a.clone();
        c.at_ms = T + MINUTE_MS;
        let sums = aggregate([&a, &b, &c], MINUTE_MS);
        assert_eq!(sums.len(), 2);
        let first = sums.values().next().unwrap();
        assert_eq!(first.requests, 2);
        assert_eq!(first.prompt_tokens, 6);
        assert_eq!(first.cost_usd, "0.3".parse().unwrap());
        let days = aggregate([&a, &b, &c], DAY_MS);
        assert_eq!(days.len(), 1);
        let key = days.keys().next().unwrap();
        assert_eq!((key.start_ms, key.key_id), (DAY0, ABSENT));
    }
}
