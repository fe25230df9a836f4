//! Where a chunk's text values sit in its payload: the delta's `content`, `reasoning_content`,
//! `reasoning` and `refusal` strings and each tool call's `function.name` and
//! `function.arguments`, found by `inspect`'s one pass.
//!
//! Two readers use them without reading the chunk again: the relay, which collects the text
//! it may have to count tokens of (a provider that never reports usage), and a slow client's
//! queue, which merges deltas by concatenating the escaped contents of their strings.

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Text values a summary keeps the places of; a chunk with more (several tool calls at once)
/// is read the slow way ([`append_text`]) and never merges. Kept small: the summary is copied
/// around on every chunk.
pub const MAX_TEXTS: usize = 4;

/// What a text value is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Content, reasoning or refusal: text appended to the answer.
    #[default]
    Text,
    /// A tool call's name: counted as output, but never merged (it identifies the call).
    ToolName,
    /// A fragment of a tool call's arguments.
    Arguments,
    /// Padding that is no text at all and differs in every chunk (OpenAI's top-level
    /// `obfuscation`): neither counted nor merged, and no reason for two deltas not to merge.
    Padding,
}

/// One JSON string value in a payload.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Its contents, inside the quotes, escaped as written.
    start: u32,
    end: u32,
    pub kind: TextKind,
    /// Its contents hold a `\` escape, so they are not the text as they are.
    pub escaped: bool,
}

impl Span {
    /// The string's contents (inside its quotes) in the payload.
    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The places of a chunk's text values, in the order they appear in the payload.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    spans: [Span; MAX_TEXTS],
    len: u8,
    /// Every text value of the chunk is a string whose place is here.
    complete: bool,
}

impl Texts {
    pub fn spans(&self) -> &[Span] {
        &self.spans[..usize::from(self.len)]
    }

    /// Moves span `i` to `start..end` of another payload, unescaped.
    pub(super) fn place(&mut self, i: usize, start: usize, end: usize) -> Option<()> {
        let span = &mut self.spans[..usize::from(self.len)][i];
        span.start = u32::try_from(start).ok()?;
        span.end = u32::try_from(end).ok()?;
        span.escaped = false;
        Some(())
    }

    /// Every text value of the chunk is a string whose place is known: none is a list of
    /// parts, a number, or one too many.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Appends the chunk's text (as [`append_text`] does) to `out`. Strings without escapes are
    /// copied as they are; only escaped ones are decoded.
    pub fn append_to(&self, payload: &[u8], out: &mut String) -> Result<(), serde_json::Error> {
        if !self.complete {
            return append_text(payload, out);
        }
        for span in self.spans().iter().filter(|s| s.kind != TextKind::Padding) {
            let contents = &payload[span.range()];
            if span.escaped {
                let quoted = &payload[span.range().start - 1..span.range().end + 1];
                out.push_str(&serde_json::from_slice::<String>(quoted)?);
            } else {
                // The payload was read as JSON, so its strings are UTF-8; an error cannot
                // happen here, and would only leave the text short.
                out.push_str(std::str::from_utf8(contents).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Turns what the read found (slices of `payload`) into places in it.
    pub(super) fn locate(payload: &[u8], found: &Found<'_>) -> Texts {
        let mut texts = Texts {
            complete: found.complete,
            ..Texts::default()
        };
        let base = payload.as_ptr() as usize;
        for (raw, kind) in found.raw[..found.len].iter().flatten() {
            // `raw` is a quoted string borrowed from `payload` (see `Found::push`).
            let start = raw.as_ptr() as usize - base + 1;
            let end = start + raw.len() - 2;
            let (Ok(start32), Ok(end32)) = (u32::try_from(start), u32::try_from(end)) else {
                texts.complete = false;
                return texts;
            };
            texts.spans[usize::from(texts.len)] = Span {
                start: start32,
                end: end32,
                kind: *kind,
                escaped: memchr::memchr(b'\\', &payload[start..end]).is_some(),
            };
            texts.len += 1;
        }
        // The fields of a delta are read into fixed slots, not in the order they came.
        texts.spans[..usize::from(texts.len)].sort_unstable_by_key(|s| s.start);
        texts
    }
}

/// The raw string values found while reading, borrowed from the payload.
pub(super) struct Found<'a> {
    raw: [Option<(&'a str, TextKind)>; MAX_TEXTS],
    len: usize,
    complete: bool,
}

impl Default for Found<'_> {
    fn default() -> Self {
        Found {
            raw: [None; MAX_TEXTS],
            len: 0,
            complete: true,
        }
    }
}

impl<'a> Found<'a> {
    /// Notes a text value; one that is not a string, or one too many, makes the set
    /// incomplete.
    pub fn push(&mut self, raw: &'a RawValue, kind: TextKind) {
        let text = raw.get();
        if !text.starts_with('"') || self.len == MAX_TEXTS {
            self.complete = false;
            return;
        }
        self.raw[self.len] = Some((text, kind));
        self.len += 1;
    }

    /// Some text could not be read in place.
    pub fn give_up(&mut self) {
        self.complete = false;
    }

    /// Notes a top-level padding string; one that is not a string is left to the envelope,
    /// and one that does not fit only goes unnoticed (the delta then merges with fewer).
    pub fn push_padding(&mut self, raw: &'a RawValue) {
        let text = raw.get();
        if text.starts_with('"') && self.len < MAX_TEXTS {
            self.raw[self.len] = Some((text, TextKind::Padding));
            self.len += 1;
        }
    }
}

/// Appends the text a chunk carries — content, reasoning, refusal and tool-call names and
/// arguments of every choice — to `out`, for counting tokens when a provider reports no usage.
/// Strings without escapes are borrowed, not copied, on the way. The slow way, for chunks whose
/// [`Texts`] are not complete.
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
