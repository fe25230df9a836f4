//! Provider clients: how a request reaches a provider and how its answer comes back, as a
//! [`Connect`] future for streams or a whole body for non-streaming requests.
//!
//! Three kinds: an OpenAI-compatible HTTP provider (over [`http`]), a native one whose API is
//! translated to and from OpenAI's ([`native`]: Anthropic, Gemini), and the built-in simulated
//! one ([`simulated`]), which produces the very bytes `sluice mock-upstream` would send. All
//! three answer with OpenAI's chat-completion stream or body, so everything downstream of this
//! module treats them alike. OpenAI-compatible and simulated providers also serve embeddings
//! ([`Api::Embeddings`]), as whole answers passed through as they come; native ones do not.
//! A client that speaks a provider's own API is passed through to it ([`Api::Native`]: Messages
//! to an Anthropic provider, Responses to an OpenAI-compatible one configured with
//! `responses = true`): its request and the provider's answer cross untranslated.

mod http;
mod native;
mod simulated;

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use bytes::Bytes;
use sluice_config::{Provider, ProviderKind, Timeouts};
use sluice_native::passthrough::NativeApi;
use sluice_native::{ChunkMeta, TranslateError};
use sluice_openai::{ChatRequest, EmbeddingsRequest, ErrorBody, RequestError};
use sluice_relay::{Connect, StreamError};

/// A provider's whole answer to a non-streaming request.
#[derive(Debug)]
pub struct Completion {
    pub content_type: String,
    pub body: Bytes,
}

/// One configured provider, ready to take requests.
#[derive(Debug)]
pub struct ProviderClient {
    pub name: String,
    pub timeouts: Timeouts,
    transport: Transport,
    /// An OpenAI-compatible provider that also serves the Responses API.
    responses: bool,
}

#[derive(Debug)]
enum Transport {
    OpenAi(http::HttpClient),
    Native(native::NativeClient),
    Simulated(simulated::Simulated),
}

/// Which of OpenAI's APIs a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Chat completions, streamed or whole: every provider kind.
    ChatCompletions,
    /// Embeddings, whole answers only: OpenAI-compatible and simulated providers.
    Embeddings,
    /// The client's own API, which this provider speaks: passed through untranslated.
    Native(NativeApi),
}

impl Api {
    /// The path under an OpenAI-compatible provider's base URL.
    fn path(self) -> &'static str {
        match self {
            Api::ChatCompletions => "/chat/completions",
            Api::Embeddings => "/embeddings",
            Api::Native(api) => api.path(),
        }
    }
}

/// One request to a provider, its body already in the provider's format.
#[derive(Debug)]
pub struct Call {
    pub api: Api,
    /// The provider's model name.
    pub model: String,
    /// The gateway's request id: a translated stream's chunk id when the provider gives none.
    pub request_id: String,
    pub body: Bytes,
    /// The client's headers that are passed on (the simulated provider's controls).
    pub headers: HeaderMap,
    /// Headers of the provider's own API the client sent, for a request passed through to it
    /// (`anthropic-beta`).
    pub protocol: HeaderMap,
}

/// Why a request cannot be sent to a provider.
#[derive(Debug)]
pub enum BodyError {
    /// The provider's API has no equivalent for something the request asks: the client's 400
    /// (unless another target of the route can take it).
    Untranslatable(TranslateError),
    /// The request's own bytes, already parsed once, could not be rewritten: the gateway's
    /// fault.
    Rewrite(RequestError),
    /// The provider's API has no embeddings (a native provider): another target of the route
    /// may serve them, else the client's 400.
    NoEmbeddings,
}

/// Request headers a client may send that are passed on: only the simulated provider's
/// controls, and only to the built-in simulated provider and to plain-`http://` providers on
/// this machine's loopback (`sluice mock-upstream` in tests and load tests), never to a remote
/// provider. Nothing else of the client's headers ever leaves the gateway.
pub fn forwarded_headers(client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in client {
        if name.as_str().starts_with("x-mock-") {
            out.insert(name.clone(), value.clone());
        }
    }
    out
}

impl ProviderClient {
    /// `max_response_body`: the longest whole (non-streamed) answer read from the provider.
    pub fn new(
        provider: &Provider,
        mock: &simulated::MockHandle,
        max_response_body: usize,
    ) -> Result<Self, http::ClientError> {
        let transport = match provider.kind {
            ProviderKind::OpenAi => {
                let mut auth = HeaderMap::new();
                if let Some(key) = &provider.api_key {
                    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
                        auth.insert(header::AUTHORIZATION, v);
                    }
                }
                Transport::OpenAi(http::HttpClient::new(provider, auth, max_response_body)?)
            }
            ProviderKind::Anthropic | ProviderKind::Gemini => {
                Transport::Native(native::NativeClient::new(provider, max_response_body)?)
            }
            ProviderKind::Mock => Transport::Simulated(simulated::Simulated::new(mock.clone())),
        };
        Ok(ProviderClient {
            name: provider.name.clone(),
            timeouts: provider.timeouts.clone(),
            transport,
            responses: provider.responses,
        })
    }

    /// The prompt's exact tokens counted by the provider, for a provider that counts them
    /// (Anthropic's `POST /messages/count_tokens`, given the client's own body for `model` and
    /// its `anthropic-beta` flags); `None` when it cannot, or does not answer with a count in
    /// time (the caller then estimates).
    pub async fn count_tokens(&self, raw: &[u8], model: &str, protocol: HeaderMap) -> Option<u64> {
        let Transport::Native(c) = &self.transport else {
            return None;
        };
        if !c.speaks_messages() {
            return None;
        }
        let body = Self::native_body(raw, model).ok()?;
        let extra = http::Extra {
            client: HeaderMap::new(),
            protocol,
        };
        let call = c.complete_as_is("/messages/count_tokens", body, extra);
        let answer = tokio::time::timeout(self.timeouts.first_token, call)
            .await
            .ok()?
            .ok()?;
        let counted: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
        counted.get("input_tokens")?.as_u64()
    }

    /// Whether this provider reads the thinking signatures a translated request carries
    /// (`reasoning_signature`, `reasoning_redacted`): only the native ones do.
    pub fn reads_signatures(&self) -> bool {
        matches!(self.transport, Transport::Native(_))
    }

    /// Whether this provider speaks `api` itself, so a client of that API is passed through.
    pub fn speaks(&self, api: NativeApi) -> bool {
        match (&self.transport, api) {
            (Transport::Native(c), NativeApi::Messages) => c.speaks_messages(),
            (Transport::OpenAi(_), NativeApi::Responses) => self.responses,
            _ => false,
        }
    }

    /// The body of `chat` for this provider's model `model`: OpenAI's with the model renamed
    /// and usage asked for (`ChatRequest::body_for`), or translated to the provider's API.
    pub fn body(&self, chat: &ChatRequest, model: &str) -> Result<Bytes, BodyError> {
        match &self.transport {
            Transport::Native(c) => c.body(chat.raw(), model).map_err(BodyError::Untranslatable),
            Transport::OpenAi(_) | Transport::Simulated(_) => {
                chat.body_for(model).map_err(BodyError::Rewrite)
            }
        }
    }

    /// A client's own body in an API this provider speaks ([`Self::speaks`]), for its model
    /// `model`: as the client wrote it but for the model's name, so nothing a translation could
    /// not carry (cache breakpoints, beta fields, server tools, stored state) is lost.
    pub fn native_body(raw: &[u8], model: &str) -> Result<Bytes, BodyError> {
        let name = serde_json::Value::from(model).to_string();
        sluice_openai::rewrite::set_top_level(raw, "model", Some(&name))
            .map(Bytes::from)
            .map_err(|e| BodyError::Rewrite(RequestError(e.to_string())))
    }

    /// The body of an embeddings request for this provider's model `model`: the client's with
    /// the model renamed, for the providers that serve embeddings.
    pub fn embeddings_body(
        &self,
        request: &EmbeddingsRequest,
        model: &str,
    ) -> Result<Bytes, BodyError> {
        if !self.serves(Api::Embeddings) {
            return Err(BodyError::NoEmbeddings);
        }
        request.body_for(model).map_err(BodyError::Rewrite)
    }

    /// Whether this provider serves `api` (native providers have no embeddings).
    pub fn serves(&self, api: Api) -> bool {
        match api {
            Api::ChatCompletions => true,
            Api::Embeddings => !matches!(self.transport, Transport::Native(_)),
            Api::Native(native) => self.speaks(native),
        }
    }

    /// Starts a streaming chat request; the future resolves once the provider answered.
    pub fn stream(&self, call: Call) -> Connect {
        match &self.transport {
            Transport::OpenAi(c) => c.stream(call.api.path(), call.body, extra(call.headers)),
            Transport::Native(c) if matches!(call.api, Api::Native(_)) => {
                let extra = http::Extra {
                    client: call.headers,
                    protocol: call.protocol,
                };
                c.pass_through(call.api.path(), call.body, extra)
            }
            Transport::Native(c) => {
                let meta = chunk_meta(&call);
                let extra = http::Extra {
                    client: call.headers,
                    protocol: call.protocol,
                };
                c.stream(&call.model, meta, call.body, extra)
            }
            Transport::Simulated(s) => s.stream(call.api, call.body, call.headers),
        }
    }

    /// A non-streaming request, within the provider's total time limit.
    pub async fn complete(&self, call: Call) -> Result<Completion, StreamError> {
        let total = self.timeouts.total;
        let fut = async {
            match &self.transport {
                Transport::OpenAi(c) => {
                    c.complete(call.api.path(), call.body, extra(call.headers))
                        .await
                }
                // `embeddings_body` keeps embeddings from native providers; should one get here
                // all the same, it is refused rather than sent to a path that does not exist.
                Transport::Native(_) if call.api == Api::Embeddings => Err(StreamError::Protocol(
                    "this provider's API has no embeddings".to_owned(),
                )),
                Transport::Native(c) if matches!(call.api, Api::Native(_)) => {
                    let extra = http::Extra {
                        client: call.headers,
                        protocol: call.protocol,
                    };
                    c.complete_as_is(call.api.path(), call.body, extra).await
                }
                Transport::Native(c) => {
                    let meta = chunk_meta(&call);
                    let extra = http::Extra {
                        client: call.headers,
                        protocol: call.protocol,
                    };
                    c.complete(&call.model, meta, call.body, extra).await
                }
                Transport::Simulated(s) => s.complete(call.api, call.body, call.headers).await,
            }
        };
        tokio::time::timeout(total, fut)
            .await
            .unwrap_or(Err(StreamError::TotalTimeout(total)))
    }
}

pub use http::ClientError;
pub use simulated::MockHandle;

/// The client's controls, and nothing of a native API's, for an OpenAI-compatible provider.
fn extra(client: HeaderMap) -> http::Extra {
    http::Extra {
        client,
        protocol: HeaderMap::new(),
    }
}

/// What a translated answer says of itself where the provider does not: OpenAI's id shape
/// around the gateway's request id, the provider's model name, the time now.
fn chunk_meta(call: &Call) -> ChunkMeta {
    ChunkMeta {
        id: format!("chatcmpl-{}", call.request_id),
        model: call.model.clone(),
        created: u64::try_from(sluice_types::unix_ms() / 1000).unwrap_or(0),
    }
}

/// Builds the error for a non-success provider answer from its status, headers and body.
/// A provider's 401/403 text is replaced: it describes the gateway's own provider key (OpenAI's
/// even quotes part of it), which is no business of the client's and must not reach logs.
fn status_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> StreamError {
    if matches!(status, 401 | 403) || is_bad_key(status, body) {
        let mut err = ErrorBody::from_message(format!(
            "the provider refused the gateway's credentials (HTTP {status})"
        ));
        err.error_type = Some("upstream_auth_error".to_owned());
        // The provider's code (e.g. `invalid_api_key`) says what is wrong without quoting it.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            err.code = ErrorBody::from_json(&v).code;
        }
        return StreamError::ProviderStatus {
            // Counted as the refusal of credentials it is, whatever status carried it.
            status: if status == 400 { 401 } else { status },
            body: Box::new(err),
            retry_after,
        };
    }
    let parsed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(|v| v.get("error").is_some() || v.get("message").is_some());
    let body = match parsed {
        Some(v) => ErrorBody::from_json(&v),
        None => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(300).collect();
            if text.is_empty() {
                ErrorBody::from_message(format!("the provider answered HTTP {status}"))
            } else {
                ErrorBody::from_message(text)
            }
        }
    };
    StreamError::ProviderStatus {
        status,
        body: Box::new(body),
        retry_after,
    }
}

/// Gemini answers a wrong API key with 400 `INVALID_ARGUMENT` and the reason `API_KEY_INVALID`:
/// that is the gateway's credentials, not the client's request.
fn is_bad_key(status: u16, body: &[u8]) -> bool {
    status == 400
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
            v["error"]["details"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x["reason"] == "API_KEY_INVALID"))
        })
}

/// `Retry-After`, in seconds or as an HTTP date (a date in the past means "now").
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(axum::http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_gemini_key_is_the_gateways_credentials() {
        let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#;
        let err = status_error(400, None, body);
        let json = err.to_json();
        assert_eq!(json["error"]["type"], "upstream_auth_error", "{json}");
        assert!(!json.to_string().contains("API key not valid"), "{json}");
        assert_eq!(err.http_status(), 502);
        // Any other 400 is the client's.
        let other = status_error(
            400,
            None,
            br#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(other.http_status(), 400);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
