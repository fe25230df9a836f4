//! The Sluice gateway: its HTTP API (axum), the routing of a model name to providers, the
//! provider clients, and the wiring of one relay per streamed request.
//!
//! A request's path: [`server`] (layers: request id, CORS) → a handler in [`routes`] (thin:
//! reads the request) → [`dispatch`] (route, provider body, relay or whole response) →
//! [`upstream`] (the provider client) and `sluice_relay` (the stream itself).
//!
//! **Invariant:** this crate is the only one that knows axum's server side; the relay knows no
//! HTTP server and the provider clients know no handler.

mod accounting;
mod auth;
mod breaker;
mod dashboard;
mod dispatch;
mod ending;
mod error;
mod estimate;
mod estimator;
mod format;
pub mod headers;
mod limits;
mod metrics;
mod routes;
mod runtime;
mod server;
mod state;
mod upstream;

pub use accounting::usage_groups;
pub use accounting::Accounts;
pub use error::ApiError;
pub use runtime::{Gateway, DRAIN_RESERVE};
pub use server::app;
pub use state::{AppState, InitError, Services};
pub use upstream::MockHandle;
