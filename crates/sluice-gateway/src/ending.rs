//! A request's ending: what is known about a request once it is over, built once and handed
//! to its observers in one fixed order:
//!
//! 1. the metrics (`sluice_requests_total` and the latencies, tokens and cost of its route),
//!    and the dashboard's live counters (`live`);
//! 2. the log line (target `sluice::request`; never a key, a prompt, an answer or a provider's
//!    own error text);
//! 3. the ledger row, through [`Accounts::record`](crate::accounting::Accounts::record), after a
//!    tokenizer count when the provider reported no usage; the final row then settles the
//!    request's hold on its key's limits ([`Hold::settle`]), so budgets charge exactly what the
//!    ledger bills.
//!
//! Every request ends exactly once, in one of three places: a relay's outcome sink (a stream
//! that started, or whose handler is gone), the handler (a failure before anything reached the
//! client that no other attempt follows, or a whole answer), or a refusal before any provider
//! was tried. Each builds an [`Ending`] and calls [`Ending::record`]; nothing else writes
//! metrics of a request's end, its log line or its row.

mod live;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sluice_ledger::Row;
use sluice_relay::{End, Outcome, StreamError};
use sluice_types::{unix_ms, Usage};
use tokio::time::Instant;

use crate::accounting::{Estimate, TargetPrice};
use crate::headers::ClientRequestId;
use crate::limits::hold::Hold;
use crate::metrics::{Refused, RouteMetrics};
use crate::state::AppState;

/// What an attempt at a provider knows before it starts, to build the request's ending from
/// its result.
#[derive(Debug, Clone)]
pub struct Draft {
    pub request_id: String,
    /// Unix milliseconds at the request's arrival.
    pub at_ms: i64,
    pub started: Instant,
    /// The route's model name.
    pub model: String,
    pub provider: String,
    pub provider_model: String,
    pub metrics: Arc<RouteMetrics>,
    pub price: Arc<TargetPrice>,
    /// The client's chat body (whatever the provider's format), kept to count prompt tokens
    /// if the provider reports no usage.
    pub request_body: Bytes,
    /// Provider attempts the request made, this one included.
    pub attempts: u32,
    /// The failed attempts before this one (`provider kind; ...`), for the ledger row.
    pub earlier_failures: Option<String>,
    /// The caller's key, if it came with one.
    pub key_id: Option<String>,
    /// The client's own `x-request-id`, if it sent one.
    pub client_request_id: Option<String>,
    /// The request's reservation of its key's limits, settled by the ending recorded.
    pub hold: Option<Hold>,
}

/// A request, once it is over.
#[derive(Debug)]
pub struct Ending {
    request_id: String,
    at_ms: i64,
    started: Instant,
    /// The route's model name, or the model asked for (bounded) when no route was found.
    model: String,
    /// The provider that served the request or last failed it, if one was tried.
    served: Option<Served>,
    stream: bool,
    /// `ok`, `client_closed`, an error kind, or why it was refused.
    status: &'static str,
    http_status: u16,
    /// The usage the provider reported.
    usage: Option<Usage>,
    /// What to count with the tokenizer when the provider reported none.
    estimate: Option<Estimate>,
    ttft: Option<Duration>,
    duration: Duration,
    attempts: u32,
    /// The failure as it may be logged and stored.
    error: Option<String>,
    /// What the metrics need beyond the above.
    measures: Measures,
    key_id: Option<String>,
    client_request_id: Option<String>,
    hold: Option<Hold>,
}

#[derive(Debug)]
struct Served {
    provider: String,
    provider_model: String,
    metrics: Arc<RouteMetrics>,
    price: Arc<TargetPrice>,
    earlier_failures: Option<String>,
}

#[derive(Debug)]
enum Measures {
    /// A relayed stream: its outcome (without its text), and when the request was handed to
    /// the provider client, if it was.
    Stream {
        outcome: Box<Outcome>,
        sent: Option<Instant>,
    },
    /// A whole (non-streamed) answer, or its failure.
    Whole {
        sent: Instant,
        failure: Option<sluice_types::StreamErrorKind>,
    },
    /// Answered by the gateway itself before any provider.
    Refused(Refused),
}

impl Draft {
    fn served(self) -> (Served, RequestPart) {
        (
            Served {
                provider: self.provider,
                provider_model: self.provider_model,
                metrics: self.metrics,
                price: self.price,
                earlier_failures: self.earlier_failures,
            },
            RequestPart {
                request_id: self.request_id,
                at_ms: self.at_ms,
                started: self.started,
                model: self.model,
                attempts: self.attempts,
                request_body: self.request_body,
                key_id: self.key_id,
                client_request_id: self.client_request_id,
                hold: self.hold,
            },
        )
    }

    /// The ending of a relayed stream. `sent`: when the request was handed to the provider
    /// client, if it was.
    pub fn stream_ended(self, mut outcome: Outcome, sent: Option<Instant>) -> Ending {
        let (status, error) = match &outcome.end {
            End::Completed => ("ok", None),
            End::ClientClosed => ("client_closed", None),
            End::Failed(e) => (e.kind().as_str(), Some(loggable(e))),
        };
        let http_status = match &outcome.end {
            _ if outcome.committed => 200,
            End::Failed(e) => e.http_status(),
            // The client left before anything was sent (nginx's "client closed request").
            End::ClientClosed => 499,
            End::Completed => 200,
        };
        let (served, req) = self.served();
        let usage = outcome.tally.usage;
        // Without the provider's usage, a request the provider accepted is counted with the
        // tokenizer: the prompt it read and the text it sent before the end.
        let estimate = (usage.is_none() && outcome.tally.headers_at.is_some()).then(|| Estimate {
            model: served.provider_model.clone(),
            request_body: req.request_body.clone(),
            text: std::mem::take(&mut outcome.tally.text),
        });
        Ending {
            ttft: outcome.first_token_at().map(|t| t - req.started),
            duration: outcome.ended_at - req.started,
            request_id: req.request_id,
            at_ms: req.at_ms,
            started: req.started,
            model: req.model,
            served: Some(served),
            stream: true,
            status,
            http_status,
            usage,
            estimate,
            attempts: req.attempts,
            error,
            measures: Measures::Stream {
                outcome: Box::new(outcome),
                sent,
            },
            key_id: req.key_id,
            client_request_id: req.client_request_id,
            hold: req.hold,
        }
    }

    /// The ending of a whole (non-streamed) answer: the usage it reported, or its failure.
    pub fn whole_ended(self, sent: Instant, result: Result<Option<Usage>, &StreamError>) -> Ending {
        let (status, http_status, usage, error, failure) = match result {
            Ok(usage) => ("ok", 200, usage, None, None),
            Err(e) => (
                e.kind().as_str(),
                e.http_status(),
                None,
                Some(loggable(e)),
                Some(e.kind()),
            ),
        };
        let (served, req) = self.served();
        Ending {
            ttft: None,
            duration: req.started.elapsed(),
            request_id: req.request_id,
            at_ms: req.at_ms,
            started: req.started,
            model: req.model,
            served: Some(served),
            stream: false,
            status,
            http_status,
            usage,
            estimate: None,
            attempts: req.attempts,
            error,
            measures: Measures::Whole { sent, failure },
            key_id: req.key_id,
            client_request_id: req.client_request_id,
            hold: req.hold,
        }
    }
}

impl Draft {
    /// The ending of a whole answer whose client left while the provider worked on it: the
    /// provider had the request, so its prompt is counted with the tokenizer (the answer it
    /// was writing is not known).
    pub fn whole_abandoned(self, sent: Instant) -> Ending {
        let (served, req) = self.served();
        let estimate = Estimate {
            model: served.provider_model.clone(),
            request_body: req.request_body.clone(),
            text: String::new(),
        };
        Ending {
            ttft: None,
            duration: req.started.elapsed(),
            request_id: req.request_id,
            at_ms: req.at_ms,
            started: req.started,
            model: req.model,
            served: Some(served),
            stream: false,
            status: "client_closed",
            // nginx's "client closed request".
            http_status: 499,
            usage: None,
            estimate: Some(estimate),
            attempts: req.attempts,
            error: None,
            measures: Measures::Whole {
                sent,
                failure: None,
            },
            key_id: req.key_id,
            client_request_id: req.client_request_id,
            hold: req.hold,
        }
    }
}

/// The request's side of a draft, once the provider's side is taken out.
struct RequestPart {
    request_id: String,
    at_ms: i64,
    started: Instant,
    model: String,
    attempts: u32,
    request_body: Bytes,
    key_id: Option<String>,
    client_request_id: Option<String>,
    hold: Option<Hold>,
}

impl Ending {
    /// A request the gateway answered itself before any provider was tried: `model` as asked
    /// (kept to 128 characters: for an unknown model it is the client's own text).
    pub fn refused(
        why: Refused,
        request_id: &str,
        started: Instant,
        model: &str,
        http_status: u16,
    ) -> Ending {
        Ending {
            request_id: request_id.to_owned(),
            at_ms: unix_ms(),
            started,
            model: model.chars().take(128).collect(),
            served: None,
            stream: false,
            status: why.status(),
            http_status,
            usage: None,
            estimate: None,
            ttft: None,
            duration: started.elapsed(),
            attempts: 0,
            error: None,
            measures: Measures::Refused(why),
            key_id: None,
            client_request_id: None,
            hold: None,
        }
    }

    /// The same, with the client's own request id.
    pub fn with_client_id(mut self, client: Option<&ClientRequestId>) -> Ending {
        self.client_request_id = client.map(|c| c.as_str().to_owned());
        self
    }

    /// The same, for a request that came with a key (refused by its limits).
    pub fn with_key(mut self, key_id: Option<&str>) -> Ending {
        self.key_id = key_id.map(str::to_owned);
        self
    }

    /// The attempt this ending belongs to is followed by another: only its provider's failure
    /// is counted (the request ends later, once).
    pub fn discard(self, err: &StreamError) {
        if let Some(s) = &self.served {
            s.metrics.attempt_failed(err.kind());
        }
    }

    /// Hands the ending to its observers, in the documented order.
    pub fn record(mut self, app: &AppState) {
        self.count(app);
        self.feed_live(&app.live().stats);
        self.log();
        let hold = self.hold.take();
        match app.accounts() {
            // A refusal goes to the ledger's queue of its own: a flood of them never crowds
            // out the rows of requests that were served and billed.
            Some(accounts) if matches!(self.measures, Measures::Refused(_)) => {
                accounts.writer.record_refusal(self.row());
            }
            Some(accounts) => {
                let price = self.served.as_ref().map(|s| s.price.clone());
                let estimate = self.estimate.take();
                accounts.record(self.row(), estimate, price.unwrap_or_default(), hold);
            }
            // No ledger: the limits settle with the row it would have had.
            None => {
                if let Some(hold) = hold {
                    hold.settle(&self.row());
                }
            }
        }
    }

    /// 1. The metrics.
    fn count(&self, app: &AppState) {
        let Some(served) = &self.served else {
            if let Measures::Refused(why) = self.measures {
                app.metrics().refused(why);
            }
            return;
        };
        let m = &served.metrics;
        match &self.measures {
            Measures::Stream { outcome, sent } => {
                m.stream_finished(self.status, self.started, *sent, outcome)
            }
            Measures::Whole { sent, failure } => m.completion_finished(
                self.status,
                self.started,
                *sent,
                failure.map_or(Ok(self.usage), Err),
            ),
            Measures::Refused(why) => m.refused(*why),
        }
        if let Some(usage) = &self.usage {
            m.cost(f64::try_from(served.price.cost(usage).usd).unwrap_or(0.0));
        }
    }

    /// 2. The log line.
    fn log(&self) {
        let usage = self.usage.unwrap_or_default();
        let (events, high_water, coalesced, blocked_ms) = match &self.measures {
            Measures::Stream { outcome, .. } => (
                Some(outcome.tally.events),
                Some(outcome.queue.high_water),
                Some(outcome.queue.coalesced),
                Some(ms(outcome.tally.blocked)),
            ),
            _ => (None, None, None, None),
        };
        tracing::info!(
            target: "sluice::request",
            request_id = %self.request_id,
            client_request_id = self.client_request_id.as_deref(),
            key = self.key_id.as_deref(),
            model = %self.model,
            provider = self.served.as_ref().map(|s| s.provider.as_str()),
            provider_model = self.served.as_ref().map(|s| s.provider_model.as_str()),
            stream = self.stream,
            status = self.status,
            http_status = self.http_status,
            prompt_tokens = usage.prompt_tokens,
            completion_tokens = usage.completion_tokens,
            ttft_ms = self.ttft.map(ms),
            duration_ms = ms(self.duration),
            events,
            queue_high_water = high_water,
            coalesced,
            blocked_ms,
            attempts = self.attempts,
            error = self.error.as_deref(),
            "request finished"
        );
    }

    /// 3. The ledger row, before any tokenizer estimate.
    fn row(&self) -> Row {
        let mut row = Row::new(
            &self.request_id,
            self.at_ms,
            &self.model,
            self.status,
            self.http_status,
        );
        row.stream = self.stream;
        row.key_id = self.key_id.clone();
        row.client_request_id = self.client_request_id.clone();
        row.duration_ms = ms(self.duration);
        row.ttft_ms = self.ttft.map(ms);
        row.attempts = self.attempts;
        row.error = self.error.clone();
        let Some(served) = &self.served else {
            return row;
        };
        let usage = self.usage.unwrap_or_default();
        let cost = served.price.cost(&usage);
        row.provider = Some(served.provider.clone());
        row.provider_model = Some(served.provider_model.clone());
        row.prompt_tokens = usage.prompt_tokens;
        row.completion_tokens = usage.completion_tokens;
        row.cost_usd = cost.usd;
        row.cost_local = cost.local;
        row.currency = cost.currency;
        row.error = match (row.error.take(), &served.earlier_failures) {
            (Some(e), Some(earlier)) => Some(format!("{e} (earlier attempts: {earlier})")),
            (None, Some(earlier)) => Some(format!("earlier attempts: {earlier}")),
            (e, None) => e,
        };
        row
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An error as it may be logged: a provider's own message can quote the request (validation
/// errors) or the answer, so only its status, type and code are kept.
fn loggable(err: &StreamError) -> String {
    match err {
        StreamError::ProviderStatus { status, body, .. } => format!(
            "provider answered HTTP {status} (type {}, code {})",
            body.error_type.as_deref().unwrap_or("-"),
            body.code
        ),
        StreamError::ProviderEvent(body) => format!(
            "provider sent an error event (type {}, code {})",
            body.error_type.as_deref().unwrap_or("-"),
            body.code
        ),
        other => other.to_string(),
    }
}
