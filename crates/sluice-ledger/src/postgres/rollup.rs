//! The Postgres statements of the spend rollups: the upserts that the insert statement runs
//! on the rows it stored, and spend since a time read from the rollups or, for checks and
//! benchmarks, from the request rows themselves.

use rust_decimal::Decimal;
use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::error::LedgerError;
use crate::rollup::{self, Plan, SpendRow, Sums, ABSENT, MINUTE_MS};
use crate::row;

/// The columns the insert returns for the rollups.
pub(super) const RETURNED: &str =
    "at_ms, model, provider, key_id, currency, prompt_tokens, completion_tokens, cost_usd, \
     cost_local";

/// Adds the rows of `new` (the insert's RETURNING) to `table`, grouped by bucket of
/// `width_ms`, in key order so that replicas inserting at once lock rollup rows in the same
/// order.
pub(super) fn upsert_sql(table: &str, column: &str, width_ms: i64) -> String {
    format!(
        "INSERT INTO {table} AS r ({column}, model, provider, key_id, currency, requests, \
         prompt_tokens, completion_tokens, cost_usd, cost_local) \
         SELECT (at_ms / {width_ms}) * {width_ms}, model, COALESCE(provider, '{ABSENT}'), \
         COALESCE(key_id, '{ABSENT}'), currency, COUNT(*), SUM(prompt_tokens)::BIGINT, \
         SUM(completion_tokens)::BIGINT, SUM(cost_usd), SUM(cost_local) FROM new \
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 \
         ON CONFLICT ({column}, model, provider, key_id, currency) DO UPDATE SET \
         requests = r.requests + EXCLUDED.requests, \
         prompt_tokens = r.prompt_tokens + EXCLUDED.prompt_tokens, \
         completion_tokens = r.completion_tokens + EXCLUDED.completion_tokens, \
         cost_usd = r.cost_usd + EXCLUDED.cost_usd, \
         cost_local = r.cost_local + EXCLUDED.cost_local"
    )
}

/// The SELECTs of a plan, as one UNION ALL, and their parameters.
fn plan_sql(plan: &Plan) -> (String, Vec<i64>) {
    let mut parts = Vec::new();
    let mut params = Vec::new();
    let mut part = |table: &str, column: &str, start: i64, end: Option<i64>| {
        let n = params.len();
        parts.push(format!(
            "SELECT model, provider, key_id, currency, requests, prompt_tokens, \
             completion_tokens, cost_usd, cost_local FROM {table} \
             WHERE {column} >= ${} AND {column} < ${}",
            n + 1,
            n + 2
        ));
        params.push(start);
        params.push(end.unwrap_or(i64::MAX));
    };
    for (start, end) in &plan.minutes {
        part("ledger_rollup_minutes", "minute_ms", *start, Some(*end));
    }
    if let Some((start, end)) = plan.days {
        part("ledger_rollup_days", "day_ms", start, end);
    }
    (parts.join(" UNION ALL "), params)
}

fn read_spend(r: &tokio_postgres::Row) -> Result<SpendRow, tokio_postgres::Error> {
    let sums = Sums {
        requests: row::to_u64(r.try_get(4)?),
        prompt_tokens: row::to_u64(r.try_get(5)?),
        completion_tokens: row::to_u64(r.try_get(6)?),
        cost_usd: r.try_get::<_, Decimal>(7)?,
        cost_local: r.try_get::<_, Decimal>(8)?,
    };
    Ok(SpendRow::from_stored(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        sums,
    ))
}

impl PgStore {
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
            "SELECT model, provider, key_id, currency, SUM(requests)::BIGINT, \
             SUM(prompt_tokens)::BIGINT, SUM(completion_tokens)::BIGINT, SUM(cost_usd), \
             SUM(cost_local) FROM ({inner}) AS spans GROUP BY 1, 2, 3, 4"
        );
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.read_spend("spend", &sql, &params).await
    }

    pub async fn spend_from_rows(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> Result<Vec<SpendRow>, LedgerError> {
        let since = rollup::bucket(since_ms.max(0), MINUTE_MS);
        let until = until_ms.map_or(i64::MAX, |u| rollup::bucket(u.max(0), MINUTE_MS));
        let sql = format!(
            "SELECT model, COALESCE(provider, '{ABSENT}'), COALESCE(key_id, '{ABSENT}'), \
             currency, COUNT(*), SUM(prompt_tokens)::BIGINT, SUM(completion_tokens)::BIGINT, \
             SUM(cost_usd), SUM(cost_local) FROM ledger_requests \
             WHERE at_ms >= $1 AND at_ms < $2 GROUP BY 1, 2, 3, 4"
        );
        self.read_spend("spend_from_rows", &sql, &[&since, &until])
            .await
    }

    async fn read_spend(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<SpendRow>, LedgerError> {
        let found = self.query(op, sql, params).await?;
        let mut rows = found
            .iter()
            .map(read_spend)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(op, e))?;
        rollup::sort(&mut rows);
        Ok(rows)
    }
}
