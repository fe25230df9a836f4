//! A key's limits at the gateway: the one admission point (after the route is known, before
//! any provider is tried) and the one settlement (when the request's ledger row is final).
//!
//! Admission checks the model allow-list (403), then reserves with the [`Limiter`] what the
//! request may use: its prompt's estimate plus its output allowance (`max_completion_tokens`,
//! `max_tokens`, or `[limits] default_max_tokens`; none for embeddings) against tokens per minute, one request
//! against requests per minute, and that many tokens at its route's first target's price,
//! charged in the budget's currency, against the budget. Over a limit: 429 with `Retry-After`,
//! never forwarded. The request's [`Hold`] travels with its attempts; whichever ending is
//! recorded settles it once, with what the ledger records for the request.

pub mod hold;
pub mod spend;

use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use sluice_limit::{Ask, LimitReason, Refusal};
use sluice_pricing::charge_in;
use sluice_types::{Decimal, Usage};

pub use self::hold::Hold;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Refused;
use crate::state::AppState;

/// A request the limits refused: how it is recorded and answered.
pub struct Refusing {
    pub why: Refused,
    pub response: Response,
}

/// Admits a request of `caller` for `route_model` that may use `(prompt, output)` tokens, or
/// refuses it. `None` when the caller has no key (an open gateway): nothing to count.
pub async fn admit(
    app: &AppState,
    caller: &Caller,
    route_model: &str,
    (prompt, output): (u64, u64),
    hold_for: Duration,
) -> Result<Option<Hold>, Refusing> {
    let Caller::Key(key) = caller else {
        return Ok(None);
    };
    let metrics = app.metrics();
    if !key.limits.allows(route_model) {
        metrics.limited(&key.id, "model");
        return Err(Refusing {
            why: Refused::Forbidden,
            response: ApiError::model_not_allowed(route_model).into_response(),
        });
    }
    let rate = key
        .limits
        .budget
        .as_ref()
        .and_then(|b| app.prices().rate(&b.currency));
    let cost = match &key.limits.budget {
        Some(b) => {
            let price = app
                .config()
                .route(route_model)
                .and_then(|r| r.targets.first())
                .map(|t| app.prices().target(&t.provider, &t.model));
            price
                .map(|p| p.cost(&Usage::counted(prompt, output)))
                .and_then(|c| charge_in(&b.currency, &c, rate.as_ref()))
                .unwrap_or(Decimal::ZERO)
        }
        None => Decimal::ZERO,
    };
    let ask = Ask {
        key_id: &key.id,
        limits: &key.limits,
        tokens: prompt.saturating_add(output),
        cost,
        hold: hold_for,
    };
    let limiter = app.limiter();
    match limiter.admit(ask).await {
        Ok(reservation) => Ok(Some(Hold::new(reservation, limiter.clone(), rate))),
        Err(Refusal::Limited {
            reason,
            retry_after,
        }) => {
            metrics.limited(&key.id, reason.as_str());
            let (why, err) = match reason {
                LimitReason::Budget => (Refused::OverBudget, ApiError::over_budget()),
                LimitReason::TooLarge => (Refused::OverLimit, ApiError::too_large_for_limit()),
                LimitReason::Rpm | LimitReason::Tpm => {
                    (Refused::OverLimit, ApiError::rate_limited(reason.as_str()))
                }
            };
            let mut response = err.into_response();
            // Whole seconds, rounded up: a client that waits that long gets in.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            Err(Refusing { why, response })
        }
        Err(Refusal::Unavailable) => {
            metrics.limited(&key.id, "unavailable");
            Err(Refusing {
                why: Refused::LimitsUnavailable,
                response: ApiError::unavailable(
                    "limits_unavailable",
                    "The gateway cannot check this key's limits right now; try again shortly.",
                )
                .into_response(),
            })
        }
    }
}
