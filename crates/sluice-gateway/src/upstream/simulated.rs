//! The built-in `mock` model: the simulated provider of `sluice-mock`, called in-process. It
//! yields the same bytes `sluice mock-upstream` sends over HTTP, so the relay cannot tell them
//! apart.

use std::sync::Arc;

use axum::http::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use sluice_mock::{MockSettings, Stats};
use sluice_native::passthrough::NativeApi;
use sluice_relay::{Connect, StreamError, UpstreamBody};

use super::{retry_after, status_error, Api, Completion};

/// The settings and counters shared by every simulated provider of one gateway.
#[derive(Debug, Clone, Default)]
pub struct MockHandle {
    pub settings: MockSettings,
    pub stats: Stats,
}

#[derive(Debug)]
pub(super) struct Simulated {
    mock: Arc<MockHandle>,
}

impl Simulated {
    pub(super) fn new(mock: MockHandle) -> Self {
        Simulated {
            mock: Arc::new(mock),
        }
    }

    fn call(&self, api: Api, body: &[u8], headers: &HeaderMap) -> sluice_mock::MockResponse {
        let (settings, stats) = (&self.mock.settings, &self.mock.stats);
        match api {
            Api::ChatCompletions => sluice_mock::respond(settings, stats, headers, body),
            Api::Embeddings => sluice_mock::embeddings::respond(settings, stats, headers, body),
            Api::Native(NativeApi::Messages) => {
                sluice_mock::anthropic::respond(settings, stats, headers, body)
            }
            Api::Native(NativeApi::Responses) => {
                sluice_mock::responses::respond(settings, stats, headers, body)
            }
        }
    }

    pub(super) fn stream(&self, api: Api, body: Bytes, headers: HeaderMap) -> Connect {
        let res = self.call(api, &body, &headers);
        Box::pin(async move {
            if !res.status.is_success() {
                let retry = retry_after(&response_headers(&res.headers));
                let body = collect(res.body).await.unwrap_or_default();
                return Err(status_error(res.status.as_u16(), retry, &body));
            }
            let body = res
                .body
                .map(|item| item.map_err(|e| StreamError::Transport(e.to_string())));
            Ok(Box::pin(body) as UpstreamBody)
        })
    }

    pub(super) async fn complete(
        &self,
        api: Api,
        body: Bytes,
        headers: HeaderMap,
    ) -> Result<Completion, StreamError> {
        let res = self.call(api, &body, &headers);
        let status = res.status;
        let retry = retry_after(&response_headers(&res.headers));
        let body = collect(res.body)
            .await
            .map_err(|e| StreamError::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(status_error(status.as_u16(), retry, &body));
        }
        Ok(Completion {
            content_type: "application/json".to_owned(),
            body: Bytes::from(body),
        })
    }
}

fn response_headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(v) = value.parse() {
            map.insert(*name, v);
        }
    }
    map
}

async fn collect(mut body: sluice_mock::MockBody) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}
