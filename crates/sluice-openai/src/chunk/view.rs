//! The borrowed serde views `inspect` reads a chunk through. Text values are taken as raw JSON
//! slices of the payload (never copied), so their places are known after the one pass.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_types::{MaybeUsage, Usage};

use super::texts::{Found, TextKind};

#[derive(Deserialize)]
pub(super) struct ChunkView<'a> {
    #[serde(default, borrow)]
    pub choices: Option<ChoicesFold<'a>>,
    /// `None` when absent, `Some(None)` when `null`.
    #[serde(default, deserialize_with = "present")]
    pub usage: Option<Option<MaybeUsage>>,
    #[serde(default)]
    pub error: Option<IgnoredAny>,
    #[serde(default)]
    pub x_groq: Option<VendorUsage>,
    /// OpenAI's random padding, different in every chunk.
    #[serde(default, borrow)]
    pub obfuscation: Option<&'a RawValue>,
}

/// Tells an absent key (`None`, through `default`) from one that is `null` (`Some(None)`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// The readable `usage` inside a provider extension object. The extension is the provider's
/// own business, so whatever shape it has never fails the chunk.
pub(super) struct VendorUsage(pub Option<Usage>);

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

/// `choices` folded into flags and text places while it is read, so no `Vec` is built per
/// chunk.
#[derive(Default)]
pub(super) struct ChoicesFold<'a> {
    pub n: u32,
    pub content: bool,
    pub finish: bool,
    /// Some choice has non-null `logprobs`.
    pub logprobs: bool,
    pub texts: Found<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ChoicesFold<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct FoldVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FoldVisitor<'a> {
            type Value = ChoicesFold<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChoicesFold<'a>, A::Error> {
                let mut fold = ChoicesFold::default();
                while let Some(choice) = seq.next_element::<ChoiceView<'a>>()? {
                    fold.n += 1;
                    fold.finish |= choice.finish_reason.is_some();
                    fold.logprobs |= choice.logprobs.is_some();
                    if let Some(delta) = choice.delta {
                        fold.content |= delta.read_into(&mut fold.texts);
                    }
                }
                Ok(fold)
            }
        }
        de.deserialize_seq(FoldVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(default, borrow)]
    delta: Option<DeltaView<'a>>,
    #[serde(default)]
    finish_reason: Option<IgnoredAny>,
    #[serde(default)]
    logprobs: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reasoning: Option<&'a RawValue>,
    #[serde(default, borrow)]
    refusal: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tool_calls: Option<&'a RawValue>,
}

impl<'a> DeltaView<'a> {
    /// Notes where its text values are; returns whether it carries content.
    fn read_into(self, found: &mut Found<'a>) -> bool {
        let mut content = false;
        for raw in [
            self.content,
            self.reasoning_content,
            self.reasoning,
            self.refusal,
        ]
        .into_iter()
        .flatten()
        {
            content |= non_empty(raw);
            found.push(raw, TextKind::Text);
        }
        if let Some(calls) = self.tool_calls {
            content |= non_empty(calls);
            // Read again, only the tool calls' own bytes and only on chunks that have them.
            match serde_json::from_str::<ToolCalls<'a>>(calls.get()) {
                Ok(calls) => {
                    for call in calls.0.into_iter().flatten() {
                        let Some(function) = call.function else {
                            continue;
                        };
                        for (raw, kind) in [
                            (function.name, TextKind::ToolName),
                            (function.arguments, TextKind::Arguments),
                        ] {
                            if let Some(raw) = raw {
                                found.push(raw, kind);
                            }
                        }
                    }
                }
                Err(_) => found.give_up(),
            }
        }
        content
    }
}

/// True for a non-empty string, list or object (and any number or boolean), false for `""`,
/// `[]` and `{}` (`null` never gets here).
fn non_empty(raw: &RawValue) -> bool {
    let text = raw.get().as_bytes();
    match text.first() {
        Some(b'"') => text.len() > 2,
        Some(b'[' | b'{') => text[1..text.len() - 1]
            .iter()
            .any(|b| !b.is_ascii_whitespace()),
        _ => true,
    }
}

/// Up to half of [`MAX_TEXTS`](super::MAX_TEXTS) tool calls (a name and arguments each), read
/// without a `Vec`; more make the whole list unreadable here (the text is then read the slow
/// way).
struct ToolCalls<'a>([Option<ToolCallView<'a>>; super::MAX_TEXTS / 2]);

impl<'de: 'a, 'a> Deserialize<'de> for ToolCalls<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ToolCalls<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tool calls")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ToolCalls<'a>, A::Error> {
                let mut calls = ToolCalls(Default::default());
                for slot in &mut calls.0 {
                    match seq.next_element::<ToolCallView<'a>>()? {
                        Some(call) => *slot = Some(call),
                        None => return Ok(calls),
                    }
                }
                match seq.next_element::<IgnoredAny>()? {
                    None => Ok(calls),
                    Some(_) => Err(de::Error::custom("too many tool calls")),
                }
            }
        }
        de.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct ToolCallView<'a> {
    #[serde(default, borrow)]
    function: Option<FunctionView<'a>>,
}

#[derive(Deserialize)]
struct FunctionView<'a> {
    #[serde(default, borrow)]
    name: Option<&'a RawValue>,
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
}
