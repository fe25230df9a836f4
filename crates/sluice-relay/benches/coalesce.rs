//! Merging deltas for a client that does not read: the cost per merged delta as the merged
//! text grows, against the implementation before byte-level merging (`baseline/coalesce_old.rs`) in the
//! same run. A cost per delta that stays flat as `deltas` grows is the amortised O(1) merge;
//! the old one grows with the text already merged.
//!
//! Run with `cargo bench -p sluice-relay --bench coalesce`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_openai::encode::DATA_PREFIX;
use sluice_relay::coalesce::{Holes, Merged};
use std::hint::black_box;

#[allow(dead_code)]
#[path = "baseline/coalesce_old.rs"]
mod coalesce_old;
use coalesce_old::Mergeable;

const CONTENT: &[u8] = br#"data: {"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"content":" weather"},"logprobs":null,"finish_reason":null}]}

"#;

const TOOL_ARGS: &[u8] = br#"data: {"id":"chatcmpl-AB","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"loc"}}]},"logprobs":null,"finish_reason":null}]}

"#;

fn payload(frame: &[u8]) -> &[u8] {
    &frame[6..frame.len() - 2]
}

/// The queue's last item absorbs `n` deltas, then is written out. The holes come with each
/// frame from the relay's one read of its chunk (`inspect`, paid whether or not the client is
/// behind), so merging itself reads nothing.
fn absorb_in_place(frame: &Bytes, holes: Holes, n: usize) -> usize {
    let mut last = Merged::new(frame.clone(), holes);
    for _ in 1..n {
        let next = Merged::new(black_box(frame.clone()), black_box(holes));
        assert!(last.try_append(&next));
    }
    last.into_bytes().len()
}

/// The same for deltas whose payload the encoder rewrote: each is read again to merge.
fn absorb_reading(frame: &Bytes, n: usize) -> usize {
    let mut last = Merged::read(frame.clone()).expect("mergeable");
    for _ in 1..n {
        let next = Merged::read(black_box(frame.clone())).expect("mergeable");
        assert!(last.try_append(&next));
    }
    last.into_bytes().len()
}

/// The same with the old implementation, as its `make_room` did it: parse the new delta, take
/// the last item's merge view (a clone), append, put it back.
fn absorb_old(frame: &[u8], n: usize) -> usize {
    let mut last = Mergeable::parse(payload(frame)).expect("mergeable");
    for _ in 1..n {
        let next = Mergeable::parse(payload(black_box(frame))).expect("mergeable");
        let mut view = last.clone();
        assert!(view.try_append(next).is_ok());
        last = view;
    }
    last.to_payload().len()
}

fn absorb(c: &mut Criterion) {
    for (name, frame) in [("content", CONTENT), ("tool_args", TOOL_ARGS)] {
        let mut group = c.benchmark_group(format!("absorb/{name}"));
        let bytes = Bytes::from_static(frame);
        let summary = sluice_openai::inspect(payload(frame)).expect("a chunk");
        let holes = Holes::of(&summary, DATA_PREFIX.len()).expect("mergeable");
        for n in [64usize, 1024, 16384] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("in_place", n), &n, |b, &n| {
                b.iter(|| absorb_in_place(&bytes, holes, n))
            });
            group.bench_with_input(BenchmarkId::new("reading", n), &n, |b, &n| {
                b.iter(|| absorb_reading(&bytes, n))
            });
            // The old merge is quadratic: beyond a few thousand deltas a run takes minutes.
            if n <= 1024 {
                group.bench_with_input(BenchmarkId::new("baseline_value_clone", n), &n, |b, &n| {
                    b.iter(|| absorb_old(frame, n))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, absorb);
criterion_main!(benches);
