//! Gateway API keys and their limits.
//!
//! - [`key`]: the key format `sk-sluice-<public id>-<secret>`, its hash and constant-time
//!   check;
//! - [`settings`]: a key's name, admin flag, limits and expiry as a person gives them (the
//!   `sluice keys` flags, the dashboard's form), checked;
//! - [`Limiter`]: requests and tokens per minute and budgets, reserved at admission and
//!   settled when the request ends (`limiter`), with the arithmetic in `rate` and budget
//!   amounts as integer nano-units (`amount`) and what stores are asked in `plan`; counted
//!   in memory (`memory`) or in Redis shared by replicas (`redis`, used through `shared`,
//!   which keeps its health and its settlement queue).
//!
//! **Architecture invariants:** knows nothing of HTTP or of the ledger (spend comes through
//! [`SpendSource`]); a reservation is always settled or expired; admission takes every limit or
//! none, atomically.

mod amount;
pub mod key;
mod limiter;
mod memory;
mod plan;
mod rate;
mod redis;
pub mod settings;
mod shared;

pub use limiter::{
    Ask, LimitError, Limiter, Refusal, Reservation, SpendSource, DEFAULT_REDIS_PREFIX,
};
pub use plan::LimitReason;
