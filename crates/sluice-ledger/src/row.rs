//! One ledger row: what the gateway knows about a request once it has ended, and the column
//! list both backends store it in.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The `status` of a request that ended normally.
pub const STATUS_OK: &str = "ok";

/// One request, as the ledger stores it. `request_id` is the primary key: recording the same
/// id twice keeps the first row. The gateway makes that id itself; what a client sent as its
/// own request id is kept beside it in `client_request_id`, which is never a key (clients may
/// repeat it, by mistake or on purpose).
///
/// In JSON (the spill file) amounts are exact decimal text, never floating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub request_id: String,
    /// The request id the client sent (`x-request-id`), if any.
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// Unix time in milliseconds when the request started.
    pub at_ms: i64,
    /// The gateway API key's id, if the request came with one.
    pub key_id: Option<String>,
    /// The model asked for (the route name).
    pub model: String,
    pub provider: Option<String>,
    /// The model name sent to the provider.
    pub provider_model: Option<String>,
    /// `ok`, or what went wrong: an error kind such as `provider_5xx` or `idle_timeout`,
    /// `client_closed`, `rejected`, `bad_request`...
    pub status: String,
    pub http_status: u16,
    pub stream: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The tokens were counted by the gateway's tokenizer, not reported by the provider.
    pub estimated: bool,
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_usd: Decimal,
    /// The cost in the provider's billing currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_local: Decimal,
    /// The billing currency of `cost_local` (ISO code, e.g. `JPY`).
    pub currency: String,
    pub ttft_ms: Option<f64>,
    pub duration_ms: f64,
    pub attempts: u32,
    pub error: Option<String>,
}

impl Row {
    /// The row of a request that ended with `status` and `http_status`: no provider, no
    /// tokens, no cost, nothing timed yet. The gateway builds every row from this one
    /// constructor and fills in what the request got to.
    pub fn new(
        request_id: impl Into<String>,
        at_ms: i64,
        model: impl Into<String>,
        status: impl Into<String>,
        http_status: u16,
    ) -> Row {
        Row {
            request_id: request_id.into(),
            client_request_id: None,
            at_ms,
            key_id: None,
            model: model.into(),
            provider: None,
            provider_model: None,
            status: status.into(),
            http_status,
            stream: false,
            prompt_tokens: 0,
            completion_tokens: 0,
            estimated: false,
            cost_usd: Decimal::ZERO,
            cost_local: Decimal::ZERO,
            currency: sluice_types::DEFAULT_CURRENCY.to_owned(),
            ttft_ms: None,
            duration_ms: 0.0,
            attempts: 0,
            error: None,
        }
    }
}

/// Columns in the order both backends insert and select them.
pub(crate) const COLUMNS: &str = "request_id, at_ms, key_id, model, provider, provider_model, \
     status, http_status, stream, prompt_tokens, completion_tokens, estimated, cost_usd, \
     cost_local, currency, ttft_ms, duration_ms, attempts, error, client_request_id";

/// How many columns [`COLUMNS`] names.
pub(crate) const COLUMN_COUNT: usize = 20;

/// The most rows a look-up by client request id returns (the newest): a client may send the
/// same id on every request, and one answer must stay small.
pub const CLIENT_ID_MATCHES_MAX: usize = 1000;

/// A count as the databases' signed 64-bit integers hold it (a count past `i64::MAX` cannot
/// happen; clamping keeps such a row from blocking the writer forever).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count read back from the database (negative only if someone wrote it by hand).
pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A time measurement the databases store faithfully (SQLite turns NaN into NULL).
pub(crate) fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_row_reached_no_provider_and_costs_nothing() {
        let row = Row::new("r1", 7, "m", "not_found", 404);
        assert_eq!(
            (row.provider, row.prompt_tokens, row.attempts),
            (None, 0, 0)
        );
        assert_eq!(
            (row.cost_usd, row.currency.as_str()),
            (Decimal::ZERO, "USD")
        );
        assert!(!row.stream && !row.estimated);
        assert_eq!(row.client_request_id, None);
    }

    #[test]
    fn json_keeps_amounts_as_exact_text_and_round_trips() {
        let mut row = Row::new("r1", 7, "m", "ok", 200);
        row.cost_usd = "0.1000000000000000000000000001".parse().unwrap();
        row.cost_local = "12345.678901234567".parse().unwrap();
        row.client_request_id = Some("client-1".into());
        let line = serde_json::to_string(&row).unwrap();
        assert!(
            line.contains(r#""cost_usd":"0.1000000000000000000000000001""#),
            "{line}"
        );
        assert!(
            line.contains(r#""cost_local":"12345.678901234567""#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Row>(&line).unwrap(), row);
    }

    #[test]
    fn column_count_matches_the_list() {
        assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    }

    #[test]
    fn counts_clamp_instead_of_failing() {
        assert_eq!(to_i64(u64::MAX), i64::MAX);
        assert_eq!(to_i64(7), 7);
        assert_eq!(to_u64(-1), 0);
        assert_eq!(to_u64(7), 7);
    }
}
