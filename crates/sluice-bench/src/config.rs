//! What to send and how much: [`BenchConfig`] as the caller gives it, and [`Target`], the same
//! checked and prepared once (endpoint URL, headers, request body) for every request to reuse.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;

use crate::{Api, BenchError};

/// One benchmark target and the load to put on it.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The API base, e.g. `http://127.0.0.1:8080/v1`; requests go to
    /// `{base_url}/chat/completions` (or the path of `api`).
    pub base_url: String,
    /// The API streamed from.
    pub api: Api,
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` (`x-api-key` for the Messages API).
    pub api_key: Option<String>,
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Stop starting new requests after this long (those in flight finish).
    pub duration: Option<Duration>,
    /// The content of the single user message.
    pub prompt: String,
    pub max_tokens: Option<u32>,
    /// Extra request headers, e.g. `x-mock-ttft-ms`.
    pub headers: Vec<(String, String)>,
    /// The limit for one request, from just before it is sent to the end of its body.
    pub timeout: Duration,
    /// Simulates a slow client: after each read of a response body, wait this long before
    /// reading again, so the server sees TCP backpressure. Timings are measured as they
    /// come out, delays included (the body's end, and so `total`, arrives later). `None` or
    /// zero reads as fast as the body arrives.
    pub read_delay: Option<Duration>,
}

/// A [`BenchConfig`] checked and turned into what each request needs.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub api: Api,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
    /// Never zero.
    pub read_delay: Option<Duration>,
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub concurrency: usize,
}

impl Target {
    pub(crate) fn new(cfg: &BenchConfig) -> Result<Self, BenchError> {
        if cfg.concurrency == 0 {
            return Err(BenchError::BadConfig(
                "concurrency must be at least 1".into(),
            ));
        }
        if cfg.requests.is_none() && cfg.duration.is_none() {
            return Err(BenchError::BadConfig(
                "give a number of requests or a duration".into(),
            ));
        }
        Ok(Target {
            api: cfg.api,
            url: endpoint(&cfg.base_url, cfg.api)?,
            headers: headers(cfg)?,
            body: request_body(cfg),
            timeout: cfg.timeout,
            read_delay: cfg.read_delay.filter(|d| !d.is_zero()),
            requests: cfg.requests,
            duration: cfg.duration,
            concurrency: cfg.concurrency,
        })
    }
}

/// `{base_url}/chat/completions` (or the path of `api`), for an absolute `http` or `https` base
/// URL.
pub(crate) fn endpoint(base_url: &str, api: Api) -> Result<Url, BenchError> {
    let bad = |reason: String| BenchError::BadUrl {
        url: base_url.to_owned(),
        reason,
    };
    let base = Url::parse(base_url.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(bad(format!(
            "scheme {:?} is not http or https",
            base.scheme()
        )));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment".into()));
    }
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), api.path());
    Url::parse(&joined).map_err(|e| bad(e.to_string()))
}

fn headers(cfg: &BenchConfig) -> Result<HeaderMap, BenchError> {
    let mut map = HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    map.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    if let Some(key) = &cfg.api_key {
        // Anthropic's API takes its key in `x-api-key`, with the version it is written for.
        let (name, value) = match cfg.api {
            Api::Messages => (HeaderName::from_static("x-api-key"), key.clone()),
            Api::Chat | Api::Responses => (AUTHORIZATION, format!("Bearer {key}")),
        };
        let value = HeaderValue::from_str(&value).map_err(|_| BenchError::BadHeader {
            name: name.to_string(),
            reason: "the API key has characters a header cannot carry".into(),
        })?;
        map.insert(name, value);
    }
    if cfg.api == Api::Messages {
        map.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static("2023-06-01"),
        );
    }
    for (name, value) in &cfg.headers {
        let bad = |reason: String| BenchError::BadHeader {
            name: name.clone(),
            reason,
        };
        let header_name =
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| bad(e.to_string()))?;
        let header_value = HeaderValue::from_str(value.trim()).map_err(|e| bad(e.to_string()))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// The streamed request, serialised once.
fn request_body(cfg: &BenchConfig) -> Bytes {
    let body = cfg.api.body(&cfg.model, &cfg.prompt, cfg.max_tokens);
    Bytes::from(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BenchConfig {
        BenchConfig {
            base_url: "http://127.0.0.1:8080/v1".into(),
            api: Api::Chat,
            model: "mock".into(),
            api_key: Some("sk-x".into()),
            concurrency: 2,
            requests: Some(3),
            duration: None,
            prompt: "hi".into(),
            max_tokens: Some(7),
            headers: vec![("x-mock-ttft-ms".into(), " 200".into())],
            timeout: Duration::from_secs(5),
            read_delay: None,
        }
    }

    #[test]
    fn endpoint_appends_the_path_once() {
        for base in ["http://h:1/v1", "http://h:1/v1/", " http://h:1/v1 "] {
            assert_eq!(
                endpoint(base, Api::Chat).unwrap().as_str(),
                "http://h:1/v1/chat/completions"
            );
        }
        assert_eq!(
            endpoint("https://api.example.com", Api::Chat)
                .unwrap()
                .as_str(),
            "https://api.example.com/chat/completions"
        );
    }

    #[test]
    fn unusable_urls_are_bad_url() {
        for base in [
            "not-a-url",
            "ftp://h/v1",
            "http://",
            "/v1",
            "http://h/v1?x=1",
        ] {
            assert!(
                matches!(endpoint(base, Api::Chat), Err(BenchError::BadUrl { .. })),
                "{base}"
            );
        }
    }

    #[test]
    fn target_carries_headers_and_body() {
        let t = Target::new(&cfg()).unwrap();
        assert_eq!(t.headers["authorization"], "Bearer sk-x");
        assert_eq!(t.headers["x-mock-ttft-ms"], "200");
        let body: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["max_tokens"], 7);
        assert_eq!(body["messages"][0]["content"], "hi");
        assert_eq!(t.read_delay, None);
    }

    #[test]
    fn each_api_has_its_path_key_header_and_body() {
        let messages = Target::new(&BenchConfig {
            api: Api::Messages,
            ..cfg()
        })
        .unwrap();
        assert_eq!(messages.url.as_str(), "http://127.0.0.1:8080/v1/messages");
        assert_eq!(messages.headers["x-api-key"], "sk-x");
        assert_eq!(messages.headers["anthropic-version"], "2023-06-01");
        assert!(messages.headers.get("authorization").is_none());
        let body: serde_json::Value = serde_json::from_slice(&messages.body).unwrap();
        assert_eq!(body["max_tokens"], 7);
        let responses = Target::new(&BenchConfig {
            api: Api::Responses,
            ..cfg()
        })
        .unwrap();
        assert_eq!(responses.url.as_str(), "http://127.0.0.1:8080/v1/responses");
        assert_eq!(responses.headers["authorization"], "Bearer sk-x");
        let body: serde_json::Value = serde_json::from_slice(&responses.body).unwrap();
        assert_eq!(
            (body["input"].as_str(), body["max_output_tokens"].as_u64()),
            (Some("hi"), Some(7))
        );
    }

    #[test]
    fn a_zero_read_delay_is_none() {
        let mut c = cfg();
        c.read_delay = Some(Duration::ZERO);
        assert_eq!(Target::new(&c).unwrap().read_delay, None);
        c.read_delay = Some(Duration::from_millis(50));
        assert_eq!(
            Target::new(&c).unwrap().read_delay,
            Some(Duration::from_millis(50))
        );
    }

    #[test]
    fn unusable_settings_are_refused() {
        let mut c = cfg();
        c.concurrency = 0;
        assert!(matches!(Target::new(&c), Err(BenchError::BadConfig(_))));
        let mut c = cfg();
        c.requests = None;
        assert!(matches!(Target::new(&c), Err(BenchError::BadConfig(_))));
        let mut c = cfg();
        c.headers = vec![("bad name".into(), "v".into())];
        assert!(matches!(Target::new(&c), Err(BenchError::BadHeader { .. })));
    }
}
