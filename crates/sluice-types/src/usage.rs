//! Token counts, and how they are read from what providers send.
//!
//! Providers write usage oddly: counts as floats (`12.0`) or numeric strings (`"12"`), a
//! `total_tokens` that is missing or disagrees with its parts, and sometimes garbage. Reading is
//! lenient where the number is still certain and refuses where it is not, because a usage read
//! wrongly is billed wrongly: a count that is negative, fractional, out of range or not a number
//! makes the whole usage *unreadable*, and the gateway then counts the tokens itself and marks
//! the request estimated rather than billing a guess as exact.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Token counts as a provider reports them (OpenAI's names; other providers' usage is read
/// into these). `total_tokens` is always `prompt_tokens + completion_tokens` once read.
///
/// The cache counts are parts of `prompt_tokens`, as OpenAI counts them, not additions to it:
/// providers bill cache reads and writes at their own rates, so the gateway prices each part
/// apart ([`Usage::prompt_parts`]). A provider that says nothing of its cache leaves them 0,
/// and the whole prompt is billed as plain input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's cache: `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
    /// Prompt tokens written to the provider's cache, five-minute and one-hour writes together:
    /// `prompt_tokens_details.cache_creation_tokens` (Anthropic's cache writes, as Sluice's
    /// translation and Anthropic's OpenAI-compatible endpoint write them).
    pub cache_write_tokens: u64,
    /// Of the cache writes, those kept for an hour, which Anthropic prices above the
    /// five-minute ones: `prompt_tokens_details.cache_creation_1h_tokens`.
    pub cache_write_1h_tokens: u64,
}

/// A prompt split by how it is billed; the parts always sum to the prompt.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PromptParts {
    /// Billed as plain input.
    pub uncached: u64,
    /// Read from the cache.
    pub cache_read: u64,
    /// Written to the cache for five minutes.
    pub cache_write_5m: u64,
    /// Written to the cache for an hour.
    pub cache_write_1h: u64,
}

impl Usage {
    /// Counts the gateway made itself (a tokenizer estimate): the total is their sum, and
    /// nothing is known of the provider's cache.
    pub fn counted(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            cached_tokens: 0,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
        }
    }

    /// The prompt split by how it is billed. A provider's cache counts that do not fit in its
    /// prompt are clamped rather than refused (the usage is still the provider's word on the
    /// prompt, and no part may go negative): the cache reads to the prompt, the writes to what
    /// the reads leave, the hour-long writes to the writes.
    pub fn prompt_parts(&self) -> PromptParts {
        let cache_read = self.cached_tokens.min(self.prompt_tokens);
        let rest = self.prompt_tokens - cache_read;
        let writes = self.cache_write_tokens.min(rest);
        let cache_write_1h = self.cache_write_1h_tokens.min(writes);
        PromptParts {
            uncached: rest - writes,
            cache_read,
            cache_write_5m: writes - cache_write_1h,
            cache_write_1h,
        }
    }
}

/// A usage object read without ever failing on well-formed input: `Some` counts when they can
/// be trusted, `None` when the usage is unreadable (see the module doc). A chunk carrying an
/// unreadable usage is still a good chunk; only its usage is not believed.
///
/// Readable: an object whose counts are integers, floats without a fractional part, or
/// strings of ASCII digits, each within `u64`, naming at least one of `prompt_tokens` and
/// `completion_tokens` (a missing one is 0; an object naming neither says nothing, and billing
/// it as zero tokens would claim an exact $0). The cache counts are read from the object
/// `prompt_tokens_details` by the same rules: a detail count that is not a count makes the
/// whole usage unreadable, one that is absent or `null` is 0, and so are all three when the
/// details are absent or `null`; details that are neither an object nor `null` are
/// unreadable. Any other key, at either level, is skipped, whatever it holds. Anything that
/// is not an object is unreadable.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaybeUsage(pub Option<Usage>);

impl<'de> Deserialize<'de> for MaybeUsage {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(UsageVisitor)
    }
}

/// Reads usage strictly for callers that want an error rather than `None`: the same rules as
/// [`MaybeUsage`], with an unreadable usage an error.
impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        MaybeUsage::deserialize(de)?.0.ok_or_else(|| {
            de::Error::custom(
                "usage is unreadable: its token counts must be whole, non-negative numbers",
            )
        })
    }
}

struct UsageVisitor;

impl<'de> Visitor<'de> for UsageVisitor {
    type Value = MaybeUsage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a usage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeUsage, A::Error> {
        let mut prompt = None;
        let mut completion = None;
        let mut details = CacheCounts::default();
        let mut readable = true;
        while let Some(key) = map.next_key::<Key>()? {
            // A repeated key is read again and the last one wins, as in most JSON readers.
            let slot = match key {
                Key::Prompt => &mut prompt,
                Key::Completion => &mut completion,
                // The total is recomputed, but a total that is not a count still says the
                // provider's numbers cannot be trusted.
                Key::Total => {
                    readable &= map.next_value::<Count>()?.0.is_some();
                    continue;
                }
                Key::PromptDetails => {
                    match map.next_value::<PromptDetails>()?.0 {
                        Some(d) => details = d,
                        None => readable = false,
                    }
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            match map.next_value::<Count>()?.0 {
                Some(n) => *slot = Some(n),
                None => readable = false,
            }
        }
        let named = prompt.is_some() || completion.is_some();
        Ok(MaybeUsage((readable && named).then(|| Usage {
            cached_tokens: details.read,
            cache_write_tokens: details.write,
            cache_write_1h_tokens: details.write_1h,
            ..Usage::counted(prompt.unwrap_or(0), completion.unwrap_or(0))
        })))
    }

    // Anything but an object is consumed whole and is unreadable.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<MaybeUsage, E> {
        Ok(MaybeUsage(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeUsage, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeUsage(None))
    }
}

/// The cache counts of `prompt_tokens_details`, as read.
#[derive(Debug, Default, Clone, Copy)]
struct CacheCounts {
    read: u64,
    write: u64,
    write_1h: u64,
}

/// `prompt_tokens_details`: `Some` counts when readable (all 0 for `null`), `None` when not.
struct PromptDetails(Option<CacheCounts>);

impl<'de> Deserialize<'de> for PromptDetails {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct DetailsVisitor;
        impl<'de> Visitor<'de> for DetailsVisitor {
            type Value = PromptDetails;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("prompt token details")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PromptDetails, A::Error> {
                let mut counts = CacheCounts::default();
                let mut readable = true;
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Cached => &mut counts.read,
                        Key::CacheWrite => &mut counts.write,
                        Key::CacheWrite1h => &mut counts.write_1h,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    // A detail given as `null` is one the provider did not report: 0, as
                    // when absent.
                    match map.next_value::<Option<Count>>()? {
                        None => *slot = 0,
                        Some(Count(Some(n))) => *slot = n,
                        Some(Count(None)) => readable = false,
                    }
                }
                Ok(PromptDetails(readable.then_some(counts)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<PromptDetails, E> {
                Ok(PromptDetails(Some(CacheCounts::default())))
            }
            fn visit_none<E: de::Error>(self) -> Result<PromptDetails, E> {
                Ok(PromptDetails(Some(CacheCounts::default())))
            }
            // Anything else is consumed whole and is unreadable.
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<PromptDetails, E> {
                Ok(PromptDetails(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<PromptDetails, E> {
                Ok(PromptDetails(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<PromptDetails, E> {
                Ok(PromptDetails(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<PromptDetails, E> {
                Ok(PromptDetails(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<PromptDetails, E> {
                Ok(PromptDetails(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PromptDetails, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PromptDetails(None))
            }
        }
        de.deserialize_any(DetailsVisitor)
    }
}

/// The keys the gateway reads in a usage object and in its `prompt_tokens_details`; every
/// other key (and each of these where it does not belong) is skipped.
enum Key {
    Prompt,
    Completion,
    Total,
    PromptDetails,
    Cached,
    CacheWrite,
    CacheWrite1h,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "prompt_tokens" => Key::Prompt,
                    "completion_tokens" => Key::Completion,
                    "total_tokens" => Key::Total,
                    "prompt_tokens_details" => Key::PromptDetails,
                    "cached_tokens" => Key::Cached,
                    "cache_creation_tokens" => Key::CacheWrite,
                    "cache_creation_1h_tokens" => Key::CacheWrite1h,
                    _ => Key::Other,
                })
            }
        }
        de.deserialize_identifier(KeyVisitor)
    }
}

/// One token count: `Some` for a whole number within `u64` written as an integer, a float
/// without a fractional part or a string of ASCII digits; `None` for anything else, which is
/// consumed whole so the rest of the payload still reads. Shared with the native providers'
/// usage readers (`sluice-native`), so every provider's counts are read by the same rules.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub Option<u64>);

/// 2^64, the first float too large for a `u64` (`u64::MAX as f64` rounds up to it).
const U64_LIMIT: f64 = 18_446_744_073_709_551_616.0;

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                Ok(Count(Some(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Count, E> {
                Ok(Count(u64::try_from(n).ok()))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Count, E> {
                // `-0.0` passes as 0; NaN fails every comparison.
                let whole = f.fract() == 0.0 && (0.0..U64_LIMIT).contains(&f);
                // The cast is exact: `f` is a whole number within range.
                Ok(Count(whole.then_some(f as u64)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Count, E> {
                let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                Ok(Count(digits.then(|| s.parse().ok()).flatten()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
        }
        de.deserialize_any(CountVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Option<Usage> {
        serde_json::from_str::<MaybeUsage>(json)
            .unwrap_or_else(|e| panic!("{json}: {e}"))
            .0
    }

    #[test]
    fn counts_read_leniently_where_the_number_is_certain() {
        let u = |p, c| Some(Usage::counted(p, c));
        for (json, want) in [
            (
                r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}"#,
                u(12, 3),
            ),
            (r#"{"prompt_tokens":12.0,"completion_tokens":3}"#, u(12, 3)),
            (
                r#"{"prompt_tokens":1.2e1,"completion_tokens":-0.0}"#,
                u(12, 0),
            ),
            (
                r#"{"prompt_tokens":"12","completion_tokens":"003"}"#,
                u(12, 3),
            ),
            (r#"{"prompt_tokens":3,"extra":1}"#, u(3, 0)),
            (
                r#"{"completion_tokens":4,"queue_time":0.06,"x":{"y":[1,"z"]}}"#,
                u(0, 4),
            ),
            (
                r#"{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}"#,
                u(0, 0),
            ),
            (
                r#"{"prompt_tokens":1,"prompt_tokens":2,"completion_tokens":3}"#,
                u(2, 3),
            ),
            (
                r#"{"prompt_tokens":18446744073709551615,"completion_tokens":1}"#,
                Some(Usage {
                    total_tokens: u64::MAX,
                    ..Usage::counted(u64::MAX, 1)
                }),
            ),
        ] {
            assert_eq!(read(json), want, "{json}");
        }
    }

    /// A usage of `prompt` and `completion` tokens with cache reads, writes and hour-long
    /// writes.
    fn cached(prompt: u64, completion: u64, read: u64, write: u64, write_1h: u64) -> Usage {
        Usage {
            cached_tokens: read,
            cache_write_tokens: write,
            cache_write_1h_tokens: write_1h,
            ..Usage::counted(prompt, completion)
        }
    }

    #[test]
    fn cache_details_are_read_leniently_where_the_number_is_certain() {
        for (json, want) in [
            // OpenAI's own: only cache reads, beside counts Sluice does not bill apart.
            (
                r#"{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}"#,
                cached(2006, 300, 1920, 0, 0),
            ),
            // Anthropic's, as Sluice's translation writes it.
            (
                r#"{"prompt_tokens":30,"completion_tokens":5,"total_tokens":35,"prompt_tokens_details":{"cached_tokens":10,"cache_creation_tokens":8,"cache_creation_1h_tokens":2}}"#,
                cached(30, 5, 10, 8, 2),
            ),
            // The details may come first, and their counts be written oddly.
            (
                r#"{"prompt_tokens_details":{"cached_tokens":"7","cache_creation_tokens":3.0},"prompt_tokens":12,"completion_tokens":1}"#,
                cached(12, 1, 7, 3, 0),
            ),
            // Absent, null or empty details, and null detail counts, are 0.
            (
                r#"{"prompt_tokens":12,"completion_tokens":1}"#,
                cached(12, 1, 0, 0, 0),
            ),
            (
                r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":null}"#,
                cached(12, 1, 0, 0, 0),
            ),
            (
                r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{}}"#,
                cached(12, 1, 0, 0, 0),
            ),
            (
                r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":null,"cache_creation_tokens":4}}"#,
                cached(12, 1, 0, 4, 0),
            ),
            // Other keys in the details are skipped, whatever they hold (Azure's
            // `cache_write_tokens` included: it is not the count Sluice writes).
            (
                r#"{"prompt_tokens":15,"completion_tokens":1,"prompt_tokens_details":{"audio_tokens":null,"cache_write_tokens":"x","image":{"a":[1]},"cached_tokens":5}}"#,
                cached(15, 1, 5, 0, 0),
            ),
            // The detail keys mean nothing outside the details.
            (
                r#"{"prompt_tokens":15,"completion_tokens":1,"cached_tokens":5,"cache_creation_tokens":"x"}"#,
                cached(15, 1, 0, 0, 0),
            ),
            // Repeated details: the last wins.
            (
                r#"{"prompt_tokens":15,"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"cached_tokens":2}}"#,
                cached(15, 0, 2, 0, 0),
            ),
            // Details that do not fit in the prompt are read as written (pricing clamps them).
            (
                r#"{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":9,"cache_creation_tokens":9,"cache_creation_1h_tokens":99}}"#,
                cached(3, 1, 9, 9, 99),
            ),
        ] {
            assert_eq!(read(json), Some(want), "{json}");
        }
    }

    #[test]
    fn uncertain_cache_details_make_the_usage_unreadable() {
        for json in [
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":-1}}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":1.5}}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":"1.0"}}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cache_creation_tokens":true}}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cache_creation_1h_tokens":[1]}}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cache_creation_1h_tokens":{"n":1}}}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":1e20}}"#,
            // An unreadable detail is not forgotten by a readable one after it.
            r#"{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":"x"},"prompt_tokens_details":{"cached_tokens":1}}"#,
            r#"{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":"x","cached_tokens":1}}"#,
            // Details that are neither an object nor null.
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":5}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":"5"}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":true}"#,
            r#"{"prompt_tokens":12,"completion_tokens":1,"prompt_tokens_details":[{"cached_tokens":1}]}"#,
            // Details alone do not name the prompt or the completion.
            r#"{"prompt_tokens_details":{"cached_tokens":1}}"#,
        ] {
            assert_eq!(read(json), None, "{json}");
        }
    }

    #[test]
    fn the_prompt_splits_by_billing_and_clamps_what_does_not_fit() {
        let parts = |u: Usage| {
            let p = u.prompt_parts();
            assert_eq!(
                p.uncached + p.cache_read + p.cache_write_5m + p.cache_write_1h,
                u.prompt_tokens,
                "{u:?}"
            );
            (p.uncached, p.cache_read, p.cache_write_5m, p.cache_write_1h)
        };
        for (usage, want) in [
            (Usage::counted(100, 5), (100, 0, 0, 0)),
            (cached(100, 5, 40, 0, 0), (60, 40, 0, 0)),
            (cached(100, 5, 40, 30, 10), (30, 40, 20, 10)),
            (cached(100, 5, 0, 100, 100), (0, 0, 0, 100)),
            // Reads first, then writes, then the hour-long part of the writes.
            (cached(100, 5, 150, 10, 0), (0, 100, 0, 0)),
            (cached(100, 5, 60, 50, 0), (0, 60, 40, 0)),
            (cached(100, 5, 60, 30, 50), (10, 60, 0, 30)),
            (cached(100, 5, 0, 0, 50), (100, 0, 0, 0)),
            (cached(0, 5, 1, 1, 1), (0, 0, 0, 0)),
            (
                cached(u64::MAX, 0, u64::MAX, u64::MAX, u64::MAX),
                (0, u64::MAX, 0, 0),
            ),
        ] {
            assert_eq!(parts(usage), want, "{usage:?}");
        }
    }

    #[test]
    fn a_missing_or_wrong_total_is_their_sum() {
        assert_eq!(
            read(r#"{"prompt_tokens":5,"completion_tokens":6}"#),
            Some(Usage::counted(5, 6))
        );
        assert_eq!(
            read(r#"{"prompt_tokens":5,"completion_tokens":6,"total_tokens":99}"#),
            Some(Usage::counted(5, 6))
        );
        assert_eq!(
            read(r#"{"total_tokens":11,"prompt_tokens":5,"completion_tokens":6.0}"#)
                .map(|u| u.total_tokens),
            Some(11)
        );
    }

    #[test]
    fn anything_uncertain_is_unreadable() {
        for json in [
            r#"{"prompt_tokens":-1,"completion_tokens":3}"#,
            r#"{"prompt_tokens":12.5,"completion_tokens":3}"#,
            r#"{"prompt_tokens":"12.0","completion_tokens":3}"#,
            r#"{"prompt_tokens":"","completion_tokens":3}"#,
            r#"{"prompt_tokens":" 12","completion_tokens":3}"#,
            r#"{"prompt_tokens":"-1","completion_tokens":3}"#,
            r#"{"prompt_tokens":"99999999999999999999","completion_tokens":3}"#,
            r#"{"prompt_tokens":1e20,"completion_tokens":3}"#,
            r#"{"prompt_tokens":true,"completion_tokens":3}"#,
            r#"{"prompt_tokens":null,"completion_tokens":3}"#,
            r#"{"prompt_tokens":[1],"completion_tokens":3}"#,
            r#"{"prompt_tokens":{"n":1},"completion_tokens":3}"#,
            r#"{"prompt_tokens":1,"completion_tokens":3,"total_tokens":"lots"}"#,
            r#"{"prompt_tokens":1,"completion_tokens":3,"total_tokens":-4}"#,
            // An object naming neither count says nothing about the tokens.
            r#"{}"#,
            r#"{"total_tokens":50}"#,
            r#"{"input_tokens":5,"output_tokens":6}"#,
            // Not an object at all.
            r#"12"#,
            r#"-3"#,
            r#"1.5"#,
            r#""12""#,
            r#"true"#,
            r#"[1,2,3]"#,
            r#"null"#,
        ] {
            assert_eq!(read(json), None, "{json}");
        }
    }

    #[test]
    fn usage_read_strictly_is_an_error_when_unreadable() {
        let u: Usage = serde_json::from_str(r#"{"prompt_tokens":3,"total_tokens":1}"#).unwrap();
        assert_eq!(u, Usage::counted(3, 0));
        let err = serde_json::from_str::<Usage>(r#"{"prompt_tokens":3.5}"#).unwrap_err();
        assert!(err.to_string().contains("unreadable"), "{err}");
        assert_eq!(Usage::counted(u64::MAX, 1).total_tokens, u64::MAX);
    }

    #[test]
    fn an_unreadable_usage_leaves_the_rest_of_the_document_readable() {
        #[derive(Deserialize)]
        struct Doc {
            usage: MaybeUsage,
            after: u32,
        }
        let doc: Doc = serde_json::from_str(
            r#"{"usage":{"prompt_tokens":{"a":[1,{"b":2}]},"completion_tokens":"x"},"after":7}"#,
        )
        .unwrap();
        assert_eq!((doc.usage.0, doc.after), (None, 7));
    }
}
