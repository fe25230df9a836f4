//! What the dashboard keeps in the gateway's state: this replica's live counters (`stats`,
//! fed by every request's ending), the signal that ends its live streams when the gateway
//! starts shutting down, the replica's name, and the spend most recently read from the
//! ledger's rollups (`Cache`), so that many open dashboards read the ledger about once a
//! second between them.

pub(crate) mod hist;
pub(crate) mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_config::Config;
use tokio_util::sync::CancellationToken;

pub(crate) use self::stats::{kind_index, LiveStats, Sample};

/// How long the spend read from the ledger is reused.
pub(crate) const SPEND_MAX_AGE: Duration = Duration::from_secs(1);

/// The dashboard's share of the gateway's state.
#[derive(Debug)]
pub(crate) struct Live {
    pub stats: LiveStats,
    /// Cancelled when the gateway's shutdown begins: live streams end at once rather than
    /// hold the connection drain for its whole grace period.
    pub closing: CancellationToken,
    /// This replica's name: host and process id.
    pub replica: String,
    /// The spend part of the live snapshot, as last read.
    pub spend: Cache<Arc<serde_json::Value>>,
}

impl Live {
    pub fn new(config: &Config) -> Self {
        Live {
            stats: LiveStats::new(config),
            closing: CancellationToken::new(),
            replica: replica_name(),
            spend: Cache::default(),
        }
    }
}

/// `host-pid`: the host name as the kernel has it (or `HOSTNAME`), and the process id.
fn replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".to_owned());
    // A name for people: bounded, printable.
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    format!("{host}-{}", std::process::id())
}

/// A value refreshed at most once per `max_age`, by one caller at a time: the others wait for
/// that caller's value instead of computing their own.
#[derive(Debug)]
pub(crate) struct Cache<T> {
    slot: tokio::sync::Mutex<Option<(Instant, T)>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            slot: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T: Clone> Cache<T> {
    /// The cached value if younger than `max_age`, else `refresh()`'s (kept when `Some`; a
    /// `None` returns the last value, however old, or `None`).
    pub async fn get<F, Fut>(&self, max_age: Duration, refresh: F) -> Option<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref() {
            if at.elapsed() < max_age {
                return Some(value.clone());
            }
        }
        match refresh().await {
            Some(value) => {
                *slot = Some((Instant::now(), value.clone()));
                Some(value)
            }
            None => slot.as_ref().map(|(_, v)| v.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cache_refreshes_once_per_age_and_keeps_the_last_value_on_failure() {
        let cache: Cache<u32> = Cache::default();
        assert_eq!(
            cache.get(Duration::from_secs(60), || async { None }).await,
            None
        );
        assert_eq!(
            cache
                .get(Duration::from_secs(60), || async { Some(1) })
                .await,
            Some(1)
        );
        // Young enough: not refreshed.
        assert_eq!(
            cache
                .get(Duration::from_secs(60), || async { Some(2) })
                .await,
            Some(1)
        );
        // Too old: refreshed; a failed refresh keeps the last value.
        assert_eq!(
            cache.get(Duration::ZERO, || async { Some(3) }).await,
            Some(3)
        );
        assert_eq!(cache.get(Duration::ZERO, || async { None }).await, Some(3));
    }

    #[test]
    fn the_replica_is_named_by_host_and_process() {
        let name = replica_name();
        assert!(
            name.ends_with(&format!("-{}", std::process::id())),
            "{name}"
        );
        assert!(name.len() > 2 && name.chars().all(|c| c.is_ascii_graphic()));
    }
}
