//! OpenAI's chat-completions wire format. It is also Sluice's internal stream format: every
//! provider's stream is read as `chat.completion.chunk` payloads, and every client's stream is
//! written from them by a [`ClientEncoder`].
//!
//! - [`chunk`]: what the gateway must know of one chunk (content seen, finish, usage, error),
//!   read in one pass without building a JSON tree; a usage it cannot trust is reported as
//!   none, never as a failed chunk;
//! - [`rewrite`]: one top-level key changed while every other byte stays as written;
//! - [`pricing`]: the gateway's cost written into a usage object;
//! - [`error`]: error bodies, as providers send them and as OpenAI's clients expect them;
//! - [`request`]: the fields of a client's request the gateway routes on, the rest kept byte
//!   for byte; [`embeddings`], the same for an embeddings request;
//! - [`encode`]: the client's side of a stream, one stateful encoder per stream.
//!
//! **Architecture invariant:** pure: no IO, no async runtime, no HTTP types, no money (amounts
//! arrive as text from a [`UsagePricer`]). Unmodified chunks are relayed as the same bytes.

pub mod chunk;
pub mod embeddings;
pub mod encode;
pub mod error;
pub mod pricing;
pub mod request;
pub mod rewrite;

pub use chunk::{inspect, ChunkSummary};
pub use embeddings::EmbeddingsRequest;
pub use encode::{ClientEncoder, EncodeError, Merge, PassThrough, Passed};
pub use error::ErrorBody;
pub use pricing::{PricedUsage, Pricer, UsagePricer};
pub use request::{ChatRequest, RequestError};
pub use sluice_types::Usage;
