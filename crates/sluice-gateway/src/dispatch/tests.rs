//! The routing policy against the built-in simulated provider, in process: retries, fallback,
//! `Retry-After`, and each way a request ends — every request recorded exactly once (one
//! count in `sluice_requests_total`, one ledger row) — for chat completions and embeddings.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use sluice_ledger::{Ledger, LedgerHandle, Row, WriterConfig};
use sluice_mock::{MockSettings, Stats};
use sluice_openai::{ChatRequest, EmbeddingsRequest};
use tokio::time::Instant;

use super::{chat, embeddings, RequestCtx};
use crate::accounting::Accounts;
use crate::auth::Caller;
use crate::format::ClientFormat;
use crate::headers::RequestId;
use crate::state::AppState;
use crate::upstream::MockHandle;

/// A gateway state over two simulated providers `a` and `b` and an Anthropic one `c` (never
/// reached: nothing listens at its address), with a SQLite ledger.
struct Setup {
    app: AppState,
    ledger: Ledger,
    writer: LedgerHandle,
    stats: Stats,
    _dir: tempfile::TempDir,
}

async fn setup(routes: &str, retry: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "ledger = \"sqlite://{}/ledger.db\"\n\
         [providers.a]\nkind = \"mock\"\n\
         [providers.b]\nkind = \"mock\"\n\
         [providers.c]\nkind = \"anthropic\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
         [retry]\n{retry}\n\
         [routes]\n{routes}\n",
        dir.path().display()
    );
    let config = sluice_config::parse(&toml, "sluice.toml", &|_| None).expect("config");
    let ledger = Ledger::open(config.ledger.url().unwrap()).await.unwrap();
    let (writer, task) = ledger.writer(WriterConfig::default());
    tokio::spawn(task);
    let stats = Stats::new();
    let mock = MockHandle {
        settings: MockSettings {
            tokens: 3,
            ttft: Duration::ZERO,
            itl: Duration::ZERO,
            fail_percent: 0,
        },
        stats: stats.clone(),
    };
    let accounts = Accounts::new(ledger.clone(), writer.clone());
    let app = AppState::new(config, mock, Some(accounts)).unwrap();
    Setup {
        app,
        ledger,
        writer,
        stats,
        _dir: dir,
    }
}

impl Setup {
    fn request(
        &self,
        id: &'static str,
        model: &str,
        stream: bool,
        headers: &[(&'static str, &'static str)],
    ) -> impl std::future::Future<Output = Response> + '_ {
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
        });
        let chat_req = ChatRequest::parse(Bytes::from(body.to_string())).unwrap();
        let mut client_headers = HeaderMap::new();
        for (k, v) in headers {
            client_headers.insert(*k, HeaderValue::from_static(v));
        }
        let ctx = RequestCtx {
            id: RequestId(HeaderValue::from_static(id)),
            started: Instant::now(),
            client_headers,
            caller: Caller::Open,
            client_id: None,
        };
        let format = ClientFormat::ChatCompletions {
            include_usage: false,
        };
        chat(&self.app, ctx, chat_req, format)
    }

    /// An embeddings request for `model` from an open gateway's client.
    async fn embed(&self, id: &'static str, model: &str) -> Response {
        let body = serde_json::json!({"model": model, "input": ["one two", "three"]});
        let request = EmbeddingsRequest::parse(Bytes::from(body.to_string())).unwrap();
        let ctx = RequestCtx {
            id: RequestId(HeaderValue::from_static(id)),
            started: Instant::now(),
            client_headers: HeaderMap::new(),
            caller: Caller::Open,
            client_id: None,
        };
        embeddings(&self.app, ctx, request).await
    }

    /// Every row written so far, and the number of endings the metrics counted.
    async fn flushed(&self) -> (u64, u64) {
        // As at shutdown: rows being counted with the tokenizer first, then the writer.
        if let Some(accounts) = self.app.accounts() {
            accounts.finish_estimates().await;
        }
        self.writer.shutdown().await;
        let rows = self.ledger.count().await.unwrap();
        let text = self.app.metrics().render(None, None);
        let endings = text
            .lines()
            .filter(|l| l.starts_with("sluice_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        (rows, endings)
    }

    async fn row(&self, id: &str) -> Row {
        self.ledger.get(id).await.unwrap().expect("row")
    }

    fn metric(&self, series: &str) -> Option<f64> {
        let text = self.app.metrics().render(None, None);
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }
}

async fn body_text(res: Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn a_failing_target_is_retried_then_the_route_falls_back() {
    let s = setup(
        r#""m" = [{ provider = "a", model = "mock-500" }, { provider = "b", model = "mock" }]"#,
        "attempts = 1\nbackoff = \"1ms\"",
    )
    .await;
    let res = s.request("r-fallback", "m", true, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-sluice-provider"), "b");
    assert_eq!(header(&res, "x-sluice-attempts"), "3");
    assert!(body_text(res).await.ends_with("data: [DONE]\n\n"));
    assert_eq!(s.stats.snapshot().requests, 3);
    assert_eq!(
        s.metric(r#"sluice_retries_total{provider="a",reason="provider_5xx"}"#),
        Some(2.0)
    );
    assert_eq!(
        s.metric(r#"sluice_fallbacks_total{provider="b"}"#),
        Some(1.0)
    );
    assert_eq!(
        s.metric(r#"sluice_upstream_errors_total{provider="a",kind="provider_5xx"}"#),
        Some(2.0)
    );
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-fallback").await;
    assert_eq!(
        (row.status.as_str(), row.http_status, row.attempts),
        ("ok", 200, 3)
    );
    assert_eq!(row.provider.as_deref(), Some("b"));
    assert_eq!(
        row.error.as_deref(),
        Some("earlier attempts: a provider_5xx; a provider_5xx")
    );
}

#[tokio::test]
async fn a_failure_that_is_not_retryable_is_answered_at_once() {
    let s = setup(r#""m" = ["a", "b"]"#, "attempts = 2\nbackoff = \"1ms\"").await;
    // The simulated provider refuses a malformed control header with HTTP 400.
    let res = s
        .request("r-400", "m", true, &[("x-mock-tokens", "lots")])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(header(&res, "x-sluice-attempts"), "1");
    assert_eq!(s.stats.snapshot().requests, 1);
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-400").await;
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("provider_4xx", 400)
    );
}

#[tokio::test]
async fn when_every_attempt_fails_the_last_failure_is_the_answer() {
    let s = setup(
        r#""m" = [{ provider = "a", model = "mock-500" }]"#,
        "attempts = 1\nbackoff = \"1ms\"",
    )
    .await;
    let res = s.request("r-give-up", "m", false, &[]).await;
    assert_eq!(res.status(), 502);
    assert_eq!(header(&res, "x-sluice-attempts"), "2");
    assert_eq!(s.stats.snapshot().requests, 2);
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-give-up").await;
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("provider_5xx", 502)
    );
    assert!(!row.stream);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_moves_on_at_once() {
    // The simulated 429 asks for one second; the gateway waits at most 100 ms.
    let s = setup(
        r#""m" = [{ provider = "a", model = "mock-429" }, { provider = "b", model = "mock" }]"#,
        "attempts = 2\nmax_retry_after = \"100ms\"",
    )
    .await;
    let res = s.request("r-429", "m", true, &[]).await;
    assert_eq!(res.status(), 200);
    // One try at `a`, none retried there, then `b`.
    assert_eq!(header(&res, "x-sluice-attempts"), "2");
    assert_eq!(header(&res, "x-sluice-provider"), "b");
    body_text(res).await;
    assert_eq!(s.stats.snapshot().requests, 2);
    assert_eq!(s.flushed().await, (1, 1));
}

#[tokio::test]
async fn a_client_that_leaves_during_a_backoff_ends_the_request_there() {
    // The 429's `Retry-After: 1` is within the limit, so the request waits a second to retry;
    // the client leaves (its future is dropped) after 200 ms.
    let s = setup(
        r#""m" = [{ provider = "a", model = "mock-429" }]"#,
        "attempts = 2\nmax_retry_after = \"10s\"",
    )
    .await;
    let left = tokio::time::timeout(
        Duration::from_millis(200),
        s.request("r-left", "m", true, &[]),
    )
    .await;
    assert!(left.is_err(), "the request should still be waiting");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        s.stats.snapshot().requests,
        1,
        "no retry after the client left"
    );
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-left").await;
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("rate_limited", 429)
    );
}

#[tokio::test]
async fn a_client_that_leaves_before_the_first_token_is_recorded_by_the_relay() {
    let s = setup(r#""m" = ["a"]"#, "attempts = 0").await;
    let left = tokio::time::timeout(
        Duration::from_millis(100),
        s.request("r-gone", "m", true, &[("x-mock-ttft-ms", "5000")]),
    )
    .await;
    assert!(left.is_err());
    // The relay sees its client body dropped with the handler and reports the ending itself.
    for _ in 0..100 {
        if s.metric(r#"sluice_client_disconnects_total"#) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-gone").await;
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("client_closed", 499)
    );
    // The provider had accepted the request: its prompt is counted with the tokenizer.
    assert!(row.estimated && row.prompt_tokens > 0, "{row:?}");
}

#[tokio::test]
async fn an_unknown_model_is_refused_and_recorded() {
    let s = setup(r#""m" = ["a"]"#, "attempts = 0").await;
    let res = s.request("r-404", "nope", true, &[]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(s.stats.snapshot().requests, 0);
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-404").await;
    assert_eq!((row.status.as_str(), row.http_status), ("not_found", 404));
    assert_eq!(row.provider, None);
}

#[tokio::test]
async fn embeddings_are_retried_fall_back_and_are_recorded_once() {
    let s = setup(
        r#""e" = [{ provider = "a", model = "mock-500" }, { provider = "b", model = "mock" }]"#,
        "attempts = 1\nbackoff = \"1ms\"",
    )
    .await;
    let res = s.embed("r-embed", "e").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-sluice-provider"), "b");
    assert_eq!(header(&res, "x-sluice-attempts"), "3");
    let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["model"], "mock");
    // Three words; the simulated provider has no price, so the cost is zero, but written.
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["cost"], 0);
    assert_eq!(s.stats.snapshot().requests, 3);
    assert_eq!(
        s.metric(r#"sluice_retries_total{provider="a",reason="provider_5xx"}"#),
        Some(2.0)
    );
    assert_eq!(
        s.metric(r#"sluice_tokens_total{model="e",provider="b",kind="prompt"}"#),
        Some(3.0)
    );
    assert_eq!(s.flushed().await, (1, 1));
    let row = s.row("r-embed").await;
    assert_eq!(
        (row.status.as_str(), row.http_status, row.attempts),
        ("ok", 200, 3)
    );
    assert_eq!((row.prompt_tokens, row.completion_tokens), (3, 0));
    assert!(!row.stream && !row.estimated);
}

#[tokio::test]
async fn embeddings_skip_native_targets_and_need_one_that_serves_them() {
    let s = setup("\"n\" = [\"c\"]\n\"x\" = [\"c\", \"a\"]", "attempts = 0").await;
    let res = s.embed("r-native", "n").await;
    assert_eq!(res.status(), 400);
    let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], "model");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("serves embeddings"));

    let res = s.embed("r-mixed", "x").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-sluice-provider"), "a");
    assert_eq!(header(&res, "x-sluice-attempts"), "1");
    body_text(res).await;
    assert_eq!(s.stats.snapshot().requests, 1);
    assert_eq!(s.flushed().await, (2, 2));
    let row = s.row("r-native").await;
    assert_eq!((row.status.as_str(), row.http_status), ("bad_request", 400));
    assert_eq!(row.provider, None);
}
