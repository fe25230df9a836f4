//! What every store must do the same: the limiter's behaviour tests, written once and run on
//! each store by [`behaviour_tests!`] (`tests/memory.rs`, `tests/redis.rs`), and the pieces
//! they share (a ledger stand-in, limits, asks).

// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_limit::{Ask, LimitReason, Limiter, Refusal, Reservation, SpendSource};
use sluice_types::{Budget, BudgetWindow, Decimal, KeyLimits};

/// A ledger stand-in: what each key spent before the limiter counted, and how often it was
/// asked. With a barrier, every call waits until that many callers have asked.
#[derive(Default)]
pub struct Spent {
    pub before: Mutex<HashMap<String, Decimal>>,
    pub calls: AtomicU64,
    pub barrier: Option<tokio::sync::Barrier>,
}

impl Spent {
    pub fn with(key: &str, amount: &str) -> Spent {
        let s = Spent::default();
        s.set(key, amount);
        s
    }

    pub fn set(&self, key: &str, amount: &str) {
        self.before
            .lock()
            .unwrap()
            .insert(key.to_owned(), dec(amount));
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl SpendSource for Spent {
    fn spent<'a>(
        &'a self,
        key_id: &'a str,
        _since_ms: i64,
        _currency: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Decimal, String>> + Send + 'a>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let v = self
            .before
            .lock()
            .unwrap()
            .get(key_id)
            .copied()
            .unwrap_or_default();
        Box::pin(async move {
            if let Some(b) = &self.barrier {
                b.wait().await;
            }
            Ok(v)
        })
    }
}

/// A limiter under test, its ledger, and whatever must live as long as it (a Redis
/// fixture deletes its keys when dropped).
pub struct Fixture {
    pub limiter: Arc<Limiter>,
    pub spent: Arc<Spent>,
    pub guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Fixture {
    /// Until every queued settlement is applied.
    pub async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        assert!(
            self.limiter.drain(deadline).await,
            "settlements not applied"
        );
    }
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn budget(amount: &str) -> KeyLimits {
    KeyLimits {
        budget: Some(Budget {
            amount: dec(amount),
            currency: "USD".into(),
            window: BudgetWindow::Month,
        }),
        ..KeyLimits::default()
    }
}

pub fn rpm(n: u32) -> KeyLimits {
    KeyLimits {
        rpm: Some(n),
        ..KeyLimits::default()
    }
}

pub fn ask<'a>(key: &'a str, limits: &'a KeyLimits, tokens: u64, cost: &str) -> Ask<'a> {
    Ask {
        key_id: key,
        limits,
        tokens,
        cost: dec(cost),
        hold: Duration::from_secs(600),
    }
}

/// The start of this month's window (Unix ms).
pub fn this_month() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    BudgetWindow::Month
        .bounds(i64::try_from(now.as_millis()).unwrap())
        .0
}

/// `n` admissions of key `k` at once, on every worker thread, spread over `limiters`.
pub async fn concurrently(
    limiters: &[Arc<Limiter>],
    limits: &KeyLimits,
    n: usize,
    cost: &str,
) -> Vec<Result<Reservation, Refusal>> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let l = limiters[i % limiters.len()].clone();
        let (limits, cost) = (limits.clone(), cost.to_owned());
        set.spawn(async move { l.admit(ask("k", &limits, 100, &cost)).await });
    }
    set.join_all().await
}

pub fn is_limited(r: &Result<Reservation, Refusal>, why: LimitReason) -> bool {
    matches!(r, Err(Refusal::Limited { reason, .. }) if *reason == why)
}

/// The hold margin the behaviour tests use; [`expiry`] uses none.
pub const MARGIN: Duration = Duration::from_secs(60);

/// Generates the behaviour tests for a store: `$make(hold_margin)` builds a [`Fixture`].
#[macro_export]
macro_rules! behaviour_tests {
    ($make:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fifty_concurrent_requests_against_a_budget_that_fits_ten_admit_ten() {
            common::fifty_admit_ten($make(common::MARGIN).await).await;
        }

        #[tokio::test]
        async fn a_window_starts_from_what_the_ledger_recorded() {
            common::seeded_from_the_ledger($make(common::MARGIN).await).await;
        }

        #[tokio::test]
        async fn an_exhausted_budget_refuses_even_an_unpriced_request() {
            common::exhausted_budget($make(common::MARGIN).await).await;
        }

        #[tokio::test]
        async fn requests_per_minute_allow_a_minutes_burst() {
            common::rpm_burst($make(common::MARGIN).await).await;
        }

        #[tokio::test]
        async fn tokens_per_minute_reserve_then_settle_what_was_used() {
            common::tpm_settle($make(common::MARGIN).await).await;
        }

        #[tokio::test]
        async fn a_key_without_limits_is_not_counted() {
            common::no_limits($make(common::MARGIN).await).await;
        }

        #[tokio::test]
        async fn an_unsettled_reservation_expires_after_its_hold() {
            common::expiry($make(std::time::Duration::ZERO).await).await;
        }
    };
}

pub async fn fifty_admit_ten(f: Fixture) {
    let l = &f.limiter;
    let limits = budget("1.00");
    let results = concurrently(std::slice::from_ref(l), &limits, 50, "0.10").await;
    let admitted: Vec<Reservation> = results.into_iter().filter_map(Result::ok).collect();
    assert_eq!(admitted.len(), 10);
    let month = this_month();
    assert_eq!(l.window("k", month).await, Some((dec("0"), dec("1"))));
    // Each used less than it reserved: settling releases the rest for more requests.
    for r in admitted {
        l.settle(r, 50, dec("0.05"));
    }
    f.drain().await;
    assert_eq!(l.window("k", month).await, Some((dec("0.5"), dec("0"))));
    let more = concurrently(std::slice::from_ref(l), &limits, 50, "0.10").await;
    assert_eq!(more.iter().filter(|r| r.is_ok()).count(), 5);
    match more.into_iter().find_map(Result::err) {
        Some(Refusal::Limited {
            reason: LimitReason::Budget,
            retry_after,
        }) => assert!(retry_after > Duration::ZERO),
        other => panic!("{other:?}"),
    }
}

pub async fn seeded_from_the_ledger(f: Fixture) {
    let l = &f.limiter;
    f.spent.set("k", "0.95");
    let limits = budget("1.00");
    assert!(l.admit(ask("k", &limits, 1, "0.04")).await.is_ok());
    assert!(is_limited(
        &l.admit(ask("k", &limits, 1, "0.04")).await,
        LimitReason::Budget
    ));
    // The ledger was asked once for this window.
    assert_eq!(f.spent.calls(), 1);
}

pub async fn exhausted_budget(f: Fixture) {
    f.spent.set("k", "1.00");
    let limits = budget("1.00");
    assert!(f.limiter.admit(ask("k", &limits, 1, "0")).await.is_err());
}

pub async fn rpm_burst(f: Fixture) {
    let l = &f.limiter;
    let limits = rpm(5);
    for _ in 0..5 {
        l.admit(ask("k", &limits, 1, "0")).await.unwrap();
    }
    match l.admit(ask("k", &limits, 1, "0")).await {
        Err(Refusal::Limited {
            reason: LimitReason::Rpm,
            retry_after,
        }) => assert!(retry_after <= Duration::from_secs(12) && retry_after > Duration::ZERO),
        other => panic!("{other:?}"),
    }
    // Another key is counted apart.
    assert!(l.admit(ask("other", &limits, 1, "0")).await.is_ok());
}

pub async fn tpm_settle(f: Fixture) {
    let l = &f.limiter;
    let limits = KeyLimits {
        tpm: Some(1000),
        ..KeyLimits::default()
    };
    let a = l.admit(ask("k", &limits, 600, "0")).await.unwrap();
    assert!(is_limited(
        &l.admit(ask("k", &limits, 600, "0")).await,
        LimitReason::Tpm
    ));
    // It used 100 of its 600: 500 come back.
    l.settle(a, 100, Decimal::ZERO);
    f.drain().await;
    assert!(l.admit(ask("k", &limits, 600, "0")).await.is_ok());
    // More than a minute's worth can never run.
    assert!(is_limited(
        &l.admit(ask("k", &limits, 1001, "0")).await,
        LimitReason::TooLarge
    ));
}

pub async fn no_limits(f: Fixture) {
    let limits = KeyLimits::default();
    for _ in 0..1000 {
        let r = f.limiter.admit(ask("k", &limits, 10, "1")).await.unwrap();
        f.limiter.settle(r, 10, dec("1"));
    }
    assert_eq!(f.spent.calls(), 0);
    assert!(f.limiter.drain(tokio::time::Instant::now()).await);
}

/// With no hold margin: a reservation never settled holds its amount until its request's time
/// limit, then is released by the next admission.
pub async fn expiry(f: Fixture) {
    let l = &f.limiter;
    let limits = budget("1.00");
    let short = Ask {
        hold: Duration::from_millis(20),
        ..ask("k", &limits, 1, "0.6")
    };
    let never_settled = l.admit(short).await.unwrap();
    // Holds are released by admissions, so the window still shows it whatever the time.
    let month = this_month();
    assert_eq!(l.window("k", month).await, Some((dec("0"), dec("0.6"))));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = l.admit(ask("k", &limits, 1, "0.6")).await.unwrap();
    assert_eq!(l.window("k", month).await, Some((dec("0"), dec("0.6"))));
    assert!(is_limited(
        &l.admit(ask("k", &limits, 1, "0.6")).await,
        LimitReason::Budget
    ));
    // Settling the expired one charges what it used and releases nothing more.
    l.settle(never_settled, 1, dec("0.1"));
    f.drain().await;
    assert_eq!(l.window("k", month).await, Some((dec("0.1"), dec("0.6"))));
    l.settle(second, 1, dec("0.2"));
    f.drain().await;
    assert_eq!(l.window("k", month).await, Some((dec("0.3"), dec("0"))));
    // An unpriced request's hold expires the same way.
    let unpriced = Ask {
        hold: Duration::from_millis(20),
        ..ask("u", &limits, 1, "0")
    };
    let _never_settled = l.admit(unpriced).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    l.admit(ask("u", &limits, 1, "0")).await.unwrap();
    assert_eq!(l.window("u", month).await, Some((dec("0"), dec("0"))));
}
