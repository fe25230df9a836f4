//! The limiter's behaviour with its counters in this process.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Fixture, Spent};
use sluice_limit::Limiter;

async fn memory(hold_margin: Duration) -> Fixture {
    let spent = Arc::new(Spent::default());
    let limiter = Limiter::in_memory(spent.clone()).with_hold_margin(hold_margin);
    assert_eq!(limiter.store_name(), "memory");
    Fixture {
        limiter: Arc::new(limiter),
        spent,
        guard: None,
    }
}

behaviour_tests!(memory);
