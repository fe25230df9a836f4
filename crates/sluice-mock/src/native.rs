//! What the native APIs (Anthropic Messages, Gemini) share beyond the OpenAI path: the answer
//! shapes of the `mock-tool` and `mock-think` models (a tool call, thinking before the text)
//! and the stop reason. Each API reads the shape from its own request fields and writes it in
//! its own events; the words come from the same generator as the text.

use crate::generator::{generate, Tokens};
use serde_json::{Map, Value};

/// Thinking tokens of a `mock-think` answer, before its text. They count in the output tokens
/// beside the text's and are not cut by the request's `max_tokens`, which caps the text.
pub const THINKING_TOKENS: usize = 8;

/// Mixed into the seed of the thinking text, so that it is not the answer's first words.
const THINKING_SEED: u64 = 0x7468_696e_6b69_6e67;

/// What a native answer holds besides (or instead of) plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Text only.
    Text,
    /// `mock-think` asked to think: [`THINKING_TOKENS`] of thinking, then the text.
    Think,
    /// `mock-tool` offered tools: a call of the first one instead of text.
    Tool(ToolCall),
}

impl Shape {
    /// The shape `model` answers in: `tool` is the call `mock-tool` makes (`None` when the
    /// request offers no tool), `thinking` whether the request asked to think.
    pub(crate) fn for_model(
        model: &str,
        tool: impl FnOnce() -> Option<ToolCall>,
        thinking: impl FnOnce() -> bool,
    ) -> Shape {
        match model {
            "mock-tool" => tool().map_or(Shape::Text, Shape::Tool),
            "mock-think" if thinking() => Shape::Think,
            _ => Shape::Text,
        }
    }

    /// The thinking tokens of the answer (none unless [`Shape::Think`]).
    pub(crate) fn thinking(&self, seed: u64) -> Tokens {
        let n = if *self == Shape::Think {
            THINKING_TOKENS
        } else {
            0
        };
        generate(seed ^ THINKING_SEED, n)
    }
}

/// The call a `mock-tool` answer makes: the first tool offered, with one string argument
/// holding the answer's words (`scenario.tokens` of them), e.g. `{"city": "river gate"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ToolCall {
    pub name: String,
    /// The argument's name: the first property of the tool's JSON schema, else `input`.
    pub key: String,
}

impl ToolCall {
    pub(crate) fn new(name: &str, schema: Option<&Value>) -> Self {
        let key = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .and_then(|p| p.keys().next())
            .map_or("input", String::as_str);
        Self {
            name: name.to_owned(),
            key: key.to_owned(),
        }
    }

    /// The arguments with `text` as the argument's value.
    pub(crate) fn arguments(&self, text: String) -> Value {
        let mut args = Map::new();
        args.insert(self.key.clone(), Value::String(text));
        Value::Object(args)
    }
}

/// The plain texts of a list of content blocks or parts (`{"text": …}` items; with `kind`,
/// only those whose `type` is `kind`).
pub(crate) fn texts<'a>(
    items: &'a [Value],
    kind: Option<&'a str>,
) -> impl Iterator<Item = &'a str> + 'a {
    items
        .iter()
        .filter(move |item| {
            kind.is_none_or(|k| item.get("type").and_then(Value::as_str) == Some(k))
        })
        .filter_map(|item| item.get("text").and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_argument_is_the_first_schema_property() {
        let schema = json!({"type":"object","properties":{"city":{},"unit":{}}});
        let call = ToolCall::new("get_weather", Some(&schema));
        assert_eq!(call.key, "city");
        assert_eq!(
            call.arguments("river gate".into()),
            json!({"city": "river gate"})
        );
        assert_eq!(ToolCall::new("now", None).key, "input");
        assert_eq!(
            ToolCall::new("now", Some(&json!({"properties":{}}))).key,
            "input"
        );
    }

    #[test]
    fn shapes_by_model() {
        let tool = || Some(ToolCall::new("t", None));
        assert_eq!(
            Shape::for_model("mock-tool", tool, || true),
            Shape::Tool(ToolCall::new("t", None))
        );
        assert_eq!(Shape::for_model("mock-tool", || None, || true), Shape::Text);
        assert_eq!(Shape::for_model("mock-think", tool, || true), Shape::Think);
        assert_eq!(Shape::for_model("mock-think", tool, || false), Shape::Text);
        assert_eq!(Shape::for_model("mock", tool, || true), Shape::Text);
        assert_eq!(Shape::Think.thinking(1).len(), THINKING_TOKENS);
        assert_eq!(Shape::Text.thinking(1).len(), 0);
        // Thinking words are not the answer's.
        let thinking: String = Shape::Think.thinking(1).collect();
        assert_ne!(thinking, crate::completion_text(1, THINKING_TOKENS));
    }

    #[test]
    fn texts_of_blocks() {
        let blocks = [
            json!({"type":"text","text":"a"}),
            json!({"type":"image","source":{}}),
            json!({"type":"tool_result","text":"not a text block"}),
            json!({"text":"b"}),
        ];
        assert_eq!(texts(&blocks, Some("text")).collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            texts(&blocks, None).collect::<Vec<_>>(),
            ["a", "not a text block", "b"]
        );
    }
}
