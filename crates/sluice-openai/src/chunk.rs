//! Reading what the gateway must know from one `chat.completion.chunk` payload, in one pass and
//! without building a JSON tree: which choices carry content, whether a choice finished, the
//! usage, whether it is an error, where its text values sit, and whether it may merge with a
//! neighbour. Fields the gateway does not need are skipped by serde without allocating. A
//! whole (non-streamed) completion reads the same way: its `choices` carry a `message` instead
//! of a `delta`, and its `usage` is found like a chunk's.
//!
//! One pass serves the whole relay: the summary's [`Texts`] let the relay collect the text it
//! may have to count and let a slow client's queue merge deltas, without reading the chunk
//! again. A stream's [`Inspector`] skips even that pass for a delta that differs from the
//! previous one only in its text.
//!
//! A usage the gateway cannot trust (a count that is negative, fractional or not a number, see
//! [`MaybeUsage`](sluice_types::MaybeUsage)) never fails the chunk: it is reported as no usage,
//! so the gateway counts the tokens itself and marks them estimated, and the chunk is still
//! relayed as written.

mod inspector;
mod simple;
mod texts;
mod view;

use serde::de::IgnoredAny;
use serde::Deserialize;
use sluice_types::Usage;

pub use inspector::Inspector;
pub use simple::{simple_delta, SimpleDelta};
pub use texts::{append_text, Span, TextKind, Texts, MAX_TEXTS};
use view::{present, ChoicesFold, ChunkView};

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
    /// ([`MaybeUsage`](sluice_types::MaybeUsage)); `usage` is `None`.
    pub usage_unreadable: bool,
    /// Usage reported only in a provider extension (`x_groq.usage`), when readable.
    pub vendor_usage: Option<Usage>,
    /// A top-level `error` key that is not null.
    pub error: bool,
    /// A plain content delta that may merge with a neighbouring one differing only in its text
    /// (see [`Texts`]): one choice with content, no finish reason, no logprobs, no usage and
    /// no error, and every text value a string this summary knows the place of.
    pub mergeable: bool,
    /// Where the choices' text values sit in the payload.
    pub texts: Texts,
}

/// Inspects a chunk payload. Anything that is not a JSON object is an error.
pub fn inspect(payload: &[u8]) -> Result<ChunkSummary, serde_json::Error> {
    let view: ChunkView<'_> = match serde_json::from_slice(payload) {
        Ok(view) => view,
        // A number serde cannot read at all (`1e400` is out of range for any float) fails the
        // whole read, even inside a usage that would only be unreadable. Read again with
        // `usage` and `x_groq` skipped, so only such a chunk, or one that fails anyway, pays
        // for a second read.
        Err(err) => return skipping_usage(payload).ok_or(err),
    };
    let usage = view.usage.flatten();
    let mut choices = view.choices.unwrap_or_default();
    if let Some(padding) = view.obfuscation {
        choices.texts.push_padding(padding);
    }
    Ok(summarize(
        payload,
        choices,
        ChunkSummary {
            usage: usage.and_then(|u| u.0),
            usage_key: view.usage.is_some(),
            usage_unreadable: usage.is_some_and(|u| u.0.is_none()),
            vendor_usage: view.x_groq.and_then(|x| x.0),
            error: view.error.is_some(),
            ..ChunkSummary::default()
        },
    ))
}

/// The summary of a chunk whose usage or extension could not be read at all: any usage it has
/// is unreadable, and so is its vendor usage.
fn skipping_usage(payload: &[u8]) -> Option<ChunkSummary> {
    #[derive(Deserialize)]
    struct View<'a> {
        #[serde(default, borrow)]
        choices: Option<ChoicesFold<'a>>,
        #[serde(default, deserialize_with = "present")]
        usage: Option<Option<IgnoredAny>>,
        #[serde(default)]
        error: Option<IgnoredAny>,
    }
    let view: View<'_> = serde_json::from_slice(payload).ok()?;
    Some(summarize(
        payload,
        view.choices.unwrap_or_default(),
        ChunkSummary {
            usage_key: view.usage.is_some(),
            usage_unreadable: view.usage.flatten().is_some(),
            error: view.error.is_some(),
            ..ChunkSummary::default()
        },
    ))
}

/// Completes `top` (what the top level said) with what the choices said.
fn summarize(payload: &[u8], choices: ChoicesFold<'_>, top: ChunkSummary) -> ChunkSummary {
    let texts = Texts::locate(payload, &choices.texts);
    let mergeable = choices.n == 1
        && choices.content
        && !choices.finish
        && !choices.logprobs
        && texts.complete()
        && top.usage.is_none()
        && !top.usage_unreadable
        && top.vendor_usage.is_none()
        && !top.error;
    ChunkSummary {
        choices: choices.n,
        content: choices.content,
        finish: choices.finish,
        mergeable,
        texts,
        ..top
    }
}

#[cfg(test)]
mod tests;
