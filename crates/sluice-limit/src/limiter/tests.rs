use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use sluice_types::{Budget, BudgetWindow};

use super::*;

/// A ledger stand-in: what each key spent before the limiter counted.
#[derive(Default)]
struct Spent(Mutex<HashMap<String, Decimal>>, AtomicU64);

impl SpendSource for Spent {
    fn spent<'a>(
        &'a self,
        key_id: &'a str,
        _since_ms: i64,
        _currency: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Decimal, String>> + Send + 'a>> {
        self.1.fetch_add(1, Ordering::Relaxed);
        let v = self
            .0
            .lock()
            .unwrap()
            .get(key_id)
            .copied()
            .unwrap_or_default();
        Box::pin(async move { Ok(v) })
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn budget(amount: &str) -> KeyLimits {
    KeyLimits {
        budget: Some(Budget {
            amount: dec(amount),
            currency: "USD".into(),
            window: BudgetWindow::Month,
        }),
        ..KeyLimits::default()
    }
}

fn ask<'a>(key: &'a str, limits: &'a KeyLimits, tokens: u64, cost: &str) -> Ask<'a> {
    Ask {
        key_id: key,
        limits,
        tokens,
        cost: dec(cost),
        hold: Duration::from_secs(600),
    }
}

fn limiter() -> (Limiter, Arc<Spent>) {
    let spent = Arc::new(Spent::default());
    (Limiter::in_memory(spent.clone()), spent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_against_a_budget_that_fits_ten_admit_ten() {
    let (l, _) = limiter();
    let l = Arc::new(l);
    let limits = budget("1.00");
    let results = concurrently(&l, &limits, 50, "0.10").await;
    let admitted: Vec<Reservation> = results.into_iter().filter_map(Result::ok).collect();
    assert_eq!(admitted.len(), 10);
    let month = BudgetWindow::Month.bounds(now_us() / 1000).0;
    assert_eq!(l.window("k", month), Some((dec("0"), dec("1"))));
    // Each used less than it reserved: settling releases the rest for more requests.
    for r in admitted {
        l.settle(r, 50, dec("0.05"));
    }
    assert_eq!(l.window("k", month), Some((dec("0.5"), dec("0"))));
    let more = concurrently(&l, &limits, 50, "0.10").await;
    assert_eq!(more.iter().filter(|r| r.is_ok()).count(), 5);
    match more.into_iter().find_map(Result::err) {
        Some(Refusal::Limited {
            reason: LimitReason::Budget,
            retry_after,
        }) => assert!(retry_after > Duration::ZERO),
        other => panic!("{other:?}"),
    }
}

/// `n` admissions of key `k` at once, on every worker thread.
async fn concurrently(
    l: &Arc<Limiter>,
    limits: &KeyLimits,
    n: usize,
    cost: &str,
) -> Vec<Result<Reservation, Refusal>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (l, limits, cost) = (l.clone(), limits.clone(), cost.to_owned());
        set.spawn(async move { l.admit(ask("k", &limits, 100, &cost)).await });
    }
    set.join_all().await
}

#[tokio::test]
async fn a_window_starts_from_what_the_ledger_recorded() {
    let (l, spent) = limiter();
    spent.0.lock().unwrap().insert("k".into(), dec("0.95"));
    let limits = budget("1.00");
    assert!(l.admit(ask("k", &limits, 1, "0.04")).await.is_ok());
    assert!(matches!(
        l.admit(ask("k", &limits, 1, "0.04")).await,
        Err(Refusal::Limited {
            reason: LimitReason::Budget,
            ..
        })
    ));
    // The ledger was asked once for this window.
    assert_eq!(spent.1.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn an_exhausted_budget_refuses_even_an_unpriced_request() {
    let (l, spent) = limiter();
    spent.0.lock().unwrap().insert("k".into(), dec("1.00"));
    let limits = budget("1.00");
    assert!(l.admit(ask("k", &limits, 1, "0")).await.is_err());
}

#[tokio::test]
async fn requests_per_minute_allow_a_minutes_burst() {
    let (l, _) = limiter();
    let limits = KeyLimits {
        rpm: Some(5),
        ..KeyLimits::default()
    };
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

#[tokio::test]
async fn tokens_per_minute_reserve_then_settle_what_was_used() {
    let (l, _) = limiter();
    let limits = KeyLimits {
        tpm: Some(1000),
        ..KeyLimits::default()
    };
    let a = l.admit(ask("k", &limits, 600, "0")).await.unwrap();
    assert!(matches!(
        l.admit(ask("k", &limits, 600, "0")).await,
        Err(Refusal::Limited {
            reason: LimitReason::Tpm,
            ..
        })
    ));
    // It used 100 of its 600: 500 come back.
    l.settle(a, 100, Decimal::ZERO);
    assert!(l.admit(ask("k", &limits, 600, "0")).await.is_ok());
    // More than a minute's worth can never run.
    assert!(matches!(
        l.admit(ask("k", &limits, 1001, "0")).await,
        Err(Refusal::Limited {
            reason: LimitReason::TooLarge,
            ..
        })
    ));
}

#[tokio::test]
async fn a_key_without_limits_is_not_counted() {
    let (l, spent) = limiter();
    let limits = KeyLimits::default();
    for _ in 0..1000 {
        let r = l.admit(ask("k", &limits, 10, "1")).await.unwrap();
        l.settle(r, 10, dec("1"));
    }
    assert_eq!(spent.1.load(Ordering::Relaxed), 0);
}

#[test]
fn unsettled_reservations_expire_after_their_hold() {
    let store = MemoryStore::new();
    let plan = |id| Plan {
        id,
        rpm_cost_us: None,
        tpm_cost_us: None,
        budget: Some(BudgetPlan {
            window_start_ms: 0,
            window_end_ms: 86_400_000,
            limit_nanos: 1_000_000_000,
            ask_nanos: 600_000_000,
        }),
        hold_us: 10,
    };
    assert_eq!(store.admit("k", &plan(1), 100), Admit::NeedSeed);
    store.seed("k", 0, 0);
    assert_eq!(store.admit("k", &plan(1), 100), Admit::Admitted);
    assert!(matches!(
        store.admit("k", &plan(2), 105),
        Admit::Limited { .. }
    ));
    // Past the first one's hold, it is released and the second fits.
    assert_eq!(store.admit("k", &plan(2), 111), Admit::Admitted);
    assert_eq!(store.window("k", 0), Some((0, 600_000_000)));
}
