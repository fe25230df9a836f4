//! OpenAI-compatible providers over HTTP: one pooled keep-alive client per provider (rustls,
//! HTTP/2 when the provider offers it through ALPN, `TCP_NODELAY`), identity encoding.

use axum::http::{header, HeaderMap, HeaderValue};
use bytes::Bytes;
use futures_util::StreamExt;
use sluice_config::Provider;
use sluice_relay::{Connect, StreamError, UpstreamBody};

use super::{retry_after, status_error, Completion};

/// How much of an error body is read to describe the error.
const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct OpenAiClient {
    http: reqwest::Client,
    url: String,
    /// `Bearer <key>`, marked sensitive so it never shows in debug output.
    auth: Option<HeaderValue>,
}

impl OpenAiClient {
    pub(super) fn new(provider: &Provider) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(provider.timeouts.connect)
            .tcp_nodelay(true)
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let auth = provider.api_key.as_ref().and_then(|key| {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", key.expose())).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        Ok(OpenAiClient {
            http,
            url: format!("{}/chat/completions", provider.base_url),
            auth,
        })
    }

    fn request(
        &self,
        body: Bytes,
        extra: HeaderMap,
        accept: &'static str,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.url)
            .headers(extra)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, accept)
            // Compressed SSE would be buffered by the decompressor; ask for it plain.
            .header(header::ACCEPT_ENCODING, "identity")
            .body(body);
        if let Some(auth) = &self.auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        req
    }

    pub(super) fn stream(&self, body: Bytes, headers: HeaderMap) -> Connect {
        let req = self.request(body, headers, "text/event-stream");
        Box::pin(async move {
            let res = req.send().await.map_err(send_error)?;
            let status = res.status();
            if !status.is_success() {
                return Err(error_response(res).await);
            }
            let content_type = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            if content_type.starts_with("application/json") {
                // Some providers answer a failed stream request with a JSON error and 200.
                let body = read_limited(res).await;
                return Err(match status_error(502, None, &body) {
                    StreamError::ProviderStatus { body, .. } => StreamError::ProviderEvent(body),
                    other => other,
                });
            }
            if content_type.starts_with("text/html") {
                return Err(StreamError::Protocol(format!(
                    "the provider answered a stream request with {content_type}"
                )));
            }
            let body = res
                .bytes_stream()
                .map(|item| item.map_err(|e| StreamError::Transport(error_chain(&e))));
            Ok(Box::pin(body) as UpstreamBody)
        })
    }

    pub(super) async fn complete(
        &self,
        body: Bytes,
        headers: HeaderMap,
    ) -> Result<Completion, StreamError> {
        let res = self
            .request(body, headers, "application/json")
            .send()
            .await
            .map_err(send_error)?;
        if !res.status().is_success() {
            return Err(error_response(res).await);
        }
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let body = res
            .bytes()
            .await
            .map_err(|e| StreamError::Transport(error_chain(&e)))?;
        Ok(Completion { content_type, body })
    }
}

async fn error_response(res: reqwest::Response) -> StreamError {
    let status = res.status().as_u16();
    let retry = retry_after(res.headers());
    let body = read_limited(res).await;
    status_error(status, retry, &body)
}

async fn read_limited(res: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    let mut body = res.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        out.extend_from_slice(&chunk);
        if out.len() >= MAX_ERROR_BODY {
            out.truncate(MAX_ERROR_BODY);
            break;
        }
    }
    out
}

fn send_error(err: reqwest::Error) -> StreamError {
    if err.is_connect() || err.is_timeout() {
        StreamError::Connect(error_chain(&err))
    } else {
        StreamError::Transport(error_chain(&err))
    }
}

/// The error and its causes on one line ("error sending request ...: connection refused").
/// reqwest names the URL, never headers, so no key can appear here.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = cause.source();
    }
    msg
}
