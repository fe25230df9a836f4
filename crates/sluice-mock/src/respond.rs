//! The chat-completions handler core: request in, [`MockResponse`] out, with no HTTP server
//! involved. The HTTP server and the gateway's in-process `mock` model both call [`respond`].

use crate::encode::{error_body, unix_now};
use crate::scenario::{Fault, Scenario};
use crate::stream::{CompletionBody, EventStream};
use crate::{MockBody, MockResponse, MockSettings, Stats};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

const JSON: &str = "application/json";

/// Answers one `POST /v1/chat/completions`. The status and headers are final; all timing
/// (ttft, itl) and stream faults live in the returned body, which is lazy and needs a tokio
/// runtime only when polled.
pub fn respond(
    settings: &MockSettings,
    stats: &Stats,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    stats.request();
    let start = Instant::now();
    let mut scenario = match Scenario::parse(settings, headers, body) {
        Ok(scenario) => scenario,
        Err(message) => {
            return error(
                stats,
                StatusCode::BAD_REQUEST,
                &message,
                "invalid_request_error",
                None,
            )
        }
    };
    if scenario.fault == Fault::None && settings.fail_percent > 0 {
        let roll = random_percent();
        if roll < u64::from(settings.fail_percent) {
            scenario.fault = if roll < u64::from(settings.fail_percent) / 2 {
                Fault::ServerError
            } else {
                Fault::Drop
            };
        }
    }
    match scenario.fault {
        Fault::ServerError => {
            return error(
                stats,
                StatusCode::INTERNAL_SERVER_ERROR,
                "simulated provider failure",
                "server_error",
                Some("mock_500"),
            )
        }
        Fault::RateLimited => {
            let mut response = error(
                stats,
                StatusCode::TOO_MANY_REQUESTS,
                "simulated rate limit",
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            );
            response.headers.push(("retry-after", "1".to_owned()));
            return response;
        }
        Fault::None | Fault::Stall | Fault::Drop => {}
    }

    let created = unix_now();
    let guard = stats.open_body(scenario.stream);
    if scenario.stream {
        MockResponse {
            status: StatusCode::OK,
            headers: vec![
                ("content-type", "text/event-stream".to_owned()),
                ("cache-control", "no-cache".to_owned()),
            ],
            body: Box::pin(EventStream::new(&scenario, created, start, guard)),
        }
    } else {
        MockResponse {
            status: StatusCode::OK,
            headers: vec![("content-type", JSON.to_owned())],
            body: Box::pin(CompletionBody::new(&scenario, created, start, guard)),
        }
    }
}

fn error(
    stats: &Stats,
    status: StatusCode,
    message: &str,
    kind: &str,
    code: Option<&str>,
) -> MockResponse {
    stats.error();
    MockResponse {
        status,
        headers: vec![("content-type", JSON.to_owned())],
        body: once(error_body(message, kind, code)),
    }
}

fn once(bytes: Bytes) -> MockBody {
    Box::pin(futures_util::stream::iter([Ok(bytes)]))
}

/// A number in 0..100 from a process-wide splitmix64 sequence: random enough for fault
/// injection, with no dependency.
fn random_percent() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 100
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_percent_spreads_over_0_to_99() {
        let mut deciles = [0u32; 10];
        for _ in 0..10_000 {
            let r = super::random_percent();
            assert!(r < 100);
            deciles[(r / 10) as usize] += 1;
        }
        assert!(deciles.iter().all(|&n| n > 700), "{deciles:?}");
    }

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
