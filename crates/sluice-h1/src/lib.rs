//! A lean HTTP/1.1 client for providers reached over plain HTTP (a local vLLM, llama.cpp or
//! `sluice mock-upstream`): it sends one request per pooled keep-alive connection and hands
//! back the response body as a stream of byte slices, decoded from chunked encoding without
//! copying.
//!
//! Why hand-written rather than reqwest/hyper for this one path: measured on the relay
//! benchmark, hyper's client costs each open stream a connection task, a dispatch channel and
//! 8–16 KiB read and write buffers (about 35 KiB per stream in all), and a task hop per chunk.
//! Here the connection is polled by the stream's own task and holds one 4 KiB read buffer.
//! The head is parsed with `httparse`. TLS and HTTP/2 providers stay on reqwest.
//!
//! **Invariants:** a body dropped before its end closes its connection (that is how a
//! provider request is cancelled); only a body read to its end returns its connection to the
//! pool.

mod body;
mod chunked;
mod client;
mod conn;
mod error;
mod pool;

pub use body::Body;
pub use client::{Client, Response};
pub use error::H1Error;
