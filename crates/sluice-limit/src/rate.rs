//! The arithmetic of limits, shared by every store (the Redis script does the same sums):
//! requests and tokens per minute as GCRA, and budgets as reserved and spent amounts.
//!
//! GCRA ("generic cell rate algorithm") keeps one number per limit, the theoretical arrival
//! time `tat`: each admission moves it later by the request's cost (`cost × 60 s / limit`), and
//! a request is admitted while `tat` stays within one minute of now. It behaves like a token
//! bucket that holds one minute's allowance (a burst of the whole per-minute limit, then the
//! limit's pace), costs one integer of state, and refunds are a move back of `tat`.

/// Microseconds in the period every per-minute limit is counted over.
pub const MINUTE_US: i64 = 60_000_000;

/// The time a cost of `n` takes from a per-minute `limit`, in microseconds.
pub fn cost_us(n: u64, limit: u64) -> i64 {
    if limit == 0 {
        return i64::MAX;
    }
    let us = u128::from(n) * MINUTE_US as u128 / u128::from(limit);
    i64::try_from(us).unwrap_or(i64::MAX)
}

/// One GCRA step: the new `tat` if a cost of `cost_us` is admitted at `now_us`, or how long
/// until it would be.
pub fn admit(tat_us: i64, now_us: i64, cost_us: i64) -> Result<i64, i64> {
    let new_tat = tat_us.max(now_us).saturating_add(cost_us);
    let ahead = new_tat.saturating_sub(now_us);
    if ahead <= MINUTE_US {
        Ok(new_tat)
    } else {
        Err(ahead - MINUTE_US)
    }
}

/// Whether a budget takes a reservation of `ask` more: what is spent and reserved, plus the
/// ask, stays within it, and some of it is left (an exhausted budget refuses even a request
/// whose cost is unknown).
pub fn within_budget(budget: i64, spent: i64, reserved: i64, ask: i64) -> bool {
    let used = spent.saturating_add(reserved);
    used < budget && used.saturating_add(ask) <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_burst_then_the_pace() {
        // 60 requests per minute: one a second.
        let step = cost_us(1, 60);
        assert_eq!(step, 1_000_000);
        let now = 1_000_000_000;
        let mut tat = 0;
        for _ in 0..60 {
            tat = admit(tat, now, step).expect("within the burst");
        }
        let wait = admit(tat, now, step).unwrap_err();
        assert_eq!(wait, 1_000_000);
        // A second later, one more fits.
        assert!(admit(tat, now + wait, step).is_ok());
    }

    #[test]
    fn a_cost_larger_than_the_limit_never_fits() {
        let now = 5;
        assert!(admit(0, now, cost_us(1001, 1000)).is_err());
        assert!(admit(0, now, cost_us(1000, 1000)).is_ok());
        assert_eq!(cost_us(1, 0), i64::MAX);
        assert!(admit(i64::MAX, now, i64::MAX).is_err());
    }

    #[test]
    fn budgets_hold_reservations_and_refuse_when_exhausted() {
        assert!(within_budget(100, 50, 30, 20));
        assert!(!within_budget(100, 50, 30, 21));
        assert!(within_budget(100, 99, 0, 0));
        assert!(!within_budget(100, 100, 0, 0));
        assert!(!within_budget(100, 60, 60, 0));
    }
}
