//! Decoding a whole recorded provider stream, delivered in 1.4 KiB reads (one TCP segment
//! each). Baseline in the same run: splitting the same bytes on blank lines with `str`, which
//! handles none of the SSE rules, as a floor for any decoder.
//!
//! Run with `cargo bench -p sluice-sse`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_sse::{Decoder, Frame};
use std::hint::black_box;

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/sse/deepseek-chat-long-finish-length-usage-on-choice.sse"
    );
    std::fs::read(path).expect("fixture")
}

fn decode(c: &mut Criterion) {
    let bytes = fixture();
    let mut group = c.benchmark_group("decode_stream");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("decoder/1400B_reads", |b| {
        b.iter(|| {
            let mut dec = Decoder::new();
            let mut n = 0usize;
            for piece in bytes.chunks(1400) {
                dec.push(black_box(piece));
                while let Ok(Some(frame)) = dec.next_frame() {
                    if let Frame::Event(ev) = frame {
                        n += ev.data.len();
                    }
                }
            }
            n
        })
    });
    group.bench_function("baseline_str_split", |b| {
        b.iter(|| {
            let text = std::str::from_utf8(black_box(&bytes)).unwrap();
            text.split("\n\n")
                .filter_map(|ev| ev.strip_prefix("data: "))
                .map(str::len)
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
