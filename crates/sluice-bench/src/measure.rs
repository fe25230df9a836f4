//! One request, timed: sends the prepared request, reads the SSE body incrementally with
//! `sluice-sse` as it arrives (or, with a read delay, pausing after each read like a slow
//! client), and hands each event with its arrival time to a [`StreamState`], which turns the
//! reply into a [`Sample`] or a [`Failure`]. This module owns the IO and the classification of
//! transport failures; the timing rules live in `stream_state`.

use std::time::Duration;

use reqwest::Client;
use sluice_sse::{Decoder, Frame};
use tokio::time::Instant;

use crate::api::Api;
use crate::config::Target;
use crate::error::{ErrorKind, Failure};
use crate::stream_state::{snippet, Sample, StreamState};

/// Sends one request and reads its reply to the end, within the target's timeout.
pub(crate) async fn measure(client: &Client, target: &Target) -> Result<Sample, Failure> {
    let request = client
        .post(target.url.clone())
        .headers(target.headers.clone())
        .body(target.body.clone())
        .build()
        .map_err(|e| Failure::new(ErrorKind::Protocol, root_cause(&e)))?;
    let exchange = exchange(client, request, target.api, target.read_delay);
    match tokio::time::timeout(target.timeout, exchange).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::new(
            ErrorKind::Timeout,
            format!("no complete reply within {:?}", target.timeout),
        )),
    }
}

/// One exchange. With `read_delay`, each read of the body that returned data is followed
/// by that long a pause before the next read; an event's time is when its read returned.
async fn exchange(
    client: &Client,
    request: reqwest::Request,
    api: Api,
    read_delay: Option<Duration>,
) -> Result<Sample, Failure> {
    let start = Instant::now();
    let mut response = client.execute(request).await.map_err(send_failure)?;
    let status = response.status();
    if status.as_u16() >= 400 {
        let kind = if status.is_server_error() {
            ErrorKind::Http5xx
        } else {
            ErrorKind::Http4xx
        };
        let body = response.text().await.unwrap_or_default();
        return Err(Failure::new(
            kind,
            format!("HTTP {status}: {}", snippet(&body)),
        ));
    }
    if !status.is_success() {
        return Err(Failure::new(
            ErrorKind::Protocol,
            format!("unexpected HTTP {status}"),
        ));
    }
    let mut state = StreamState::of(api, start);
    let mut decoder = Decoder::new();
    loop {
        let bytes = match response.chunk().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err(Failure::new(ErrorKind::Timeout, root_cause(&e)))
            }
            Err(e) => {
                return Err(Failure::new(
                    ErrorKind::Incomplete,
                    format!("the body broke off: {}", root_cause(&e)),
                ))
            }
        };
        let at = Instant::now();
        decoder.push(&bytes);
        while let Some(frame) = decoder
            .next_frame()
            .map_err(|e| Failure::new(ErrorKind::Protocol, e.to_string()))?
        {
            if let Frame::Event(event) = frame {
                state.on_event(&event, at)?;
            }
        }
        if let Some(delay) = read_delay {
            tokio::time::sleep(delay).await;
        }
    }
    let end = Instant::now();
    if let Some(event) = decoder.finish() {
        state.on_event(&event, end)?;
    }
    state.finish(end)
}

fn send_failure(e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Protocol
    };
    Failure::new(kind, root_cause(&e))
}

/// The innermost cause of an error, which for reqwest is the informative part
/// (e.g. `Connection refused (os error 111)`).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
