//! The per-stream relay: the part of Sluice every streamed answer passes through.
//!
//! One relay task per stream reads the provider's SSE bytes, decodes them incrementally
//! ([`sluice_sse`]), inspects each chunk once ([`chunk`]) for what the gateway must know (content
//! seen, finish, usage, errors), re-frames it for the client ([`framing`]) and hands it to a
//! bounded per-stream queue ([`queue`]) that the client's response body drains. The task owns
//! the stream's timers (first token, idle gap, total, keep-alive) and reports one [`Outcome`]
//! when it ends, whatever the ending.
//!
//! **Invariants:** the relay does not know HTTP servers or provider clients: it is given a
//! future that yields the provider's body and a sink for its outcome. The queue between reader
//! and writer is bounded, and no lock is held across an await.

pub mod chunk;
pub mod coalesce;
mod error;
pub mod framing;
pub mod pricing;
pub mod queue;
mod relay;
pub mod rewrite;

pub use chunk::{ChunkSummary, Usage};
pub use error::{ProviderErrorBody, StreamError};
pub use framing::Framing;
pub use pricing::{PricedUsage, Pricer, UsagePricer};
pub use queue::ClientStream;
pub use relay::{
    start, Commit, Connect, End, Lifecycle, Outcome, OutcomeSink, RelayConfig, SlowClient,
    UpstreamBody,
};
