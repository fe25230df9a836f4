//! Words about one relayed stream.

use std::fmt;

/// What the relay does when the client reads slower than the provider writes (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowClient {
    /// Keep reading the provider and merge queued content deltas into fewer, larger events
    /// (`"coalesce"`).
    #[default]
    Coalesce,
    /// Stop reading the provider while the queue is full, so TCP backpressure reaches it
    /// (`"block"`).
    Block,
}

impl SlowClient {
    /// The name used in `sluice.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlowClient::Coalesce => "coalesce",
            SlowClient::Block => "block",
        }
    }
}

impl fmt::Display for SlowClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
