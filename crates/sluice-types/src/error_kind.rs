//! The ways a request to a provider can fail, as one closed set: the metric labels, the
//! ledger's `status` and the log's words for them.

use std::fmt;

/// The kind of a stream's (or a whole answer's) failure. Each has a fixed, bounded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamErrorKind {
    /// The provider could not be reached.
    Connect,
    /// The provider answered HTTP 429.
    RateLimited,
    /// The provider answered HTTP 5xx.
    Provider5xx,
    /// The provider answered another non-success status.
    Provider4xx,
    /// The provider sent an error inside its stream (or a JSON error where a stream was asked).
    ProviderErrorEvent,
    FirstTokenTimeout,
    IdleTimeout,
    TotalTimeout,
    /// The provider connection broke.
    Transport,
    /// The provider ended the stream before it finished.
    PrematureEnd,
    /// The provider sent something that is not what it claims to be.
    Protocol,
    /// The client accepted nothing for `slow_client_timeout`.
    SlowClient,
    /// The gateway was shutting down.
    Shutdown,
    /// The gateway itself ran out of a resource (file descriptors) reaching the provider: not
    /// the provider's failure, so it opens no circuit breaker.
    GatewayOverloaded,
}

impl StreamErrorKind {
    /// Every kind, in a fixed order (metric series are created from it).
    pub const ALL: [StreamErrorKind; 14] = [
        StreamErrorKind::Connect,
        StreamErrorKind::RateLimited,
        StreamErrorKind::Provider5xx,
        StreamErrorKind::Provider4xx,
        StreamErrorKind::ProviderErrorEvent,
        StreamErrorKind::FirstTokenTimeout,
        StreamErrorKind::IdleTimeout,
        StreamErrorKind::TotalTimeout,
        StreamErrorKind::Transport,
        StreamErrorKind::PrematureEnd,
        StreamErrorKind::Protocol,
        StreamErrorKind::SlowClient,
        StreamErrorKind::Shutdown,
        StreamErrorKind::GatewayOverloaded,
    ];

    /// The label in metrics, logs and the ledger's `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamErrorKind::Connect => "connect",
            StreamErrorKind::RateLimited => "rate_limited",
            StreamErrorKind::Provider5xx => "provider_5xx",
            StreamErrorKind::Provider4xx => "provider_4xx",
            StreamErrorKind::ProviderErrorEvent => "provider_error_event",
            StreamErrorKind::FirstTokenTimeout => "first_token_timeout",
            StreamErrorKind::IdleTimeout => "idle_timeout",
            StreamErrorKind::TotalTimeout => "total_timeout",
            StreamErrorKind::Transport => "transport",
            StreamErrorKind::PrematureEnd => "premature_end",
            StreamErrorKind::Protocol => "protocol",
            StreamErrorKind::SlowClient => "slow_client",
            StreamErrorKind::Shutdown => "shutdown",
            StreamErrorKind::GatewayOverloaded => "gateway_overloaded",
        }
    }

    /// Whether the provider (or the way to it) failed, rather than the client or the
    /// gateway itself. Only these count as provider errors.
    pub fn is_upstream(self) -> bool {
        !matches!(
            self,
            StreamErrorKind::SlowClient
                | StreamErrorKind::Shutdown
                | StreamErrorKind::GatewayOverloaded
        )
    }

    /// Whether failures of this kind are ever retried (some statuses of a kind may not be:
    /// HTTP 501 is `provider_5xx` and final).
    pub fn may_be_retried(self) -> bool {
        matches!(
            self,
            StreamErrorKind::Connect
                | StreamErrorKind::RateLimited
                | StreamErrorKind::Provider5xx
                | StreamErrorKind::FirstTokenTimeout
        )
    }
}

impl fmt::Display for StreamErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn labels_are_unique_and_all_are_listed() {
        let labels: BTreeSet<_> = StreamErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), StreamErrorKind::ALL.len());
        let upstream = StreamErrorKind::ALL
            .iter()
            .filter(|k| k.is_upstream())
            .count();
        assert_eq!(upstream, 11);
        assert!(StreamErrorKind::ALL
            .iter()
            .filter(|k| k.may_be_retried())
            .all(|k| k.is_upstream()));
    }
}
