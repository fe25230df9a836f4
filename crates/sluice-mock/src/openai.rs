//! The OpenAI chat-completions API, `POST /v1/chat/completions`: the request is read by
//! [`Scenario::parse`], the bytes are written by [`crate::encode`]. The HTTP server and the
//! gateway's in-process `mock` model both call [`respond`].

use crate::encode::{completion_body, error_body, unix_now, ChunkEncoder};
use crate::generator::{generate, Tokens};
use crate::respond::{answer, overloaded, Dialect, Refusal};
use crate::scenario::{Finish, Scenario};
use crate::stream::Script;
use crate::{MockResponse, MockSettings, Stats};
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

/// Answers one `POST /v1/chat/completions`. The status and headers are final; all timing
/// (ttft, itl) and stream faults live in the returned body, which is lazy and needs a tokio
/// runtime only when polled.
pub fn respond(
    settings: &MockSettings,
    stats: &Stats,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    answer(&OpenAi, settings, stats, headers, body)
}

struct OpenAi;

impl Dialect for OpenAi {
    type Extra = ();
    type Script = ChunkScript;

    fn read(
        &self,
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Scenario, ()), String> {
        Scenario::parse(settings, headers, body).map(|scenario| (scenario, ()))
    }

    fn refusal(&self, refusal: Refusal<'_>) -> (StatusCode, Bytes) {
        openai_refusal(refusal)
    }

    fn script(&self, scenario: &Scenario, _: &()) -> ChunkScript {
        ChunkScript {
            encoder: ChunkEncoder::new(scenario, unix_now()),
            tokens: generate(scenario.seed, scenario.tokens),
            total: scenario.tokens,
            finish: scenario.finish,
            include_usage: scenario.include_usage,
            prompt_tokens: scenario.prompt_tokens,
        }
    }

    fn whole(&self, scenario: &Scenario, _: &()) -> Bytes {
        completion_body(
            scenario,
            unix_now(),
            generate(scenario.seed, scenario.tokens),
        )
    }
}

/// A refusal in OpenAI's error shape, as every OpenAI API of the mock (chat completions,
/// embeddings, Responses) answers it.
pub(crate) fn openai_refusal(refusal: Refusal<'_>) -> (StatusCode, Bytes) {
    let (status, message, kind, code) = match refusal {
        Refusal::BadRequest(message) => (
            StatusCode::BAD_REQUEST,
            message,
            "invalid_request_error",
            None,
        ),
        Refusal::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated provider failure",
            "server_error",
            Some("mock_500"),
        ),
        Refusal::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "simulated rate limit",
            "rate_limit_error",
            Some("rate_limit_exceeded"),
        ),
        Refusal::Overloaded => (overloaded(), OVERLOAD, OVERLOAD_TYPE, Some(OVERLOAD_CODE)),
    };
    (status, error_body(message, kind, code))
}

/// The overload of `mock-529` and `mock-error-midstream`, in OpenAI's error shape.
const OVERLOAD: &str = "simulated overload";
const OVERLOAD_TYPE: &str = "overloaded_error";
const OVERLOAD_CODE: &str = "overloaded";

/// A chat-completions stream: the role with the first token, a chunk per token, then the
/// finish, the usage chunk when `stream_options.include_usage` asked for it, and `[DONE]`.
/// A mid-stream error is a `data:` event holding an OpenAI error object, with no `[DONE]`.
#[derive(Debug)]
pub(crate) struct ChunkScript {
    encoder: ChunkEncoder,
    tokens: Tokens,
    total: usize,
    finish: Finish,
    include_usage: bool,
    prompt_tokens: u64,
}

impl Script for ChunkScript {
    fn open(&mut self, buf: &mut BytesMut) {
        self.encoder.role(buf);
    }

    fn piece(&mut self, buf: &mut BytesMut) {
        if let Some(token) = self.tokens.next() {
            self.encoder.content(buf, token);
        }
    }

    fn sent(&self) -> usize {
        self.tokens.position()
    }

    fn total(&self) -> usize {
        self.total
    }

    fn tail(&mut self, buf: &mut BytesMut) {
        self.encoder.finish(buf, self.finish);
        if self.include_usage {
            self.encoder
                .usage(buf, self.prompt_tokens, self.total as u64);
        }
        ChunkEncoder::done(buf);
    }

    fn error(&mut self, buf: &mut BytesMut) {
        buf.put_slice(b"data: ");
        buf.put_slice(&error_body(OVERLOAD, OVERLOAD_TYPE, Some(OVERLOAD_CODE)));
        buf.put_slice(b"\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::time::Duration;

    fn fast() -> MockSettings {
        MockSettings {
            tokens: 16,
            ttft: Duration::ZERO,
            itl: Duration::ZERO,
            fail_percent: 0,
        }
    }

    fn call(stats: &Stats, model: &str, stream: bool, tokens: &str) -> MockResponse {
        let mut headers = HeaderMap::new();
        headers.insert("x-mock-tokens", tokens.parse().unwrap());
        let body = format!(
            r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
        );
        respond(&fast(), stats, &headers, body.as_bytes())
    }

    fn count_content(text: &str) -> usize {
        text.matches(r#""delta":{"content":""#).count()
    }

    #[tokio::test]
    async fn long_stream_without_itl_completes() {
        let stats = Stats::new();
        let mock = call(&stats, "mock", true, "1000");
        let items: Vec<_> = mock.body.collect().await;
        let bytes: Vec<u8> = items.into_iter().flat_map(Result::unwrap).collect();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(count_content(&text), 1000);
        assert!(text.ends_with("data: [DONE]\n\n"));
        let s = stats.snapshot();
        assert_eq!(
            (s.requests, s.streams_started, s.completed, s.active),
            (1, 1, 1, 0)
        );
    }

    #[tokio::test]
    async fn drop_fault_errors_after_three_tokens() {
        let stats = Stats::new();
        let mut body = call(&stats, "mock-drop", true, "10").body;
        let mut text = String::new();
        let err = loop {
            match body.next().await.expect("ended without error") {
                Ok(b) => text.push_str(std::str::from_utf8(&b).unwrap()),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
        assert_eq!(count_content(&text), 3);
        assert!(body.next().await.is_none());
        drop(body);
        let s = stats.snapshot();
        assert_eq!((s.errors, s.cancelled, s.completed, s.active), (1, 0, 0, 0));
    }

    #[tokio::test]
    async fn stall_fault_goes_silent_and_counts_cancelled_on_drop() {
        let stats = Stats::new();
        let mut body = call(&stats, "mock-stall", true, "2").body;
        let mut text = String::new();
        while let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_millis(200), body.next()).await
        {
            text.push_str(std::str::from_utf8(&item.unwrap()).unwrap());
        }
        // Fewer tokens than the fault threshold: all of them, then silence.
        assert_eq!(count_content(&text), 2);
        assert!(!text.contains("[DONE]"));
        assert_eq!(stats.snapshot().active, 1);
        drop(body);
        let s = stats.snapshot();
        assert_eq!((s.cancelled, s.active, s.errors), (1, 0, 0));
    }

    #[tokio::test]
    async fn non_streaming_drop_sends_half_then_errors() {
        let stats = Stats::new();
        let full = call(&stats, "mock", false, "8")
            .body
            .collect::<Vec<_>>()
            .await;
        assert_eq!(full.len(), 1);
        let full = full.into_iter().next().unwrap().unwrap();
        let items: Vec<_> = call(&stats, "mock-drop", false, "8").body.collect().await;
        assert_eq!(items.len(), 2);
        let half = items[0].as_ref().unwrap();
        // Same body but for the model name ("mock-drop" is 5 bytes longer than "mock").
        assert_eq!(half.len(), (full.len() + 5) / 2);
        assert_eq!(half[..40], full[..40]);
        assert!(serde_json::from_slice::<serde_json::Value>(half).is_err());
        assert!(items[1].is_err());
        let s = stats.snapshot();
        assert_eq!(
            (s.requests, s.completed, s.errors, s.streams_started),
            (2, 1, 1, 0)
        );
    }

    #[test]
    fn errors_need_no_runtime() {
        let stats = Stats::new();
        let mock = call(&stats, "mock-429", true, "1");
        assert_eq!(mock.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(mock.headers.contains(&("retry-after", "1".to_owned())));
        // Building a successful body needs no runtime either (timers start on first poll).
        let ok = call(&stats, "mock", true, "1");
        assert_eq!(ok.status, StatusCode::OK);
        drop(ok);
        assert_eq!(stats.snapshot().cancelled, 1);
    }
}
