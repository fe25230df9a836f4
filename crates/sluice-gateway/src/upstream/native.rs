//! Providers reached through their native APIs, translated to and from OpenAI's chat
//! completions by `sluice_native`: Anthropic's Messages API (`POST {base}/messages`, headers
//! `x-api-key` and `anthropic-version`) and Google's Gemini API (`POST
//! {base}/models/{model}:streamGenerateContent?alt=sse` for streams, `:generateContent` for
//! whole answers, header `x-goog-api-key`).
//!
//! The request is translated before any attempt (a field the provider cannot take is the
//! client's 400, [`BodyError::Untranslatable`]); the stream is translated as it arrives
//! ([`translate`]), so everything past this module — the relay, its timers, backpressure,
//! coalescing, usage and cost — reads an OpenAI stream whatever the provider.

mod translate;

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use sluice_config::{Provider, ProviderKind, DEFAULT_ANTHROPIC_MAX_TOKENS};
use sluice_native::anthropic::{AnthropicOptions, AnthropicStream};
use sluice_native::gemini::{GeminiOptions, GeminiStream};
use sluice_native::{ChunkMeta, NativeStream, ResponseError, TranslateError};
use sluice_relay::{Connect, StreamError, UpstreamBody};

use super::http::{ClientError, Extra, HttpClient};
use super::Completion;
use translate::Translated;

/// The Messages API version Sluice's translation is written against.
const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug)]
pub(super) struct NativeClient {
    http: HttpClient,
    api: Api,
}

#[derive(Debug)]
enum Api {
    Anthropic(AnthropicOptions),
    Gemini(GeminiOptions),
}

impl NativeClient {
    /// `provider` is of a native kind (`anthropic` or `gemini`).
    pub(super) fn new(provider: &Provider, max_response_body: usize) -> Result<Self, ClientError> {
        let mut auth = HeaderMap::new();
        let key = provider
            .api_key
            .as_ref()
            .and_then(|k| HeaderValue::from_str(k.expose()).ok());
        let api = match provider.kind {
            ProviderKind::Gemini => {
                if let Some(key) = key {
                    auth.insert("x-goog-api-key", key);
                }
                Api::Gemini(GeminiOptions {
                    default_max_tokens: provider.default_max_tokens,
                })
            }
            ProviderKind::Anthropic => {
                if let Some(key) = key {
                    auth.insert("x-api-key", key);
                }
                auth.insert(
                    "anthropic-version",
                    HeaderValue::from_static(ANTHROPIC_VERSION),
                );
                Api::Anthropic(AnthropicOptions {
                    default_max_tokens: provider
                        .default_max_tokens
                        .unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS),
                })
            }
            ProviderKind::OpenAi | ProviderKind::Mock => {
                return Err(ClientError::NotNative {
                    kind: provider.kind.as_str(),
                })
            }
        };
        Ok(NativeClient {
            http: HttpClient::new(provider, auth, max_response_body)?,
            api,
        })
    }

    /// Whether the provider speaks Anthropic's Messages API (a Messages client's own request
    /// can be passed to it).
    pub(super) fn speaks_messages(&self) -> bool {
        matches!(self.api, Api::Anthropic(_))
    }

    /// The client's chat body (`chat`) as the provider's, for its model `model`.
    pub(super) fn body(&self, chat: &[u8], model: &str) -> Result<Bytes, TranslateError> {
        let body = match &self.api {
            Api::Anthropic(opts) => sluice_native::anthropic::request(chat, model, opts)?,
            Api::Gemini(opts) => sluice_native::gemini::request(chat, opts)?,
        };
        Ok(Bytes::from(body))
    }

    /// A stream in the provider's own API, passed through untranslated to a client of it.
    pub(super) fn pass_through(&self, path: &str, body: Bytes, extra: Extra) -> Connect {
        self.http.stream(path, body, extra)
    }

    /// A whole answer in the provider's own API, for a client of it.
    pub(super) async fn complete_as_is(
        &self,
        path: &str,
        body: Bytes,
        extra: Extra,
    ) -> Result<Completion, StreamError> {
        self.http.complete(path, body, extra).await
    }

    pub(super) fn stream(
        &self,
        model: &str,
        meta: ChunkMeta,
        body: Bytes,
        mut extra: Extra,
    ) -> Connect {
        if !self.speaks_messages() {
            extra.protocol.clear();
        }
        let (path, translator): (String, Box<dyn NativeStream>) = match &self.api {
            Api::Anthropic(_) => ("/messages".to_owned(), Box::new(AnthropicStream::new(meta))),
            Api::Gemini(_) => (
                format!(
                    "/models/{}:streamGenerateContent?alt=sse",
                    model_path(model)
                ),
                Box::new(GeminiStream::new(meta)),
            ),
        };
        let connect = self.http.stream(&path, body, extra);
        Box::pin(async move {
            let inner = connect.await?;
            Ok(Box::pin(Translated::new(inner, translator)) as UpstreamBody)
        })
    }

    pub(super) async fn complete(
        &self,
        model: &str,
        meta: ChunkMeta,
        body: Bytes,
        mut extra: Extra,
    ) -> Result<Completion, StreamError> {
        if !self.speaks_messages() {
            extra.protocol.clear();
        }
        let path = match &self.api {
            Api::Anthropic(_) => "/messages".to_owned(),
            Api::Gemini(_) => format!("/models/{}:generateContent", model_path(model)),
        };
        let answer = self.http.complete(&path, body, extra).await?;
        let translated = match &self.api {
            Api::Anthropic(_) => sluice_native::anthropic::response(&answer.body, &meta),
            Api::Gemini(_) => sluice_native::gemini::response(&answer.body, &meta),
        };
        match translated {
            Ok(done) => Ok(Completion {
                content_type: "application/json".to_owned(),
                body: Bytes::from(done.body),
            }),
            Err(ResponseError::Provider(body)) => Err(StreamError::ProviderEvent(body)),
            Err(ResponseError::Protocol(err)) => Err(StreamError::Protocol(err.0)),
        }
    }
}

/// A model name as a path segment: Gemini's own `models/` prefix is taken off (the path has
/// it), and anything but an unreserved URL character is percent-encoded, so a model name from
/// the config cannot change the request's path or query.
fn model_path(model: &str) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let mut out = String::with_capacity(model.len());
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::model_path;

    #[test]
    fn model_names_stay_one_path_segment() {
        assert_eq!(model_path("gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(model_path("models/gemini-2.5-pro"), "gemini-2.5-pro");
        assert_eq!(model_path("a/../b?x=1"), "a%2F..%2Fb%3Fx%3D1");
    }
}
