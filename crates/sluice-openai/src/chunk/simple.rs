//! The seed's reduced view of a chunk, for `/stream/chat` only.

use serde::Deserialize;

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
