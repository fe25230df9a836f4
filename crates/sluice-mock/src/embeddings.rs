//! OpenAI's embeddings API, `POST /v1/embeddings`: `model`, `input` (a string, an array of
//! strings, an array of token ids or an array of such arrays), `encoding_format` (`float` or
//! `base64`) and `dimensions`. Each input gets a deterministic unit-length vector: a splitmix64
//! sequence seeded with FNV-1a 64 of its text (a token array: of its ids as little-endian
//! `u64`s), normalised. Usage counts each text's whitespace-separated words (a token array:
//! its ids), at least 1 in all, as prompt tokens are counted on the chat APIs, without their
//! per-message framing. The model name selects the same faults as on the chat APIs (`mock-500`,
//! `mock-429`, …; the stream faults act on the one body as on a whole chat answer), and the
//! `x-mock-ttft-ms` header delays the answer.

use crate::generator::fnv1a64;
use crate::openai::openai_refusal;
use crate::respond::{answer, Dialect, Refusal};
use crate::scenario::{Asked, Scenario};
use crate::stream::Script;
use crate::{MockResponse, MockSettings, Stats};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::fmt::Write as _;

/// Dimensions of a vector when the request does not ask for a number.
pub const DEFAULT_DIMENSIONS: usize = 8;

/// The most dimensions a request may ask for (OpenAI's largest model has 3,072).
pub const MAX_DIMENSIONS: usize = 4096;

/// The most inputs one request may hold (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

/// Answers one `POST /v1/embeddings`. The status and headers are final; the answer's delay
/// (`x-mock-ttft-ms` or the settings' ttft) lives in the returned body, which is lazy and needs
/// a tokio runtime only when polled.
pub fn respond(
    settings: &MockSettings,
    stats: &Stats,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    answer(&Embeddings, settings, stats, headers, body)
}

/// The unit-length vector of `text` with `dimensions` components, as `respond` writes it.
pub fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    vector(fnv1a64(text.as_bytes()), dimensions)
}

struct Embeddings;

/// One input of a request.
#[derive(Debug)]
enum Input {
    Text(String),
    Tokens(Vec<u64>),
}

impl Input {
    fn seed(&self) -> u64 {
        match self {
            Input::Text(text) => fnv1a64(text.as_bytes()),
            Input::Tokens(ids) => {
                let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
                fnv1a64(&bytes)
            }
        }
    }

    fn tokens(&self) -> u64 {
        match self {
            Input::Text(text) => text.split_whitespace().count() as u64,
            Input::Tokens(ids) => ids.len() as u64,
        }
    }
}

/// What a request asks for beside its [`Scenario`].
#[derive(Debug)]
struct Asking {
    inputs: Vec<Input>,
    dimensions: usize,
    base64: bool,
}

impl Dialect for Embeddings {
    type Extra = Asking;
    type Script = NoStream;

    fn read(
        &self,
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Scenario, Asking), String> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| format!("request body is not valid JSON: {e}"))?;
        let Some(object) = json.as_object() else {
            return Err("request body must be a JSON object".to_owned());
        };
        let model = match object.get("model") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            None | Some(Value::Null) => return Err("'model' is required".to_owned()),
            Some(_) => return Err("'model' must be a non-empty string".to_owned()),
        };
        let inputs = read_input(object.get("input"))?;
        let dimensions = match object.get("dimensions") {
            None | Some(Value::Null) => DEFAULT_DIMENSIONS,
            Some(v) => match v.as_u64() {
                Some(n @ 1..) if n <= MAX_DIMENSIONS as u64 => n as usize,
                _ => {
                    return Err(format!(
                        "'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}"
                    ))
                }
            },
        };
        let base64 = match object.get("encoding_format").map(Value::as_str) {
            None | Some(Some("float")) => false,
            Some(Some("base64")) => true,
            Some(_) => return Err("'encoding_format' must be 'float' or 'base64'".to_owned()),
        };
        let prompt_tokens = inputs.iter().map(Input::tokens).sum::<u64>().max(1);
        let asked = Asked {
            model,
            stream: false,
            include_usage: false,
            seed: 0,
            prompt_tokens,
            max_tokens: None,
        };
        let scenario = Scenario::build(settings, headers, asked)?;
        Ok((
            scenario,
            Asking {
                inputs,
                dimensions,
                base64,
            },
        ))
    }

    fn refusal(&self, refusal: Refusal<'_>) -> (StatusCode, Bytes) {
        openai_refusal(refusal)
    }

    fn script(&self, _: &Scenario, _: &Asking) -> NoStream {
        NoStream
    }

    fn whole(&self, scenario: &Scenario, asking: &Asking) -> Bytes {
        let mut out = String::with_capacity(64 + asking.inputs.len() * asking.dimensions * 12);
        out.push_str(r#"{"object":"list","data":["#);
        for (index, input) in asking.inputs.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                r#"{{"object":"embedding","index":{index},"embedding":"#
            );
            let v = vector(input.seed(), asking.dimensions);
            if asking.base64 {
                out.push('"');
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                base64_into(&mut out, &bytes);
                out.push('"');
            } else {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    // Rust writes the shortest decimal that reads back as the same f32, never
                    // with an exponent: valid JSON.
                    let _ = write!(out, "{x}");
                }
                out.push(']');
            }
            out.push('}');
        }
        let model = Value::String(scenario.model.clone());
        let n = scenario.prompt_tokens;
        let _ = write!(
            out,
            r#"],"model":{model},"usage":{{"prompt_tokens":{n},"total_tokens":{n}}}}}"#
        );
        Bytes::from(out)
    }
}

/// `input`: a string, an array of strings, an array of token ids, or an array of arrays of
/// token ids; never empty.
fn read_input(input: Option<&Value>) -> Result<Vec<Input>, String> {
    const SHAPE: &str =
        "'input' must be a string, an array of strings, or an array of token arrays";
    let items = match input {
        None | Some(Value::Null) => return Err("'input' is required".to_owned()),
        Some(Value::String(s)) => return Ok(vec![Input::Text(s.clone())]),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(SHAPE.to_owned()),
    };
    if items.is_empty() {
        return Err("'input' must not be empty".to_owned());
    }
    if items.len() > MAX_INPUTS {
        return Err(format!("'input' may hold at most {MAX_INPUTS} items"));
    }
    // One array of token ids is one input.
    if items.iter().all(Value::is_number) {
        return token_ids(items).map(|ids| vec![Input::Tokens(ids)]);
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(Input::Text(s.clone())),
            Value::Array(ids) if !ids.is_empty() => token_ids(ids).map(Input::Tokens),
            _ => Err(SHAPE.to_owned()),
        })
        .collect()
}

fn token_ids(items: &[Value]) -> Result<Vec<u64>, String> {
    items
        .iter()
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| "token ids must be non-negative integers".to_owned())
        })
        .collect()
}

/// `dimensions` numbers from a splitmix64 sequence seeded with `seed`, scaled to length 1.
fn vector(seed: u64, dimensions: usize) -> Vec<f32> {
    let mut state = seed;
    let raw: Vec<f64> = (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // 53 random bits as a number in [-1, 1).
            (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        // All zeros (as good as impossible): the first axis, still of length 1.
        let mut v = vec![0.0; dimensions];
        if let Some(first) = v.first_mut() {
            *first = 1.0;
        }
        return v;
    }
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// Standard base64 with padding (RFC 4648), as OpenAI encodes `encoding_format: base64`.
fn base64_into(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Embeddings are never streamed: the script of a stream that has nothing to say.
#[derive(Debug)]
pub(crate) struct NoStream;

impl Script for NoStream {
    fn open(&mut self, _: &mut BytesMut) {}
    fn piece(&mut self, _: &mut BytesMut) {}
    fn sent(&self) -> usize {
        0
    }
    fn total(&self) -> usize {
        0
    }
    fn tail(&mut self, _: &mut BytesMut) {}
    fn error(&mut self, _: &mut BytesMut) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            base64_into(&mut out, input.as_bytes());
            assert_eq!(out, expected, "{input:?}");
        }
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        for dims in [1, 2, 8, 1536] {
            let v = embedding("hello world", dims);
            assert_eq!(v.len(), dims);
            let norm: f64 = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{dims}: {norm}");
        }
        assert_eq!(embedding("a", 8), embedding("a", 8));
        assert_ne!(embedding("a", 8), embedding("b", 8));
    }
}
