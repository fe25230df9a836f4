//! Client APIs other than chat completions, translated to and from Sluice's internal format:
//! a client's request becomes a chat-completions request, and the provider's chat chunks (or
//! whole completion) become the client's own stream (or answer).

pub mod messages;
mod plain;
pub mod responses;
mod signatures;

pub use signatures::strip_signatures;
