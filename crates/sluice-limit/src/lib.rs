//! Gateway API keys and their limits.
//!
//! [`key`]: the key format `sk-sluice-<public id>-<secret>`, its hash and constant-time check.
//!
//! **Architecture invariant:** knows nothing of HTTP; only this crate knows Redis.

pub mod key;
