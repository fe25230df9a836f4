//! Recorded provider streams (`fixtures/sse/`) run through `chunk::inspect` and the
//! `ChatChunks` encoder as the relay runs them, for the usage rules of SPEC §4: a client that
//! asked for usage gets exactly one top-level usage with the gateway's cost, whether the
//! provider put it at the top level or only in an extension such as `x_groq`.

use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use serde_json::Value;
use sluice_openai::encode::{ChatChunks, ClientEncoder};
use sluice_openai::{chunk, PricedUsage, Pricer, Usage, UsagePricer};
use sluice_sse::{Decoder, Frame};

#[derive(Debug)]
struct FixedPrice;

impl UsagePricer for FixedPrice {
    fn price(&self, _: &Usage) -> Option<PricedUsage> {
        Some(PricedUsage {
            cost_usd: "0.00017151".into(),
            currency: "JPY".into(),
            cost_local: "0.0257265".into(),
        })
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/sse")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How a replay ended, and what the client got.
struct Replay {
    completed: bool,
    /// The client's payloads (`[DONE]` included), in order.
    sent: Vec<String>,
    /// The provider's chunks the client got, in order (an error chunk is not one).
    provider: Vec<String>,
    /// Chunks the stream's inspector summarized without a parse.
    shortcuts: u64,
    /// The usage the gateway read last (top-level or in an extension), as it prices it.
    usage: Option<Usage>,
}

/// Decodes `sse` and relays it as the relay does: the last usage seen (top-level or in an
/// extension) wins; an `event: error` or an error chunk ends the stream without `end`;
/// `[DONE]` or the end of input after a finish completes it.
fn replay(sse: &[u8], include_usage: bool) -> Replay {
    let mut enc = ChatChunks::new(include_usage, Some(Arc::new(FixedPrice) as Pricer));
    let mut dec = Decoder::new();
    dec.push(sse);
    let mut events = Vec::new();
    while let Some(frame) = dec.next_frame().unwrap() {
        if let Frame::Event(ev) = frame {
            events.push(ev);
        }
    }
    events.extend(dec.finish());
    let mut out = BytesMut::new();
    let mut provider = Vec::new();
    let (mut usage, mut finished, mut completed) = (None, false, false);
    let mut inspector = chunk::Inspector::new();
    for ev in events {
        if ev.event_type() == b"error" {
            break;
        }
        if &ev.data[..] == b"[DONE]" {
            completed = true;
            break;
        }
        let summary = chunk::inspect(&ev.data).unwrap();
        // A stream's inspector says what a parse says, shortcut or not.
        assert_eq!(inspector.inspect(&ev.data).unwrap(), summary);
        // The text found in place is the text a full read finds.
        let (mut fast, mut slow) = (String::new(), String::new());
        summary.texts.append_to(&ev.data, &mut fast).unwrap();
        chunk::append_text(&ev.data, &mut slow).unwrap();
        assert_eq!(fast, slow);
        if let Some(u) = summary.usage.or(summary.vendor_usage) {
            usage = Some(u);
        }
        if summary.error {
            break;
        }
        provider.push(String::from_utf8(ev.data.to_vec()).unwrap());
        finished |= summary.finish;
        enc.chunk(&ev.data, &summary, &mut out).unwrap();
    }
    completed |= finished;
    if completed {
        enc.end(usage.as_ref(), &mut out);
    }
    let mut client = Decoder::new();
    client.push(&out);
    let mut sent = Vec::new();
    while let Some(Frame::Event(ev)) = client.next_frame().unwrap() {
        sent.push(String::from_utf8(ev.data.to_vec()).unwrap());
    }
    Replay {
        completed,
        sent,
        provider,
        shortcuts: inspector.shortcuts(),
        usage,
    }
}

/// The client's payloads that carry a non-null top-level `usage`.
fn top_level_usages(sent: &[String]) -> Vec<Value> {
    sent.iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter(|v| v.get("usage").is_some_and(|u| !u.is_null()))
        .collect()
}

/// Groq's stream from the fixtures, as it ends when nothing fails: the recorded chunks, then
/// Groq's finish chunk, which carries the usage only in `x_groq` (with Groq's float timings
/// beside the counts), then `[DONE]`. The recording ends in a tool-use error instead, which
/// would end the stream before any usage.
fn groq_completed() -> Vec<u8> {
    let sse = fixture("groq-gpt-oss-event-error-no-done.sse");
    let text = String::from_utf8(sse).unwrap();
    let cut = text
        .find("event: error")
        .expect("the recording's error event");
    let finish = r#"{"id":"chatcmpl-4f39f3af-3267-4ac1-a0cf-6aa7451877dc","object":"chat.completion.chunk","created":1771434740,"model":"openai/gpt-oss-120b","system_fingerprint":"fp_e8236260a9","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_01khrvt2r6e9rb7e8qsg86ywkw","usage":{"queue_time":0.061348671,"prompt_tokens":180,"prompt_time":0.000211569,"completion_tokens":93,"completion_time":0.798181818,"total_tokens":273,"total_time":0.798393387}}}"#;
    format!("{}data: {finish}\n\ndata: [DONE]\n\n", &text[..cut]).into_bytes()
}

#[test]
fn groq_usage_in_x_groq_reaches_the_client_once_at_the_top_level_with_cost() {
    let r = replay(&groq_completed(), true);
    assert!(r.completed);
    let usages = top_level_usages(&r.sent);
    assert_eq!(usages.len(), 1, "{:#?}", r.sent);
    let u = &usages[0]["usage"];
    assert_eq!(u["prompt_tokens"], 180);
    assert_eq!(u["completion_tokens"], 93);
    assert_eq!(u["total_tokens"], 273);
    let last = r.sent.iter().rev().nth(1).unwrap();
    assert!(
        last.ends_with(
            r#","cost":0.00017151,"cost_local":{"currency":"JPY","amount":0.0257265}}}"#
        ),
        "{last}"
    );
    assert!(last.starts_with(
        r#"{"id":"chatcmpl-4f39f3af-3267-4ac1-a0cf-6aa7451877dc","object":"chat.completion.chunk","created":1771434740,"model":"openai/gpt-oss-120b","system_fingerprint":"fp_e8236260a9","choices":[],"usage":{"#
    ));
    assert_eq!(r.sent.last().map(String::as_str), Some("[DONE]"));
    // Every provider chunk, `x_groq` included, reached the client as written, in order.
    assert_eq!(r.sent[..r.provider.len()], r.provider[..]);
    assert_eq!(r.sent.len(), r.provider.len() + 2);

    // A client that did not ask gets no usage at all.
    let r = replay(&groq_completed(), false);
    assert!(top_level_usages(&r.sent).is_empty());
    assert_eq!(r.sent.len(), r.provider.len() + 1);
}

/// Recorded providers that report prompt-cache reads in OpenAI's place for them
/// (`usage.prompt_tokens_details.cached_tokens`): the count reaches the usage the gateway
/// prices, as a part of the prompt.
#[test]
fn recorded_cache_reads_are_read_as_part_of_the_prompt() {
    for (name, prompt, completion, cached) in [
        (
            "deepseek-reasoner-reasoning-then-tool-call.sse",
            339,
            83,
            320,
        ),
        (
            "mistral-glm-tool-call-empty-name-continuation.sse",
            171,
            14,
            128,
        ),
        ("deepseek-reasoner-reasoning-content.sse", 6, 212, 0),
        ("vllm-llama33-text-include-usage.sse", 46, 14, 0),
    ] {
        let usage = replay(&fixture(name), true).usage;
        let want = Usage {
            cached_tokens: cached,
            ..Usage::counted(prompt, completion)
        };
        assert_eq!(usage, Some(want), "{name}");
    }
}

/// Across every recording: a client that asked for usage and whose stream completed gets at
/// most one top-level usage chunk of the gateway's, only when the provider put none at the top
/// level, and the last usage it gets is priced.
#[test]
fn every_recording_gives_one_priced_usage_when_asked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sse");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sse"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    let (mut shortcuts, mut chunks) = (0, 0);
    for name in names {
        let r = replay(&fixture(&name), true);
        shortcuts += r.shortcuts;
        chunks += r.provider.len() as u64;
        let provider_usages = top_level_usages(&r.provider).len();
        let sent = top_level_usages(&r.sent);
        let added = r.sent.len() - r.provider.len() - usize::from(r.completed);
        if provider_usages > 0 || !r.completed {
            assert_eq!(added, 0, "{name}: the gateway added a chunk");
        }
        if let Some(last) = sent.last() {
            assert!(last["usage"]["cost"].is_number(), "{name}: {last}");
            // The cache reads read are the ones the provider wrote, 0 where it wrote none.
            let written = last["usage"]["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            let read = r.usage.map(|u| u.cached_tokens);
            assert_eq!(read, Some(written), "{name}");
        }
        assert!(added <= 1, "{name}");
    }
    // Real streams mostly repeat their envelope: most chunks skip the parse (978 of 1,193
    // when this was written).
    assert!(shortcuts * 10 > chunks * 7, "{shortcuts} of {chunks}");
}
