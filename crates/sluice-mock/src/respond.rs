//! The handler core every API shares: request in, [`MockResponse`] out, with no HTTP server
//! involved. An API is a [`Dialect`] (how its body reads, how its answers and errors are
//! written); [`answer`] does the rest the same way for all: counting, the control headers,
//! random failures, the fault models, timing.

use crate::scenario::{Fault, Scenario};
use crate::stream::{CompletionBody, EventStream, Script};
use crate::{MockResponse, MockSettings, Stats};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

pub(crate) const JSON: &str = "application/json";

/// 529, the status Anthropic answers an overload with (and the OpenAI path's `mock-529`).
pub(crate) fn overloaded() -> StatusCode {
    StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// An answer refused before it starts, which each API writes in its own error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal<'a> {
    /// A body the API would refuse, or a bad `x-mock-*` header: 400, with this message.
    BadRequest(&'a str),
    /// `mock-500` (and half of the random failures).
    ServerError,
    /// `mock-429`.
    RateLimited,
    /// `mock-529`, and `mock-error-midstream` when not streaming.
    Overloaded,
}

/// One API's wire format.
pub(crate) trait Dialect {
    /// What the request asks for beside the [`Scenario`] (a tool to call, thinking).
    type Extra;
    /// The events of a stream.
    type Script: Script + Unpin + Send + 'static;

    /// Reads a request. `Err` is the message of a 400.
    fn read(
        &self,
        settings: &MockSettings,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Scenario, Self::Extra), String>;
    /// The status and body of a refusal.
    fn refusal(&self, refusal: Refusal<'_>) -> (StatusCode, Bytes);
    /// The events of a streamed answer.
    fn script(&self, scenario: &Scenario, extra: &Self::Extra) -> Self::Script;
    /// The whole body of an answer not streamed.
    fn whole(&self, scenario: &Scenario, extra: &Self::Extra) -> Bytes;
}

/// Answers one request in `dialect`. The status and headers are final; all timing (ttft, itl)
/// and stream faults live in the returned body, which is lazy and needs a tokio runtime only
/// when polled.
pub(crate) fn answer<D: Dialect>(
    dialect: &D,
    settings: &MockSettings,
    stats: &Stats,
    headers: &HeaderMap,
    body: &[u8],
) -> MockResponse {
    stats.request();
    let start = Instant::now();
    let (mut scenario, extra) = match dialect.read(settings, headers, body) {
        Ok(read) => read,
        Err(message) => return refuse(dialect, stats, Refusal::BadRequest(&message)),
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
        Fault::ServerError => return refuse(dialect, stats, Refusal::ServerError),
        Fault::RateLimited => {
            let mut response = refuse(dialect, stats, Refusal::RateLimited);
            response.headers.push(("retry-after", "1".to_owned()));
            return response;
        }
        Fault::Overloaded => return refuse(dialect, stats, Refusal::Overloaded),
        Fault::ErrorMidstream if !scenario.stream => {
            return refuse(dialect, stats, Refusal::Overloaded)
        }
        Fault::None | Fault::Stall | Fault::Drop | Fault::ErrorMidstream => {}
    }

    let guard = stats.open_body(scenario.stream);
    if scenario.stream {
        let script = dialect.script(&scenario, &extra);
        MockResponse {
            status: StatusCode::OK,
            headers: vec![
                ("content-type", "text/event-stream".to_owned()),
                ("cache-control", "no-cache".to_owned()),
            ],
            body: Box::pin(EventStream::new(script, &scenario, start, guard)),
        }
    } else {
        let whole = dialect.whole(&scenario, &extra);
        MockResponse {
            status: StatusCode::OK,
            headers: vec![("content-type", JSON.to_owned())],
            body: Box::pin(CompletionBody::new(whole, &scenario, start, guard)),
        }
    }
}

fn refuse<D: Dialect>(dialect: &D, stats: &Stats, refusal: Refusal<'_>) -> MockResponse {
    stats.error();
    let (status, body) = dialect.refusal(refusal);
    MockResponse {
        status,
        headers: vec![("content-type", JSON.to_owned())],
        body: Box::pin(futures_util::stream::iter([Ok(body)])),
    }
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
}
