//! What can fail on the wire.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot connect to {addr}: no answer within {timeout:?}")]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the connection closed before the response was complete")]
    UnexpectedEof,
    #[error("invalid HTTP response: {0}")]
    InvalidResponse(String),
}

impl H1Error {
    /// Whether a failed write means the peer had already closed the connection, so the
    /// request was not read and may be sent on a new connection.
    pub(crate) fn is_stale_connection(&self) -> bool {
        match self {
            H1Error::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}
