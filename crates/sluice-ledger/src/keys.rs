//! Gateway API keys as the ledger database keeps them (table `ledger_api_keys`, migration 2):
//! the key's public id, name, the hash of its secret, whether it is an admin key, its limits,
//! and its times. This module owns the stored form (one column per limit, the model list as a
//! JSON array, the budget as an exact decimal) and the checks that read it back; the SQL is
//! each backend's (`sqlite/keys.rs`, `postgres/keys.rs`). What a key may do is `sluice-types`'
//! [`KeyLimits`]; how a presented key is checked is `sluice-limit`'s.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sluice_types::{Budget, BudgetWindow, KeyLimits};

/// One gateway API key. Only the hash of its secret is stored; the secret itself is shown
/// once, when the key is created, and never reaches the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The public id (`sk-sluice-<id>-<secret>`), also the ledger rows' `key_id`.
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret in lower-case hex (`sluice_limit::key::hash_secret`).
    pub secret_hash: String,
    /// May read every key's usage and the dashboard.
    pub admin: bool,
    pub limits: KeyLimits,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// From this time on the key is refused; `None` never expires.
    pub expires_ms: Option<i64>,
    /// When the key was revoked (it stays stored: a revoked key still counts as a key).
    pub revoked_ms: Option<i64>,
    /// The latest request the gateway saw with this key (written in batches, so a little late).
    pub last_used_ms: Option<i64>,
    /// When the key was created or last changed.
    pub updated_ms: i64,
}

impl ApiKey {
    /// Whether the key is usable at `now_ms`: not revoked, and not expired.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|at| now_ms < at)
    }
}

/// What one key's requests cost in one billing currency over a time span
/// ([`Ledger::key_spend`](crate::Ledger::key_spend)), summed exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpend {
    /// The providers' billing currency of these requests.
    pub currency: String,
    pub cost_usd: Decimal,
    /// In `currency`.
    pub cost_local: Decimal,
    pub requests: u64,
}

/// The key table's columns in the order both backends insert and select them.
pub(crate) const KEY_COLUMNS: &str = "id, name, secret_hash, admin, rpm, tpm, budget_amount, \
     budget_currency, budget_window, models, created_ms, expires_ms, revoked_ms, last_used_ms, \
     updated_ms";

/// How many columns [`KEY_COLUMNS`] names.
pub(crate) const KEY_COLUMN_COUNT: usize = 15;

/// A key row as the databases hold it: the backends move these columns in and out, and
/// [`StoredKey::into_key`] checks them, so both read a key the same way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredKey {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub admin: bool,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub budget_amount: Option<Decimal>,
    pub budget_currency: Option<String>,
    pub budget_window: Option<String>,
    /// A JSON array of model names.
    pub models: Option<String>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub updated_ms: i64,
}

impl StoredKey {
    pub fn from_key(key: &ApiKey) -> StoredKey {
        let limits = &key.limits;
        let budget = limits.budget.as_ref();
        StoredKey {
            id: key.id.clone(),
            name: key.name.clone(),
            secret_hash: key.secret_hash.clone(),
            admin: key.admin,
            rpm: limits.rpm.map(i64::from),
            // A limit past i64::MAX tokens a minute is no limit at all; clamping keeps it one.
            tpm: limits.tpm.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
            budget_amount: budget.map(|b| b.amount),
            budget_currency: budget.map(|b| b.currency.clone()),
            budget_window: budget.map(|b| b.window.as_str().to_owned()),
            // A list of strings always serialises.
            models: limits
                .models
                .as_ref()
                .map(|m| serde_json::to_string(m).unwrap_or_else(|_| "[]".to_owned())),
            created_ms: key.created_ms,
            expires_ms: key.expires_ms,
            revoked_ms: key.revoked_ms,
            last_used_ms: key.last_used_ms,
            updated_ms: key.updated_ms,
        }
    }

    /// The key, or why the stored row is not one (written by hand, or by a newer build with a
    /// window this one does not know): a sentence naming the key and the column.
    pub fn into_key(self) -> Result<ApiKey, String> {
        let id = self.id;
        let bad = |column: &str, why: String| format!("key {id}: column {column}: {why}");
        let rpm = self
            .rpm
            .map(|n| u32::try_from(n).map_err(|_| bad("rpm", format!("{n} is out of range"))))
            .transpose()?;
        let tpm = self
            .tpm
            .map(|n| u64::try_from(n).map_err(|_| bad("tpm", format!("{n} is out of range"))))
            .transpose()?;
        let budget = match (self.budget_amount, self.budget_currency, self.budget_window) {
            (None, None, None) => None,
            (Some(amount), Some(currency), Some(window)) => {
                let window = BudgetWindow::parse(&window)
                    .ok_or_else(|| bad("budget_window", format!("unknown window {window:?}")))?;
                Some(Budget {
                    amount,
                    currency,
                    window,
                })
            }
            _ => {
                return Err(bad(
                    "budget_amount",
                    "a budget needs its amount, currency and window together".to_owned(),
                ))
            }
        };
        let models = self
            .models
            .map(|text| {
                serde_json::from_str::<Vec<String>>(&text)
                    .map_err(|e| bad("models", format!("not a JSON list of names: {e}")))
            })
            .transpose()?;
        Ok(ApiKey {
            name: self.name,
            secret_hash: self.secret_hash,
            admin: self.admin,
            limits: KeyLimits {
                rpm,
                tpm,
                budget,
                models,
            },
            created_ms: self.created_ms,
            expires_ms: self.expires_ms,
            revoked_ms: self.revoked_ms,
            last_used_ms: self.last_used_ms,
            updated_ms: self.updated_ms,
            id,
        })
    }
}

/// The latest use of each key among `uses`, so one statement updates each key once (Postgres
/// applies only one of several matching source rows in an `UPDATE ... FROM`).
pub(crate) fn latest_uses(uses: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
    for (id, at) in uses {
        latest
            .entry(id)
            .and_modify(|t| *t = (*t).max(*at))
            .or_insert(*at);
    }
    latest
        .into_iter()
        .map(|(id, at)| (id.to_owned(), at))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn key() -> ApiKey {
        ApiKey {
            id: "abc123def456".into(),
            name: "ci".into(),
            secret_hash: "00".repeat(32),
            admin: false,
            limits: KeyLimits {
                rpm: Some(60),
                tpm: Some(100_000),
                budget: Some(Budget {
                    amount: Decimal::from_str("12.50").unwrap(),
                    currency: "JPY".into(),
                    window: BudgetWindow::Week,
                }),
                models: Some(vec!["gpt-4.1".into(), "mock \"quoted\"".into()]),
            },
            created_ms: 1,
            expires_ms: Some(10),
            revoked_ms: None,
            last_used_ms: None,
            updated_ms: 1,
        }
    }

    #[test]
    fn the_stored_form_reads_back_as_the_key() {
        let k = key();
        let stored = StoredKey::from_key(&k);
        assert_eq!(stored.budget_window.as_deref(), Some("7d"));
        assert_eq!(
            stored.models.as_deref(),
            Some(r#"["gpt-4.1","mock \"quoted\""]"#)
        );
        assert_eq!(stored.into_key().unwrap(), k);
        let open = ApiKey {
            limits: KeyLimits::default(),
            ..key()
        };
        let stored = StoredKey::from_key(&open);
        assert_eq!((stored.rpm, stored.models.as_deref()), (None, None));
        assert_eq!(stored.into_key().unwrap(), open);
    }

    #[test]
    fn bad_rows_name_the_key_and_column() {
        let mut s = StoredKey::from_key(&key());
        s.budget_window = Some("1h".into());
        let e = s.into_key().unwrap_err();
        assert_eq!(
            e,
            "key abc123def456: column budget_window: unknown window \"1h\""
        );
        let mut s = StoredKey::from_key(&key());
        s.budget_currency = None;
        assert!(s.into_key().unwrap_err().contains("budget_amount"));
        let mut s = StoredKey::from_key(&key());
        s.models = Some("gpt-4.1".into());
        assert!(s.into_key().unwrap_err().contains("column models"));
        let mut s = StoredKey::from_key(&key());
        s.rpm = Some(-1);
        assert!(s.into_key().unwrap_err().contains("column rpm: -1"));
    }

    #[test]
    fn active_means_neither_revoked_nor_expired() {
        let k = key();
        assert!(k.is_active(9));
        assert!(!k.is_active(10));
        let forever = ApiKey {
            expires_ms: None,
            ..key()
        };
        assert!(forever.is_active(i64::MAX));
        let revoked = ApiKey {
            revoked_ms: Some(5),
            ..forever
        };
        assert!(!revoked.is_active(0));
    }

    #[test]
    fn the_latest_use_of_each_key_wins() {
        let uses = [
            ("b".to_owned(), 5),
            ("a".to_owned(), 9),
            ("b".to_owned(), 7),
            ("a".to_owned(), 3),
        ];
        assert_eq!(
            latest_uses(&uses),
            [("a".to_owned(), 9), ("b".to_owned(), 7)]
        );
        assert!(latest_uses(&[]).is_empty());
    }

    #[test]
    fn column_count_matches_the_list() {
        assert_eq!(KEY_COLUMNS.split(',').count(), KEY_COLUMN_COUNT);
    }
}
