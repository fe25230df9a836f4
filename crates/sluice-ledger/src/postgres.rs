//! The Postgres backend, shared by several gateway replicas.
//!
//! Two connections, each re-established when found closed: the writer's (one prepared
//! `INSERT ... SELECT FROM UNNEST(arrays)`, so a batch of any size is one statement and one
//! transaction) and the reports'. Money is `NUMERIC(28,12)`, summed by Postgres. The API
//! keys' statements are in `keys` and run on the reports' connection; the spend rollups' in
//! `rollup`, the finished-requests list in `tail`; TLS is in `tls`.

use std::borrow::Cow;
use std::sync::Arc;

use rust_decimal::Decimal;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Connection, NoTls, Socket, Statement};

use crate::error::{one_line, Chain, LedgerError};
use crate::migrations;
use crate::report::{self, UsageQuery, UsageRow};
use crate::row::{self, Row, COLUMNS};
use crate::url::PgTarget;

mod keys;
mod rollup;
mod tail;
mod tls;

use tls::Tls;

/// The advisory lock that serialises migrations across gateways ("sluiceld").
const MIGRATION_LOCK: i64 = 0x736c_7569_6365_6c64;

pub(crate) struct PgStore {
    url: String,
    config: Config,
    tls: Tls,
    reports: Mutex<Option<Arc<Client>>>,
    writer: Mutex<Option<Writer>>,
}

struct Writer {
    client: Client,
    insert: Statement,
}

impl PgStore {
    /// Connects and brings the schema up to date.
    pub async fn open(url: String, target: PgTarget) -> Result<Self, LedgerError> {
        let tls =
            Tls::new(target.ssl_mode, &target.roots).map_err(|e| LedgerError::connect(&url, e))?;
        let config = target.config;
        let mut client = connect(&config, &tls, &url).await?;
        migrate(&mut client, &url).await?;
        Ok(Self {
            url,
            config,
            tls,
            reports: Mutex::new(Some(Arc::new(client))),
            writer: Mutex::new(None),
        })
    }

    /// Inserts `rows` in one statement; a `request_id` already stored is left as it is. Any
    /// failure drops the writer's connection, so the next attempt starts on a fresh one.
    pub async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut slot = self.writer.lock().await;
        let writer = match slot.take() {
            Some(w) if !w.client.is_closed() => w,
            _ => {
                let client = connect(&self.config, &self.tls, &self.url).await?;
                let insert = client
                    .prepare(&insert_sql())
                    .await
                    .map_err(|e| self.error("insert", e))?;
                Writer { client, insert }
            }
        };
        let result = insert_rows(&writer, rows)
            .await
            .map(drop)
            .map_err(|e| self.error("insert", e));
        if result.is_ok() {
            *slot = Some(writer);
        }
        result
    }

    pub async fn usage(&self, q: UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
        let sql = format!(
            "SELECT {group} AS grp, COUNT(*), COALESCE(SUM(prompt_tokens), 0)::BIGINT, \
             COALESCE(SUM(completion_tokens), 0)::BIGINT, COALESCE(SUM(cost_usd), 0), \
             COUNT(*) FILTER (WHERE estimated), COUNT(*) FILTER (WHERE status <> 'ok') \
             FROM ledger_requests WHERE {filter} GROUP BY 1",
            group = q.by.postgres_expr(),
            filter = report::FILTER_POSTGRES,
        );
        let fail = |e| self.error("usage", e);
        let found = self
            .query("usage", &sql, &[&q.since_ms, &q.until_ms, &q.key_id])
            .await?;
        let mut rows = found
            .iter()
            .map(|r| {
                Ok(UsageRow {
                    group: r.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
                    requests: row::to_u64(r.try_get(1)?),
                    prompt_tokens: row::to_u64(r.try_get(2)?),
                    completion_tokens: row::to_u64(r.try_get(3)?),
                    cost_usd: r.try_get::<_, Decimal>(4)?.normalize(),
                    estimated_requests: row::to_u64(r.try_get(5)?),
                    errors: row::to_u64(r.try_get(6)?),
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(fail)?;
        report::sort(&mut rows);
        Ok(rows)
    }

    pub async fn count(&self) -> Result<u64, LedgerError> {
        let found = self
            .query("count", "SELECT COUNT(*) FROM ledger_requests", &[])
            .await?;
        let n = found
            .first()
            .map_or(Ok(0), |r| r.try_get(0))
            .map_err(|e| self.error("count", e))?;
        Ok(row::to_u64(n))
    }

    pub async fn totals_by_model_provider(
        &self,
        since_ms: Option<i64>,
    ) -> Result<Vec<(String, String, u64, u64)>, LedgerError> {
        let found = self
            .query(
                "totals",
                "SELECT model, provider, COALESCE(SUM(prompt_tokens), 0)::BIGINT, \
                 COALESCE(SUM(completion_tokens), 0)::BIGINT FROM ledger_requests \
                 WHERE provider IS NOT NULL AND ($1::BIGINT IS NULL OR at_ms >= $1) \
                 GROUP BY model, provider ORDER BY model, provider",
                &[&since_ms],
            )
            .await?;
        found
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    row::to_u64(r.try_get(2)?),
                    row::to_u64(r.try_get(3)?),
                ))
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.error("totals", e))
    }

    pub async fn get(&self, request_id: &str) -> Result<Option<Row>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM ledger_requests WHERE request_id = $1");
        let found = self.query("get", &sql, &[&request_id]).await?;
        found
            .first()
            .map(read_row)
            .transpose()
            .map_err(|e| self.error("get", e))
    }

    pub async fn get_by_client_id(&self, client_id: &str) -> Result<Vec<Row>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ledger_requests WHERE client_request_id = $1 \
             ORDER BY at_ms DESC, request_id DESC LIMIT {}",
            row::CLIENT_ID_MATCHES_MAX
        );
        let found = self
            .query("get_by_client_id", &sql, &[&text(client_id)])
            .await?;
        found
            .iter()
            .map(read_row)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error("get_by_client_id", e))
    }

    pub async fn ping(&self) -> Result<(), LedgerError> {
        self.query("ping", "SELECT 1", &[]).await.map(drop)
    }

    /// Runs a query on the reports' connection. If the server had closed it (a restart, a
    /// failover, an idle timeout) the query runs once more on a new one.
    async fn query(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, LedgerError> {
        let client = self.client().await?;
        match client.query(sql, params).await {
            Ok(rows) => Ok(rows),
            Err(e) if client.is_closed() || connection_lost(&e) => {
                self.forget(&client).await;
                let client = self.client().await?;
                client
                    .query(sql, params)
                    .await
                    .map_err(|e| self.error(op, e))
            }
            Err(e) => Err(self.error(op, e)),
        }
    }

    /// Runs a statement that changes rows on the reports' connection and returns how many it
    /// changed. With `repeatable`, a statement that failed because the server had closed the
    /// connection runs once more on a new one, as in [`query`](Self::query); without it (an
    /// insert, whose first run may have committed before the connection went) it does not.
    async fn execute(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        repeatable: bool,
    ) -> Result<u64, LedgerError> {
        let client = self.client().await?;
        match client.execute(sql, params).await {
            Ok(n) => Ok(n),
            Err(e) if client.is_closed() || connection_lost(&e) => {
                self.forget(&client).await;
                if !repeatable {
                    return Err(self.error(op, e));
                }
                let client = self.client().await?;
                client
                    .execute(sql, params)
                    .await
                    .map_err(|e| self.error(op, e))
            }
            Err(e) => Err(self.error(op, e)),
        }
    }

    /// The reports' connection, reconnected if it was lost.
    async fn client(&self) -> Result<Arc<Client>, LedgerError> {
        let mut slot = self.reports.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(connect(&self.config, &self.tls, &self.url).await?);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    /// Stops reusing `client` (the server ended its session; the client may not know yet).
    async fn forget(&self, client: &Arc<Client>) {
        let mut slot = self.reports.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
            *slot = None;
        }
    }

    fn error(&self, op: &'static str, e: tokio_postgres::Error) -> LedgerError {
        LedgerError::query(&self.url, op, Chain(&e))
    }
}

/// Whether `e` says the session is over: closed, a FATAL from the server, or an operator
/// intervention (SQLSTATE class 57: shutdown, restart, `pg_terminate_backend`).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_some_and(|c| c.code().starts_with("57"))
        || e.as_db_error().is_some_and(|d| d.severity() == "FATAL")
}

/// Opens a connection, over TLS as the URL's `sslmode` says; its IO runs on a task of its own
/// that ends when the client drops.
async fn connect(config: &Config, tls: &Tls, url: &str) -> Result<Client, LedgerError> {
    let fail = |e: tokio_postgres::Error| LedgerError::connect(url, Chain(&e));
    let Some(connector) = tls.connector() else {
        return config
            .connect(NoTls)
            .await
            .map(|c| run(c, url))
            .map_err(fail);
    };
    match config.connect(connector).await {
        Ok(connected) => Ok(run(connected, url)),
        Err(e) if tls.falls_back(&e) => {
            tracing::warn!(ledger = %url, error = %one_line(Chain(&e)), "ledger TLS handshake failed; sslmode=prefer connects without TLS");
            let mut plain = config.clone();
            plain.ssl_mode(tokio_postgres::config::SslMode::Disable);
            plain
                .connect(NoTls)
                .await
                .map(|c| run(c, url))
                .map_err(fail)
        }
        Err(e) => Err(fail(e)),
    }
}

/// Runs a new connection's IO on a task of its own, and hands back its client.
fn run<T>((client, connection): (Client, Connection<Socket, T>), url: &str) -> Client
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let url = url.to_owned();
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(ledger = %url, error = %one_line(Chain(&e)), "ledger connection lost");
        }
    });
    client
}

/// Applies every missing migration in one transaction, holding an advisory lock so gateways
/// starting together take turns.
async fn migrate(client: &mut Client, url: &str) -> Result<(), LedgerError> {
    let fail = |step: &str| {
        let step = step.to_owned();
        move |e: tokio_postgres::Error| LedgerError::migrate(url, step, Chain(&e))
    };
    let tx = client.transaction().await.map_err(fail("start"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1::BIGINT)",
        &[&MIGRATION_LOCK],
    )
    .await
    .map_err(fail("lock"))?;
    // `CREATE TABLE IF NOT EXISTS` on every open would otherwise send a NOTICE ("already
    // exists, skipping") that tokio-postgres logs: noise at every start, and a second stderr
    // line for the command-line tools that promise one.
    tx.batch_execute("SET LOCAL client_min_messages TO WARNING")
        .await
        .map_err(fail("start"))?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         applied_ms BIGINT NOT NULL)",
        migrations::TABLE
    ))
    .await
    .map_err(fail(migrations::TABLE))?;
    let applied: Vec<i64> = tx
        .query(&format!("SELECT version FROM {}", migrations::TABLE), &[])
        .await
        .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect())
        .map_err(fail(migrations::TABLE))?;
    migrations::warn_unknown(migrations::POSTGRES, &applied, url);
    let record = format!(
        "INSERT INTO {} (version, name, applied_ms) VALUES ($1, $2, $3)",
        migrations::TABLE
    );
    for m in migrations::to_apply(migrations::POSTGRES, &applied) {
        tx.batch_execute(m.sql).await.map_err(fail(&m.label()))?;
        tx.execute(&record, &[&m.version, &m.name, &sluice_types::unix_ms()])
            .await
            .map_err(fail(&m.label()))?;
    }
    tx.commit().await.map_err(fail("commit"))
}

/// One statement: the rows, then the rows stored now (not those whose id was stored before)
/// added to both rollup tables (`rollup::upsert_sql`), so all three change together.
fn insert_sql() -> String {
    format!(
        "WITH new AS (INSERT INTO ledger_requests ({COLUMNS}) SELECT * FROM UNNEST(\
         $1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
         $8::INTEGER[], $9::BOOLEAN[], $10::BIGINT[], $11::BIGINT[], $12::BOOLEAN[], \
         $13::NUMERIC[], $14::NUMERIC[], $15::TEXT[], $16::DOUBLE PRECISION[], \
         $17::DOUBLE PRECISION[], $18::INTEGER[], $19::TEXT[], $20::TEXT[]) \
         ON CONFLICT (request_id) DO NOTHING RETURNING {}), \
         minutes AS ({}) {}",
        rollup::RETURNED,
        rollup::upsert_sql(
            "ledger_rollup_minutes",
            "minute_ms",
            crate::rollup::MINUTE_MS
        ),
        rollup::upsert_sql("ledger_rollup_days", "day_ms", crate::rollup::DAY_MS),
    )
}

async fn insert_rows(w: &Writer, rows: &[Row]) -> Result<u64, tokio_postgres::Error> {
    fn col<'a, T>(rows: &'a [Row], f: impl Fn(&'a Row) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let request_id = col(rows, |r| text(&r.request_id));
    let at_ms = col(rows, |r| r.at_ms);
    let key_id = col(rows, |r| r.key_id.as_deref().map(text));
    let model = col(rows, |r| text(&r.model));
    let provider = col(rows, |r| r.provider.as_deref().map(text));
    let provider_model = col(rows, |r| r.provider_model.as_deref().map(text));
    let status = col(rows, |r| text(&r.status));
    let http_status = col(rows, |r| i32::from(r.http_status));
    let stream = col(rows, |r| r.stream);
    let prompt_tokens = col(rows, |r| row::to_i64(r.prompt_tokens));
    let completion_tokens = col(rows, |r| row::to_i64(r.completion_tokens));
    let estimated = col(rows, |r| r.estimated);
    let cost_usd = col(rows, |r| money(r.cost_usd));
    let cost_local = col(rows, |r| money(r.cost_local));
    let currency = col(rows, |r| text(&r.currency));
    let ttft_ms = col(rows, |r| row::finite(r.ttft_ms));
    let duration_ms = col(rows, |r| row::finite(Some(r.duration_ms)).unwrap_or(0.0));
    let attempts = col(rows, |r| i32::try_from(r.attempts).unwrap_or(i32::MAX));
    let error = col(rows, |r| r.error.as_deref().map(text));
    let client_request_id = col(rows, |r| r.client_request_id.as_deref().map(text));
    w.client
        .execute(
            &w.insert,
            &[
                &request_id,
                &at_ms,
                &key_id,
                &model,
                &provider,
                &provider_model,
                &status,
                &http_status,
                &stream,
                &prompt_tokens,
                &completion_tokens,
                &estimated,
                &cost_usd,
                &cost_local,
                &currency,
                &ttft_ms,
                &duration_ms,
                &attempts,
                &error,
                &client_request_id,
            ],
        )
        .await
}

/// Text as Postgres accepts it: without NUL characters, which `TEXT` cannot hold.
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', ""))
    } else {
        Cow::Borrowed(s)
    }
}

/// An amount as `NUMERIC(28,12)` holds it: 12 decimal places, at most 16 integer digits (a
/// larger amount is a bug upstream; clamping keeps it from blocking every later batch).
fn money(d: Decimal) -> Decimal {
    let max = Decimal::from_i128_with_scale(9_999_999_999_999_999_999_999_999_999, 12);
    let d = d.round_dp(12);
    if d.abs() > max {
        tracing::warn!(amount = %d, "ledger amount beyond NUMERIC(28,12), clamped");
        if d.is_sign_negative() {
            -max
        } else {
            max
        }
    } else {
        d
    }
}

fn read_row(r: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    Ok(Row {
        request_id: r.try_get(0)?,
        at_ms: r.try_get(1)?,
        key_id: r.try_get(2)?,
        model: r.try_get(3)?,
        provider: r.try_get(4)?,
        provider_model: r.try_get(5)?,
        status: r.try_get(6)?,
        http_status: u16::try_from(r.try_get::<_, i32>(7)?).unwrap_or(0),
        stream: r.try_get(8)?,
        prompt_tokens: row::to_u64(r.try_get(9)?),
        completion_tokens: row::to_u64(r.try_get(10)?),
        estimated: r.try_get(11)?,
        cost_usd: r.try_get::<_, Decimal>(12)?.normalize(),
        cost_local: r.try_get::<_, Decimal>(13)?.normalize(),
        currency: r.try_get(14)?,
        ttft_ms: r.try_get(15)?,
        duration_ms: r.try_get(16)?,
        attempts: u32::try_from(r.try_get::<_, i32>(17)?).unwrap_or(0),
        error: r.try_get(18)?,
        client_request_id: r.try_get(19)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_binds_one_array_per_column() {
        let sql = insert_sql();
        assert_eq!(sql.matches("[]").count(), row::COLUMN_COUNT);
        assert!(sql.contains(&format!("${}::", row::COLUMN_COUNT)));
    }

    #[test]
    fn text_loses_only_nul() {
        assert!(matches!(text("plain"), Cow::Borrowed("plain")));
        assert_eq!(text("a\0b"), "ab");
    }

    #[test]
    fn money_fits_numeric_28_12() {
        let d: Decimal = "12345.678901234567".parse().unwrap();
        assert_eq!(money(d), d);
        let fine: Decimal = "0.1234567890123456".parse().unwrap();
        assert_eq!(money(fine).to_string(), "0.123456789012");
        let huge = Decimal::from(10_i64.pow(17));
        assert_eq!(money(huge).to_string(), "9999999999999999.999999999999");
        assert_eq!(money(-huge).to_string(), "-9999999999999999.999999999999");
    }
}
