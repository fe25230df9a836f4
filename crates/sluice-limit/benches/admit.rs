//! One admission and its settlement, for a key with requests per minute, tokens per minute and
//! a budget (limits set high so every request is admitted), on one client core (a
//! current-thread runtime): counted in memory, and in Redis on loopback with one caller at a
//! time and with several at once (their calls share the one multiplexed connection). A
//! batch ends when every settlement queued for Redis has been applied, so settlements are in
//! the time.
//!
//! Run with `cargo bench -p sluice-limit --bench admit` (Redis at `SLUICE_BENCH_REDIS`,
//! `redis://127.0.0.1:6379` unless set; without it, only memory runs). Its keys are under a
//! prefix of its own, deleted at the end.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_limit::{Ask, Limiter, SpendSource};
use sluice_types::{Budget, BudgetWindow, Decimal, KeyLimits, OnStoreError};

/// A ledger with nothing spent.
struct NothingSpent;

impl SpendSource for NothingSpent {
    fn spent<'a>(
        &'a self,
        _key_id: &'a str,
        _since_ms: i64,
        _currency: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Decimal, String>> + Send + 'a>> {
        Box::pin(async { Ok(Decimal::ZERO) })
    }
}

fn limits() -> KeyLimits {
    KeyLimits {
        rpm: Some(u32::MAX),
        tpm: Some(1_000_000_000_000),
        budget: Some(Budget {
            amount: Decimal::from(1_000_000),
            currency: "USD".into(),
            window: BudgetWindow::Month,
        }),
        models: None,
    }
}

/// One request: admitted, then settled with a little less than it reserved.
async fn one(l: &Limiter, limits: &KeyLimits, cost: Decimal, used: Decimal) {
    let ask = Ask {
        key_id: "bench",
        limits,
        tokens: 500,
        cost,
        hold: Duration::from_secs(600),
    };
    let r = l.admit(ask).await.expect("admitted");
    l.settle(r, 400, used);
}

/// `iters` requests from `callers` callers at once; the time until all are settled.
async fn run(l: &Arc<Limiter>, iters: u64, callers: u64) -> Duration {
    let (cost, used) = (
        Decimal::from_str("0.0001").unwrap(),
        Decimal::from_str("0.00008").unwrap(),
    );
    let limits = limits();
    let start = Instant::now();
    if callers == 1 {
        for _ in 0..iters {
            one(l, &limits, cost, used).await;
        }
    } else {
        let mut set = tokio::task::JoinSet::new();
        for c in 0..callers {
            let n = iters / callers + u64::from(c < iters % callers);
            let (l, limits) = (l.clone(), limits.clone());
            set.spawn(async move {
                for _ in 0..n {
                    one(&l, &limits, cost, used).await;
                }
            });
        }
        set.join_all().await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    assert!(l.drain(deadline).await, "settlements applied");
    start.elapsed()
}

fn admit_and_settle(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("admit_settle");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));

    let memory = Arc::new(Limiter::in_memory(Arc::new(NothingSpent)));
    group.bench_function("memory", |b| {
        b.iter_custom(|iters| rt.block_on(run(&memory, iters, 1)))
    });

    let url = std::env::var("SLUICE_BENCH_REDIS").unwrap_or("redis://127.0.0.1:6379".into());
    let prefix = format!("sluice-bench:{}", std::process::id());
    let redis = rt.block_on(async {
        let l = Limiter::with_redis(&url, &prefix, OnStoreError::Closed, Arc::new(NothingSpent))
            .expect("a Redis URL");
        let limits = limits();
        let probe = Ask {
            key_id: "bench",
            limits: &limits,
            tokens: 1,
            cost: Decimal::ZERO,
            hold: Duration::from_secs(1),
        };
        l.admit(probe).await.is_ok().then_some(Arc::new(l))
    });
    match &redis {
        Some(redis) => {
            for callers in [1, 16, 64] {
                group.bench_function(format!("redis/{callers}_callers"), |b| {
                    b.iter_custom(|iters| rt.block_on(run(redis, iters, callers)))
                });
            }
        }
        None => eprintln!("no Redis at {url}: only memory was measured"),
    }
    group.finish();
    if redis.is_some() {
        if let Err(e) = delete_prefix(&url, &prefix) {
            eprintln!("could not delete the bench's keys under {prefix}: {e}");
        }
    }
}

fn delete_prefix(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).exec(&mut conn)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

criterion_group!(benches, admit_and_settle);
criterion_main!(benches);
