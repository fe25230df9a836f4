//! The SQLite backend: one file in WAL mode with `synchronous=NORMAL`, created if missing.
//!
//! Two connections: the writer's and the reports'. WAL lets reports read while the writer
//! writes. SQLite calls block, so each runs on tokio's blocking pool. Money is stored as
//! decimal text and summed by `decimal_sum`, an aggregate implemented here over `Decimal`
//! (and `decimal_add`, its two-argument form). The API keys' statements are in `keys`, the
//! spend rollups' in `rollup`, the finished-requests list in `tail`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;

use crate::error::LedgerError;
use crate::migrations::{self, Migration};
use crate::report::{self, UsageQuery, UsageRow};
use crate::row::{self, Row, COLUMNS, COLUMN_COUNT};

mod keys;
mod rollup;
mod tail;

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows per INSERT statement (20 parameters each, well under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 500;

pub(crate) struct SqliteStore {
    url: String,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and brings its schema up to date.
    pub async fn open(url: String, path: PathBuf) -> Result<Self, LedgerError> {
        let u = url.clone();
        let (writer, reader) = blocking(&url, "open", move || {
            let mut writer = open_connection(&path).map_err(|e| LedgerError::connect(&u, e))?;
            // The writer sums money too: the rollups, and the migration that fills them.
            add_functions(&writer).map_err(|e| LedgerError::connect(&u, e))?;
            migrate(&mut writer, &u)?;
            let reader = open_connection(&path).map_err(|e| LedgerError::connect(&u, e))?;
            add_functions(&reader).map_err(|e| LedgerError::connect(&u, e))?;
            Ok((writer, reader))
        })
        .await?;
        Ok(Self {
            url,
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Inserts `rows` in one transaction; a `request_id` already stored is left as it is.
    pub async fn insert(&self, rows: &[Row]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        let conn = Arc::clone(&self.writer);
        let url = self.url.clone();
        blocking(&self.url, "insert", move || {
            let mut conn = lock(&conn);
            insert_rows(&mut conn, &rows).map_err(|e| LedgerError::query(&url, "insert", e))
        })
        .await
    }

    pub async fn usage(&self, q: UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
        let sql = format!(
            "SELECT {group} AS grp, COUNT(*), COALESCE(SUM(prompt_tokens), 0), \
             COALESCE(SUM(completion_tokens), 0), decimal_sum(cost_usd), \
             COALESCE(SUM(estimated), 0), COALESCE(SUM(status <> 'ok'), 0) \
             FROM ledger_requests WHERE {filter} GROUP BY grp",
            group = q.by.sqlite_expr(),
            filter = report::FILTER_SQLITE,
        );
        let mut rows: Vec<UsageRow> = self
            .read("usage", move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map((q.since_ms, q.until_ms, q.key_id), |r| {
                    Ok(UsageRow {
                        group: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        requests: row::to_u64(r.get(1)?),
                        prompt_tokens: row::to_u64(r.get(2)?),
                        completion_tokens: row::to_u64(r.get(3)?),
                        cost_usd: decimal_column(r, 4)?,
                        estimated_requests: row::to_u64(r.get(5)?),
                        errors: row::to_u64(r.get(6)?),
                    })
                })?;
                rows.collect()
            })
            .await?;
        report::sort(&mut rows);
        Ok(rows)
    }

    pub async fn count(&self) -> Result<u64, LedgerError> {
        self.read("count", |conn| {
            conn.query_row("SELECT COUNT(*) FROM ledger_requests", [], |r| {
                r.get(0).map(row::to_u64)
            })
        })
        .await
    }

    pub async fn totals_by_model_provider(
        &self,
        since_ms: Option<i64>,
    ) -> Result<Vec<(String, String, u64, u64)>, LedgerError> {
        self.read("totals", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT model, provider, COALESCE(SUM(prompt_tokens), 0), \
                 COALESCE(SUM(completion_tokens), 0) FROM ledger_requests \
                 WHERE provider IS NOT NULL AND (?1 IS NULL OR at_ms >= ?1) \
                 GROUP BY model, provider ORDER BY model, provider",
            )?;
            let rows = stmt.query_map([since_ms], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    row::to_u64(r.get(2)?),
                    row::to_u64(r.get(3)?),
                ))
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn get(&self, request_id: &str) -> Result<Option<Row>, LedgerError> {
        let id = request_id.to_owned();
        self.read("get", move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM ledger_requests WHERE request_id = ?1");
            conn.prepare_cached(&sql)?
                .query_row([id], read_row)
                .optional()
        })
        .await
    }

    pub async fn get_by_client_id(&self, client_id: &str) -> Result<Vec<Row>, LedgerError> {
        let id = client_id.to_owned();
        self.read("get_by_client_id", move |conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM ledger_requests WHERE client_request_id = ?1 \
                 ORDER BY at_ms DESC, request_id DESC LIMIT {}",
                row::CLIENT_ID_MATCHES_MAX
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([id], read_row)?;
            rows.collect()
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), LedgerError> {
        self.read("ping", |conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    /// Runs `f` on the report connection, on the blocking pool.
    async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.reader);
        let url = self.url.clone();
        blocking(&self.url, op, move || {
            f(&lock(&conn)).map_err(|e| LedgerError::query(&url, op, e))
        })
        .await
    }

    /// Runs `f` on the writer's connection, on the blocking pool (the rare writes other than
    /// request rows: API keys).
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T, LedgerError> + Send + 'static,
    {
        let conn = Arc::clone(&self.writer);
        let url = self.url.clone();
        blocking(&self.url, op, move || f(&mut lock(&conn), &url)).await
    }

    #[cfg(test)]
    fn pragma(&self, name: &str) -> String {
        let conn = lock(&self.writer);
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            Value::Text(s) => s,
            Value::Integer(i) => i.to_string(),
            other => format!("{other:?}"),
        })
        .unwrap()
    }
}

/// Runs blocking SQLite work off the async threads.
async fn blocking<T, F>(url: &str, op: &'static str, f: F) -> Result<T, LedgerError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LedgerError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(LedgerError::query(url, op, e)))
}

/// A connection left behind by a panic is still a valid connection.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_connection(path: &Path) -> Result<Connection, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(format!("directory {} does not exist", dir.display()));
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let setup = || -> rusqlite::Result<(Connection, String)> {
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok((conn, mode))
    };
    let (conn, mode) = setup().map_err(|e| format!("{}: {e}", path.display()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!(
            "{}: cannot use WAL mode (journal mode is {mode})",
            path.display()
        ));
    }
    Ok(conn)
}

/// Applies every missing migration in one IMMEDIATE transaction, so gateways opening the
/// same file at once take turns.
fn migrate(conn: &mut Connection, url: &str) -> Result<(), LedgerError> {
    let table_sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_ms INTEGER NOT NULL)",
        migrations::TABLE
    );
    let fail = |step: &str| {
        let step = step.to_owned();
        move |e: rusqlite::Error| LedgerError::migrate(url, step, e)
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail("start"))?;
    tx.execute_batch(&table_sql)
        .map_err(fail(migrations::TABLE))?;
    let applied: Vec<i64> = tx
        .prepare(&format!("SELECT version FROM {}", migrations::TABLE))
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(fail(migrations::TABLE))?;
    migrations::warn_unknown(migrations::SQLITE, &applied, url);
    for m in migrations::to_apply(migrations::SQLITE, &applied) {
        apply(&tx, m).map_err(fail(&m.label()))?;
    }
    tx.commit().map_err(fail("commit"))
}

fn apply(conn: &Connection, m: &Migration) -> rusqlite::Result<()> {
    conn.execute_batch(m.sql)?;
    conn.execute(
        &format!(
            "INSERT INTO {} (version, name, applied_ms) VALUES (?1, ?2, ?3)",
            migrations::TABLE
        ),
        (m.version, m.name, sluice_types::unix_ms()),
    )?;
    Ok(())
}

/// Inserts the rows and adds the ones stored now (not those whose id was stored before) to
/// the rollups, in one transaction.
fn insert_rows(conn: &mut Connection, rows: &[Row]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut stored: HashSet<String> = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut stmt = tx.prepare_cached(&insert_sql(chunk.len()))?;
        let mut values = Vec::with_capacity(chunk.len() * COLUMN_COUNT);
        for r in chunk {
            push_values(&mut values, r);
        }
        let mut ids = stmt.query(rusqlite::params_from_iter(values))?;
        while let Some(id) = ids.next()? {
            stored.insert(id.get(0)?);
        }
    }
    // Taking each id out once also leaves out a second row with the same id in this batch,
    // which the insert skipped.
    let new: Vec<&Row> = rows
        .iter()
        .filter(|r| stored.remove(&r.request_id))
        .collect();
    rollup::add(&tx, &new)?;
    tx.commit()
}

fn insert_sql(rows: usize) -> String {
    let one = format!("({})", vec!["?"; COLUMN_COUNT].join(", "));
    format!(
        "INSERT INTO ledger_requests ({COLUMNS}) VALUES {} ON CONFLICT (request_id) DO NOTHING \
         RETURNING request_id",
        vec![one; rows].join(", ")
    )
}

fn push_values(out: &mut Vec<Value>, r: &Row) {
    let text = |s: &str| Value::Text(s.to_owned());
    let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
    out.extend([
        text(&r.request_id),
        Value::Integer(r.at_ms),
        opt(&r.key_id),
        text(&r.model),
        opt(&r.provider),
        opt(&r.provider_model),
        text(&r.status),
        Value::Integer(i64::from(r.http_status)),
        Value::Integer(i64::from(r.stream)),
        Value::Integer(row::to_i64(r.prompt_tokens)),
        Value::Integer(row::to_i64(r.completion_tokens)),
        Value::Integer(i64::from(r.estimated)),
        Value::Text(r.cost_usd.to_string()),
        Value::Text(r.cost_local.to_string()),
        text(&r.currency),
        row::finite(r.ttft_ms).map_or(Value::Null, Value::Real),
        Value::Real(row::finite(Some(r.duration_ms)).unwrap_or(0.0)),
        Value::Integer(i64::from(r.attempts)),
        opt(&r.error),
        opt(&r.client_request_id),
    ]);
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        request_id: r.get(0)?,
        at_ms: r.get(1)?,
        key_id: r.get(2)?,
        model: r.get(3)?,
        provider: r.get(4)?,
        provider_model: r.get(5)?,
        status: r.get(6)?,
        http_status: u16::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
        stream: r.get(8)?,
        prompt_tokens: row::to_u64(r.get(9)?),
        completion_tokens: row::to_u64(r.get(10)?),
        estimated: r.get(11)?,
        cost_usd: decimal_column(r, 12)?,
        cost_local: decimal_column(r, 13)?,
        currency: r.get(14)?,
        ttft_ms: r.get(15)?,
        duration_ms: r.get(16)?,
        attempts: u32::try_from(r.get::<_, i64>(17)?).unwrap_or(u32::MAX),
        error: r.get(18)?,
        client_request_id: r.get(19)?,
    })
}

/// A money column: decimal text (integers are accepted too, REAL never is).
fn decimal_column(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Decimal> {
    let value = r.get_ref(i)?;
    to_decimal(value)
        .map(|d| d.unwrap_or_default().normalize())
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), e.into()))
}

fn to_decimal(value: ValueRef<'_>) -> Result<Option<Decimal>, String> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(Decimal::from(i))),
        ValueRef::Text(t) => {
            let s = std::str::from_utf8(t).map_err(|e| e.to_string())?;
            Decimal::from_str(s)
                .map(Some)
                .map_err(|e| format!("{s:?} is not a decimal: {e}"))
        }
        ValueRef::Real(_) | ValueRef::Blob(_) => {
            Err("money must be stored as decimal text".to_owned())
        }
    }
}

/// Adds `decimal_sum` and `decimal_add` to a connection.
fn add_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_aggregate_function("decimal_sum", 1, flags, DecimalSum)?;
    conn.create_scalar_function("decimal_add", 2, flags, |ctx| {
        let a = to_decimal(ctx.get_raw(0)).map_err(user_error)?;
        let b = to_decimal(ctx.get_raw(1)).map_err(user_error)?;
        a.unwrap_or_default()
            .checked_add(b.unwrap_or_default())
            .map(|sum| sum.normalize().to_string())
            .ok_or_else(|| user_error("decimal_add overflowed"))
    })
}

/// `decimal_sum(x)`: the exact sum of decimal text values, as text ("0" over no rows).
struct DecimalSum;

impl Aggregate<Decimal, String> for DecimalSum {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Decimal> {
        Ok(Decimal::ZERO)
    }

    fn step(&self, ctx: &mut Context<'_>, sum: &mut Decimal) -> rusqlite::Result<()> {
        let value = to_decimal(ctx.get_raw(0)).map_err(user_error)?;
        if let Some(v) = value {
            *sum = sum
                .checked_add(v)
                .ok_or_else(|| user_error("decimal_sum overflowed"))?;
        }
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, sum: Option<Decimal>) -> rusqlite::Result<String> {
        Ok(sum.unwrap_or_default().to_string())
    }
}

fn user_error(message: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(message.into().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wal_and_synchronous_normal_on_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let store = SqliteStore::open("sqlite://l.db".into(), path)
            .await
            .unwrap();
        assert_eq!(store.pragma("journal_mode"), "wal");
        // NORMAL is 1.
        assert_eq!(store.pragma("synchronous"), "1");
        let reader = lock(&store.reader);
        let sync: i64 = reader
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1);
    }

    #[test]
    fn decimal_sum_is_exact() {
        let conn = Connection::open_in_memory().unwrap();
        conn.create_aggregate_function("decimal_sum", 1, FunctionFlags::SQLITE_UTF8, DecimalSum)
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x); INSERT INTO t VALUES ('0.1'), ('0.2'), (NULL), ('12345.678901234567');",
        )
        .unwrap();
        let sum: String = conn
            .query_row("SELECT decimal_sum(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, "12345.978901234567");
        let none: String = conn
            .query_row("SELECT decimal_sum(x) FROM t WHERE 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(none, "0");
        conn.execute("INSERT INTO t VALUES (1.5)", []).unwrap();
        let err = conn
            .query_row("SELECT decimal_sum(x) FROM t", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap_err();
        assert!(err.to_string().contains("decimal text"), "{err}");
    }

    #[test]
    fn insert_sql_has_a_placeholder_per_value() {
        let sql = insert_sql(3);
        assert_eq!(sql.matches('?').count(), 3 * COLUMN_COUNT);
    }
}
