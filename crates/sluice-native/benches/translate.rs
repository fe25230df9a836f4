//! The per-chunk cost of translating a native provider's stream, against the OpenAI
//! pass-through in the same run: one Anthropic `text_delta` event and one Gemini text chunk
//! translated into a `chat.completion.chunk`, against `sluice_openai::inspect` on the
//! equivalent OpenAI chunk (what the relay does to every chunk of an OpenAI provider). The
//! `+inspect` rows add the relay's own read of the translated chunk (a stream's `Inspector`,
//! as the relay reads them), so they are the whole per-chunk work of a native stream.
//! `inbound/messages_text_delta` is the other way: the OpenAI chunk written as an Anthropic
//! `content_block_delta` for a `/v1/messages` client by `MessagesEncoder`;
//! `inbound/responses_text_delta` the same chunk as a `response.output_text.delta` by
//! `ResponsesEncoder` (an encoder past its stream's first two deltas, made afresh per batch:
//! it keeps the answer for its last event).
//!
//! `passthrough/*` is no translation: the relay's read of a provider event for a client of the
//! provider's own API (a Responses `response.output_text.delta`, an Anthropic `text_delta`),
//! written as it came.
//!
//! Run with `cargo bench -p sluice-native --bench translate`.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sluice_native::anthropic::AnthropicStream;
use sluice_native::gemini::GeminiStream;
use sluice_native::inbound::messages::MessagesEncoder;
use sluice_native::inbound::responses::{ResponseMeta, ResponsesEncoder};
use sluice_native::passthrough::{MessagesPassThrough, ResponsesPassThrough};
use sluice_native::{ChunkMeta, Chunks, NativeStream};
use sluice_openai::chunk::{self, Inspector};
use sluice_openai::{ClientEncoder, PassThrough};
use sluice_sse::Event;

const OPENAI: &[u8] = br#"{"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"content":" weather"},"logprobs":null,"finish_reason":null}]}"#;

const ANTHROPIC_START: &[u8] = br#"{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":21,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#;

const ANTHROPIC_DELTA: &[u8] =
    br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" weather"}}"#;

const RESPONSES_DELTA: &[u8] = br#"{"type":"response.output_text.delta","sequence_number":12,"item_id":"msg_68c1e3b4a0d08190a7d5a5bb1bd1ad3c0e0c2f8a6a8b7e3c","output_index":0,"content_index":0,"delta":" weather","logprobs":[],"obfuscation":"Jm3tQ1"}"#;

/// The same two events in a layout the shortcuts leave to the full read (keys in another
/// order, a space), for the cost of reading them without it.
const RESPONSES_DELTA_OTHER_ORDER: &[u8] = br#"{"sequence_number":12,"type":"response.output_text.delta","item_id":"msg_68c1e3b4a0d08190a7d5a5bb1bd1ad3c0e0c2f8a6a8b7e3c","output_index":0,"content_index":0,"delta":" weather","logprobs":[],"obfuscation":"Jm3tQ1"}"#;
const ANTHROPIC_DELTA_SPACED: &[u8] =
    br#"{"type": "content_block_delta","index":0,"delta":{"type":"text_delta","text":" weather"}}"#;

const GEMINI: &[u8] = br#"{"candidates": [{"content": {"parts": [{"text": " weather"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 9}]},"modelVersion": "gemini-2.5-flash","responseId": "mL9aaO2xK5Sv1dkP0c2Y8AU"}"#;

fn meta() -> ChunkMeta {
    ChunkMeta {
        id: "chatcmpl-1".into(),
        model: "m".into(),
        created: 1_760_000_000,
    }
}

/// A translator past its stream's start, so each event is one delta.
fn started(mut tr: Box<dyn NativeStream>, first: &[u8], out: &mut Chunks) -> Box<dyn NativeStream> {
    tr.event(None, first, out).expect("a valid first event");
    out.clear();
    tr
}

/// A bench's name, its translator, the stream's first event and the event measured.
type Case = (
    &'static str,
    Box<dyn NativeStream>,
    &'static [u8],
    &'static [u8],
);

fn per_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_chunk");
    group.throughput(Throughput::Elements(1));
    group.bench_function("openai_passthrough/inspect", |b| {
        b.iter(|| chunk::inspect(black_box(OPENAI)).unwrap())
    });
    group.bench_function("openai_passthrough/inspector", |b| {
        let mut inspector = Inspector::new();
        b.iter(|| inspector.inspect(black_box(OPENAI)).unwrap())
    });
    let mut out = Chunks::new();
    let cases: [Case; 2] = [
        (
            "anthropic/text_delta",
            Box::new(AnthropicStream::new(meta())),
            ANTHROPIC_START,
            ANTHROPIC_DELTA,
        ),
        (
            "gemini/text_chunk",
            Box::new(GeminiStream::new(meta())),
            GEMINI,
            GEMINI,
        ),
    ];
    for (name, tr, first, event) in cases {
        let mut tr = started(tr, first, &mut out);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                tr.event(None, black_box(event), &mut out).unwrap();
                out.len()
            })
        });
        let mut inspector = Inspector::new();
        group.bench_function(format!("{name}+inspect"), |b| {
            b.iter(|| {
                out.clear();
                tr.event(None, black_box(event), &mut out).unwrap();
                let chunk = out.get(0).expect("one delta");
                inspector.inspect(chunk).unwrap().content
            })
        });
    }
    let summary = chunk::inspect(OPENAI).unwrap();
    let mut encoder = MessagesEncoder::new("claude-sonnet-4-5", None);
    let mut frames = BytesMut::new();
    group.bench_function("inbound/messages_text_delta", |b| {
        b.iter(|| {
            frames.clear();
            encoder
                .chunk(black_box(OPENAI), &summary, &mut frames)
                .unwrap();
            frames.len()
        })
    });
    group.bench_function("inbound/responses_text_delta", |b| {
        b.iter_batched_ref(
            || {
                let meta = ResponseMeta {
                    id: "resp_1".into(),
                    model: "gpt-4o".into(),
                    created_at: 1_760_000_000,
                };
                let mut encoder = ResponsesEncoder::new(meta, None);
                let mut frames = BytesMut::new();
                // Past the first delta (which opens the item) and the second (the first of
                // the part written from its bytes): the steady state of a long answer.
                encoder.chunk(OPENAI, &summary, &mut frames).unwrap();
                encoder.chunk(OPENAI, &summary, &mut frames).unwrap();
                frames.clear();
                (encoder, frames)
            },
            |(encoder, frames)| {
                frames.clear();
                encoder.chunk(black_box(OPENAI), &summary, frames).unwrap();
                frames.len()
            },
            BatchSize::SmallInput,
        )
    });
    for (name, mut pass, data) in [
        (
            "passthrough/responses_delta",
            Box::new(ResponsesPassThrough::new(None)) as Box<dyn PassThrough>,
            RESPONSES_DELTA,
        ),
        (
            "passthrough/messages_text_delta",
            Box::new(MessagesPassThrough::new(None)),
            ANTHROPIC_DELTA,
        ),
        (
            "passthrough/responses_delta_full_read",
            Box::new(ResponsesPassThrough::new(None)),
            RESPONSES_DELTA_OTHER_ORDER,
        ),
        (
            "passthrough/messages_text_delta_full_read",
            Box::new(MessagesPassThrough::new(None)),
            ANTHROPIC_DELTA_SPACED,
        ),
    ] {
        let event = Event {
            event: None,
            data: bytes::Bytes::from_static(data),
            id: None,
            retry: None,
        };
        let mut frames = BytesMut::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                frames.clear();
                let passed = pass.event(black_box(&event), &mut frames).unwrap();
                passed.content
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
