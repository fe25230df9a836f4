//! A large ledger for the dashboard's benchmark, and the same-run baseline of its queries.
//!
//! Run with `cargo run --release -p sluice-ledger --example dashboard_ledger -- URL fill ROWS
//! DAYS` to write ROWS request rows spread evenly over the last DAYS days (oldest first, as a
//! gateway writes them; 20,000 per transaction, rollups maintained as always), over four
//! models, six providers and eight keys (stored, with a hash nothing matches), about 3% of
//! them failures; or `-- URL compare CALLS` to time, CALLS times each, spend today and this
//! month from the rollups against the same sums from the rows, and the keys' spend in their
//! windows from the rollups against one row query per key (what `sluice keys list` does).
//! Prints one JSON line. Used by `scripts/bench-dashboard.sh`.

use std::time::Instant;

use rust_decimal::Decimal;
use sluice_ledger::{ApiKey, Ledger, Row};
use sluice_types::{unix_ms, BudgetWindow, KeyLimits};

const BATCH: usize = 20_000;
const KEYS: usize = 8;
/// (model, its providers, price in 1e-8 USD per token in and out, billing currency).
const MODELS: [(&str, &[&str], i64, i64, &str); 4] = [
    ("gpt-4.1", &["openai", "holysheep"], 200, 800, "USD"),
    (
        "claude-sonnet-4",
        &["anthropic", "holysheep"],
        300,
        1500,
        "USD",
    ),
    ("deepseek-chat", &["deepseek"], 27, 110, "USD"),
    ("mock", &["mock", "relay"], 1, 2, "JPY"),
];
const FAILURES: [&str; 4] = [
    "provider_5xx",
    "client_closed",
    "first_token_timeout",
    "rate_limited",
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: dashboard_ledger URL fill ROWS DAYS | URL compare CALLS";
    let (url, mode) = (args.first().expect(usage), args.get(1).expect(usage));
    let ledger = Ledger::open(url).await.unwrap_or_else(|e| panic!("{e}"));
    let number = |i: usize| -> u64 { args.get(i).expect(usage).parse().expect(usage) };
    match mode.as_str() {
        "fill" => fill(&ledger, number(2), number(3)).await,
        "compare" => compare(&ledger, number(2) as usize).await,
        _ => panic!("{usage}"),
    }
}

/// A deterministic stream of numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn key_id(k: usize) -> String {
    format!("benchkey{k:04}")
}

async fn fill(ledger: &Ledger, rows: u64, days: u64) {
    let start = Instant::now();
    let now = unix_ms();
    for k in 0..KEYS {
        let key = ApiKey {
            id: key_id(k),
            name: format!("team {k}"),
            secret_hash: "0".repeat(64),
            admin: false,
            limits: KeyLimits::default(),
            created_ms: now,
            expires_ms: None,
            revoked_ms: None,
            last_used_ms: None,
            updated_ms: now,
        };
        // A second fill of the same ledger keeps the keys it has.
        let _ = ledger.insert_key(&key).await;
    }
    let span = (days * 86_400_000) as i64;
    let first = now - span;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..rows {
        batch.push(row(
            &mut rng,
            i,
            first + (i as i128 * span as i128 / rows as i128) as i64,
        ));
        if batch.len() == BATCH {
            ledger
                .insert(&batch)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            batch.clear();
        }
    }
    ledger
        .insert(&batch)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"backend\":\"{}\",\"rows\":{rows},\"days\":{days},\"stored\":{},\"seconds\":{secs:.1},\"rows_per_s\":{:.0}}}",
        ledger.backend(),
        ledger.count().await.expect("count"),
        rows as f64 / secs
    );
}

fn row(rng: &mut Rng, i: u64, at_ms: i64) -> Row {
    let r = rng.next();
    // 40%, 30%, 20%, 10% of the traffic.
    let pick = match r % 10 {
        0..=3 => 0,
        4..=6 => 1,
        7..=8 => 2,
        _ => 3,
    };
    let (model, providers, price_in, price_out, currency) = MODELS[pick];
    let provider = providers[(r >> 8) as usize % providers.len()];
    let failed = (r >> 16) % 100 < 3;
    let prompt = 50 + (r >> 20) % 2000;
    let completion = if failed { 0 } else { 20 + (r >> 32) % 800 };
    let usd = Decimal::new(price_in * prompt as i64 + price_out * completion as i64, 8);
    let (local, currency) = if currency == "JPY" {
        (usd * Decimal::from(150), "JPY")
    } else {
        (usd, "USD")
    };
    let mut row = Row::new(
        format!("bench-{at_ms}-{i}"),
        at_ms,
        model,
        if failed {
            FAILURES[(r >> 40) as usize % FAILURES.len()]
        } else {
            "ok"
        },
        if failed { 502 } else { 200 },
    );
    row.key_id = ((r >> 44) % 50 != 0).then(|| key_id((r >> 48) as usize % KEYS));
    row.provider = Some(provider.into());
    row.provider_model = Some(model.into());
    row.stream = true;
    row.prompt_tokens = prompt;
    row.completion_tokens = completion;
    row.cost_usd = usd.normalize();
    row.cost_local = local.normalize();
    row.currency = currency.into();
    row.ttft_ms = (!failed).then_some(100.0 + ((r >> 52) % 900) as f64 + 0.25);
    row.duration_ms = 500.0 + ((r >> 24) % 20_000) as f64 + 0.5;
    row.attempts = 1;
    row
}

/// Times `f` `calls` times: (p50, p99) in milliseconds, nearest rank.
async fn time<F, Fut, T>(calls: usize, mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut ms: Vec<f64> = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        std::hint::black_box(f().await);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let rank = |q: f64| ms[((q * calls as f64).ceil() as usize).clamp(1, calls) - 1];
    (rank(0.5), rank(0.99))
}

async fn compare(ledger: &Ledger, calls: usize) {
    let now = unix_ms();
    let today = BudgetWindow::Day.bounds(now).0;
    let month = BudgetWindow::Month.bounds(now).0;
    let (since_month, until_month) = BudgetWindow::Month.bounds(now);
    // The same sums both ways, checked once.
    for since in [today, month] {
        let a = ledger.spend(since, None).await.expect("spend");
        let b = ledger
            .spend_from_rows(since, None)
            .await
            .expect("spend from rows");
        assert_eq!(a, b, "the rollups differ from the rows since {since}");
    }
    let mut out = Vec::new();
    for (name, since) in [("spend_today", today), ("spend_month", month)] {
        let rolled = time(calls, || ledger.spend(since, None)).await;
        let raw = time(calls, || ledger.spend_from_rows(since, None)).await;
        out.push(format!(
            "\"{name}\":{{\"rollups\":[{:.2},{:.2}],\"rows\":[{:.2},{:.2}]}}",
            rolled.0, rolled.1, raw.0, raw.1
        ));
    }
    let keys_rolled = time(calls, || ledger.spend(since_month, Some(until_month))).await;
    let keys_raw = time(calls, || async {
        for k in 0..KEYS {
            ledger
                .key_spend(&key_id(k), since_month, until_month)
                .await
                .expect("key spend");
        }
    })
    .await;
    out.push(format!(
        "\"keys_spend_month\":{{\"rollups\":[{:.2},{:.2}],\"rows\":[{:.2},{:.2}]}}",
        keys_rolled.0, keys_rolled.1, keys_raw.0, keys_raw.1
    ));
    println!(
        "{{\"backend\":\"{}\",\"rows\":{},\"calls\":{calls},\"p50_p99_ms\":{{{}}}}}",
        ledger.backend(),
        ledger.count().await.expect("count"),
        out.join(",")
    );
}
