//! The Postgres statements behind the API keys (`ledger_api_keys`) and a key's spend, on the
//! reports' connection. A budget amount is an unconstrained `NUMERIC`, so it reads back
//! exactly as written; `touch_keys` is one `UPDATE ... FROM UNNEST(arrays)`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::PgStore;
use crate::error::LedgerError;
use crate::keys::{latest_uses, ApiKey, KeySpend, StoredKey, KEY_COLUMNS};
use crate::row;

impl PgStore {
    pub async fn insert_key(&self, key: &ApiKey) -> Result<(), LedgerError> {
        let k = StoredKey::from_key(key);
        let sql = format!(
            "INSERT INTO ledger_api_keys ({KEY_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO NOTHING"
        );
        let inserted = self
            .execute(
                "insert_key",
                &sql,
                &[
                    &k.id,
                    &k.name,
                    &k.secret_hash,
                    &k.admin,
                    &k.rpm,
                    &k.tpm,
                    &k.budget_amount,
                    &k.budget_currency,
                    &k.budget_window,
                    &k.models,
                    &k.created_ms,
                    &k.expires_ms,
                    &k.revoked_ms,
                    &k.last_used_ms,
                    &k.updated_ms,
                ],
                false,
            )
            .await?;
        if inserted == 0 {
            return Err(LedgerError::KeyExists {
                url: self.url.clone(),
                id: k.id,
            });
        }
        Ok(())
    }

    pub async fn keys(&self) -> Result<Vec<ApiKey>, LedgerError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM ledger_api_keys ORDER BY created_ms, id");
        let found = self.query("keys", &sql, &[]).await?;
        found.iter().map(|r| self.read_key("keys", r)).collect()
    }

    pub async fn key(&self, id: &str) -> Result<Option<ApiKey>, LedgerError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM ledger_api_keys WHERE id = $1");
        let found = self.query("key", &sql, &[&id]).await?;
        found.first().map(|r| self.read_key("key", r)).transpose()
    }

    pub async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<bool, LedgerError> {
        // Every right-hand side reads the row as it was, so a second revocation keeps the
        // first time and leaves `updated_ms` alone.
        let changed = self
            .execute(
                "revoke_key",
                "UPDATE ledger_api_keys SET \
                 updated_ms = CASE WHEN revoked_ms IS NULL THEN $2 ELSE updated_ms END, \
                 revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1",
                &[&id, &at_ms],
                true,
            )
            .await?;
        Ok(changed > 0)
    }

    pub async fn update_key(&self, key: &ApiKey) -> Result<bool, LedgerError> {
        let k = StoredKey::from_key(key);
        let changed = self
            .execute(
                "update_key",
                "UPDATE ledger_api_keys SET name = $2, admin = $3, rpm = $4, tpm = $5, \
                 budget_amount = $6, budget_currency = $7, budget_window = $8, models = $9, \
                 expires_ms = $10, updated_ms = $11 WHERE id = $1",
                &[
                    &k.id,
                    &k.name,
                    &k.admin,
                    &k.rpm,
                    &k.tpm,
                    &k.budget_amount,
                    &k.budget_currency,
                    &k.budget_window,
                    &k.models,
                    &k.expires_ms,
                    &k.updated_ms,
                ],
                true,
            )
            .await?;
        Ok(changed > 0)
    }

    pub async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), LedgerError> {
        let uses = latest_uses(uses);
        if uses.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<String>, Vec<i64>) = uses.into_iter().unzip();
        // GREATEST skips NULL: a key never used before takes the given time.
        self.execute(
            "touch_keys",
            "UPDATE ledger_api_keys AS k SET last_used_ms = GREATEST(k.last_used_ms, u.at_ms) \
             FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS u(id, at_ms) WHERE k.id = u.id",
            &[&ids, &times],
            true,
        )
        .await
        .map(drop)
    }

    pub async fn key_spend(
        &self,
        key_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<KeySpend>, LedgerError> {
        let found = self
            .query(
                "key_spend",
                "SELECT currency, COALESCE(SUM(cost_usd), 0), COALESCE(SUM(cost_local), 0), \
                 COUNT(*) FROM ledger_requests \
                 WHERE key_id = $1 AND at_ms >= $2 AND at_ms < $3 \
                 GROUP BY currency ORDER BY currency",
                &[&key_id, &since_ms, &until_ms],
            )
            .await?;
        found
            .iter()
            .map(|r| {
                Ok(KeySpend {
                    currency: r.try_get(0)?,
                    cost_usd: r.try_get::<_, Decimal>(1)?.normalize(),
                    cost_local: r.try_get::<_, Decimal>(2)?.normalize(),
                    requests: row::to_u64(r.try_get(3)?),
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.error("key_spend", e))
    }

    pub async fn key_names(&self) -> Result<BTreeMap<String, String>, LedgerError> {
        let found = self
            .query("key_names", "SELECT id, name FROM ledger_api_keys", &[])
            .await?;
        found
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.error("key_names", e))
    }

    fn read_key(&self, op: &'static str, r: &tokio_postgres::Row) -> Result<ApiKey, LedgerError> {
        let stored = (|| {
            Ok::<_, tokio_postgres::Error>(StoredKey {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                secret_hash: r.try_get(2)?,
                admin: r.try_get(3)?,
                rpm: r.try_get(4)?,
                tpm: r.try_get(5)?,
                budget_amount: r.try_get(6)?,
                budget_currency: r.try_get(7)?,
                budget_window: r.try_get(8)?,
                models: r.try_get(9)?,
                created_ms: r.try_get(10)?,
                expires_ms: r.try_get(11)?,
                revoked_ms: r.try_get(12)?,
                last_used_ms: r.try_get(13)?,
                updated_ms: r.try_get(14)?,
            })
        })()
        .map_err(|e| self.error(op, e))?;
        stored
            .into_key()
            .map_err(|e| LedgerError::query(&self.url, op, e))
    }
}
