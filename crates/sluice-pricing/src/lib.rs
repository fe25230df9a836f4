//! Money for Sluice: exact decimal prices, the built-in price list, the cost of a request,
//! the monthly cost comparison across providers (`sluice cost`), usage reports in money
//! (`sluice usage`, `GET /v1/usage`), what a request charges a key's budget, and amounts as
//! text and as JSON numbers.
//!
//! Every amount is a [`Decimal`]: list prices are decimal USD per million tokens, a single
//! request costs fractions of a micro-dollar, and sums of `f64` drift (`0.1 + 0.2`). The
//! amount types ([`Price`], [`Billing`], [`Cost`]) are `sluice-types`' vocabulary, re-exported;
//! the config already holds its prices as those decimals, and the built-in list's numbers go
//! through `sluice_types::decimal_from_f64`, which keeps them as written (`0.27` stays exactly
//! `0.27`). Rounding happens only for display ([`round_money`]). No IO, no async.
//!
//! Layout: `book` (the [`PriceBook`]: named price sheets with a billing currency, built in
//! from `prices.toml` and extended by the config), `cost` (one request), `compare` (the
//! monthly comparison, and monthly projections of measured traffic), `window` (a report's time
//! window), `currency` (currency codes and the display rate), `report` (the usage report
//! document), `charge` (a request's cost in a key's budget currency), [`display`] (amounts as
//! text: rounding, minor units, thousands separators), [`json`] (amounts in JSON documents, as
//! numbers with their exact digits).

mod book;
mod charge;
mod compare;
mod cost;
mod currency;
pub mod display;
pub mod json;
mod report;
mod window;

pub use book::{PriceBook, Source, BUILTIN_PRICES_AS_OF};
pub use charge::charge_in;
pub use compare::{compare, month_scale, monthly_mtok, restrict_models, Comparison, ComparisonRow};
pub use cost::{cost, cost_mtok, cost_usage};
pub use currency::{currency_code, display_rate, rate_note, Rate};
pub use display::round_money;
pub use report::{UsageLine, UsageReport, UsageTotals};
pub use sluice_types::{Billing, Cost, Decimal, Price};
pub use window::{
    parse_duration_ms, parse_time_bound, Window, WindowError, DAY_MS, DEFAULT_SINCE, MONTH_MS,
};
