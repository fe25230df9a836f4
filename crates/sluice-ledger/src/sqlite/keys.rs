//! The SQLite statements behind the API keys (`ledger_api_keys`) and a key's spend. Writes go
//! through the writer's connection, reads through the reports' one; a budget amount is exact
//! decimal text like every amount in this backend.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::{decimal_column, to_decimal, SqliteStore};
use crate::error::LedgerError;
use crate::keys::{latest_uses, ApiKey, KeySpend, StoredKey, KEY_COLUMNS, KEY_COLUMN_COUNT};
use crate::row;

impl SqliteStore {
    pub async fn insert_key(&self, key: &ApiKey) -> Result<(), LedgerError> {
        let stored = StoredKey::from_key(key);
        self.write("insert_key", move |conn, url| {
            let sql = format!(
                "INSERT INTO ledger_api_keys ({KEY_COLUMNS}) VALUES ({}) \
                 ON CONFLICT (id) DO NOTHING",
                vec!["?"; KEY_COLUMN_COUNT].join(", ")
            );
            let inserted = conn
                .prepare_cached(&sql)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(values(&stored))))
                .map_err(|e| LedgerError::query(url, "insert_key", e))?;
            if inserted == 0 {
                return Err(LedgerError::KeyExists {
                    url: url.to_owned(),
                    id: stored.id,
                });
            }
            Ok(())
        })
        .await
    }

    pub async fn keys(&self) -> Result<Vec<ApiKey>, LedgerError> {
        let stored = self
            .read("keys", |conn| {
                let sql =
                    format!("SELECT {KEY_COLUMNS} FROM ledger_api_keys ORDER BY created_ms, id");
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map([], read_key)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        stored
            .into_iter()
            .map(|s| s.into_key().map_err(|e| self.error("keys", e)))
            .collect()
    }

    pub async fn key(&self, id: &str) -> Result<Option<ApiKey>, LedgerError> {
        let id = id.to_owned();
        let stored = self
            .read("key", move |conn| {
                let sql = format!("SELECT {KEY_COLUMNS} FROM ledger_api_keys WHERE id = ?1");
                conn.prepare_cached(&sql)?
                    .query_row([id], read_key)
                    .optional()
            })
            .await?;
        stored
            .map(|s| s.into_key().map_err(|e| self.error("key", e)))
            .transpose()
    }

    pub async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<bool, LedgerError> {
        let id = id.to_owned();
        self.write("revoke_key", move |conn, url| {
            // Every right-hand side reads the row as it was, so a second revocation keeps the
            // first time and leaves `updated_ms` alone.
            conn.prepare_cached(
                "UPDATE ledger_api_keys SET \
                 updated_ms = CASE WHEN revoked_ms IS NULL THEN ?2 ELSE updated_ms END, \
                 revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
            )
            .and_then(|mut s| s.execute((id, at_ms)))
            .map(|n| n > 0)
            .map_err(|e| LedgerError::query(url, "revoke_key", e))
        })
        .await
    }

    pub async fn update_key(&self, key: &ApiKey) -> Result<bool, LedgerError> {
        let s = StoredKey::from_key(key);
        self.write("update_key", move |conn, url| {
            let amount = s.budget_amount.map(|d| d.to_string());
            conn.prepare_cached(
                "UPDATE ledger_api_keys SET name = ?2, admin = ?3, rpm = ?4, tpm = ?5, \
                 budget_amount = ?6, budget_currency = ?7, budget_window = ?8, models = ?9, \
                 expires_ms = ?10, updated_ms = ?11 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    s.id,
                    s.name,
                    s.admin,
                    s.rpm,
                    s.tpm,
                    amount,
                    s.budget_currency,
                    s.budget_window,
                    s.models,
                    s.expires_ms,
                    s.updated_ms,
                ])
            })
            .map(|n| n > 0)
            .map_err(|e| LedgerError::query(url, "update_key", e))
        })
        .await
    }

    pub async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), LedgerError> {
        let uses = latest_uses(uses);
        if uses.is_empty() {
            return Ok(());
        }
        self.write("touch_keys", move |conn, url| {
            touch(conn, &uses).map_err(|e| LedgerError::query(url, "touch_keys", e))
        })
        .await
    }

    pub async fn key_spend(
        &self,
        key_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<KeySpend>, LedgerError> {
        let key_id = key_id.to_owned();
        self.read("key_spend", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT currency, decimal_sum(cost_usd), decimal_sum(cost_local), COUNT(*) \
                 FROM ledger_requests WHERE key_id = ?1 AND at_ms >= ?2 AND at_ms < ?3 \
                 GROUP BY currency ORDER BY currency",
            )?;
            let rows = stmt.query_map((key_id, since_ms, until_ms), |r| {
                Ok(KeySpend {
                    currency: r.get(0)?,
                    cost_usd: decimal_column(r, 1)?,
                    cost_local: decimal_column(r, 2)?,
                    requests: row::to_u64(r.get(3)?),
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn key_names(&self) -> Result<BTreeMap<String, String>, LedgerError> {
        self.read("key_names", |conn| {
            let mut stmt = conn.prepare_cached("SELECT id, name FROM ledger_api_keys")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    fn error(&self, op: &'static str, cause: String) -> LedgerError {
        LedgerError::query(&self.url, op, cause)
    }
}

/// Sets each key's `last_used_ms` to the later of the stored and the given time, in one
/// transaction.
fn touch(conn: &mut Connection, uses: &[(String, i64)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        // SQLite's two-argument MAX is NULL when either is: COALESCE first.
        let mut stmt = tx.prepare_cached(
            "UPDATE ledger_api_keys SET \
             last_used_ms = MAX(COALESCE(last_used_ms, ?2), ?2) WHERE id = ?1",
        )?;
        for (id, at) in uses {
            stmt.execute((id, at))?;
        }
    }
    tx.commit()
}

/// The values of a key in [`KEY_COLUMNS`] order.
fn values(k: &StoredKey) -> Vec<Value> {
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let int = |n: Option<i64>| n.map_or(Value::Null, Value::Integer);
    vec![
        Value::Text(k.id.clone()),
        Value::Text(k.name.clone()),
        Value::Text(k.secret_hash.clone()),
        Value::Integer(i64::from(k.admin)),
        int(k.rpm),
        int(k.tpm),
        text(&k.budget_amount.map(|d| d.to_string())),
        text(&k.budget_currency),
        text(&k.budget_window),
        text(&k.models),
        Value::Integer(k.created_ms),
        int(k.expires_ms),
        int(k.revoked_ms),
        int(k.last_used_ms),
        Value::Integer(k.updated_ms),
    ]
}

fn read_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredKey> {
    let amount = r.get_ref(6)?;
    let budget_amount = to_decimal(amount)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, amount.data_type(), e.into()))?;
    Ok(StoredKey {
        id: r.get(0)?,
        name: r.get(1)?,
        secret_hash: r.get(2)?,
        admin: r.get(3)?,
        rpm: r.get(4)?,
        tpm: r.get(5)?,
        budget_amount,
        budget_currency: r.get(7)?,
        budget_window: r.get(8)?,
        models: r.get(9)?,
        created_ms: r.get(10)?,
        expires_ms: r.get(11)?,
        revoked_ms: r.get(12)?,
        last_used_ms: r.get(13)?,
        updated_ms: r.get(14)?,
    })
}
