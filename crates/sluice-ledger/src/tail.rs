//! The tail of the ledger: finished requests, newest first, a page at a time, optionally only
//! one model's, provider's, key's or status's. Rows are ordered by when the request finished
//! (`finished_ms`, a column computed from the start and the duration, migration 4), then by
//! request id, and a page continues strictly after the last row of the previous one, so pages
//! neither overlap nor skip rows. Each filter has an index that starts with it.

use crate::row::Row;

/// The most rows one page holds.
pub const TAIL_MAX_ROWS: usize = 200;

/// Which finished requests to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TailQuery {
    /// Rows per page, 1 to [`TAIL_MAX_ROWS`] (clamped).
    pub limit: usize,
    /// Only rows strictly before this one in the order (the last row of the previous page).
    pub before: Option<TailCursor>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key_id: Option<String>,
    pub status: Option<String>,
}

/// A place in the tail's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCursor {
    pub finished_ms: i64,
    pub request_id: String,
}

/// One finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Unix ms: the start plus the duration, in whole milliseconds.
    pub finished_ms: i64,
    pub row: Row,
}

impl Finished {
    /// The cursor that continues after this row.
    pub fn cursor(&self) -> TailCursor {
        TailCursor {
            finished_ms: self.finished_ms,
            request_id: self.row.request_id.clone(),
        }
    }
}

/// The filters of a query that are set, as (column, value), in a fixed order.
pub(crate) fn filters(q: &TailQuery) -> Vec<(&'static str, &str)> {
    [
        ("model", &q.model),
        ("provider", &q.provider),
        ("key_id", &q.key_id),
        ("status", &q.status),
    ]
    .into_iter()
    .filter_map(|(column, value)| value.as_deref().map(|v| (column, v)))
    .collect()
}

/// The page size a query asks for, within bounds.
pub(crate) fn limit(q: &TailQuery) -> i64 {
    q.limit.clamp(1, TAIL_MAX_ROWS) as i64
}

/// The WHERE clause for the set filters and the cursor, with placeholders numbered from 1 as
/// `placeholder(n)` writes them (`?n` or `$n`), in the order: filters, then the cursor's time
/// and id. Column names are fixed strings, never input.
pub(crate) fn where_clause(q: &TailQuery, placeholder: impl Fn(usize) -> String) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut n = 0;
    for (column, _) in filters(q) {
        n += 1;
        parts.push(format!("{column} = {}", placeholder(n)));
    }
    if q.before.is_some() {
        parts.push(format!(
            "(finished_ms, request_id) < ({}, {})",
            placeholder(n + 1),
            placeholder(n + 2)
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", parts.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_where_clause_names_only_the_set_filters() {
        let mut q = TailQuery::default();
        assert_eq!(where_clause(&q, |n| format!("?{n}")), "");
        q.status = Some("ok".into());
        q.model = Some("m".into());
        q.before = Some(TailCursor {
            finished_ms: 5,
            request_id: "r".into(),
        });
        assert_eq!(
            where_clause(&q, |n| format!("${n}")),
            "WHERE model = $1 AND status = $2 AND (finished_ms, request_id) < ($3, $4)"
        );
        assert_eq!(limit(&q), 1);
        q.limit = 10_000;
        assert_eq!(limit(&q), TAIL_MAX_ROWS as i64);
    }
}
