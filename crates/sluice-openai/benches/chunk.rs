//! The relay's per-chunk work: decode one SSE event, inspect its JSON, write it for the client.
//! Baseline in the same run: the naive approach of building a `serde_json::Value` per chunk;
//! and `inspect`'s one parse against a stream's `Inspector`, which skips it for a delta that
//! differs from the last only in its text.
//!
//! Run with `cargo bench -p sluice-openai --bench chunk`.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_openai::chunk;
use sluice_openai::encode::{ChatChunks, ClientEncoder};
use sluice_sse::{Decoder, Frame};
use std::hint::black_box;

const CONTENT: &[u8] = br#"data: {"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"content":" weather"},"logprobs":null,"finish_reason":null}]}

"#;

const USAGE_ON_CHOICE: &[u8] = br#"data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":13,"completion_tokens":400,"total_tokens":413,"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":13}}

"#;

/// Decode → inspect → frame, as the relay does per chunk, reusing its buffers.
fn relay_one(dec: &mut Decoder, out: &mut BytesMut, input: &[u8], enc: &mut ChatChunks) -> usize {
    dec.push(input);
    let Ok(Some(Frame::Event(ev))) = dec.next_frame() else {
        panic!("one event expected")
    };
    let summary = chunk::inspect(&ev.data).expect("valid chunk");
    enc.chunk(&ev.data, &summary, out).expect("framed");
    let frame = out.split().freeze();
    frame.len()
}

/// The same work the simple way: split the text, build a JSON tree, format the frame.
fn naive_one(input: &[u8]) -> usize {
    let text = std::str::from_utf8(input).unwrap();
    let data = text.trim_end().strip_prefix("data: ").unwrap();
    let value: serde_json::Value = serde_json::from_str(data).unwrap();
    let has_usage = !value["usage"].is_null();
    let content = value["choices"][0]["delta"]["content"].as_str().is_some();
    black_box((has_usage, content));
    format!("data: {}\n\n", serde_json::to_string(&value).unwrap()).len()
}

fn per_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_chunk");
    group.throughput(Throughput::Elements(1));
    let mut chat = ChatChunks::new(false, None);
    let mut dec = Decoder::new();
    let mut out = BytesMut::with_capacity(1024);
    group.bench_function("relay/content", |b| {
        b.iter(|| relay_one(&mut dec, &mut out, black_box(CONTENT), &mut chat))
    });
    group.bench_function("baseline_serde_value/content", |b| {
        b.iter(|| naive_one(black_box(CONTENT)))
    });
    group.bench_function("relay/usage_stripped", |b| {
        b.iter(|| relay_one(&mut dec, &mut out, black_box(USAGE_ON_CHOICE), &mut chat))
    });
    group.bench_function("inspect_only/content", |b| {
        let data = &CONTENT[6..CONTENT.len() - 2];
        b.iter(|| chunk::inspect(black_box(data)).unwrap())
    });
    // A stream's inspector on its deltas: each differs from the last only in its text, so
    // it is summarized without a parse (two deltas alternate, so each call has new text).
    group.bench_function("inspector_shortcut/content", |b| {
        let data = &CONTENT[6..CONTENT.len() - 2];
        let other = String::from_utf8_lossy(data).replace(" weather", " cloud");
        let mut inspector = chunk::Inspector::new();
        inspector.inspect(data).unwrap();
        let mut flip = false;
        b.iter(|| {
            flip = !flip;
            let payload = if flip { other.as_bytes() } else { data };
            inspector.inspect(black_box(payload)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
