//! Reading what the gateway must know from one `chat.completion.chunk` payload, in one pass and
//! without building a JSON tree: which choices carry content, whether a choice finished, the
//! usage, and whether it is an error. Fields the gateway does not need are skipped by serde
//! without allocating. A whole (non-streamed) completion reads the same way: its `choices`
//! carry a `message` instead of a `delta`, and its `usage` is found like a chunk's.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use sluice_types::Usage;

/// What one chunk says, as far as the relay cares.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSummary {
    /// Number of entries in `choices` (0 when absent, as on usage-only or Azure filter chunks).
    pub choices: u32,
    /// Some choice carries text, reasoning, refusal or tool-call content.
    pub content: bool,
    /// Some choice has a non-null `finish_reason`.
    pub finish: bool,
    /// The top-level `usage`, when present and not null.
    pub usage: Option<Usage>,
    /// A top-level `usage` key is present, even as `null` (it must be removed for a client
    /// that did not ask for usage).
    pub usage_key: bool,
    /// Usage reported only in a provider extension (`x_groq.usage`).
    pub vendor_usage: Option<Usage>,
    /// A top-level `error` key that is not null.
    pub error: bool,
}

/// Inspects a chunk payload. Anything that is not a JSON object is an error.
pub fn inspect(payload: &[u8]) -> Result<ChunkSummary, serde_json::Error> {
    let view: ChunkView = serde_json::from_slice(payload)?;
    let choices = view.choices.unwrap_or_default();
    Ok(ChunkSummary {
        choices: choices.n,
        content: choices.content,
        finish: choices.finish,
        usage: view.usage.flatten(),
        usage_key: view.usage.is_some(),
        vendor_usage: view.x_groq.and_then(|x| x.usage),
        error: view.error.is_some(),
    })
}

#[derive(Deserialize)]
struct ChunkView {
    #[serde(default)]
    choices: Option<ChoicesFold>,
    /// `None` when absent, `Some(None)` when `null`.
    #[serde(default, deserialize_with = "present")]
    usage: Option<Option<Usage>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default)]
    x_groq: Option<VendorExtension>,
}

fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Option<Usage>>, D::Error> {
    Option::<Usage>::deserialize(de).map(Some)
}

#[derive(Deserialize)]
struct VendorExtension {
    #[serde(default)]
    usage: Option<Usage>,
}

/// `choices` folded into flags while it is read, so no `Vec` is built per chunk.
#[derive(Default)]
struct ChoicesFold {
    n: u32,
    content: bool,
    finish: bool,
}

impl<'de> Deserialize<'de> for ChoicesFold {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct FoldVisitor;
        impl<'de> Visitor<'de> for FoldVisitor {
            type Value = ChoicesFold;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChoicesFold, A::Error> {
                let mut fold = ChoicesFold::default();
                while let Some(choice) = seq.next_element::<ChoiceView>()? {
                    fold.n += 1;
                    fold.finish |= choice.finish_reason.is_some();
                    if let Some(delta) = choice.delta {
                        fold.content |= delta.content.is_some_and(|t| t.0)
                            || delta.reasoning_content.is_some_and(|t| t.0)
                            || delta.reasoning.is_some_and(|t| t.0)
                            || delta.refusal.is_some_and(|t| t.0)
                            || delta.tool_calls.is_some_and(|t| t.0);
                    }
                }
                Ok(fold)
            }
        }
        de.deserialize_seq(FoldVisitor)
    }
}

#[derive(Deserialize)]
struct ChoiceView {
    #[serde(default)]
    delta: Option<DeltaView>,
    #[serde(default)]
    finish_reason: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct DeltaView {
    #[serde(default)]
    content: Option<NonEmpty>,
    #[serde(default)]
    reasoning_content: Option<NonEmpty>,
    #[serde(default)]
    reasoning: Option<NonEmpty>,
    #[serde(default)]
    refusal: Option<NonEmpty>,
    #[serde(default)]
    tool_calls: Option<NonEmpty>,
}

/// True for a non-empty string, list or object (and any number or boolean), false for `""`,
/// `[]` and `{}`. Reads borrowed strings without copying them.
struct NonEmpty(bool);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<NonEmpty, E> {
                Ok(NonEmpty(!s.is_empty()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NonEmpty, E> {
                Ok(NonEmpty(true))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<NonEmpty, E> {
                Ok(NonEmpty(true))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<NonEmpty, E> {
                Ok(NonEmpty(true))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<NonEmpty, E> {
                Ok(NonEmpty(true))
            }
            fn visit_unit<E: de::Error>(self) -> Result<NonEmpty, E> {
                Ok(NonEmpty(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NonEmpty, A::Error> {
                let mut any = false;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(NonEmpty(any))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NonEmpty, A::Error> {
                let mut any = false;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(NonEmpty(any))
            }
        }
        de.deserialize_any(V)
    }
}

/// Appends the text a chunk carries — content, reasoning, refusal and tool-call names and
/// arguments of every choice — to `out`, for counting tokens when a provider reports no usage.
/// Strings without escapes are borrowed, not copied, on the way.
pub fn append_text(payload: &[u8], out: &mut String) -> Result<(), serde_json::Error> {
    use std::borrow::Cow;
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(default, borrow)]
        choices: Vec<RawChoice<'a>>,
    }
    #[derive(Deserialize)]
    struct RawChoice<'a> {
        #[serde(default, borrow)]
        delta: Option<RawDelta<'a>>,
    }
    #[derive(Deserialize)]
    struct RawDelta<'a> {
        #[serde(default, borrow)]
        content: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        reasoning_content: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        reasoning: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        refusal: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        tool_calls: Option<Vec<RawToolCall<'a>>>,
    }
    #[derive(Deserialize)]
    struct RawToolCall<'a> {
        #[serde(default, borrow)]
        function: Option<RawFunction<'a>>,
    }
    #[derive(Deserialize)]
    struct RawFunction<'a> {
        #[serde(default, borrow)]
        name: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        arguments: Option<Cow<'a, str>>,
    }
    let raw: Raw<'_> = serde_json::from_slice(payload)?;
    for delta in raw.choices.into_iter().filter_map(|c| c.delta) {
        for text in [
            delta.content,
            delta.reasoning_content,
            delta.reasoning,
            delta.refusal,
        ]
        .into_iter()
        .flatten()
        {
            out.push_str(&text);
        }
        for call in delta.tool_calls.into_iter().flatten() {
            if let Some(f) = call.function {
                out.push_str(f.name.as_deref().unwrap_or(""));
                out.push_str(f.arguments.as_deref().unwrap_or(""));
            }
        }
    }
    Ok(())
}

/// The parts of a chunk the seed's simple endpoint (`/stream/chat`) sends: the id, the first
/// choice's text and its finish reason. Only that endpoint pays for these allocations.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SimpleDelta {
    pub id: Option<String>,
    pub content: String,
    pub finish_reason: Option<String>,
}

/// Reads [`SimpleDelta`] from a chunk payload.
pub fn simple_delta(payload: &[u8]) -> Result<SimpleDelta, serde_json::Error> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        choices: Vec<RawChoice>,
    }
    #[derive(Deserialize)]
    struct RawChoice {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        delta: Option<RawDelta>,
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(Deserialize)]
    struct RawDelta {
        #[serde(default)]
        content: Option<String>,
    }
    let raw: Raw = serde_json::from_slice(payload)?;
    let mut out = SimpleDelta {
        id: raw.id,
        ..SimpleDelta::default()
    };
    if let Some(choice) = raw.choices.into_iter().find(|c| c.index == 0) {
        out.content = choice.delta.and_then(|d| d.content).unwrap_or_default();
        out.finish_reason = choice.finish_reason;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(payload: &str, expect: ChunkSummary) {
        assert_eq!(inspect(payload.as_bytes()).unwrap(), expect, "{payload}");
    }

    #[test]
    fn role_chunk_is_not_content() {
        check(
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}"#,
            ChunkSummary {
                choices: 1,
                ..Default::default()
            },
        );
    }

    #[test]
    fn content_reasoning_refusal_and_tool_calls_are_content() {
        for delta in [
            r#"{"content":"hi"}"#,
            r#"{"content":"\u4eba"}"#,
            r#"{"reasoning_content":"hmm","content":null}"#,
            r#"{"reasoning":"We","channel":"analysis"}"#,
            r#"{"refusal":"no"}"#,
            r#"{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}"#,
        ] {
            let payload = format!(r#"{{"choices":[{{"index":0,"delta":{delta}}}]}}"#);
            check(
                &payload,
                ChunkSummary {
                    choices: 1,
                    content: true,
                    ..Default::default()
                },
            );
        }
    }

    #[test]
    fn usage_on_finish_chunk_and_usage_null() {
        check(
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":13,"completion_tokens":400,"total_tokens":413,"prompt_cache_hit_tokens":0}}"#,
            ChunkSummary {
                choices: 1,
                finish: true,
                usage: Some(Usage {
                    prompt_tokens: 13,
                    completion_tokens: 400,
                    total_tokens: 413,
                }),
                usage_key: true,
                ..Default::default()
            },
        );
        check(
            r#"{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}"#,
            ChunkSummary {
                choices: 1,
                content: true,
                usage_key: true,
                ..Default::default()
            },
        );
    }

    #[test]
    fn usage_only_chunk_and_vendor_usage() {
        check(
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
            ChunkSummary {
                usage: Some(Usage {
                    prompt_tokens: 1,
                    completion_tokens: 2,
                    total_tokens: 3,
                }),
                usage_key: true,
                ..Default::default()
            },
        );
        check(
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r","usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}}"#,
            ChunkSummary {
                choices: 1,
                finish: true,
                vendor_usage: Some(Usage {
                    prompt_tokens: 5,
                    completion_tokens: 6,
                    total_tokens: 11,
                }),
                ..Default::default()
            },
        );
    }

    #[test]
    fn error_object() {
        check(
            r#"{"error":{"code":500,"message":"bad","type":"server_error"}}"#,
            ChunkSummary {
                error: true,
                ..Default::default()
            },
        );
    }

    #[test]
    fn not_an_object_is_an_error() {
        assert!(inspect(b"[DONE] {}").is_err());
        assert!(inspect(b"42").is_err());
        assert!(inspect(br#"{"choices":[{"delta":"#).is_err());
    }

    #[test]
    fn append_text_collects_every_kind_of_content() {
        let mut out = String::new();
        append_text(br#"{"choices":[{"delta":{"content":"a\n","reasoning_content":"b"}},{"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}]}"#, &mut out).unwrap();
        append_text(br#"{"choices":[],"usage":null}"#, &mut out).unwrap();
        assert_eq!(out, "a\nbf{}");
    }

    #[test]
    fn simple_delta_reads_first_choice() {
        let d = simple_delta(
            br#"{"id":"c1","choices":[{"index":1,"delta":{"content":"no"}},{"index":0,"delta":{"content":"yes"},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        assert_eq!(d.id.as_deref(), Some("c1"));
        assert_eq!(d.content, "yes");
        assert_eq!(d.finish_reason.as_deref(), Some("stop"));
    }
}
