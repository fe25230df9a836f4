//! The client's embeddings request (`POST /v1/embeddings`): `model` and `input` are read and
//! checked, everything else (`encoding_format`, `dimensions`, `user`, …) is kept byte for byte
//! and passed to the provider untouched. The answer needs no type of its own: its top-level
//! `usage` is read by [`inspect`](crate::inspect) and priced by
//! [`price_usage_in_chunk`](crate::pricing::price_usage_in_chunk), as a whole chat answer's.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::request::{read_model, read_object, with_model, RequestError};

/// A validated embeddings request.
#[derive(Debug)]
pub struct EmbeddingsRequest {
    /// The body as the client sent it.
    raw: Bytes,
    pub model: String,
    /// An upper estimate of the input's tokens, without a tokenizer: a token per three bytes
    /// of text (as a chat prompt's is estimated), a token array's length.
    pub prompt_estimate: u64,
}

#[derive(Deserialize)]
struct View<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// OpenAI's four shapes of `input`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Texts(#[serde(borrow)] Vec<Cow<'a, str>>),
    Tokens(Vec<u64>),
    TokenArrays(Vec<Vec<u64>>),
}

const SHAPE: &str = "The `input` field must be a string, an array of strings, an array of token ids or an array of token id arrays.";

impl EmbeddingsRequest {
    pub fn parse(raw: Bytes) -> Result<Self, RequestError> {
        let view: View<'_> = read_object(&raw)?;
        let model = read_model(view.model)?;
        let Some(input) = view.input else {
            return Err(RequestError("The `input` field is required.".to_owned()));
        };
        let input: Input<'_> =
            serde_json::from_str(input.get()).map_err(|_| RequestError(SHAPE.to_owned()))?;
        let (items, prompt_estimate) = match &input {
            Input::Text(t) => (1, text_tokens(t.len())),
            Input::Texts(ts) => (ts.len(), text_tokens(ts.iter().map(|t| t.len()).sum())),
            Input::Tokens(ids) => (ids.len(), ids.len() as u64),
            Input::TokenArrays(arrays) => (
                arrays.len(),
                arrays.iter().map(|a| a.len() as u64).sum::<u64>(),
            ),
        };
        if items == 0 {
            return Err(RequestError(
                "The `input` field must not be empty.".to_owned(),
            ));
        }
        Ok(EmbeddingsRequest {
            raw,
            model,
            prompt_estimate: prompt_estimate.max(1),
        })
    }

    /// The body as the client sent it.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The body for a provider: the provider's model name, nothing else changed. It fails only
    /// if the request's own bytes, already parsed once, cannot be rewritten.
    pub fn body_for(&self, provider_model: &str) -> Result<Bytes, RequestError> {
        if provider_model == self.model {
            return Ok(self.raw.clone());
        }
        with_model(&self.raw, provider_model).map(Bytes::from)
    }
}

fn text_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<EmbeddingsRequest, RequestError> {
        EmbeddingsRequest::parse(Bytes::from(s.to_owned()))
    }

    #[test]
    fn reads_model_and_estimates_every_input_shape() {
        for (body, estimate) in [
            (r#"{"model":"m","input":"hello world!"}"#, 4),
            (r#"{"model":"m","input":["abc","defg"]}"#, 3),
            (r#"{"model":"m","input":[1,2,3]}"#, 3),
            (r#"{"model":"m","input":[[1,2],[3]],"dimensions":8}"#, 3),
            (r#"{"model":"m","input":""}"#, 1),
        ] {
            let r = parse(body).unwrap();
            assert_eq!(r.model, "m");
            assert_eq!(r.prompt_estimate, estimate, "{body}");
            assert_eq!(r.raw(), body.as_bytes());
        }
    }

    #[test]
    fn rejects_bad_bodies_with_clear_messages() {
        for (body, needle) in [
            ("not json", "not a valid JSON"),
            ("[1]", "not a valid JSON"),
            (r#"{"input":"x"}"#, "`model` field is required"),
            (r#"{"model":"","input":"x"}"#, "non-empty string"),
            (r#"{"model":"m"}"#, "`input` field is required"),
            (r#"{"model":"m","input":[]}"#, "must not be empty"),
            (r#"{"model":"m","input":3}"#, "must be a string"),
            (r#"{"model":"m","input":[-1]}"#, "must be a string"),
            (r#"{"model":"m","input":["a",1]}"#, "must be a string"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.0.contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn body_for_renames_the_model_only() {
        let raw = r#"{"model":"m","input":"x","encoding_format":"base64","user":"u"}"#;
        let r = parse(raw).unwrap();
        assert_eq!(r.body_for("m").unwrap(), raw.as_bytes());
        assert_eq!(
            r.body_for("text-embedding-3-small").unwrap(),
            r#"{"model":"text-embedding-3-small","input":"x","encoding_format":"base64","user":"u"}"#
                .as_bytes()
        );
    }
}
