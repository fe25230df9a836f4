//! Usage reports: what `sluice usage`, `GET /v1/usage` and `sluice cost --from-ledger` read.
//! The backends run the grouping in SQL; this module holds the query and result types and the
//! parts both backends share.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

/// The group of requests that have no provider (rejected before one was chosen) or no key.
pub const NO_GROUP: &str = "-";

/// What a usage report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The model asked for (route name).
    #[default]
    Model,
    Provider,
    /// The gateway API key id.
    Key,
    /// The UTC date the request started, `YYYY-MM-DD`.
    Day,
}

impl GroupBy {
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::Key,
        GroupBy::Day,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Provider => "provider",
            GroupBy::Key => "key",
            GroupBy::Day => "day",
        }
    }

    /// The SQL expression of the group in SQLite.
    pub(crate) fn sqlite_expr(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Provider => "COALESCE(provider, '-')",
            GroupBy::Key => "COALESCE(key_id, '-')",
            GroupBy::Day => "strftime('%Y-%m-%d', at_ms / 1000, 'unixepoch')",
        }
    }

    /// The SQL expression of the group in Postgres.
    pub(crate) fn postgres_expr(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Provider => "COALESCE(provider, '-')",
            GroupBy::Key => "COALESCE(key_id, '-')",
            GroupBy::Day => "to_char(to_timestamp(at_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A grouping name that is not `model`, `provider`, `key` or `day`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grouping {0:?} (expected model, provider, key or day)")]
pub struct UnknownGroupBy(pub String);

impl FromStr for GroupBy {
    type Err = UnknownGroupBy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownGroupBy(s.to_owned()))
    }
}

/// Which requests a report covers and how it groups them. `since_ms` is inclusive and
/// `until_ms` exclusive (unix milliseconds of the request's start); `None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageQuery {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub by: GroupBy,
    /// Only this key's requests (the gateway's `/v1/usage` for an ordinary key); `None` is
    /// every request.
    pub key_id: Option<String>,
}

/// One group of a usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub group: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Summed as exact decimals (NUMERIC in Postgres, `Decimal` over the text in SQLite).
    pub cost_usd: Decimal,
    /// Requests whose tokens the gateway estimated.
    pub estimated_requests: u64,
    /// Requests whose status is not `ok`.
    pub errors: u64,
}

/// Report order: highest cost first, then by group name so equal costs are stable.
pub(crate) fn sort(rows: &mut [UsageRow]) {
    rows.sort_by(|a, b| {
        b.cost_usd
            .cmp(&a.cost_usd)
            .then_with(|| a.group.cmp(&b.group))
    });
}

/// The filter both backends apply to a report (`$1`/`?1` since, `$2`/`?2` until, `$3`/`?3`
/// the key).
pub(crate) const FILTER_SQLITE: &str =
    "(?1 IS NULL OR at_ms >= ?1) AND (?2 IS NULL OR at_ms < ?2) AND (?3 IS NULL OR key_id = ?3)";
pub(crate) const FILTER_POSTGRES: &str = "($1::BIGINT IS NULL OR at_ms >= $1) AND \
     ($2::BIGINT IS NULL OR at_ms < $2) AND ($3::TEXT IS NULL OR key_id = $3)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_parses_its_names() {
        for g in GroupBy::ALL {
            assert_eq!(g.as_str().parse::<GroupBy>(), Ok(g));
            assert_eq!(g.to_string(), g.as_str());
        }
        assert_eq!("Day".parse::<GroupBy>(), Ok(GroupBy::Day));
        let e = "week".parse::<GroupBy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown grouping \"week\" (expected model, provider, key or day)"
        );
    }

    #[test]
    fn the_no_group_name_is_what_the_sql_uses() {
        for g in [GroupBy::Provider, GroupBy::Key] {
            assert!(g.sqlite_expr().contains(&format!("'{NO_GROUP}'")));
            assert!(g.postgres_expr().contains(&format!("'{NO_GROUP}'")));
        }
    }

    #[test]
    fn sorted_by_cost_then_name() {
        let row = |group: &str, cost: i64| UsageRow {
            group: group.into(),
            requests: 1,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: Decimal::new(cost, 2),
            estimated_requests: 0,
            errors: 0,
        };
        let mut rows = vec![row("b", 1), row("a", 1), row("c", 5)];
        sort(&mut rows);
        let names: Vec<_> = rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
    }
}
