//! The per-stream relay: the part of Sluice every streamed answer passes through.
//!
//! One relay task per stream ([`start`]) reads the provider's SSE bytes, decodes them
//! incrementally ([`sluice_sse`]), inspects each chunk once (`sluice_openai::chunk`) for what
//! the gateway must know (content seen, finish, usage, errors), has the client's
//! [`ClientEncoder`](sluice_openai::ClientEncoder) write it in the client's format, and hands it
//! to a bounded per-stream [`queue`] that the client's response body drains; when the client
//! falls behind, [`coalesce`] merges queued deltas. The task owns the stream's timers (first
//! token, idle gap, total, keep-alive) and reports one [`Outcome`] when it ends, whatever the
//! ending.
//!
//! **Invariants:** the relay knows no HTTP server, no provider client, no money and no client
//! format: it is given a future that yields the provider's body, an encoder and a sink for its
//! outcome. The queue between reader and writer is bounded, and no lock is held across an
//! await. Every started relay reports exactly one [`Outcome`].

pub mod coalesce;
mod error;
mod outcome;
pub mod queue;
mod relay;

pub use error::StreamError;
pub use outcome::{Commit, End, Outcome, OutcomeSink, Tally, MAX_TEXT};
pub use queue::ClientStream;
pub use relay::{start, Connect, Encoder, Lifecycle, RelayConfig, UpstreamBody};
