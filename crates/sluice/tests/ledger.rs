//! Every request billed: the real gateway writes one ledger row per request, whatever its
//! ending, with the provider's usage priced exactly, or tokenizer counts marked estimated.
//! The same scenarios run against SQLite and against the Postgres on this machine.

mod common;

use std::time::Duration;

use common::store::Store;
use common::{chat, config_for, eventually, post, Proc};
use futures_util::StreamExt;
use serde_json::json;

/// A gateway in front of `up` writing to `store`; "mock" costs 0.27 / 0.42 USD per MTok, billed
/// in JPY at 1 per USD.
fn gateway(up: &Proc, store: &Store, extra: &str) -> Proc {
    let config = config_for(
        up,
        &format!(
            "ledger = \"{}\"\n{extra}\n[providers.up.prices]\n\"mock\" = {{ input = 0.27, output = 0.42 }}\n",
            store.url()
        ),
    );
    // `ledger` is a top-level key: it must come before the first table.
    let (tables, top) = config.split_at(config.find("ledger = ").unwrap());
    let (top_line, rest) = top.split_once('\n').unwrap();
    Proc::gateway(&format!("{top_line}\n{tables}{rest}"))
}

fn exact(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap()
}

async fn same_request_streamed_or_not_gives_the_same_row(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&["--tokens", "7"]);
    let gw = gateway(&up, &store, "");
    let url = gw.url("/v1/chat/completions");
    post(&url, &chat("fast", true), &[("x-request-id", "r-stream")]).await;
    post(&url, &chat("fast", false), &[("x-request-id", "r-whole")]).await;
    let (s, w) = (store.row("r-stream").await, store.row("r-whole").await);
    for row in [&s, &w] {
        assert_eq!(row.status, "ok");
        assert_eq!(row.http_status, 200);
        assert_eq!(row.model, "fast");
        assert_eq!(row.provider.as_deref(), Some("up"));
        assert_eq!(row.provider_model.as_deref(), Some("mock"));
        assert_eq!(row.completion_tokens, 7);
        assert!(!row.estimated);
        // Priced at the provider's model, exactly: (prompt × 0.27 + 7 × 0.42) / 1e6.
        let expected = (rust_decimal::Decimal::from(row.prompt_tokens) * exact("0.27")
            + rust_decimal::Decimal::from(7) * exact("0.42"))
            / exact("1000000");
        assert_eq!(row.cost_usd, expected);
        assert_eq!(row.currency, "USD");
        assert_eq!(row.attempts, 1);
    }
    assert!(s.stream && !w.stream);
    assert!(s.ttft_ms.is_some());
    assert_eq!(
        (s.prompt_tokens, s.completion_tokens, s.cost_usd),
        (w.prompt_tokens, w.completion_tokens, w.cost_usd)
    );
}

async fn a_client_that_hangs_up_leaves_an_estimated_row(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&["--tokens", "500", "--itl", "10ms"]);
    let gw = gateway(&up, &store, "");
    let res = common::client()
        .post(gw.url("/v1/chat/completions"))
        .header("x-request-id", "r-gone")
        .json(&chat("mock", true))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = 0;
    while seen < 2000 {
        seen += body.next().await.unwrap().unwrap().len();
    }
    drop(body);
    let row = store.row("r-gone").await;
    assert_eq!(row.status, "client_closed");
    assert!(row.estimated);
    assert!(
        row.prompt_tokens > 0 && row.completion_tokens > 0,
        "{row:?}"
    );
    assert!(row.completion_tokens < 500);
    assert!(row.cost_usd > rust_decimal::Decimal::ZERO);
}

async fn every_failure_has_its_row(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&[]);
    let gw = gateway(&up, &store, "");
    let url = gw.url("/v1/chat/completions");
    let cases = [
        ("r-500", chat("mock-500", true), "provider_5xx", 502),
        ("r-429", chat("mock-429", false), "rate_limited", 429),
        ("r-drop", chat("mock-drop", true), "transport", 200),
        ("r-404", chat("no-such-model", true), "not_found", 404),
        ("r-400", json!({"model": "mock"}), "bad_request", 400),
    ];
    for (id, body, _, _) in &cases {
        post(&url, body, &[("x-request-id", id)]).await;
    }
    for (id, _, status, http) in cases {
        let row = store.row(id).await;
        assert_eq!(
            (row.status.as_str(), row.http_status),
            (status, http),
            "{id}: {row:?}"
        );
    }
}

async fn a_thousand_concurrent_requests_make_a_thousand_rows(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&["--tokens", "2"]);
    let gw = gateway(&up, &store, "");
    let url = gw.url("/v1/chat/completions");
    let client = common::client();
    let replies = futures_util::future::join_all((0..1000).map(|i| {
        let req = client
            .post(&url)
            .header("x-request-id", format!("bulk-{i}"))
            .json(&chat("mock", i % 2 == 0));
        async move { req.send().await.map(|r| r.status().as_u16()) }
    }))
    .await;
    assert!(
        replies.iter().all(|r| matches!(r, Ok(200))),
        "{:?}",
        replies.iter().find(|r| !matches!(r, Ok(200)))
    );
    let ledger = store.ledger().await;
    eventually("1,000 rows", || async {
        ledger.count().await.unwrap() == 1000
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ledger.count().await.unwrap(), 1000);
    // The write queue never overflowed.
    let metrics = common::get(&gw.url("/metrics")).await.body;
    assert!(
        metrics.contains("\nsluice_ledger_dropped_rows_total 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nsluice_ledger_pending_rows 0\n"),
        "{metrics}"
    );
}

async fn sigterm_during_traffic_loses_no_row(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&["--tokens", "30", "--itl", "20ms"]);
    let mut gw = gateway(&up, &store, "");
    let url = gw.url("/v1/chat/completions");
    let client = common::client();
    let streams: Vec<_> = (0..40)
        .map(|i| {
            let req = client
                .post(&url)
                .header("x-request-id", format!("term-{i}"))
                .json(&chat("mock", true));
            tokio::spawn(async move {
                let res = req.send().await.unwrap();
                res.bytes().await.map(|b| b.len()).unwrap_or(0)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    gw.sigterm();
    for s in streams {
        assert!(s.await.unwrap() > 0);
    }
    let (status, _gw) =
        tokio::task::spawn_blocking(move || (gw.wait_exit(Duration::from_secs(30)), gw))
            .await
            .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    // Every row is in before the process exits: no waiting here.
    assert_eq!(store.ledger().await.count().await.unwrap(), 40);
}

async fn a_retried_request_records_its_attempts_and_earlier_errors(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&format!(
        "ledger = \"{}\"\n[providers.a]\nkind = \"openai\"\nbase_url = \"{base}/v1\"\n\
         [providers.b]\nkind = \"openai\"\nbase_url = \"{base}/v1\"\n\
         [routes]\n\"r\" = [{{ provider = \"a\", model = \"mock-500\" }}, {{ provider = \"b\", model = \"mock\" }}]\n\
         [retry]\nattempts = 1\nbackoff = \"1ms\"\n",
        store.url(),
        base = up.base
    ));
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("r", true),
        &[("x-request-id", "r-retried")],
    )
    .await;
    assert_eq!(reply.status, 200);
    let row = store.row("r-retried").await;
    assert_eq!(row.status, "ok");
    assert_eq!(row.attempts, 3);
    assert_eq!(row.provider.as_deref(), Some("b"));
    let error = row.error.unwrap_or_default();
    assert_eq!(
        error, "earlier attempts: a provider_5xx; a provider_5xx",
        "{error}"
    );
}

async fn streams_cut_at_the_end_of_the_grace_period_still_have_their_rows(postgres: bool) {
    let store = Store::new(postgres).await;
    let up = Proc::mock_upstream(&["--tokens", "500", "--itl", "50ms"]);
    let mut gw = Proc::gateway(&format!(
        "ledger = \"{}\"\nshutdown_grace = \"300ms\"\n[providers.up]\nkind = \"openai\"\nbase_url = \"{}/v1\"\n[routes]\n\"mock\" = [\"up\"]\n",
        store.url(),
        up.base
    ));
    let url = gw.url("/v1/chat/completions");
    let mut bodies = Vec::new();
    for i in 0..5 {
        let res = common::client()
            .post(&url)
            .header("x-request-id", format!("cut-{i}"))
            .json(&chat("mock", true))
            .send()
            .await
            .unwrap();
        let mut body = res.bytes_stream();
        body.next().await.unwrap().unwrap();
        bodies.push(body);
    }
    gw.sigterm();
    let (status, _gw) =
        tokio::task::spawn_blocking(move || (gw.wait_exit(Duration::from_secs(30)), gw))
            .await
            .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    // Cut by the shutdown with no usage from the provider: counted with the tokenizer, and
    // written before the process exited.
    let ledger = store.ledger().await;
    for i in 0..5 {
        let row = ledger
            .get_by_client_id(&format!("cut-{i}"))
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("row written before exit");
        assert_eq!(row.status, "shutdown");
        assert!(row.estimated && row.completion_tokens > 0, "{row:?}");
    }
    drop(bodies);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(false).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(true).await })*
        }
    };
}

on_both!(
    same_request_streamed_or_not_gives_the_same_row,
    a_client_that_hangs_up_leaves_an_estimated_row,
    every_failure_has_its_row,
    a_thousand_concurrent_requests_make_a_thousand_rows,
    sigterm_during_traffic_loses_no_row,
    a_retried_request_records_its_attempts_and_earlier_errors,
    streams_cut_at_the_end_of_the_grace_period_still_have_their_rows,
);
