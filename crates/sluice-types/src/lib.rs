//! The vocabulary every Sluice crate shares, so that each word has one definition: the token
//! [`Usage`] a provider reports (read leniently, [`MaybeUsage`]; its prompt split by how it is
//! billed, [`PromptParts`]), the [`SlowClient`] policy, prices, billings and costs as exact
//! decimals ([`Price`], [`Billing`], [`Cost`]), the kinds a stream can fail with
//! ([`StreamErrorKind`]), what an API key may do ([`KeyLimits`], [`Budget`]), and time
//! ([`unix_ms`], [`parse_duration`]).
//!
//! **Architecture invariant:** plain data and pure functions. No IO, no async runtime, no
//! knowledge of HTTP, JSON wire formats or any other Sluice crate; everything else may depend
//! on this crate and it depends on none of them.

mod error_kind;
mod keys;
mod money;
mod stream;
mod time;
mod usage;

pub use error_kind::StreamErrorKind;
pub use keys::{Budget, BudgetWindow, KeyLimits, OnStoreError};
pub use money::{decimal_from_f64, Billing, Cost, Price, DEFAULT_CURRENCY};
pub use rust_decimal::Decimal;
pub use stream::SlowClient;
pub use time::{parse_duration, unix_ms};
pub use usage::{Count as TokenCount, MaybeUsage, PromptParts, Usage};
