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

/// Extra time a reservation is held past its request's limit before it expires.
const HOLD_MARGIN: Duration = Duration::from_secs(60);

/// The limiter of one gateway.
pub struct Limiter {
    memory: MemoryStore,
    spend: Arc<dyn SpendSource>,
    policy: OnStoreError,
    ids: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("store", &self.store_name())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Limits counted in this process (one replica).
    pub fn in_memory(spend: Arc<dyn SpendSource>) -> Self {
        Limiter {
            memory: MemoryStore::new(),
            spend,
            policy: OnStoreError::Closed,
            ids: AtomicU64::new(random_start()),
        }
    }

    /// Where the counters live, for `check-config`, logs and `/readyz`.
    pub fn store_name(&self) -> &'static str {
        "memory"
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
        };
        if limits.rpm.is_none() && limits.tpm.is_none() && limits.budget.is_none() {
            // Nothing to count: no lock, no store.
            return Ok(reservation);
        }
        let now_us = now_us();
        let now_ms = now_us / 1000;
        let budget = limits.budget.as_ref().map(|b| {
            let (start, end) = b.window.bounds(now_ms);
            BudgetPlan {
                window_start_ms: start,
                window_end_ms: end,
                limit_nanos: to_nanos(b.amount),
                ask_nanos: to_nanos(ask.cost),
            }
        });
        let plan = Plan {
            id: reservation.id,
            rpm_cost_us: limits.rpm.map(|r| rate::cost_us(1, u64::from(r))),
            tpm_cost_us: limits.tpm.map(|t| rate::cost_us(ask.tokens, t)),
            hold_us: i64::try_from((ask.hold + HOLD_MARGIN).as_micros()).unwrap_or(i64::MAX),
            budget,
        };
        let mut answer = self.memory.admit(ask.key_id, &plan, now_us);
        if answer == Admit::NeedSeed {
            let (Some(b), Some(p)) = (&limits.budget, &plan.budget) else {
                return Err(Refusal::Unavailable);
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
                        OnStoreError::Closed => return Err(Refusal::Unavailable),
                        OnStoreError::Open => Decimal::ZERO,
                    }
                }
            };
            self.memory
                .seed(ask.key_id, p.window_start_ms, to_nanos(spent));
            answer = self.memory.admit(ask.key_id, &plan, now_us);
        }
        match answer {
            Admit::Admitted => Ok(Reservation {
                budget: limits
                    .budget
                    .as_ref()
                    .zip(plan.budget.as_ref())
                    .map(|(b, p)| (b.currency.clone(), p.window_start_ms)),
                ..reservation
            }),
            Admit::Limited {
                reason,
                retry_after_us,
            } => Err(Refusal::Limited {
                reason,
                retry_after: Duration::from_micros(u64::try_from(retry_after_us).unwrap_or(0)),
            }),
            Admit::NeedSeed => Err(Refusal::Unavailable),
        }
    }

    /// Ends a reservation with what the request used: `tokens` (prompt and completion) and
    /// `cost` in the budget's currency, as the ledger records them. Never waits.
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
            used_nanos: to_nanos(cost),
            key_id: r.key_id,
        };
        self.memory.settle(&settlement);
    }

    /// A key's budget window as counted now: (spent, reserved), for reports and tests.
    pub fn window(&self, key_id: &str, window_start_ms: i64) -> Option<(Decimal, Decimal)> {
        let (spent, reserved) = self.memory.window(key_id, window_start_ms)?;
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
