//! The SQLite statements of the spend rollups: adding a batch of new rows to them (inside the
//! insert's transaction), and spend since a time read from them or, for checks and
//! benchmarks, from the request rows themselves.

use rusqlite::types::Value;
use rusqlite::Connection;

use super::{decimal_column, SqliteStore};
use crate::error::LedgerError;
use crate::rollup::{self, aggregate, Plan, SpendRow, Sums, ABSENT, DAY_MS, MINUTE_MS};
use crate::row::{self, Row};

/// The two rollup tables: name, bucket column, bucket width.
const TABLES: [(&str, &str, i64); 2] = [
    ("ledger_rollup_minutes", "minute_ms", MINUTE_MS),
    ("ledger_rollup_days", "day_ms", DAY_MS),
];

/// Adds `rows` (just inserted) to both rollup tables.
pub(super) fn add(tx: &Connection, rows: &[&Row]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    for (table, column, width) in TABLES {
        let sql = format!(
            "INSERT INTO {table} ({column}, model, provider, key_id, currency, requests, \
             prompt_tokens, completion_tokens, cost_usd, cost_local) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT ({column}, model, provider, key_id, currency) DO UPDATE SET \
             requests = requests + excluded.requests, \
             prompt_tokens = prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = completion_tokens + excluded.completion_tokens, \
             cost_usd = decimal_add(cost_usd, excluded.cost_usd), \
             cost_local = decimal_add(cost_local, excluded.cost_local)"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        for (k, s) in aggregate(rows.iter().copied(), width) {
            stmt.execute(rusqlite::params![
                k.start_ms,
                k.model,
                k.provider,
                k.key_id,
                k.currency,
                row::to_i64(s.requests),
                row::to_i64(s.prompt_tokens),
                row::to_i64(s.completion_tokens),
                s.cost_usd.normalize().to_string(),
                s.cost_local.normalize().to_string(),
            ])?;
        }
    }
    Ok(())
}

/// The SELECTs of a plan, as one UNION ALL, and their parameters.
fn plan_sql(plan: &Plan) -> (String, Vec<Value>) {
    let mut parts = Vec::new();
    let mut params = Vec::new();
    let mut part = |table: &str, column: &str, start: i64, end: Option<i64>| {
        let n = params.len();
        parts.push(format!(
            "SELECT model, provider, key_id, currency, requests, prompt_tokens, \
             completion_tokens, cost_usd, cost_local FROM {table} \
             WHERE {column} >= ?{} AND {column} < ?{}",
            n + 1,
            n + 2
        ));
        params.push(Value::Integer(start));
        params.push(Value::Integer(end.unwrap_or(i64::MAX)));
    };
    for (start, end) in &plan.minutes {
        part(TABLES[0].0, TABLES[0].1, *start, Some(*end));
    }
    if let Some((start, end)) = plan.days {
        part(TABLES[1].0, TABLES[1].1, start, end);
    }
    (parts.join(" UNION ALL "), params)
}

fn read_spend(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpendRow> {
    let sums = Sums {
        requests: row::to_u64(r.get(4)?),
        prompt_tokens: row::to_u64(r.get(5)?),
        completion_tokens: row::to_u64(r.get(6)?),
        cost_usd: decimal_column(r, 7)?,
        cost_local: decimal_column(r, 8)?,
    };
    Ok(SpendRow::from_stored(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        sums,
    ))
}

impl SqliteStore {
    pub async fn spend(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> Result<Vec<SpendRow>, LedgerError> {
        let plan = rollup::plan(since_ms, until_ms);
        if plan == Plan::default() {
            return Ok(Vec::new());
        }
        let (inner, params) = plan_sql(&plan);
        let sql = format!(
            "SELECT model, provider, key_id, currency, SUM(requests), SUM(prompt_tokens), \
             SUM(completion_tokens), decimal_sum(cost_usd), decimal_sum(cost_local) \
             FROM ({inner}) GROUP BY model, provider, key_id, currency"
        );
        let mut rows = self
            .read("spend", move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(params), read_spend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rollup::sort(&mut rows);
        Ok(rows)
    }

    pub async fn spend_from_rows(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> Result<Vec<SpendRow>, LedgerError> {
        let since = rollup::bucket(since_ms.max(0), MINUTE_MS);
        let until = until_ms.map_or(i64::MAX, |u| rollup::bucket(u.max(0), MINUTE_MS));
        let mut rows = self
            .read("spend_from_rows", move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT model, COALESCE(provider, '{ABSENT}'), COALESCE(key_id, '{ABSENT}'), \
                     currency, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), \
                     decimal_sum(cost_usd), decimal_sum(cost_local) FROM ledger_requests \
                     WHERE at_ms >= ?1 AND at_ms < ?2 GROUP BY 1, 2, 3, 4"
                ))?;
                let rows = stmt.query_map((since, until), read_spend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rollup::sort(&mut rows);
        Ok(rows)
    }
}
