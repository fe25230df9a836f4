//! The client's side of a stream: one [`ClientEncoder`] per stream turns the provider's
//! chat-completion chunks into the frames the client asked for.
//!
//! The relay feeds every chunk to its stream's encoder and queues what it writes; it knows no
//! client format itself. An encoder is stateful (a format may need to number its events or
//! remember which blocks it opened), writes the end of a stream that completed, and writes the
//! final error event of a stream that failed after it started. A new API format is a new
//! encoder.
//!
//! Two encoders live here: [`ChatChunks`] (`/v1/chat/completions`: each chunk relayed as the
//! provider wrote it, zero-copy when unchanged) and [`SimpleChat`] (the seed's `/stream/chat`).
//! A client of the provider's own API needs no encoder: a [`PassThrough`] relays the provider's
//! events to it.

mod chat;
mod passthrough;
mod simple;

use bytes::BytesMut;
use sluice_types::Usage;

use crate::chunk::ChunkSummary;
use crate::error::ErrorBody;

pub use chat::ChatChunks;
pub use passthrough::{PassThrough, Passed};
pub use simple::SimpleChat;

/// Writes one client stream from the provider's chunks.
pub trait ClientEncoder: Send + Sync + std::fmt::Debug {
    /// Writes what the client gets for one provider chunk (`payload`, already inspected into
    /// `summary`) into `out`, possibly nothing. Returns whether what it wrote is one plain
    /// content delta in OpenAI's chunk format, on one line, that the relay may merge with its
    /// neighbours when the client falls behind.
    fn chunk(
        &mut self,
        payload: &[u8],
        summary: &ChunkSummary,
        out: &mut BytesMut,
    ) -> Result<Merge, EncodeError>;

    /// Writes the end of a stream that completed; `usage` is the last the provider reported,
    /// at the top level of a chunk or in an extension such as `x_groq`.
    fn end(&mut self, usage: Option<&Usage>, out: &mut BytesMut);

    /// Writes the final event of a stream that failed after it started. Nothing that reads as
    /// success may follow it.
    fn error(&mut self, err: &ErrorBody, out: &mut BytesMut);
}

/// Whether the frame an encoder wrote for a chunk may merge with its neighbours when the
/// client falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// It must stay as it is (or nothing was written).
    No,
    /// A plain content delta written as `data: {payload}\n\n`, the payload unchanged: its text
    /// sits where the summary's [`Texts`](crate::chunk::Texts) say, [`DATA_PREFIX`] bytes later.
    InPlace,
    /// A plain content delta on one line whose payload was rewritten (a `usage: null`
    /// removed): it must be read again to merge.
    Rewritten,
}

/// What comes before the payload in a frame written with [`sluice_sse::write_data`].
pub const DATA_PREFIX: &[u8] = b"data: ";

/// A chunk could not be written for the client (it was not the JSON it claimed to be).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(#[from] serde_json::Error);
