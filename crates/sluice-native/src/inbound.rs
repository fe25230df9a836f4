//! The client APIs the gateway serves besides chat completions, translated to and from its
//! internal chat-completions format.

pub mod responses;
