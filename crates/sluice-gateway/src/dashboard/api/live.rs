//! `GET /v1/dashboard/live`: Server-Sent Events, one `event: snapshot` at once and then
//! every second: this replica's last five minutes (`crate::dashboard::live`), streams open
//! now, the providers' circuit breakers, and spend today and this month from the ledger's
//! rollups (`spend::live`, shared by every open dashboard). The stream ends when the client
//! leaves (its body is dropped) or when the gateway begins to shut down.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Serialize;
use serde_json::Value;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::spend;
use crate::dashboard::live::stats::{GroupView, Point, Totals};
use crate::headers::ACCEL_BUFFERING;
use crate::state::AppState;

/// How often a snapshot is sent.
const EVERY: Duration = Duration::from_secs(1);

pub(super) async fn stream(State(app): State<AppState>) -> Response {
    // The first snapshot is ready before the headers go, so it arrives with them.
    let first = snapshot(&app).await;
    let mut tick = interval_at(Instant::now() + EVERY, EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let events = stream::unfold(
        (app, Some(first), tick),
        |(app, first, mut tick)| async move {
            if let Some(first) = first {
                return Some((Ok::<_, Infallible>(first), (app, None, tick)));
            }
            let closing = app.live().closing.clone();
            tokio::select! {
                () = closing.cancelled() => None,
                _ = tick.tick() => {
                    let next = snapshot(&app).await;
                    Some((Ok(next), (app, None, tick)))
                }
            }
        },
    );
    let mut res = Sse::new(events).into_response();
    res.headers_mut()
        .insert(ACCEL_BUFFERING, HeaderValue::from_static("no"));
    res
}

/// One snapshot as an SSE event.
async fn snapshot(app: &AppState) -> Event {
    let view = app.live().stats.view();
    let now = tokio::time::Instant::now();
    let breakers = app
        .breakers()
        .states(now)
        .map(|(provider, state)| Breaker {
            provider,
            state: state.as_str(),
        })
        .collect();
    let doc = Snapshot {
        time: view.time,
        window_s: view.window_s,
        active_streams: app.metrics().active_streams(),
        totals: &view.totals,
        groups: &view.groups,
        series: &view.series,
        breakers,
        spend: spend::live(app).await,
        refused: &view.refused,
    };
    // Plain data always serialises.
    let data = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event("snapshot").data(data)
}

/// The snapshot document (`docs/dashboard-api.md`).
#[derive(Serialize)]
struct Snapshot<'a> {
    time: i64,
    window_s: u64,
    active_streams: i64,
    totals: &'a Totals,
    groups: &'a [GroupView],
    series: &'a [Point],
    breakers: Vec<Breaker<'a>>,
    spend: Value,
    refused: &'a BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct Breaker<'a> {
    provider: &'a str,
    state: &'static str,
}
