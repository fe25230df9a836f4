//! Server-Sent Events framing for Sluice: an incremental decoder and a small encoder.
//!
//! The decoder follows the WHATWG EventSource parsing rules (CRLF, LF or CR line ends, `:`
//! comments, one optional space after `field:`, several `data:` lines joined with `\n`, a blank
//! line dispatching) and accepts its input in arbitrary pieces, exactly as TCP delivers it.
//! A single-line `data:` value is handed out as a zero-copy slice of the input. What it holds
//! is bounded: an event or unterminated line past [`DEFAULT_MAX_EVENT_BYTES`] (8 MiB, or the
//! decoder's own limit) is [`SseError::EventTooLarge`].
//!
//! **Invariant:** this crate does no IO and knows nothing of HTTP, JSON or chat completions.

mod decoder;
mod encoder;

pub use decoder::{Decoder, Event, Frame, SseError, DEFAULT_MAX_EVENT_BYTES};
pub use encoder::{write_comment, write_data, write_event, KEEPALIVE};
