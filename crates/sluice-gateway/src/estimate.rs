//! Counting tokens a provider did not report (a client that left, a stream that broke), with
//! the model's tokenizer: tiktoken's BPE tables, shipped inside the `tiktoken-rs` crate, loaded
//! on the first estimate (on the blocking pool) and kept. They take about 80 MiB, which a
//! gateway whose providers always report usage never spends. Counts for models whose tokenizer
//! is not public (Claude, Gemini, DeepSeek) use `cl100k_base` and are as estimated as the
//! ledger row says. While the gateway drains at shutdown, a count does not wait for tables not
//! yet loaded (seconds): it uses the rule of thumb instead, so no row misses the last flush.

use std::sync::OnceLock;

use serde::Deserialize;
use tiktoken_rs::CoreBPE;

/// OpenAI's accounting for chat messages: a few tokens per message for its framing, and three
/// to prime the reply.
const TOKENS_PER_MESSAGE: u64 = 4;
const REPLY_PRIMING: u64 = 3;

/// Whether a count may load tokenizer tables it needs (`Load`), must make do with those
/// already loaded (`Loaded`, while draining), or uses none (`None`: the rule of thumb, when the
/// counting threads are overwhelmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tables {
    Load,
    Loaded,
    None,
}

/// The model's tokenizer, loading its tables if `tables` allows.
fn tokenizer(model: &str, tables: Tables) -> Option<&'static CoreBPE> {
    static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    let m = model.to_ascii_lowercase();
    let o200k = ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt"]
        .iter()
        .any(|p| m.starts_with(p));
    let (cell, load): (_, fn() -> Option<CoreBPE>) = if o200k {
        (&O200K, || tiktoken_rs::o200k_base().ok())
    } else {
        (&CL100K, || tiktoken_rs::cl100k_base().ok())
    };
    match tables {
        Tables::Load => cell.get_or_init(load).as_ref(),
        Tables::Loaded => cell.get()?.as_ref(),
        Tables::None => None,
    }
}

/// Tokens of `text` for `model`.
pub fn count_text(model: &str, text: &str, tables: Tables) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match tokenizer(model, tables) {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        // Without tables, the usual rule of thumb: about four bytes a token.
        None => (text.len() as u64).div_ceil(4),
    }
}

/// Prompt tokens of a chat request body: its messages' text plus OpenAI's per-message framing;
/// of an embeddings request body: its input's text (a token array counts its ids).
pub fn count_prompt(model: &str, body: &[u8], tables: Tables) -> u64 {
    #[derive(Deserialize)]
    struct Request {
        #[serde(default)]
        messages: Vec<Message>,
        #[serde(default)]
        input: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        content: serde_json::Value,
        #[serde(default)]
        name: Option<String>,
    }
    let Ok(req) = serde_json::from_slice::<Request>(body) else {
        // Not a chat request the counter can read: the provider still read it, so it is
        // counted by its size rather than as nothing.
        return (body.len() as u64).div_ceil(4).max(1);
    };
    if let Some(input) = &req.input {
        return count_input(model, input, tables);
    }
    let mut text = String::new();
    for m in &req.messages {
        match &m.content {
            serde_json::Value::String(s) => text.push_str(s),
            // Content parts: the text ones count.
            serde_json::Value::Array(parts) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(|t| t.as_str()) {
                        text.push_str(t);
                    }
                }
            }
            _ => {}
        }
        if let Some(n) = &m.name {
            text.push_str(n);
        }
        text.push('\n');
    }
    count_text(model, &text, tables)
        + TOKENS_PER_MESSAGE * req.messages.len() as u64
        + REPLY_PRIMING
}

/// An embeddings `input`: strings with the tokenizer, token arrays by their length.
fn count_input(model: &str, input: &serde_json::Value, tables: Tables) -> u64 {
    use serde_json::Value;
    match input {
        Value::String(s) => count_text(model, s, tables),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Number(_) => 1,
                other => count_input(model, other, tables),
            })
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_the_models_tokenizer() {
        // "hello world" is two tokens in both encodings.
        assert_eq!(count_text("gpt-4o", "hello world", Tables::Load), 2);
        assert_eq!(count_text("deepseek-v3.2", "hello world", Tables::Load), 2);
        assert_eq!(count_text("gpt-4o", "", Tables::Load), 0);
        // Loaded now: the drain-time count uses the same tables.
        assert_eq!(count_text("gpt-4o", "hello world", Tables::Loaded), 2);
    }

    #[test]
    fn prompt_adds_message_framing() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}"#;
        let load = Tables::Load;
        assert_eq!(
            count_prompt("gpt-4o", body, load),
            2 + 1 + TOKENS_PER_MESSAGE + REPLY_PRIMING
        );
        let parts =
            br#"{"messages":[{"role":"user","content":[{"type":"text","text":"hello world"}]}]}"#;
        assert_eq!(
            count_prompt("gpt-4o", parts, load),
            count_prompt("gpt-4o", body, load)
        );
        // Unreadable, but sent: counted by size, never as nothing.
        assert_eq!(count_prompt("gpt-4o", b"not json", load), 2);
        assert_eq!(count_text("gpt-4o", "hello world!", Tables::None), 3);
    }

    #[test]
    fn embeddings_input_counts_its_text_and_token_ids() {
        let load = Tables::Load;
        let one = br#"{"model":"text-embedding-3-small","input":"hello world"}"#;
        assert_eq!(count_prompt("text-embedding-3-small", one, load), 2);
        let many = br#"{"model":"m","input":["hello world","hello"]}"#;
        assert_eq!(count_prompt("m", many, load), 3);
        let ids = br#"{"model":"m","input":[[1,2,3],[4]]}"#;
        assert_eq!(count_prompt("m", ids, load), 4);
    }
}
