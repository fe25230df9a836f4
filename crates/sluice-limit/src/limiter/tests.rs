//! The in-process store's expiry, at chosen instants. The limiter's behaviour, the same on
//! every store, is tested in `tests/` (`tests/common/behaviour.rs`).

use super::*;

#[test]
fn unsettled_reservations_expire_after_their_hold() {
    let store = MemoryStore::new();
    let plan = |id| Plan {
        id,
        rpm_cost_us: None,
        tpm_cost_us: None,
        budget: Some(BudgetPlan {
            window_start_ms: 0,
            window_end_ms: 86_400_000,
            limit_nanos: 1_000_000_000,
            ask_nanos: 600_000_000,
        }),
        hold_us: 10,
    };
    assert_eq!(store.admit("k", &plan(1), 100), Admit::NeedSeed);
    store.seed("k", 0, 0);
    assert_eq!(store.admit("k", &plan(1), 100), Admit::Admitted);
    assert!(matches!(
        store.admit("k", &plan(2), 105),
        Admit::Limited { .. }
    ));
    // Past the first one's hold, it is released and the second fits.
    assert_eq!(store.admit("k", &plan(2), 111), Admit::Admitted);
    assert_eq!(store.window("k", 0), Some((0, 600_000_000)));
}
