//! The implementation of `coalesce` before byte-level merging, kept as the baseline the
//! `coalesce` bench measures against in the same run: it parses each delta into a
//! `serde_json::Value`, and the queue cloned the last merged item (its whole text) to append
//! one delta to it.

use serde_json::{Map, Value};

const TEXT_KEYS: [&str; 4] = ["content", "reasoning_content", "reasoning", "refusal"];

/// A content-delta chunk split into its envelope (everything but the appendable text, with a
/// `null` where each text stood) and the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Mergeable {
    envelope: Value,
    texts: [Option<String>; 4],
    /// Per entry of `delta.tool_calls`, its `function.arguments` fragment.
    tool_args: Vec<Option<String>>,
    /// How many provider chunks this holds.
    chunks: u32,
}

impl Mergeable {
    /// Reads a chunk payload; `None` when the chunk must not merge.
    pub fn parse(payload: &[u8]) -> Option<Mergeable> {
        let mut envelope: Value = serde_json::from_slice(payload).ok()?;
        let root = envelope.as_object_mut()?;
        if !is_null(root.get("error")) || !is_null(root.get("usage")) {
            return None;
        }
        let [choice] = root.get_mut("choices")?.as_array_mut()?.as_mut_slice() else {
            return None;
        };
        let choice = choice.as_object_mut()?;
        if !is_null(choice.get("finish_reason")) || !is_null(choice.get("logprobs")) {
            return None;
        }
        let delta = choice.get_mut("delta")?.as_object_mut()?;
        let mut texts: [Option<String>; 4] = Default::default();
        for (slot, key) in texts.iter_mut().zip(TEXT_KEYS) {
            *slot = take_string(delta, key)?;
        }
        let mut tool_args = Vec::new();
        if let Some(calls) = delta.get_mut("tool_calls") {
            for call in calls.as_array_mut()? {
                let function = call.as_object_mut()?.get_mut("function");
                tool_args.push(match function {
                    Some(f) => take_string(f.as_object_mut()?, "arguments")?,
                    None => None,
                });
            }
        }
        Some(Mergeable {
            envelope,
            texts,
            tool_args,
            chunks: 1,
        })
    }

    /// Appends `next` when it differs from `self` only in text; hands it back otherwise.
    pub fn try_append(&mut self, next: Mergeable) -> Result<(), Box<Mergeable>> {
        if self.envelope != next.envelope {
            return Err(Box::new(next));
        }
        for (mine, theirs) in self.texts.iter_mut().zip(next.texts) {
            append(mine, theirs);
        }
        for (mine, theirs) in self.tool_args.iter_mut().zip(next.tool_args) {
            append(mine, theirs);
        }
        self.chunks += next.chunks;
        Ok(())
    }

    /// How many provider chunks this holds.
    pub fn chunks(&self) -> u32 {
        self.chunks
    }

    /// The merged chunk.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = self.envelope.clone();
        if let Some(delta) = out
            .get_mut("choices")
            .and_then(|c| c.get_mut(0))
            .and_then(|c| c.get_mut("delta"))
            .and_then(Value::as_object_mut)
        {
            for (text, key) in self.texts.iter().zip(TEXT_KEYS) {
                if let Some(text) = text {
                    delta.insert(key.to_owned(), Value::String(text.clone()));
                }
            }
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for (call, args) in calls.iter_mut().zip(&self.tool_args) {
                    if let (Some(f), Some(args)) = (call.get_mut("function"), args) {
                        f["arguments"] = Value::String(args.clone());
                    }
                }
            }
        }
        serde_json::to_vec(&out).unwrap_or_default()
    }
}

fn is_null(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Takes a string field out, leaving `null` in its place. `Some(None)` when the field is
/// absent or null; `None` (cannot merge) when it holds anything but a string.
fn take_string(obj: &mut Map<String, Value>, key: &str) -> Option<Option<String>> {
    match obj.get_mut(key) {
        None | Some(Value::Null) => Some(None),
        Some(v @ Value::String(_)) => match v.take() {
            Value::String(s) => Some(Some(s)),
            _ => None,
        },
        Some(_) => None,
    }
}

fn append(mine: &mut Option<String>, theirs: Option<String>) {
    match (mine.as_mut(), theirs) {
        (_, None) => {}
        (Some(m), Some(t)) => m.push_str(&t),
        (None, Some(t)) => *mine = Some(t),
    }
}
