//! Reading what the gateway must know from one `chat.completion.chunk` payload, in one pass and
//! without building a JSON tree: which choices carry content, whether a choice finished, the
//! usage, and whether it is an error. Fields the gateway does not need are skipped by serde
//! without allocating. A whole (non-streamed) completion reads the same way: its `choices`
//! carry a `message` instead of a `delta`, and its `usage` is found like a chunk's.
//!
//! A usage the gateway cannot trust (a count that is negative, fractional or not a number, see
//! [`MaybeUsage`]) never fails the chunk: it is reported as no usage, so the gateway counts the
//! tokens itself and marks them estimated, and the chunk is still relayed as written.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use sluice_types::{MaybeUsage, Usage};

/// What one chunk says, as far as the relay cares.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSummary {
    /// Number of entries in `choices` (0 when absent, as on usage-only or Azure filter chunks).
    pub choices: u32,
    /// Some choice carries text, reasoning, refusal or tool-call content.
    pub content: bool,
    /// Some choice has a non-null `finish_reason`.
    pub finish: bool,
    /// The top-level `usage`, when present, not null and readable.
    pub usage: Option<Usage>,
    /// A top-level `usage` key is present, even as `null` or unreadable (it must be removed
    /// for a client that did not ask for usage).
    pub usage_key: bool,
    /// The top-level `usage` is present and not null, but its counts cannot be trusted
    /// ([`MaybeUsage`]); `usage` is `None`.
    pub usage_unreadable: bool,
    /// Usage reported only in a provider extension (`x_groq.usage`), when readable.
    pub vendor_usage: Option<Usage>,
    /// A top-level `error` key that is not null.
    pub error: bool,
}

/// Inspects a chunk payload. Anything that is not a JSON object is an error.
pub fn inspect(payload: &[u8]) -> Result<ChunkSummary, serde_json::Error> {
    let view: ChunkView = match serde_json::from_slice(payload) {
        Ok(view) => view,
        // A number serde cannot read at all (`1e400` is out of range for any float) fails the
        // whole read, even inside a usage that would only be unreadable. Read again with
        // `usage` and `x_groq` skipped, so only such a chunk, or one that fails anyway, pays
        // for a second read.
        Err(err) => return skipping_usage(payload).ok_or(err),
    };
    let choices = view.choices.unwrap_or_default();
    let usage = view.usage.flatten();
    Ok(ChunkSummary {
        choices: choices.n,
        content: choices.content,
        finish: choices.finish,
        usage: usage.and_then(|u| u.0),
        usage_key: view.usage.is_some(),
        usage_unreadable: usage.is_some_and(|u| u.0.is_none()),
        vendor_usage: view.x_groq.and_then(|x| x.0),
        error: view.error.is_some(),
    })
}

/// The summary of a chunk whose usage or extension could not be read at all: any usage it has
/// is unreadable, and so is its vendor usage.
fn skipping_usage(payload: &[u8]) -> Option<ChunkSummary> {
    #[derive(Deserialize)]
    struct View {
        #[serde(default)]
        choices: Option<ChoicesFold>,
        #[serde(default, deserialize_with = "present")]
        usage: Option<Option<IgnoredAny>>,
        #[serde(default)]
        error: Option<IgnoredAny>,
    }
    let view: View = serde_json::from_slice(payload).ok()?;
    let choices = view.choices.unwrap_or_default();
    Some(ChunkSummary {
        choices: choices.n,
        content: choices.content,
        finish: choices.finish,
        usage: None,
        usage_key: view.usage.is_some(),
        usage_unreadable: view.usage.flatten().is_some(),
        vendor_usage: None,
        error: view.error.is_some(),
    })
}

#[derive(Deserialize)]
struct ChunkView {
    #[serde(default)]
    choices: Option<ChoicesFold>,
    /// `None` when absent, `Some(None)` when `null`.
    #[serde(default, deserialize_with = "present")]
    usage: Option<Option<MaybeUsage>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default)]
    x_groq: Option<VendorUsage>,
}

/// Tells an absent key (`None`, through `default`) from one that is `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// The readable `usage` inside a provider extension object. The extension is the provider's
/// own business, so whatever shape it has never fails the chunk.
struct VendorUsage(Option<Usage>);

impl<'de> Deserialize<'de> for VendorUsage {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VendorUsage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a provider extension")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VendorUsage, A::Error> {
                let mut usage = None;
                while let Some(key) = map.next_key::<IsUsage>()? {
                    if key.0 {
                        usage = map.next_value::<Option<MaybeUsage>>()?.and_then(|u| u.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(VendorUsage(usage))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VendorUsage, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(VendorUsage(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<VendorUsage, E> {
                Ok(VendorUsage(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<VendorUsage, E> {
                Ok(VendorUsage(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<VendorUsage, E> {
                Ok(VendorUsage(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<VendorUsage, E> {
                Ok(VendorUsage(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<VendorUsage, E> {
                Ok(VendorUsage(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<VendorUsage, E> {
                Ok(VendorUsage(None))
            }
        }
        de.deserialize_any(V)
    }
}

/// Whether an object key is `usage`, read without copying it.
struct IsUsage(bool);

impl<'de> Deserialize<'de> for IsUsage {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct K;
        impl Visitor<'_> for K {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
                Ok(key == "usage")
            }
        }
        de.deserialize_identifier(K).map(IsUsage)
    }
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

    /// Odd usage never fails a chunk: readable counts are read, anything uncertain is
    /// reported as no usage (so the gateway estimates) while the chunk stays good.
    #[test]
    fn odd_usage_is_read_leniently_or_reported_unreadable() {
        let finish =
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":"#;
        let counted = |p, c| Some(Usage::counted(p, c));
        for (usage, want) in [
            (
                r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}"#,
                counted(12, 3),
            ),
            (
                r#"{"prompt_tokens":12.0,"completion_tokens":3.0,"total_tokens":15.0}"#,
                counted(12, 3),
            ),
            (
                r#"{"prompt_tokens":"12","completion_tokens":"3","total_tokens":"15"}"#,
                counted(12, 3),
            ),
            (
                r#"{"prompt_tokens":12,"completion_tokens":3}"#,
                counted(12, 3),
            ),
            (
                r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":7}"#,
                counted(12, 3),
            ),
            (r#"{"prompt_tokens":-12,"completion_tokens":3}"#, None),
            (r#"{"prompt_tokens":12.5,"completion_tokens":3}"#, None),
            (r#"{"prompt_tokens":"twelve","completion_tokens":3}"#, None),
            (
                r#"{"prompt_tokens":{"text":12},"completion_tokens":3}"#,
                None,
            ),
            (
                r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":"n/a"}"#,
                None,
            ),
            (r#"{}"#, None),
            (r#""12""#, None),
            (r#"[12,3]"#, None),
            (r#"15"#, None),
        ] {
            let payload = format!("{finish}{usage}}}");
            check(
                &payload,
                ChunkSummary {
                    choices: 1,
                    finish: true,
                    usage: want,
                    usage_key: true,
                    usage_unreadable: want.is_none(),
                    ..Default::default()
                },
            );
        }
        // Counts serde cannot read as numbers at all are unreadable too.
        check(
            &format!(r#"{finish}{{"prompt_tokens":1e400,"completion_tokens":3}}}}"#),
            ChunkSummary {
                choices: 1,
                finish: true,
                usage_key: true,
                usage_unreadable: true,
                ..Default::default()
            },
        );
        check(
            r#"{"choices":[],"x_groq":{"usage":{"prompt_tokens":-1e999}}}"#,
            ChunkSummary::default(),
        );
        assert!(inspect(br#"{"choices":[{"delta":{"content":1e400}}]}"#).is_err());
        // `null` stays "present, no usage", not unreadable.
        check(
            &format!("{finish}null}}"),
            ChunkSummary {
                choices: 1,
                finish: true,
                usage_key: true,
                ..Default::default()
            },
        );
    }

    #[test]
    fn odd_vendor_usage_never_fails_the_chunk() {
        let groq = |x: &str| format!(r#"{{"choices":[],"x_groq":{x}}}"#);
        let usage = |x: &str| inspect(groq(x).as_bytes()).unwrap().vendor_usage;
        assert_eq!(
            usage(
                r#"{"id":"r","usage":{"queue_time":0.06,"prompt_tokens":18.0,"completion_tokens":"439","total_tokens":457,"total_time":0.79}}"#
            ),
            Some(Usage::counted(18, 439))
        );
        for odd in [
            r#"{"id":"r","usage":{"prompt_tokens":1.5}}"#,
            r#"{"id":"r","usage":null}"#,
            r#"{"id":"r","usage":"lots"}"#,
            r#"{"id":"r","seed":27718886}"#,
            r#""req_1""#,
            r#"[1,{"usage":{"prompt_tokens":1}}]"#,
            r#"null"#,
            r#"7"#,
        ] {
            assert_eq!(usage(odd), None, "{odd}");
        }
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
