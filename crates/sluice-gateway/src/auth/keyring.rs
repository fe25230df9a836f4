//! The gateway's view of its API keys: a snapshot of the ledger's key table, read again every
//! [`REFRESH`], so a key created or revoked through any replica (or `sluice keys`) is honoured
//! by every replica within seconds. Checking a key is a map lookup and one hash compared in
//! constant time; no request waits for the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sluice_ledger::{ApiKey, Ledger};
use sluice_limit::key;

/// How often the key table is read again.
pub const REFRESH: Duration = Duration::from_secs(2);

/// Why a request's key was refused (a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` (or `x-api-key`) header.
    Missing,
    /// Something that is not shaped like a gateway key.
    Malformed,
    /// A well-formed key that no key matches, or whose secret is wrong.
    Wrong,
    Revoked,
    Expired,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Wrong => "wrong",
            AuthFailure::Revoked => "revoked",
            AuthFailure::Expired => "expired",
        }
    }

    /// What the client is told: enough to fix its setup, nothing about other keys.
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "This gateway needs an API key: send it as `Authorization: Bearer sk-sluice-...`."
            }
            AuthFailure::Malformed => "The API key is not a Sluice key (sk-sluice-...).",
            AuthFailure::Wrong => "Incorrect API key provided.",
            AuthFailure::Revoked => "The API key has been revoked.",
            AuthFailure::Expired => "The API key has expired.",
        }
    }
}

/// Every key the ledger holds, as of the last read.
#[derive(Debug, Default)]
pub struct KeyRing {
    snapshot: RwLock<Arc<Snapshot>>,
    /// When each key was last used, since the last write to the ledger.
    used: Mutex<HashMap<String, i64>>,
}

#[derive(Debug, Default)]
struct Snapshot {
    keys: HashMap<String, Arc<ApiKey>>,
}

impl KeyRing {
    /// Reads the key table. An error leaves the last snapshot in place.
    pub async fn refresh(&self, ledger: &Ledger) -> Result<(), sluice_ledger::LedgerError> {
        let keys = ledger.keys().await?;
        let snapshot = Snapshot {
            keys: keys
                .into_iter()
                .map(|k| (k.id.clone(), Arc::new(k)))
                .collect(),
        };
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        Ok(())
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether any key exists (revoked ones count: revoking the last key does not open the
    /// gateway).
    pub fn any(&self) -> bool {
        !self.current().keys.is_empty()
    }

    /// The key named by `id`, if the ledger has it.
    pub fn get(&self, id: &str) -> Option<Arc<ApiKey>> {
        self.current().keys.get(id).cloned()
    }

    /// The names of the keys, by id (for reports).
    pub fn names(&self) -> std::collections::BTreeMap<String, String> {
        self.current()
            .keys
            .values()
            .map(|k| (k.id.clone(), k.name.clone()))
            .collect()
    }

    /// Checks a presented key at `now_ms`.
    pub fn check(&self, token: Option<&str>, now_ms: i64) -> Result<Arc<ApiKey>, AuthFailure> {
        let token = token.ok_or(AuthFailure::Missing)?;
        let presented = key::parse(token).ok_or(AuthFailure::Malformed)?;
        let found = self.get(presented.id).ok_or(AuthFailure::Wrong)?;
        if !key::verify(presented.secret, &found.secret_hash) {
            return Err(AuthFailure::Wrong);
        }
        if found.revoked_ms.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if found.expires_ms.is_some_and(|at| at <= now_ms) {
            return Err(AuthFailure::Expired);
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        match used.get_mut(&found.id) {
            Some(at) => *at = now_ms,
            None => {
                used.insert(found.id.clone(), now_ms);
            }
        }
        drop(used);
        Ok(found)
    }

    /// Writes when keys were last used to the ledger (batched: once per refresh at most).
    pub async fn write_last_used(&self, ledger: &Ledger) {
        let used: Vec<(String, i64)> =
            std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if used.is_empty() {
            return;
        }
        if let Err(e) = ledger.touch_keys(&used).await {
            tracing::warn!(error = %e, "could not record when keys were last used");
        }
    }
}
