//! Limits counted in Redis, shared by every replica that uses the same server and key prefix.
//! The only module that knows Redis.
//!
//! Each admission and each settlement is one round trip: a Lua script (sent once, then called
//! by its hash) that does the sums of the in-process store (`rate`, `MemoryStore`) atomically
//! on Redis's own clock, so replicas whose clocks differ still count one timeline. The state
//! of a key lives under `{prefix}:{key_id}`:
//!
//! - `:rpm`, `:tpm`: the GCRA `tat` of each per-minute limit (Unix µs), kept a couple of
//!   minutes past the `tat` (and past the longest hold a settlement may still arrive for);
//! - `:w:{window start ms}`: a budget window, hash `spent` and `reserved` (nano-units), kept
//!   until a day past the window's end;
//! - `:open`: the open reservations, a sorted set of `"{id}:{nano-units held}:{window start}"`
//!   scored by expiry (Unix µs), which each admission sweeps so a reservation is always
//!   settled or expired (a settlement removes its member: whether it was still there says
//!   whether its hold is still counted).
//!
//! Every call has a short deadline ([`CALL_TIMEOUT`]): a store that does not answer is treated
//! as unreachable, and the limiter applies its `on_store_error` policy.
//!
//! The admission script names the window of an expired hold from the key's base, a key it is
//! not passed: fine for one Redis (with or without replicas), not for Redis Cluster.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RetryMethod, Script};

use crate::plan::{Admit, LimitReason, Plan, Settlement};

/// How long one call to Redis may take before the store counts as unreachable.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// A budget window is kept this long past its end, for settlements of requests that started
/// in it.
const WINDOW_KEEP_MS: i64 = 86_400_000;

/// Why a call to Redis failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("{0}")]
    Redis(#[from] RedisError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("unexpected answer from the limit script: {0:?}")]
    Answer(Vec<i64>),
}

impl StoreError {
    /// Whether the same call may succeed later (the server is away or busy), rather than
    /// failing the same way every time (a script or type error).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Timeout(_) => true,
            StoreError::Redis(e) => !matches!(e.retry_method(), RetryMethod::NoRetry),
            StoreError::Answer(_) => false,
        }
    }
}

/// The Redis store: one multiplexed connection that reconnects by itself, and the scripts.
pub(crate) struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    admit: Script,
    settle: Script,
    seed: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only the prefix is shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url` under `prefix`. Nothing is connected yet: the first call connects,
    /// and a server that is down now is not an error (the gateway starts, and recovers when
    /// Redis comes up). Must run inside a Tokio runtime.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, RedisError> {
        let client = redis::Client::open(url)?;
        // One connection attempt per reconnection: the limiter probes again every second
        // while the store is down, so retries here would only hold calls up.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(0);
        Ok(RedisStore {
            conn: ConnectionManager::new_lazy_with_config(client, config)?,
            prefix: prefix.to_owned(),
            admit: Script::new(include_str!("redis/admit.lua")),
            settle: Script::new(include_str!("redis/settle.lua")),
            seed: Script::new(include_str!("redis/seed.lua")),
        })
    }

    fn base(&self, key_id: &str) -> String {
        format!("{}:{key_id}", self.prefix)
    }

    /// Admits a request of `key_id` as `plan` says, or says why not, on Redis's clock.
    pub async fn admit(&self, key_id: &str, plan: &Plan) -> Result<Admit, StoreError> {
        let base = self.base(key_id);
        let mut call = self.admit.prepare_invoke();
        call.key(format!("{base}:rpm"))
            .key(format!("{base}:tpm"))
            .key(window_key(
                &base,
                plan.budget.as_ref().map(|b| b.window_start_ms),
            ))
            .key(format!("{base}:open"))
            .arg(optional(plan.rpm_cost_us))
            .arg(optional(plan.tpm_cost_us));
        match &plan.budget {
            Some(b) => call
                .arg(b.limit_nanos)
                .arg(b.ask_nanos)
                .arg(b.window_end_ms)
                .arg(plan.id)
                .arg(plan.hold_us)
                .arg(b.window_start_ms),
            None => call
                .arg("")
                .arg(0)
                .arg(0)
                .arg(plan.id)
                .arg(plan.hold_us)
                .arg(0),
        }
        .arg(&base);
        let mut conn = self.conn.clone();
        let answer: Vec<i64> = deadline(call.invoke_async(&mut conn)).await?;
        match answer.as_slice() {
            [0] => Ok(Admit::Admitted),
            [2] => Ok(Admit::NeedSeed),
            [1, reason, retry_after_us] => {
                let reason = match reason {
                    1 => LimitReason::Rpm,
                    2 => LimitReason::Tpm,
                    3 => LimitReason::TooLarge,
                    4 => LimitReason::Budget,
                    _ => return Err(StoreError::Answer(answer)),
                };
                Ok(Admit::limited(reason, *retry_after_us))
            }
            _ => Err(StoreError::Answer(answer)),
        }
    }

    /// Creates a budget window with what the ledger says was spent in it, unless a replica
    /// did first.
    pub async fn seed(
        &self,
        key_id: &str,
        window_start_ms: i64,
        window_end_ms: i64,
        spent_nanos: i64,
    ) -> Result<(), StoreError> {
        let base = self.base(key_id);
        let mut call = self.seed.prepare_invoke();
        call.key(window_key(&base, Some(window_start_ms)))
            .arg(spent_nanos)
            .arg(window_end_ms.saturating_add(WINDOW_KEEP_MS));
        let mut conn = self.conn.clone();
        let _created: i64 = deadline(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// Ends a reservation: what was used is charged and the rest released.
    pub async fn settle(&self, s: &Settlement) -> Result<(), StoreError> {
        let base = self.base(&s.key_id);
        let mut call = self.settle.prepare_invoke();
        // The reservation's member of `:open`, as the admission wrote it.
        let member = s
            .window_start_ms
            .map(|start| format!("{}:{}:{start}", s.id, s.held_nanos))
            .unwrap_or_default();
        call.key(format!("{base}:tpm"))
            .key(window_key(&base, s.window_start_ms))
            .key(format!("{base}:open"))
            .arg(optional(s.tpm_adjust_us))
            .arg(member)
            .arg(s.used_nanos)
            .arg(s.held_nanos.saturating_neg());
        let mut conn = self.conn.clone();
        let _: i64 = deadline(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// What a key's budget window holds now: (spent, reserved) in nano-units.
    pub async fn window(
        &self,
        key_id: &str,
        window_start_ms: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let key = window_key(&self.base(key_id), Some(window_start_ms));
        let mut conn = self.conn.clone();
        let (spent, reserved): (Option<i64>, Option<i64>) = deadline(
            redis::cmd("HMGET")
                .arg(key)
                .arg("spent")
                .arg("reserved")
                .query_async(&mut conn),
        )
        .await?;
        Ok(spent.map(|spent| (spent, reserved.unwrap_or(0))))
    }

    /// Whether the server answers. A first failure after the connection was lost starts a
    /// new connection in the background, so the probe asks twice within its deadline.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        deadline(async move {
            let first: Result<(), RedisError> = redis::cmd("PING").query_async(&mut conn).await;
            match first {
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => {
                    redis::cmd("PING").query_async(&mut conn).await
                }
                other => other,
            }
        })
        .await
    }
}

/// The budget window's key; a key without a budget names a window key it never touches, so
/// the scripts always get the same keys.
fn window_key(base: &str, window_start_ms: Option<i64>) -> String {
    format!("{base}:w:{}", window_start_ms.unwrap_or(0))
}

/// An optional number as a script argument: empty when absent.
fn optional(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// Runs a call to Redis within [`CALL_TIMEOUT`].
async fn deadline<T>(
    call: impl std::future::Future<Output = Result<T, RedisError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(StoreError::Timeout(CALL_TIMEOUT)),
    }
}
