//! HTTP handlers, one module per route family. Handlers only read the request and hand it on.

pub mod chat;
pub mod embeddings;
pub mod health;
mod inbound;
pub mod messages;
pub mod metrics;
pub mod models;
pub mod responses;
pub mod stream_chat;
pub mod usage;
