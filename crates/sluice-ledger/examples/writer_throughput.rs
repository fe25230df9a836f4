//! Rows per second the batching writer sustains into a ledger.
//!
//! Run with `cargo run --release -p sluice-ledger --example writer_throughput -- URL [ROWS]`
//! (used by `scripts/bench-ledger.sh`). Records ROWS rows (default 200,000) from 8 tasks as fast
//! as they can, then waits for the writer to store them all, and prints one JSON line.

use std::time::Instant;

use rust_decimal::Decimal;
use sluice_ledger::{Ledger, Row, WriterConfig};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: writer_throughput URL [ROWS]");
    let rows: u64 = args.next().map_or(200_000, |n| n.parse().expect("ROWS"));
    let ledger = Ledger::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let before = ledger.count().await.expect("count");
    let (handle, task) = ledger.writer(WriterConfig::default());
    let task = tokio::spawn(task);
    let start = Instant::now();
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let handle = handle.clone();
            tokio::spawn(async move {
                for i in (p..rows).step_by(8) {
                    // Sustained, not burst: stay under the writer's queue bound.
                    while handle.pending() > 32_768 {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                    handle.record(row(i));
                    if i % 1024 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.await.expect("producer");
    }
    handle.shutdown().await;
    task.await.expect("writer");
    let secs = start.elapsed().as_secs_f64();
    let stored = ledger.count().await.expect("count") - before;
    println!(
        "{{\"backend\":\"{}\",\"rows\":{rows},\"stored\":{stored},\"dropped\":{},\"seconds\":{secs:.3},\"rows_per_s\":{:.0}}}",
        ledger.backend(),
        handle.dropped(),
        stored as f64 / secs
    );
}

fn row(i: u64) -> Row {
    Row {
        request_id: format!("bench-{}-{i}", std::process::id()),
        client_request_id: None,
        at_ms: 1_795_000_000_000 + i as i64,
        key_id: None,
        model: "mock".into(),
        provider: Some("up".into()),
        provider_model: Some("mock".into()),
        status: "ok".into(),
        http_status: 200,
        stream: true,
        prompt_tokens: 12,
        completion_tokens: 40,
        estimated: false,
        cost_usd: Decimal::new(1_9940, 8),
        cost_local: Decimal::new(1_9940, 8),
        currency: "USD".into(),
        ttft_ms: Some(1.5),
        duration_ms: 20.0,
        attempts: 1,
        error: None,
    }
}
