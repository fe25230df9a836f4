//! What the limiter asks a store to do and what a store answers, in the stores' own terms
//! (integers: microseconds and nano-units). The in-process store and the Redis script carry
//! out the same plans, so a key's limits behave the same whichever store counts them.

use crate::rate;

/// Which limit refused a request (a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitReason {
    /// Requests per minute.
    Rpm,
    /// Tokens per minute.
    Tpm,
    /// One request asks for more tokens than a minute allows: waiting will not help.
    TooLarge,
    /// The budget of the current window is spent or reserved.
    Budget,
}

impl LimitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReason::Rpm => "rpm",
            LimitReason::Tpm => "tpm",
            LimitReason::TooLarge => "too_large",
            LimitReason::Budget => "budget",
        }
    }
}

/// One admission, as a store carries it out.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub id: u64,
    pub rpm_cost_us: Option<i64>,
    pub tpm_cost_us: Option<i64>,
    pub budget: Option<BudgetPlan>,
    pub hold_us: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct BudgetPlan {
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub limit_nanos: i64,
    pub ask_nanos: i64,
}

/// A store's answer to one admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admit {
    Admitted,
    /// Refused; `retry_after_us` until it could be admitted.
    Limited {
        reason: LimitReason,
        retry_after_us: i64,
    },
    /// The budget window is not known to the store yet: seed it, then ask again.
    NeedSeed,
}

impl Admit {
    pub fn limited(reason: LimitReason, retry_after_us: i64) -> Admit {
        Admit::Limited {
            reason,
            retry_after_us,
        }
    }

    pub fn too_large() -> Admit {
        Admit::limited(LimitReason::TooLarge, rate::MINUTE_US)
    }
}

/// One settlement, as a store carries it out.
#[derive(Debug, Clone)]
pub(crate) struct Settlement {
    pub id: u64,
    pub key_id: String,
    /// How far to move the tokens-per-minute `tat`: used minus reserved, in µs.
    pub tpm_adjust_us: Option<i64>,
    pub window_start_ms: Option<i64>,
    /// What the reservation held against the budget window.
    pub held_nanos: i64,
    /// The cost charged to the budget window.
    pub used_nanos: i64,
}
