//! A provider's HTTP endpoint: a JSON body POSTed to a path under its base URL, answered by an
//! SSE stream or a whole JSON answer. Every provider kind speaks through it (OpenAI's
//! `/chat/completions`, Anthropic's `/messages`, Gemini's `/models/{model}:…`); what differs
//! is the path, the auth headers and what the body means.
//!
//! Two wires, chosen by the base URL's scheme: `http://` providers (local servers, the
//! simulated provider) use the lean HTTP/1.1 client of `sluice-h1`, polled by the relay task
//! itself; `https://` providers use one pooled reqwest client per provider (rustls, HTTP/2
//! when the provider offers it through ALPN). Both keep connections alive, set `TCP_NODELAY`
//! and ask for identity encoding.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use bytes::Bytes;
use futures_util::StreamExt;
use sluice_config::Provider;
use sluice_openai::ErrorBody;
use sluice_relay::{Connect, StreamError, UpstreamBody};

use super::{retry_after, status_error, Completion};

/// How much of an error body is read to describe the error.
const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct HttpClient {
    wire: Wire,
    /// `[server] max_response_body`: the longest whole answer read.
    max_response_body: usize,
    /// A plain-HTTP provider on this machine's loopback (the simulated provider run by
    /// `sluice mock-upstream`): the only kind that gets the client's `x-mock-*` controls.
    local: bool,
    /// The headers every request carries: content type, encoding, the provider's auth headers
    /// (marked sensitive so they never show in debug output), the user agent.
    base_headers: HeaderMap,
}

#[derive(Debug)]
enum Wire {
    Plain {
        client: sluice_h1::Client,
        /// The base URL's path, without a trailing `/` (`/v1`).
        base_path: String,
    },
    Tls {
        http: reqwest::Client,
        /// The base URL, without a trailing `/`.
        base_url: String,
    },
}

/// Headers a request adds to the provider's own.
#[derive(Debug, Default)]
pub(super) struct Extra {
    /// The client's controls of the simulated provider (`x-mock-*`): sent only to a provider
    /// on this machine's loopback.
    pub client: HeaderMap,
    /// Headers of the provider's own API that the client sent for it (`anthropic-beta` on a
    /// Messages request passed through to Anthropic).
    pub protocol: HeaderMap,
}

/// The provider could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid base_url {url:?}")]
    BaseUrl { url: String },
    #[error("a provider of kind {kind:?} has no native API client")]
    NotNative { kind: &'static str },
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
}

impl HttpClient {
    /// `auth`: the provider's own auth headers (`Authorization: Bearer`, `x-api-key`, …).
    pub(super) fn new(
        provider: &Provider,
        auth: HeaderMap,
        max_response_body: usize,
    ) -> Result<Self, ClientError> {
        let bad_url = || ClientError::BaseUrl {
            url: provider.base_url.clone(),
        };
        let uri: Uri = provider.base_url.parse().map_err(|_| bad_url())?;
        let wire = match uri.scheme_str() {
            Some("http") => {
                let host = uri.host().ok_or_else(bad_url)?;
                let port = uri.port_u16().unwrap_or(80);
                Wire::Plain {
                    client: sluice_h1::Client::new(host, port, provider.timeouts.connect),
                    base_path: uri.path().trim_end_matches('/').to_owned(),
                }
            }
            _ => Wire::Tls {
                http: reqwest::Client::builder()
                    .connect_timeout(provider.timeouts.connect)
                    .tcp_nodelay(true)
                    .pool_idle_timeout(std::time::Duration::from_secs(90))
                    .redirect(same_host_redirects())
                    .build()?,
                base_url: provider.base_url.trim_end_matches('/').to_owned(),
            },
        };
        let mut base_headers = HeaderMap::new();
        base_headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Compressed SSE would be held back by the decompressor; ask for it plain.
        base_headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        base_headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("sluice/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, mut value) in auth {
            if let Some(name) = name {
                value.set_sensitive(true);
                base_headers.insert(name, value);
            }
        }
        let local = matches!(wire, Wire::Plain { .. })
            && uri.host().is_some_and(|h| {
                h == "localhost"
                    || h.trim_matches(|c| c == '[' || c == ']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            });
        Ok(HttpClient {
            wire,
            base_headers,
            max_response_body,
            local,
        })
    }

    /// The request's headers: the provider's own, `protocol` (headers of the provider's API
    /// the client chose, such as `anthropic-beta`), and the client's `extra` controls only for
    /// a provider on this machine's loopback.
    fn headers(&self, extra: Extra, accept: &'static str) -> HeaderMap {
        let mut headers = self.base_headers.clone();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        for (name, value) in extra.protocol.iter() {
            headers.insert(name.clone(), value.clone());
        }
        if self.local {
            for (name, value) in extra.client.iter() {
                headers.insert(name.clone(), value.clone());
            }
        }
        headers
    }

    /// POSTs `body` to `path` (under the base URL: `/chat/completions`) for an SSE stream.
    pub(super) fn stream(&self, path: &str, body: Bytes, extra: Extra) -> Connect {
        let headers = self.headers(extra, "text/event-stream");
        match &self.wire {
            Wire::Plain { client, base_path } => {
                let (client, path) = (client.clone(), format!("{base_path}{path}"));
                Box::pin(async move {
                    let res = client
                        .post(&path, &headers, &body)
                        .await
                        .map_err(h1_error)?;
                    if let Some(problem) = stream_head_problem(res.status, &res.headers) {
                        let text = res
                            .body
                            .read_to_end(MAX_ERROR_BODY)
                            .await
                            .unwrap_or_default();
                        return Err(problem.into_error(res.status, &res.headers, &text));
                    }
                    let body = res
                        .body
                        .map(|item| item.map_err(|e| StreamError::Transport(e.to_string())));
                    Ok(Box::pin(body) as UpstreamBody)
                })
            }
            Wire::Tls { http, base_url } => {
                let req = http
                    .post(format!("{base_url}{path}"))
                    .headers(headers)
                    .body(body);
                Box::pin(async move {
                    let res = req.send().await.map_err(reqwest_send_error)?;
                    if let Some(problem) = stream_head_problem(res.status(), res.headers()) {
                        let (status, headers) = (res.status(), res.headers().clone());
                        let text = read_error_body(res).await;
                        return Err(problem.into_error(status, &headers, &text));
                    }
                    let body = res.bytes_stream().map(|item| {
                        item.map_err(|e| StreamError::Transport(error_chain(&e.without_url())))
                    });
                    Ok(Box::pin(body) as UpstreamBody)
                })
            }
        }
    }

    /// POSTs `body` to `path` for a whole answer, read up to `max_response_body`.
    pub(super) async fn complete(
        &self,
        path: &str,
        body: Bytes,
        extra: Extra,
    ) -> Result<Completion, StreamError> {
        let headers = self.headers(extra, "application/json");
        let limit = self.max_response_body;
        let (status, headers, body) = match &self.wire {
            Wire::Plain { client, base_path } => {
                let path = format!("{base_path}{path}");
                let res = client
                    .post(&path, &headers, &body)
                    .await
                    .map_err(h1_error)?;
                // An error body is read only as far as needed to describe it.
                let cap = if res.status.is_success() {
                    limit.saturating_add(1)
                } else {
                    MAX_ERROR_BODY
                };
                let text = res
                    .body
                    .read_to_end(cap)
                    .await
                    .map_err(|e| StreamError::Transport(e.to_string()))?;
                if res.status.is_success() && text.len() > limit {
                    return Err(too_long(limit));
                }
                (res.status, res.headers, text)
            }
            Wire::Tls { http, base_url } => {
                let res = http
                    .post(format!("{base_url}{path}"))
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(reqwest_send_error)?;
                let (status, headers) = (res.status(), res.headers().clone());
                let text = if status.is_success() {
                    read_capped(res, limit)
                        .await?
                        .ok_or_else(|| too_long(limit))?
                } else {
                    read_error_body(res).await
                };
                (status, headers, text)
            }
        };
        if !status.is_success() {
            return Err(status_error(status.as_u16(), retry_after(&headers), &body));
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        Ok(Completion {
            content_type,
            body: Bytes::from(body),
        })
    }
}

/// Why a provider's answer to a stream request is not a stream.
enum HeadProblem {
    /// A non-success status.
    Status,
    /// A JSON document where a stream was asked for (some providers answer a failed stream
    /// request with a JSON error and 200).
    Json,
    /// Something else entirely, such as an HTML page from a proxy.
    Other(String),
}

fn stream_head_problem(status: StatusCode, headers: &HeaderMap) -> Option<HeadProblem> {
    if !status.is_success() {
        return Some(HeadProblem::Status);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        Some(HeadProblem::Json)
    } else if content_type.starts_with("text/html") {
        Some(HeadProblem::Other(content_type))
    } else {
        None
    }
}

impl HeadProblem {
    fn into_error(self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> StreamError {
        match self {
            HeadProblem::Status => status_error(status.as_u16(), retry_after(headers), body),
            // An error object is relayed; anything else (a whole completion, when the provider
            // ignored `stream`) is not quoted, since it holds the answer.
            HeadProblem::Json => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(v) if v.get("error").is_some() => {
                    StreamError::ProviderEvent(Box::new(ErrorBody::from_json(&v)))
                }
                _ => StreamError::Protocol(
                    "the provider answered a stream request with a JSON document".to_owned(),
                ),
            },
            HeadProblem::Other(content_type) => StreamError::Protocol(format!(
                "the provider answered a stream request with {content_type}"
            )),
        }
    }
}

/// The HTTP/1.1 client's error, told without the provider's address: errors reach clients,
/// logs and the ledger, which must never learn where a provider is.
fn h1_error(err: sluice_h1::H1Error) -> StreamError {
    match err {
        sluice_h1::H1Error::Connect { source, .. } if is_out_of_descriptors(&source) => {
            StreamError::GatewayOverloaded(source.to_string())
        }
        sluice_h1::H1Error::Connect { source, .. } => StreamError::Connect(source.to_string()),
        sluice_h1::H1Error::ConnectTimeout { timeout, .. } => {
            StreamError::Connect(format!("no answer within {timeout:?}"))
        }
        other => StreamError::Transport(other.to_string()),
    }
}

/// The gateway's own process or system ran out of file descriptors: not the provider's fault.
fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    // EMFILE (the process) and ENFILE (the system), on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(24 | 23))
}

/// Reads a body up to `limit` bytes; `Ok(None)` when it is longer.
async fn read_capped(res: reqwest::Response, limit: usize) -> Result<Option<Vec<u8>>, StreamError> {
    let mut out = Vec::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StreamError::Transport(error_chain(&e.without_url())))?;
        if out.len() + chunk.len() > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// An error body, for describing the error: its first [`MAX_ERROR_BODY`] bytes are enough.
async fn read_error_body(res: reqwest::Response) -> Vec<u8> {
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

/// reqwest's error, without the request's URL (it names the provider's host).
fn reqwest_send_error(err: reqwest::Error) -> StreamError {
    let connect = err.is_connect() || err.is_timeout();
    let err = err.without_url();
    let descriptors = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(is_out_of_descriptors);
    if descriptors {
        StreamError::GatewayOverloaded(error_chain(&err))
    } else if connect {
        StreamError::Connect(error_chain(&err))
    } else {
        StreamError::Transport(error_chain(&err))
    }
}

/// Redirects are followed only within the provider's own host (a few hops); a redirect
/// elsewhere would send the request, and its key, to a host nobody configured.
fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_host = attempt
            .previous()
            .first()
            .is_some_and(|first| first.host_str() == attempt.url().host_str());
        if attempt.previous().len() > 3 || !same_host {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// The answer to a non-streaming request is longer than `[server] max_response_body`.
fn too_long(limit: usize) -> StreamError {
    StreamError::Protocol(format!(
        "the provider's answer is longer than max_response_body ({limit} bytes)"
    ))
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
