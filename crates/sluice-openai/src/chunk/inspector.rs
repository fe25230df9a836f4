//! [`inspect`] for the chunks of one stream, with a shortcut for the chunk that comes most
//! often: a delta that differs from the stream's previous one only in its text.
//!
//! A provider writes every delta of a stream with the same envelope (id, model, `created`,
//! choice index, `logprobs: null`...) around a few bytes of text. When a delta's bytes equal
//! the last mergeable delta's everywhere but inside its text values (and OpenAI's
//! `obfuscation` padding), it has the same JSON structure, so its summary is the last one's
//! with the values' new places: found with two byte comparisons and a scan of the new strings
//! instead of a JSON parse, which is most of the relay's cost per chunk (see the `chunk`
//! bench). The shortcut only takes strings it can vouch for at a glance (valid UTF-8, no
//! escapes, no control characters); anything else is parsed, so it never says anything a parse
//! would not. Hand-written because a measurement shows it: it is the relay's own hot path.

use super::{inspect, ChunkSummary, TextKind};

/// Inspects the chunks of one stream (see the module documentation).
#[derive(Debug, Default)]
pub struct Inspector {
    /// The last mergeable delta, when it has no escaped text.
    template: Vec<u8>,
    summary: Option<ChunkSummary>,
    /// Chunks summarized without a parse.
    shortcuts: u64,
}

impl Inspector {
    pub fn new() -> Self {
        Inspector::default()
    }

    /// What [`inspect`] says of `payload`.
    pub fn inspect(&mut self, payload: &[u8]) -> Result<ChunkSummary, serde_json::Error> {
        if let Some(summary) = self.same_envelope(payload) {
            self.shortcuts += 1;
            return Ok(summary);
        }
        let summary = inspect(payload)?;
        if summary.mergeable && summary.texts.spans().iter().all(|s| !s.escaped) {
            self.template.clear();
            self.template.extend_from_slice(payload);
            self.summary = Some(summary);
        }
        Ok(summary)
    }

    /// How many chunks were summarized without a parse.
    pub fn shortcuts(&self) -> u64 {
        self.shortcuts
    }

    /// The summary of `new` when it is the template with other strings in its holes.
    fn same_envelope(&self, new: &[u8]) -> Option<ChunkSummary> {
        let mut summary = self.summary?;
        let old = &self.template[..];
        let (mut o, mut n) = (0, 0);
        let mut content = false;
        for (i, span) in self.summary?.texts.spans().iter().enumerate() {
            let hole = span.range();
            if span.kind == TextKind::ToolName {
                // Part of the envelope: it only moves with the holes before it.
                summary
                    .texts
                    .place(i, hole.start + n - o, hole.end + n - o)?;
                continue;
            }
            let before = &old[o..hole.start];
            if new.get(n..n + before.len())? != before {
                return None;
            }
            n += before.len();
            let len = plain_string_len(&new[n..])?;
            summary.texts.place(i, n, n + len)?;
            content |= len > 0 && span.kind != TextKind::Padding;
            n += len;
            o = hole.end;
        }
        // A delta whose texts are all empty carries no content: parsed, to say so.
        (content && new.get(n..)? == &old[o..]).then_some(summary)
    }
}

/// The length of the string contents at the start of `s` (up to its closing quote) when they
/// need no second look: valid UTF-8 with no escape and no control character.
fn plain_string_len(s: &[u8]) -> Option<usize> {
    let len = memchr::memchr2(b'"', b'\\', s)?;
    let contents = &s[..len];
    if s[len] != b'"' || contents.iter().any(|&b| b < 0x20) {
        return None;
    }
    std::str::from_utf8(contents).ok()?;
    Some(len)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Inspects `chunks` in order, checking each against a parse; returns the shortcuts taken.
    fn run(chunks: &[String]) -> u64 {
        let mut inspector = Inspector::new();
        for c in chunks {
            let parsed = inspect(c.as_bytes());
            match inspector.inspect(c.as_bytes()) {
                Ok(s) => assert_eq!(Ok(s), parsed.map_err(|e| e.to_string()), "{c}"),
                Err(_) => assert!(parsed.is_err(), "{c}"),
            }
        }
        inspector.shortcuts()
    }

    fn openai(delta: &str) -> String {
        format!(
            r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":null}}]}}"#
        )
    }

    #[test]
    fn deltas_differing_only_in_text_skip_the_parse() {
        let chunks: Vec<String> = ["Hel", "lo", " wor", "ld \\u4eba", "人", "!"]
            .iter()
            .map(|t| openai(&format!(r#"{{"content":"{t}"}}"#)))
            .collect();
        // The first and the escaped one are parsed (an escaped delta does not replace the
        // template); the rest take the shortcut.
        assert_eq!(run(&chunks), 4);
    }

    #[test]
    fn padding_tool_arguments_and_names_keep_the_shortcut() {
        let padded: Vec<String> = [("a", "xY1"), ("bc", "Q"), ("d", "")]
            .iter()
            .map(|(t, pad)| {
                format!(
                    r#"{{"choices":[{{"delta":{{"content":"{t}"}},"index":0}}],"id":"c","obfuscation":"{pad}"}}"#
                )
            })
            .collect();
        assert_eq!(run(&padded), 2);
        let args: Vec<String> = ["{\"", "ci", "ty", "\":1}"]
            .iter()
            .map(|a| {
                openai(&format!(
                    r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":"{a}","name":"get"}}}}]}}"#
                ))
            })
            .collect();
        assert_eq!(run(&args), 1);
    }

    #[test]
    fn anything_else_is_parsed() {
        let chunks = [
            openai(r#"{"content":"a"}"#),
            // Empty text: no content.
            openai(r#"{"content":""}"#),
            // Another envelope.
            openai(r#"{"content":"b"}"#).replace("gpt-4o", "gpt-4o-mini"),
            // A control character, an unfinished string, a finish.
            openai("{\"content\":\"a\u{1}\"}"),
            openai(r#"{"content":"b"}"#).replace(r#""b"}"#, r#""b}"#),
            openai(r#"{"content":"c"}"#)
                .replace(r#""finish_reason":null"#, r#""finish_reason":"stop""#),
        ];
        assert_eq!(run(&chunks), 0);
    }

    proptest! {
        /// Whatever a stream's deltas hold, and however their envelopes change, the inspector
        /// says what a parse says.
        #[test]
        fn the_shortcut_agrees_with_a_parse(
            deltas in proptest::collection::vec(
                (
                    "[a-z \\\\\"\u{4eba}\u{1}]{0,5}",
                    proptest::option::of("[a-z]{0,3}"),
                    0..3u8,
                ),
                1..20,
            ),
        ) {
            let chunks: Vec<String> = deltas
                .iter()
                .map(|(text, pad, model)| {
                    let mut v = serde_json::json!({
                        "id": "c", "model": format!("m{model}"),
                        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
                    });
                    if let Some(pad) = pad {
                        v["obfuscation"] = serde_json::json!(pad);
                    }
                    v.to_string()
                })
                .collect();
            run(&chunks);
        }
    }
}
