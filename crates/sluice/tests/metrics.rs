//! `GET /metrics` (SPEC §5), black box: the real gateway in front of the real simulated
//! provider, its exposition read with a Prometheus text parser.

mod common;

use common::{chat, config_for, eventually, get, post, Proc};
use futures_util::StreamExt;
use prometheus_parse::{Scrape, Value};

/// Reads and parses the gateway's exposition.
async fn scrape(gw: &Proc) -> Scrape {
    let reply = get(&gw.url("/metrics")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        reply.header("content-type")
    );
    // The classic text format: a counter's TYPE line names its `_total` series.
    assert!(reply
        .body
        .contains("# TYPE sluice_requests_total counter\n"));
    assert!(!reply.body.contains("# EOF"));
    Scrape::parse(reply.body.lines().map(|l| Ok(l.to_owned()))).expect("exposition parses")
}

/// The value of the one sample called `name` whose labels include `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)));
    let sample = found.next()?;
    assert!(found.next().is_none(), "several samples {name} {labels:?}");
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        ref other => panic!("{name} is not a single value: {other:?}"),
    }
}

const ROUTE: [(&str, &str); 2] = [("model", "mock"), ("provider", "up")];

fn route_and(extra: (&'static str, &'static str)) -> [(&'static str, &'static str); 3] {
    [ROUTE[0], ROUTE[1], extra]
}

#[tokio::test]
async fn streamed_requests_are_timed_and_counted() {
    let up = Proc::mock_upstream(&["--tokens", "7"]);
    let gw = Proc::gateway(&config_for(&up, ""));
    for _ in 0..5 {
        let reply = post(&gw.url("/v1/chat/completions"), &chat("mock", true), &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.ends_with_done());
    }
    eventually("five streams recorded, none active", || async {
        let s = scrape(&gw).await;
        value(&s, "sluice_requests_total", &route_and(("status", "ok"))) == Some(5.0)
            && value(&s, "sluice_active_streams", &[]) == Some(0.0)
    })
    .await;
    let s = scrape(&gw).await;
    for histogram in [
        "sluice_ttft_seconds",
        "sluice_tpot_seconds",
        "sluice_request_duration_seconds",
        "sluice_upstream_headers_seconds",
        "sluice_upstream_first_byte_seconds",
        "sluice_gateway_overhead_seconds",
    ] {
        assert_eq!(
            value(&s, &format!("{histogram}_count"), &ROUTE),
            Some(5.0),
            "{histogram}"
        );
    }
    assert!(value(&s, "sluice_ttft_seconds_sum", &ROUTE).unwrap() > 0.0);
    assert_eq!(
        value(
            &s,
            "sluice_tokens_total",
            &route_and(("kind", "completion"))
        ),
        Some(35.0)
    );
    assert!(value(&s, "sluice_tokens_total", &route_and(("kind", "prompt"))).unwrap() > 0.0);
    assert_eq!(
        value(&s, "sluice_stream_queue_high_water_count", &[]),
        Some(5.0)
    );
    assert_eq!(value(&s, "sluice_client_disconnects_total", &[]), Some(0.0));
    assert_eq!(
        value(
            &s,
            "sluice_upstream_errors_total",
            &[("provider", "up"), ("kind", "provider_5xx")]
        ),
        Some(0.0)
    );
    // Prices come with the ledger: the series is there, at zero.
    assert_eq!(value(&s, "sluice_cost_usd_total", &ROUTE), Some(0.0));
}

#[tokio::test]
async fn a_provider_error_counts_as_its_kind_and_as_an_upstream_error() {
    let up = Proc::mock_upstream(&["--tokens", "7"]);
    // One attempt per request, so each request is one upstream error.
    let gw = Proc::gateway(&config_for(&up, "[retry]\nattempts = 0\n"));
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-500", true),
        &[],
    )
    .await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    let labels = [
        ("model", "mock-500"),
        ("provider", "up"),
        ("status", "provider_5xx"),
    ];
    let upstream = [("provider", "up"), ("kind", "provider_5xx")];
    eventually("the failed stream is recorded", || async {
        value(&scrape(&gw).await, "sluice_requests_total", &labels) == Some(1.0)
    })
    .await;
    let s = scrape(&gw).await;
    assert_eq!(
        value(&s, "sluice_upstream_errors_total", &upstream),
        Some(1.0)
    );
    assert_eq!(value(&s, "sluice_active_streams", &[]), Some(0.0));
    let failed = [("model", "mock-500"), ("provider", "up")];
    assert_eq!(value(&s, "sluice_ttft_seconds_count", &failed), Some(0.0));
    assert_eq!(
        value(&s, "sluice_request_duration_seconds_count", &failed),
        Some(1.0)
    );

    // The same failure without streaming is counted alike.
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock-500", false),
        &[],
    )
    .await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    let s = scrape(&gw).await;
    assert_eq!(value(&s, "sluice_requests_total", &labels), Some(2.0));
    assert_eq!(
        value(&s, "sluice_upstream_errors_total", &upstream),
        Some(2.0)
    );
}

#[tokio::test]
async fn non_streaming_and_refused_requests_are_counted() {
    let up = Proc::mock_upstream(&["--tokens", "7"]);
    let gw = Proc::gateway(&config_for(&up, ""));
    let reply = post(&gw.url("/v1/chat/completions"), &chat("mock", false), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = post(
        &gw.url("/v1/chat/completions"),
        &chat("no-such-model-7f3a", true),
        &[],
    )
    .await;
    assert_eq!(reply.status, 404);
    let reply = common::read(
        common::client()
            .post(gw.url("/v1/chat/completions"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 400);

    let s = scrape(&gw).await;
    assert_eq!(
        value(&s, "sluice_requests_total", &route_and(("status", "ok"))),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "sluice_tokens_total",
            &route_and(("kind", "completion"))
        ),
        Some(7.0)
    );
    assert_eq!(
        value(&s, "sluice_request_duration_seconds_count", &ROUTE),
        Some(1.0)
    );
    // Not a stream: no TTFT, no active stream.
    assert_eq!(value(&s, "sluice_ttft_seconds_count", &ROUTE), Some(0.0));
    let unrouted = |status| {
        [
            ("model", "unknown"),
            ("provider", "none"),
            ("status", status),
        ]
    };
    assert_eq!(
        value(&s, "sluice_requests_total", &unrouted("not_found")),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "sluice_requests_total", &unrouted("bad_request")),
        Some(1.0)
    );
    // A model name no route matched never becomes a label.
    assert!(s
        .samples
        .iter()
        .all(|x| x.labels.values().all(|v| v != "no-such-model-7f3a")));
}

#[tokio::test]
async fn a_client_that_hangs_up_is_counted_and_its_stream_ends() {
    let up = Proc::mock_upstream(&["--itl", "20ms", "--tokens", "500"]);
    let gw = Proc::gateway(&config_for(&up, ""));
    let res = common::client()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("mock", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    assert_eq!(
        value(&scrape(&gw).await, "sluice_active_streams", &[]),
        Some(1.0)
    );
    drop(body);
    eventually("the disconnect is counted", || async {
        let s = scrape(&gw).await;
        value(&s, "sluice_client_disconnects_total", &[]) == Some(1.0)
            && value(&s, "sluice_active_streams", &[]) == Some(0.0)
    })
    .await;
    let s = scrape(&gw).await;
    assert_eq!(
        value(
            &s,
            "sluice_requests_total",
            &route_and(("status", "client_closed"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "sluice_slow_client_disconnects_total", &[]),
        Some(0.0)
    );
    assert_eq!(value(&s, "sluice_ttft_seconds_count", &ROUTE), Some(1.0));
    // The provider's error counter is not the client's doing.
    assert!(s
        .samples
        .iter()
        .filter(|x| x.metric == "sluice_upstream_errors_total")
        .all(|x| matches!(x.value, Value::Untyped(v) | Value::Counter(v) if v == 0.0)));
}

#[tokio::test]
async fn every_spec_metric_is_exposed_from_the_start() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config_for(&up, ""));
    let s = scrape(&gw).await;
    // SPEC §5, then the gateway's own additions. Histograms are found by their `_count`.
    for name in [
        "sluice_requests_total",
        "sluice_ttft_seconds_count",
        "sluice_tpot_seconds_count",
        "sluice_request_duration_seconds_count",
        "sluice_tokens_total",
        "sluice_cost_usd_total",
        "sluice_active_streams",
        "sluice_upstream_errors_total",
        "sluice_retries_total",
        "sluice_client_disconnects_total",
        "sluice_stream_coalesced_events_total",
        "sluice_stream_backpressure_seconds_total",
        "sluice_slow_client_disconnects_total",
        "sluice_stream_queue_high_water_count",
        "sluice_upstream_headers_seconds_count",
        "sluice_upstream_first_byte_seconds_count",
        "sluice_gateway_overhead_seconds_count",
    ] {
        assert!(
            s.samples.iter().any(|x| x.metric == name),
            "{name} missing from /metrics"
        );
    }
    // Histograms have their buckets, up to +Inf.
    let ttft = s
        .samples
        .iter()
        .find(|x| x.metric == "sluice_ttft_seconds" && x.labels.get("model") == Some("mock"))
        .expect("ttft buckets");
    match &ttft.value {
        Value::Histogram(buckets) => {
            assert!(buckets.len() > 10);
            assert!(buckets.iter().any(|b| b.less_than == f64::INFINITY));
        }
        other => panic!("ttft is not a histogram: {other:?}"),
    }
}

#[tokio::test]
async fn openmetrics_is_served_when_asked_for() {
    let gw = Proc::gateway_builtin();
    let res = common::client()
        .get(gw.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    let reply = common::read(res).await;
    assert!(reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/openmetrics-text")));
    assert!(reply.body.ends_with("# EOF\n"));
    assert!(reply.body.contains("# TYPE sluice_requests counter\n"));
}
