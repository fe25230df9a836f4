//! A provider's chunk, any bytes: inspection, text extraction, the byte-exact rewrites, usage
//! pricing and the chat encoder never panic.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sluice_openai::encode::{ChatChunks, ClientEncoder};
use sluice_openai::pricing::{price_usage_in_chunk, PricedUsage};
use sluice_openai::rewrite::{get_top_level, set_top_level};
use sluice_openai::{chunk, Usage};

fuzz_target!(|data: &[u8]| {
    let summary = chunk::inspect(data);
    let mut text = String::new();
    let _ = chunk::append_text(data, &mut text);
    let _ = chunk::simple_delta(data);
    let _ = get_top_level(data, "usage");
    let _ = set_top_level(data, "usage", None);
    let _ = set_top_level(data, "usage", Some(r#"{"prompt_tokens":1}"#));
    let priced = PricedUsage {
        cost_usd: "0.00017151".into(),
        currency: "JPY".into(),
        cost_local: "0.0257265".into(),
    };
    let _ = price_usage_in_chunk(data, &priced);
    if let Ok(summary) = summary {
        for include_usage in [true, false] {
            let mut enc = ChatChunks::new(include_usage, None);
            let mut out = BytesMut::new();
            let _ = enc.chunk(data, &summary, &mut out);
            let usage = summary.usage.or(summary.vendor_usage);
            enc.end(usage.as_ref().or(Some(&Usage::counted(1, 2))), &mut out);
        }
    }
});
