//! A request's reservation of its key's limits, travelling with its attempts until the one
//! ending recorded settles it with the request's final ledger row.

use std::sync::{Arc, Mutex};

use sluice_ledger::Row;
use sluice_limit::{Limiter, Reservation};
use sluice_pricing::{charge_in, Cost, Rate};
use sluice_types::Decimal;

/// A request's reservation, settled by whichever of its endings is recorded (only one is).
#[derive(Debug, Clone)]
pub struct Hold(Arc<Mutex<Option<Held>>>);

impl Hold {
    /// Holds `reservation` until it is settled; `rate` converts USD into the budget's
    /// currency.
    pub fn new(reservation: Reservation, limiter: Arc<Limiter>, rate: Option<Rate>) -> Self {
        Hold(Arc::new(Mutex::new(Some(Held {
            reservation,
            limiter,
            rate,
        }))))
    }
}

#[derive(Debug)]
struct Held {
    reservation: Reservation,
    limiter: Arc<Limiter>,
    /// USD to the budget's currency, for costs billed in another currency.
    rate: Option<Rate>,
}

impl Hold {
    /// Settles the reservation with the request's final row (its tokens, and its cost as the
    /// budget charges it). Later calls do nothing.
    pub fn settle(&self, row: &Row) {
        let Some(held) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let tokens = row.prompt_tokens.saturating_add(row.completion_tokens);
        let cost = held
            .reservation
            .budget_currency()
            .and_then(|currency| {
                let cost = Cost {
                    usd: row.cost_usd,
                    local: row.cost_local,
                    currency: row.currency.clone(),
                };
                charge_in(currency, &cost, held.rate.as_ref())
            })
            .unwrap_or(Decimal::ZERO);
        held.limiter.settle(held.reservation, tokens, cost);
    }
}
