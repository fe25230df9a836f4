//! The borrowed serde view of a `GenerateContentResponse` (a stream's chunk or a whole answer):
//! only the first candidate's parts, finish reason, usage, ids and errors are read.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::chunk::JsonStr;
use crate::usage::{read, Count, TokenUsage};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Response<'a> {
    #[serde(default, borrow)]
    pub candidates: Vec<Candidate<'a>>,
    #[serde(default)]
    pub usage_metadata: Option<RawUsage>,
    #[serde(default, borrow)]
    pub model_version: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub response_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub prompt_feedback: Option<Feedback<'a>>,
    #[serde(default)]
    pub error: Option<IgnoredAny>,
}

impl<'a> Response<'a> {
    /// The first candidate (the only one: requests never ask for more).
    pub fn candidate(&mut self) -> Option<Candidate<'a>> {
        let at = self
            .candidates
            .iter()
            .position(|c| c.index.unwrap_or(0) == 0)?;
        Some(self.candidates.swap_remove(at))
    }

    /// Why the prompt was blocked, when it was and no candidate came.
    pub fn blocked(&self) -> bool {
        self.candidates.is_empty()
            && self
                .prompt_feedback
                .as_ref()
                .is_some_and(|f| f.block_reason.is_some())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate<'a> {
    #[serde(default, borrow)]
    pub content: Option<Content<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    pub index: Option<u32>,
}

#[derive(Deserialize)]
pub(super) struct Content<'a> {
    #[serde(default, borrow)]
    pub parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part<'a> {
    #[serde(default, borrow)]
    pub text: Option<JsonStr<'a>>,
    #[serde(default)]
    pub thought: Option<bool>,
    #[serde(default, borrow)]
    pub thought_signature: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    pub function_call: Option<Call<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Call<'a> {
    #[serde(borrow)]
    pub name: JsonStr<'a>,
    #[serde(default, borrow)]
    pub args: Option<&'a RawValue>,
}

impl Call<'_> {
    /// The arguments as JSON text (`{}` when there are none).
    pub fn arguments(&self) -> &str {
        self.args
            .map(RawValue::get)
            .filter(|a| *a != "null")
            .unwrap_or("{}")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Feedback<'a> {
    #[serde(default, borrow)]
    pub block_reason: Option<Cow<'a, str>>,
}

/// `usageMetadata`: the totals so far (each chunk's replaces the last; a count left out is 0).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawUsage {
    #[serde(default)]
    prompt_token_count: Option<Count>,
    #[serde(default)]
    candidates_token_count: Option<Count>,
    #[serde(default)]
    thoughts_token_count: Option<Count>,
    #[serde(default)]
    cached_content_token_count: Option<Count>,
    #[serde(default)]
    tool_use_prompt_token_count: Option<Count>,
}

impl RawUsage {
    /// The usage in OpenAI's terms, if every count could be trusted.
    pub fn usage(self) -> Option<TokenUsage> {
        let mut ok = true;
        let prompt = read(self.prompt_token_count, &mut ok);
        let answer = read(self.candidates_token_count, &mut ok);
        let thoughts = read(self.thoughts_token_count, &mut ok).unwrap_or(0);
        let cached = read(self.cached_content_token_count, &mut ok).unwrap_or(0);
        let tool_prompt = read(self.tool_use_prompt_token_count, &mut ok).unwrap_or(0);
        if !ok || (prompt.is_none() && answer.is_none()) {
            return None;
        }
        Some(TokenUsage {
            prompt_tokens: prompt.unwrap_or(0).saturating_add(tool_prompt),
            completion_tokens: answer.unwrap_or(0).saturating_add(thoughts),
            cached_tokens: cached,
            cache_creation_tokens: None,
            cache_creation_1h_tokens: None,
            reasoning_tokens: Some(thoughts),
        })
    }
}

/// OpenAI's finish reason for Gemini's; `called`: the answer made a function call.
pub(super) fn finish_reason(reason: &str, called: bool) -> &'static str {
    match reason {
        "STOP" if called => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT" => "content_filter",
        _ => "stop",
    }
}
