//! The limiter: admission reserves what a request may use against its key's limits, and
//! settlement, when the request ends, charges what it did use and releases the rest.
//!
//! A reservation holds one request per minute, its tokens (prompt estimate plus its output
//! allowance) against tokens per minute, and its cost against the budget's window. Admission
//! takes all of them or none, atomically, so concurrent requests cannot together pass a limit:
//! a budget that fits ten requests admits ten of fifty sent at once. Settlement charges what
//! the ledger records for the request (the provider's usage, or the tokenizer's estimate when
//! the provider reported none) and releases the rest. A reservation never settled (its replica
//! died) expires after its request's time limit: **a reservation is always settled or
//! expired.**
//!
//! Budget windows start empty in a store that has not seen them (a restart, a Redis without
//! persistence); the limiter then seeds them with what the ledger recorded for the key since
//! the window began ([`SpendSource`]).
//!
//! Counters live in this process ([`Limiter::in_memory`]) or in Redis, shared by every replica
//! ([`Limiter::with_redis`]). When Redis does not answer, admissions follow the
//! `on_store_error` policy (refused as unavailable, or counted in this process meanwhile) and
//! return to Redis when it answers again; a reservation is settled in the store that made it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_types::{Decimal, KeyLimits, OnStoreError};

use crate::amount::{from_nanos, to_nanos};
use crate::memory::MemoryStore;
use crate::plan::{Admit, BudgetPlan, LimitReason, Plan, Settlement};
use crate::rate;
use crate::redis::{RedisStore, StoreError};
use crate::shared::Shared;

/// What one request asks of its key's limits.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub key_id: &'a str,
    pub limits: &'a KeyLimits,
    /// The tokens it may use: the prompt's estimate plus its output allowance.
    pub tokens: u64,
    /// What it may cost in the budget's currency (zero when its model has no price).
    pub cost: Decimal,
    /// How long it may run; an unsettled reservation expires after this (and a margin).
    pub hold: Duration,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Over a limit: answered 429 with `Retry-After`, never forwarded.
    Limited {
        reason: LimitReason,
        retry_after: Duration,
    },
    /// The shared store cannot be reached and the policy is `closed`: answered 503.
    Unavailable,
}

/// What an admitted request holds until it is settled. Dropping it without settling leaves
/// the hold to expire.
#[derive(Debug)]
pub struct Reservation {
    id: u64,
    key_id: String,
    tokens: u64,
    tpm: Option<u64>,
    /// The budget's currency and window start, when the key has a budget.
    budget: Option<(String, i64)>,
    /// What it holds against the budget, in nano-units.
    held_nanos: i64,
    /// The store that holds it, and so takes its settlement.
    store: Origin,
}

/// Which store made a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Memory,
    Redis,
}

impl Reservation {
    /// The key it was made for.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The currency the request's cost is charged in, when its key has a budget.
    pub fn budget_currency(&self) -> Option<&str> {
        self.budget.as_ref().map(|(c, _)| c.as_str())
    }
}

/// Where the limiter learns what a key spent before a store counted it.
pub trait SpendSource: Send + Sync + 'static {
    /// What `key_id` spent from `since_ms` (Unix ms) on, in `currency` as budgets charge it.
    fn spent<'a>(
        &'a self,
        key_id: &'a str,
        since_ms: i64,
        currency: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Decimal, String>> + Send + 'a>>;
}

/// Extra time a reservation is held past its request's limit before it expires, unless
/// [`Limiter::with_hold_margin`] says otherwise.
const HOLD_MARGIN: Duration = Duration::from_secs(60);

/// The key prefix of the limits in Redis unless configured otherwise: a key's state is under
/// `{prefix}:{key id}`.
pub const DEFAULT_REDIS_PREFIX: &str = "sluice:limits";

/// The limiter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The Redis URL is not one (the message never repeats the URL: it may hold a password).
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// The Redis store's background tasks need a Tokio runtime to run on.
    #[error("the Redis limit store must be created inside a Tokio runtime")]
    NoRuntime,
}

/// The limiter of one gateway.
pub struct Limiter {
    memory: MemoryStore,
    /// Redis, when limits are shared by replicas.
    shared: Option<Shared>,
    spend: Arc<dyn SpendSource>,
    policy: OnStoreError,
    ids: AtomicU64,
    hold_margin: Duration,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("store", &self.store_name())
            .field("policy", &self.policy)
            .field("store_up", &self.store_up())
            .finish_non_exhaustive()
    }
}

/// The store an admission goes to.
#[derive(Clone, Copy)]
enum Store<'a> {
    Memory(&'a MemoryStore),
    Redis(&'a RedisStore),
}

impl Store<'_> {
    async fn admit(self, key_id: &str, plan: &Plan) -> Result<Admit, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.admit(key_id, plan, now_us())),
            Store::Redis(r) => r.admit(key_id, plan).await,
        }
    }

    async fn seed(self, key_id: &str, b: &BudgetPlan, spent_nanos: i64) -> Result<(), StoreError> {
        match self {
            Store::Memory(m) => {
                m.seed(key_id, b.window_start_ms, spent_nanos);
                Ok(())
            }
            Store::Redis(r) => {
                r.seed(key_id, b.window_start_ms, b.window_end_ms, spent_nanos)
                    .await
            }
        }
    }
}

impl Limiter {
    /// Limits counted in this process (one replica).
    pub fn in_memory(spend: Arc<dyn SpendSource>) -> Self {
        Limiter {
            memory: MemoryStore::new(),
            shared: None,
            spend,
            policy: OnStoreError::Closed,
            ids: AtomicU64::new(random_start()),
            hold_margin: HOLD_MARGIN,
        }
    }

    /// Limits counted in Redis at `url` under the key prefix `prefix` (usually
    /// [`DEFAULT_REDIS_PREFIX`]), shared by every replica using the same ones; while Redis does not answer,
    /// `policy` decides. A server that is down now is not an error: admissions follow the
    /// policy until it answers. Must be called inside a Tokio runtime (it starts the
    /// settlement task and the probe).
    pub fn with_redis(
        url: &str,
        prefix: &str,
        policy: OnStoreError,
        spend: Arc<dyn SpendSource>,
    ) -> Result<Limiter, LimitError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LimitError::NoRuntime);
        }
        let store =
            RedisStore::new(url, prefix).map_err(|e| LimitError::InvalidUrl(e.to_string()))?;
        Ok(Limiter {
            shared: Some(Shared::start(store, policy)),
            policy,
            ..Limiter::in_memory(spend)
        })
    }

    /// How long an unsettled reservation is held past its request's time limit before it
    /// expires (a minute unless set).
    pub fn with_hold_margin(mut self, margin: Duration) -> Self {
        self.hold_margin = margin;
        self
    }

    /// Where the counters live, for `check-config`, logs and `/readyz`: `redis` or `memory`.
    pub fn store_name(&self) -> &'static str {
        if self.shared.is_some() {
            "redis"
        } else {
            "memory"
        }
    }

    /// Whether the store answers (always, in memory): for readiness and metrics.
    pub fn store_up(&self) -> bool {
        self.shared.as_ref().is_none_or(Shared::is_up)
    }

    /// Calls to Redis that failed (unreachable, too slow, or refused by the server).
    pub fn store_errors(&self) -> u64 {
        self.shared.as_ref().map_or(0, Shared::errors)
    }

    /// Settlements for Redis given up, their reservations left to expire: the queue was full
    /// (or, rarely, Redis refused one for good, or the limiter closed while Redis was down).
    pub fn dropped_settlements(&self) -> u64 {
        self.shared.as_ref().map_or(0, Shared::dropped)
    }

    /// Reserves what `ask` may use, or says why it may not run.
    pub async fn admit(&self, ask: Ask<'_>) -> Result<Reservation, Refusal> {
        let limits = ask.limits;
        let reservation = Reservation {
            id: self.ids.fetch_add(1, Ordering::Relaxed),
            key_id: ask.key_id.to_owned(),
            tokens: ask.tokens,
            tpm: limits.tpm,
            budget: None,
            held_nanos: 0,
            store: Origin::Memory,
        };
        if limits.rpm.is_none() && limits.tpm.is_none() && limits.budget.is_none() {
            // Nothing to count: no lock, no store.
            return Ok(reservation);
        }
        let plan = self.plan(&ask, reservation.id);
        let (answer, store) = match &self.shared {
            Some(shared) if shared.is_up() => {
                match self
                    .admit_in(Store::Redis(shared.store()), &ask, &plan)
                    .await
                {
                    Ok(answer) => {
                        shared.answered();
                        (answer, Origin::Redis)
                    }
                    Err(e) => {
                        shared.failed(&e);
                        (self.unshared(&ask, &plan).await?, Origin::Memory)
                    }
                }
            }
            Some(_) => (self.unshared(&ask, &plan).await?, Origin::Memory),
            None => (self.in_process(&ask, &plan).await, Origin::Memory),
        };
        match answer {
            Admit::Admitted => Ok(Reservation {
                budget: limits
                    .budget
                    .as_ref()
                    .zip(plan.budget.as_ref())
                    .map(|(b, p)| (b.currency.clone(), p.window_start_ms)),
                held_nanos: plan.budget.as_ref().map_or(0, |p| p.ask_nanos),
                store,
                ..reservation
            }),
            Admit::Limited {
                reason,
                retry_after_us,
            } => Err(Refusal::Limited {
                reason,
                retry_after: Duration::from_micros(u64::try_from(retry_after_us).unwrap_or(0)),
            }),
            // The window could not be seeded (the ledger did not answer and the policy is
            // closed, or the store lost it again at once).
            Admit::NeedSeed => Err(Refusal::Unavailable),
        }
    }

    /// What an admission asks of a store.
    fn plan(&self, ask: &Ask<'_>, id: u64) -> Plan {
        let limits = ask.limits;
        let now_ms = now_us() / 1000;
        let budget = limits.budget.as_ref().map(|b| {
            let (start, end) = b.window.bounds(now_ms);
            BudgetPlan {
                window_start_ms: start,
                window_end_ms: end,
                limit_nanos: to_nanos(b.amount),
                ask_nanos: to_nanos(ask.cost),
            }
        });
        Plan {
            id,
            rpm_cost_us: limits.rpm.map(|r| rate::cost_us(1, u64::from(r))),
            tpm_cost_us: limits.tpm.map(|t| rate::cost_us(ask.tokens, t)),
            hold_us: i64::try_from((ask.hold + self.hold_margin).as_micros()).unwrap_or(i64::MAX),
            budget,
        }
    }

    /// An admission while Redis does not answer: as the policy says.
    async fn unshared(&self, ask: &Ask<'_>, plan: &Plan) -> Result<Admit, Refusal> {
        match self.policy {
            OnStoreError::Closed => Err(Refusal::Unavailable),
            OnStoreError::Open => Ok(self.in_process(ask, plan).await),
        }
    }

    /// An admission counted in this process.
    async fn in_process(&self, ask: &Ask<'_>, plan: &Plan) -> Admit {
        match self.admit_in(Store::Memory(&self.memory), ask, plan).await {
            Ok(answer) => answer,
            // The in-process store has no calls that fail.
            Err(_) => Admit::NeedSeed,
        }
    }

    /// Admits in `store`, seeding the budget window from the ledger when the store does not
    /// know it yet.
    async fn admit_in(
        &self,
        store: Store<'_>,
        ask: &Ask<'_>,
        plan: &Plan,
    ) -> Result<Admit, StoreError> {
        let answer = store.admit(ask.key_id, plan).await?;
        let (Admit::NeedSeed, Some(b), Some(p)) = (&answer, &ask.limits.budget, &plan.budget)
        else {
            return Ok(answer);
        };
        let spent = match self
            .spend
            .spent(ask.key_id, p.window_start_ms, &b.currency)
            .await
        {
            Ok(spent) => spent,
            Err(e) => {
                tracing::warn!(
                    key = ask.key_id,
                    "cannot read the key's spend from the ledger: {e}"
                );
                match self.policy {
                    // Answered as unavailable by the caller.
                    OnStoreError::Closed => return Ok(Admit::NeedSeed),
                    OnStoreError::Open => Decimal::ZERO,
                }
            }
        };
        store.seed(ask.key_id, p, to_nanos(spent)).await?;
        store.admit(ask.key_id, plan).await
    }

    /// Ends a reservation with what the request used: `tokens` (prompt and completion) and
    /// `cost` in the budget's currency, as the ledger records them. Never waits: a settlement
    /// for Redis is queued (see [`Limiter::drain`]).
    pub fn settle(&self, r: Reservation, tokens: u64, cost: Decimal) {
        if r.tpm.is_none() && r.budget.is_none() {
            return;
        }
        let settlement = Settlement {
            id: r.id,
            tpm_adjust_us: r
                .tpm
                .map(|t| rate::cost_us(tokens, t).saturating_sub(rate::cost_us(r.tokens, t))),
            window_start_ms: r.budget.as_ref().map(|(_, start)| *start),
            held_nanos: r.held_nanos,
            used_nanos: to_nanos(cost),
            key_id: r.key_id,
        };
        match (r.store, &self.shared) {
            (Origin::Redis, Some(shared)) => shared.settle(settlement),
            _ => self.memory.settle(&settlement),
        }
    }

    /// Waits until every settlement queued for Redis has been applied, or until `deadline`
    /// (the gateway's shutdown grace); whether they all were. In memory there is never
    /// anything to wait for.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> bool {
        match &self.shared {
            Some(shared) => shared.drain(deadline).await,
            None => true,
        }
    }

    /// A key's budget window as counted now: (spent, reserved), for reports and tests. With
    /// Redis, what Redis holds (or this process, while Redis does not answer).
    pub async fn window(&self, key_id: &str, window_start_ms: i64) -> Option<(Decimal, Decimal)> {
        let counted = match &self.shared {
            Some(shared) if shared.is_up() => {
                match shared.store().window(key_id, window_start_ms).await {
                    Ok(counted) => counted,
                    Err(e) => {
                        shared.failed(&e);
                        self.memory.window(key_id, window_start_ms)
                    }
                }
            }
            _ => self.memory.window(key_id, window_start_ms),
        };
        let (spent, reserved) = counted?;
        Some((from_nanos(spent), from_nanos(reserved)))
    }
}

/// Now, in Unix microseconds.
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Reservation ids start at a random point, so replicas sharing a store do not collide.
fn random_start() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b) >> 1
}

#[cfg(test)]
mod tests;
