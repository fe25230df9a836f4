//! The limiter with its counters in Redis: the same behaviour as in memory (on the server at
//! `SLUICE_TEST_REDIS`, `redis://127.0.0.1:6379` unless set, each test under a key prefix of
//! its own, deleted after); replicas sharing a server act as one; and `on_store_error`, with
//! a server of the test's own that stops and comes back on the same port.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{ask, budget, dec, is_limited, rpm, this_month, Fixture, Spent};
use sluice_limit::{LimitError, LimitReason, Limiter, Refusal, DEFAULT_REDIS_PREFIX};
use sluice_types::{KeyLimits, OnStoreError};
use tokio::time::Instant;

fn shared_url() -> String {
    std::env::var("SLUICE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix no other test (or run) uses.
fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "sluice-test:{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes every key under a prefix when dropped, also when the test failed.
struct Keys {
    url: String,
    prefix: String,
}

impl Drop for Keys {
    fn drop(&mut self) {
        if let Err(e) = delete_prefix(&self.url, &self.prefix) {
            eprintln!(
                "could not delete the test's keys under {}: {e}",
                self.prefix
            );
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

fn replica(prefix: &str, spent: &Arc<Spent>) -> Arc<Limiter> {
    let l = Limiter::with_redis(&shared_url(), prefix, OnStoreError::Closed, spent.clone());
    Arc::new(l.expect("a limiter on Redis"))
}

async fn redis(hold_margin: Duration) -> Fixture {
    let prefix = unique_prefix();
    let spent = Arc::new(Spent::default());
    let limiter = Limiter::with_redis(&shared_url(), &prefix, OnStoreError::Closed, spent.clone())
        .expect("a limiter on Redis")
        .with_hold_margin(hold_margin);
    assert_eq!(limiter.store_name(), "redis");
    Fixture {
        limiter: Arc::new(limiter),
        spent,
        guard: Some(Box::new(Keys {
            url: shared_url(),
            prefix,
        })),
    }
}

behaviour_tests!(redis);

/// Two replicas on one Redis and prefix, with one ledger, and the keys they make.
fn two_replicas(spent: Spent) -> (Keys, Arc<Spent>, Arc<Limiter>, Arc<Limiter>) {
    let prefix = unique_prefix();
    let spent = Arc::new(spent);
    let (a, b) = (replica(&prefix, &spent), replica(&prefix, &spent));
    let keys = Keys {
        url: shared_url(),
        prefix,
    };
    (keys, spent, a, b)
}

#[tokio::test]
async fn two_replicas_count_one_set_of_limits() {
    let (_keys, _, a, b) = two_replicas(Spent::default());
    let limits = rpm(5);
    for l in [&a, &a, &a, &b, &b] {
        l.admit(ask("k", &limits, 1, "0")).await.unwrap();
    }
    for l in [&a, &b] {
        assert!(is_limited(
            &l.admit(ask("k", &limits, 1, "0")).await,
            LimitReason::Rpm
        ));
    }
    let limits = budget("1.00");
    a.admit(ask("b", &limits, 1, "0.6")).await.unwrap();
    assert!(is_limited(
        &b.admit(ask("b", &limits, 1, "0.6")).await,
        LimitReason::Budget
    ));
    b.admit(ask("b", &limits, 1, "0.4")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_at_once_across_two_replicas_against_a_budget_that_fits_ten_admit_ten() {
    let (_keys, _, a, b) = two_replicas(Spent::default());
    let results = common::concurrently(&[a.clone(), b.clone()], &budget("1.00"), 50, "0.10").await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    let month = this_month();
    assert_eq!(a.window("k", month).await, Some((dec("0"), dec("1"))));
    assert_eq!(b.window("k", month).await, Some((dec("0"), dec("1"))));
}

#[tokio::test]
async fn a_window_is_seeded_once_across_replicas() {
    let (_keys, spent, a, b) = two_replicas(Spent::with("k", "0.95"));
    let limits = budget("1.00");
    a.admit(ask("k", &limits, 1, "0.04")).await.unwrap();
    assert!(is_limited(
        &b.admit(ask("k", &limits, 1, "0.04")).await,
        LimitReason::Budget
    ));
    assert_eq!(spent.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_seeding_one_window_at_once_count_the_ledger_once() {
    // Both ask the ledger before either seeds: both seed, and the first one's figure stands.
    let (_keys, spent, a, b) = two_replicas(Spent {
        barrier: Some(tokio::sync::Barrier::new(2)),
        ..Spent::with("k", "0.5")
    });
    let limits = budget("1.00");
    let both = async {
        tokio::join!(
            a.admit(ask("k", &limits, 1, "0.1")),
            b.admit(ask("k", &limits, 1, "0.1"))
        )
    };
    let (ra, rb) = tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("both replicas asked the ledger");
    assert!(ra.is_ok() && rb.is_ok());
    assert_eq!(spent.calls(), 2);
    assert_eq!(
        a.window("k", this_month()).await,
        Some((dec("0.5"), dec("0.2")))
    );
}

#[tokio::test]
async fn a_settlement_is_visible_to_every_replica_after_drain() {
    let (_keys, _, a, b) = two_replicas(Spent::default());
    let r = a.admit(ask("k", &budget("1.00"), 1, "0.3")).await.unwrap();
    a.settle(r, 10, dec("0.25"));
    assert!(a.drain(Instant::now() + Duration::from_secs(10)).await);
    assert_eq!(
        b.window("k", this_month()).await,
        Some((dec("0.25"), dec("0")))
    );
}

#[tokio::test]
async fn every_key_the_limiter_writes_expires() {
    let (keys, _, a, _) = two_replicas(Spent::default());
    let limits = KeyLimits {
        rpm: Some(100),
        tpm: Some(10_000),
        ..budget("1.00")
    };
    let settled = a.admit(ask("k", &limits, 100, "0.1")).await.unwrap();
    let _open = a.admit(ask("k", &limits, 100, "0.1")).await.unwrap();
    a.settle(settled, 50, dec("0.05"));
    assert!(a.drain(Instant::now() + Duration::from_secs(10)).await);

    let client = redis::Client::open(shared_url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let written: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", keys.prefix))
        .query(&mut conn)
        .unwrap();
    let base = format!("{}:k", keys.prefix);
    let mut names: Vec<&str> = written
        .iter()
        .map(|k| k.strip_prefix(&base).unwrap())
        .collect();
    names.sort_unstable();
    let window = format!(":w:{}", this_month());
    assert_eq!(names, [":open", ":rpm", ":tpm", window.as_str()]);
    for key in &written {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).unwrap();
        assert!(ttl > 0, "{key} has no time to live");
    }
}

/// A `redis-server` of the test's own, without persistence, that can stop and start again
/// on the same port.
struct Server {
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn start() -> Server {
        let mut s = Server {
            port: free_port(),
            child: None,
        };
        s.up();
        s
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let answer = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if answer.is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.down();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Waits for `what` to become true (the probe asks Redis every second).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the limiter logs on this thread, one line per event.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Captures what is logged on this thread (a current-thread runtime runs every task on it).
    fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    fn lines_with(&self, text: &str) -> usize {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

#[tokio::test]
async fn closed_refuses_as_unavailable_while_redis_is_down_and_admits_when_it_is_back() {
    let (log, _guard) = Log::capture();
    let mut server = Server::start();
    let spent = Arc::new(Spent::default());
    let l = Limiter::with_redis(
        &server.url(),
        DEFAULT_REDIS_PREFIX,
        OnStoreError::Closed,
        spent,
    )
    .unwrap();
    let limits = KeyLimits {
        rpm: Some(1000),
        ..budget("100")
    };
    l.admit(ask("k", &limits, 1, "0.1")).await.unwrap();
    assert!(l.store_up());

    server.down();
    for _ in 0..20 {
        assert_eq!(
            l.admit(ask("k", &limits, 1, "0.1")).await.unwrap_err(),
            Refusal::Unavailable
        );
    }
    assert!(!l.store_up());
    assert!(l.store_errors() >= 1);
    // One warning for the outage, not one per request.
    assert_eq!(log.lines_with("WARN"), 1);
    assert_eq!(log.lines_with("does not answer"), 1);

    server.up();
    eventually("the store is up again", || l.store_up()).await;
    l.admit(ask("k", &limits, 1, "0.1")).await.unwrap();
    assert_eq!(log.lines_with("answers again"), 1);
    assert_eq!(log.lines_with("WARN"), 1);
}

#[tokio::test]
async fn open_counts_per_replica_while_redis_is_down_then_shares_again() {
    let mut server = Server::start();
    let spent = Arc::new(Spent::default());
    let open = |spent: &Arc<Spent>| {
        Limiter::with_redis(
            &server.url(),
            DEFAULT_REDIS_PREFIX,
            OnStoreError::Open,
            spent.clone(),
        )
        .unwrap()
    };
    let (a, b) = (open(&spent), open(&spent));
    let limits = KeyLimits {
        rpm: Some(3),
        ..budget("1.00")
    };
    let in_redis = a.admit(ask("k", &limits, 1, "0.1")).await.unwrap();

    server.down();
    // Each replica counts alone: three a minute each, from a window seeded from the ledger.
    let mut held = Vec::new();
    for l in [&a, &a, &a, &b, &b, &b] {
        held.push(l.admit(ask("k", &limits, 1, "0.1")).await.unwrap());
    }
    for l in [&a, &b] {
        assert!(is_limited(
            &l.admit(ask("k", &limits, 1, "0.1")).await,
            LimitReason::Rpm
        ));
    }
    assert!(!a.store_up());
    // A reservation goes back to the store that made it: this one to a's own counters...
    a.settle(held.remove(0), 1, dec("0.05"));
    assert_eq!(
        a.window("k", this_month()).await,
        Some((dec("0.05"), dec("0.2")))
    );
    // ...and this one waits for Redis.
    a.settle(in_redis, 1, dec("0.05"));
    assert!(!a.drain(Instant::now() + Duration::from_millis(100)).await);

    server.up();
    eventually("both stores are up again", || a.store_up() && b.store_up()).await;
    assert!(a.drain(Instant::now() + Duration::from_secs(10)).await);
    assert_eq!(a.dropped_settlements(), 0);
    // Shared again (by a Redis that lost everything: the window is seeded anew).
    for l in [&a, &a, &b] {
        l.admit(ask("k", &limits, 1, "0.1")).await.unwrap();
    }
    for l in [&a, &b] {
        assert!(is_limited(
            &l.admit(ask("k", &limits, 1, "0.1")).await,
            LimitReason::Rpm
        ));
    }
    // The ledger seeded Redis, each replica's own window, then the new Redis.
    assert_eq!(spent.calls(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlements_wait_for_redis_and_a_full_queue_drops_and_counts() {
    const N: usize = 70_000;
    const QUEUE: usize = 65_536;
    let mut server = Server::start();
    let l = Limiter::with_redis(
        &server.url(),
        DEFAULT_REDIS_PREFIX,
        OnStoreError::Closed,
        Arc::new(Spent::default()),
    )
    .unwrap();
    let l = Arc::new(l);
    let limits = KeyLimits {
        tpm: Some(u64::MAX),
        ..KeyLimits::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (l, limits) = (l.clone(), limits.clone());
        tasks.spawn(async move {
            let mut held = Vec::new();
            for _ in 0..N / 8 {
                held.push(l.admit(ask("k", &limits, 1, "0")).await.unwrap());
            }
            held
        });
    }
    let held: Vec<_> = tasks.join_all().await.into_iter().flatten().collect();
    assert_eq!(held.len(), N);

    server.down();
    for r in held {
        l.settle(r, 1, dec("0"));
    }
    // The queue holds QUEUE of them, and the task applying them up to 64 more.
    let dropped = usize::try_from(l.dropped_settlements()).unwrap();
    assert!((N - QUEUE - 64..=N - QUEUE).contains(&dropped), "{dropped}");
    assert!(!l.drain(Instant::now() + Duration::from_millis(100)).await);

    server.up();
    assert!(l.drain(Instant::now() + Duration::from_secs(60)).await);
    assert_eq!(usize::try_from(l.dropped_settlements()).unwrap(), dropped);
}

#[tokio::test]
async fn an_unreachable_server_is_not_an_error_at_start() {
    let port = free_port();
    let l = Limiter::with_redis(
        &format!("redis://127.0.0.1:{port}"),
        DEFAULT_REDIS_PREFIX,
        OnStoreError::Closed,
        Arc::new(Spent::default()),
    )
    .unwrap();
    let limits = rpm(10);
    assert_eq!(
        l.admit(ask("k", &limits, 1, "0")).await.unwrap_err(),
        Refusal::Unavailable
    );
    assert!(!l.store_up());
    let mut server = Server { port, child: None };
    server.up();
    eventually("the store is up", || l.store_up()).await;
    l.admit(ask("k", &limits, 1, "0")).await.unwrap();
}

#[test]
fn a_bad_url_is_an_error_and_so_is_no_runtime() {
    let spent = Arc::new(Spent::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bad = rt.block_on(async {
        Limiter::with_redis("http://nowhere", "p", OnStoreError::Closed, spent.clone())
    });
    assert!(matches!(bad, Err(LimitError::InvalidUrl(_))), "{bad:?}");
    let outside = Limiter::with_redis(&shared_url(), "p", OnStoreError::Closed, spent);
    assert!(matches!(outside, Err(LimitError::NoRuntime)), "{outside:?}");
}
